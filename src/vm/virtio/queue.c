/* Split virtqueues (virtio 1.2, 2.7). Everything read from the rings is
 * guest-controlled: indices are checked against the queue size, every
 * buffer is translated with guest_mem_slice(), and chains are bounded so a
 * looping descriptor table cannot hang the device. */
#include <config.h>
#include "virtio.h"

#include <string.h>
#include <linux/virtio_ring.h>

#define DESC_SIZE 16u

static inline uint16_t
le16_at (const void *p)
{
  uint16_t v;
  memcpy (&v, p, sizeof v);
  return v;
}

/* NULL when the range is not guest RAM, or when the queue was never set
 * up (no memory to look in). The transport only lets a queue be used once
 * virtq_setup has accepted its layout; the checks on every access below
 * keep a queue that somehow got past that from taking the monitor down. */
static void *
ring_ptr (const struct virtq *q, uint64_t gpa, uint64_t len)
{
  return q->mem ? guest_mem_slice (q->mem, gpa, len) : NULL;
}

bool
virtq_setup (struct virtq *q, const struct guest_mem *mem)
{
  uint64_t n = q->size;

  q->mem = mem;
  q->broken = false;
  q->last_avail_idx = 0;
  q->used_idx = 0;
  if (n == 0 || n > VIRTQ_MAX_SIZE || (n & (n - 1)) != 0)
    return false;
  if ((q->desc_gpa & 15) || (q->avail_gpa & 1) || (q->used_gpa & 3))
    return false;
  if (ring_ptr (q, q->desc_gpa, DESC_SIZE * n) == NULL || ring_ptr (q, q->avail_gpa, 6 + 2 * n) == NULL
      || ring_ptr (q, q->used_gpa, 6 + 8 * n) == NULL)
    return false;
  return true;
}

void
virtq_reset (struct virtq *q)
{
  memset (q, 0, sizeof *q);
}

static int
chain_add (struct virtq_chain *c, const struct virtq *q, uint64_t addr, uint32_t len, bool writable)
{
  void *host;

  if (len == 0)
    return 0; /* harmless: contributes nothing */
  if (!writable && c->n_in > 0)
    return -1; /* readable after writable is forbidden by the spec */
  host = guest_mem_slice (q->mem, addr, len);
  if (host == NULL)
    return -1;
  if (c->n_out + c->n_in >= VIRTQ_MAX_CHAIN)
    return -1;
  /* The totals are 32-bit: a chain adding up past that is hostile. */
  if ((uint64_t) (writable ? c->in_len : c->out_len) + len > UINT32_MAX)
    return -1;
  c->iov[c->n_out + c->n_in].iov_base = host;
  c->iov[c->n_out + c->n_in].iov_len = len;
  if (writable)
    {
      c->n_in++;
      c->in_len += len;
    }
  else
    {
      c->n_out++;
      c->out_len += len;
    }
  return 0;
}

int
virtq_pop_chain (struct virtq *q, struct virtq_chain *c)
{
  uint16_t avail, head, idx, *avail_p;
  unsigned walked = 0, limit;
  uint8_t *table, *head_p;

  if (!q->ready || q->broken)
    return 0;
  avail_p = ring_ptr (q, q->avail_gpa + 2, 2);
  if (avail_p == NULL)
    goto broken;
  avail = __atomic_load_n (avail_p, __ATOMIC_ACQUIRE);
  if (avail == q->last_avail_idx)
    return 0;
  if (q->size == 0 || (uint16_t) (avail - q->last_avail_idx) > q->size)
    goto broken;
  head_p = ring_ptr (q, q->avail_gpa + 4 + 2 * (uint64_t) (q->last_avail_idx % q->size), 2);
  table = ring_ptr (q, q->desc_gpa, DESC_SIZE * (uint64_t) q->size);
  if (head_p == NULL || table == NULL)
    goto broken;
  head = le16_at (head_p);
  if (head >= q->size)
    goto broken;
  c->head = head;
  c->n_out = c->n_in = 0;
  c->out_len = c->in_len = 0;
  limit = q->size < VIRTQ_MAX_CHAIN ? q->size : VIRTQ_MAX_CHAIN;
  idx = head;
  for (;;)
    {
      uint64_t addr;
      uint32_t len;
      uint16_t flags, next;
      const uint8_t *d = table + DESC_SIZE * idx;

      if (++walked > limit)
        goto broken;
      memcpy (&addr, d, 8);
      memcpy (&len, d + 8, 4);
      memcpy (&flags, d + 12, 2);
      memcpy (&next, d + 14, 2);
      if (flags & VRING_DESC_F_INDIRECT)
        goto broken; /* not offered */
      if (chain_add (c, q, addr, len, flags & VRING_DESC_F_WRITE) < 0)
        goto broken;
      if (!(flags & VRING_DESC_F_NEXT))
        break;
      if (next >= q->size)
        goto broken;
      idx = next;
    }
  q->last_avail_idx++;
  return 1;

broken:
  q->broken = true;
  return -1;
}

void
virtq_unpop (struct virtq *q)
{
  q->last_avail_idx--;
}

void
virtq_push_used (struct virtq *q, uint16_t head, uint32_t written)
{
  uint8_t *elem = q->size ? ring_ptr (q, q->used_gpa + 4 + 8 * (uint64_t) (q->used_idx % q->size), 8) : NULL;
  uint16_t *idx = ring_ptr (q, q->used_gpa + 2, 2);
  uint32_t id = head;

  if (elem == NULL || idx == NULL)
    {
      q->broken = true;
      return;
    }
  memcpy (elem, &id, 4);
  memcpy (elem + 4, &written, 4);
  q->used_idx++;
  __atomic_store_n (idx, q->used_idx, __ATOMIC_RELEASE);
}

bool
virtq_should_notify (struct virtq *q)
{
  const void *p;
  uint16_t flags;

  /* The used index store must be visible before we read the driver's flags. */
  __atomic_thread_fence (__ATOMIC_SEQ_CST);
  p = ring_ptr (q, q->avail_gpa, 2);
  if (p == NULL)
    return true;
  flags = le16_at (p);
  return !(flags & VRING_AVAIL_F_NO_INTERRUPT);
}

size_t
virtq_chain_copy_to_in (struct virtq_chain *c, size_t offset, const void *src, size_t len)
{
  size_t done = 0;
  unsigned i;

  for (i = c->n_out; i < c->n_out + c->n_in && done < len; i++)
    {
      size_t l = c->iov[i].iov_len, n;
      if (offset >= l)
        {
          offset -= l;
          continue;
        }
      n = l - offset < len - done ? l - offset : len - done;
      memcpy ((uint8_t *) c->iov[i].iov_base + offset, (const uint8_t *) src + done, n);
      done += n;
      offset = 0;
    }
  return done;
}

size_t
virtq_chain_copy_from_out (const struct virtq_chain *c, size_t offset, void *dst, size_t len)
{
  size_t done = 0;
  unsigned i;

  for (i = 0; i < c->n_out && done < len; i++)
    {
      size_t l = c->iov[i].iov_len, n;
      if (offset >= l)
        {
          offset -= l;
          continue;
        }
      n = l - offset < len - done ? l - offset : len - done;
      memcpy ((uint8_t *) dst + done, (const uint8_t *) c->iov[i].iov_base + offset, n);
      done += n;
      offset = 0;
    }
  return done;
}
