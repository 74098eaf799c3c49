/* Virtqueue handling on fake guest memory, with hostile rings: loops,
 * out-of-range addresses, oversized and zero-length descriptors, bad heads
 * and indices. The device must refuse them and never touch memory outside
 * guest RAM. */
#include <config.h>
#include <stdlib.h>
#include <string.h>
#include <linux/virtio_ring.h>

#include "virtio/virtio.h"
#include "tap.h"

#define MEM_SIZE (1u << 20)
#define QSIZE 8
#define DESC 0x1000
#define AVAIL 0x2000
#define USED 0x3000

static uint8_t *ram;
static struct guest_mem mem;

static void
set_desc (unsigned i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
  uint8_t *d = ram + DESC + 16 * i;
  memcpy (d, &addr, 8);
  memcpy (d + 8, &len, 4);
  memcpy (d + 12, &flags, 2);
  memcpy (d + 14, &next, 2);
}

static void
publish (uint16_t slot, uint16_t head, uint16_t new_idx)
{
  memcpy (ram + AVAIL + 4 + 2 * slot, &head, 2);
  memcpy (ram + AVAIL + 2, &new_idx, 2);
}

static void
fresh (struct virtq *q)
{
  memset (ram, 0, MEM_SIZE);
  virtq_reset (q);
  q->size = QSIZE;
  q->ready = true;
  q->desc_gpa = DESC;
  q->avail_gpa = AVAIL;
  q->used_gpa = USED;
  if (!virtq_setup (q, &mem))
    abort ();
  q->ready = true;
}

int
main (void)
{
  struct virtq q;
  static struct virtq_chain c;
  uint16_t used_idx;
  uint32_t used_id, used_len;
  char buf[16];

  ram = calloc (1, MEM_SIZE);
  guest_mem_init_from_buffer (&mem, ram, MEM_SIZE);

  TAP_OK (guest_mem_slice (&mem, MEM_SIZE - 4, 4) != NULL, "slice at the end of RAM");
  TAP_OK (guest_mem_slice (&mem, MEM_SIZE - 4, 5) == NULL, "slice crossing the end of RAM");
  TAP_OK (guest_mem_slice (&mem, UINT64_MAX - 2, 8) == NULL, "slice with wrapping address");
  TAP_OK (guest_mem_slice (&mem, 0x10, UINT64_MAX) == NULL, "slice with huge length");

  /* setup validation */
  virtq_reset (&q);
  q.size = 7;
  q.desc_gpa = DESC;
  q.avail_gpa = AVAIL;
  q.used_gpa = USED;
  TAP_OK (!virtq_setup (&q, &mem), "queue size not a power of two is refused");
  q.size = QSIZE;
  q.desc_gpa = DESC + 8;
  TAP_OK (!virtq_setup (&q, &mem), "misaligned descriptor table is refused");
  q.desc_gpa = MEM_SIZE - 16;
  TAP_OK (!virtq_setup (&q, &mem), "descriptor table past RAM is refused");

  /* a good two-part chain */
  fresh (&q);
  memcpy (ram + 0x5000, "hello", 5);
  set_desc (0, 0x5000, 5, VRING_DESC_F_NEXT, 1);
  set_desc (1, 0x6000, 16, VRING_DESC_F_WRITE, 0);
  publish (0, 0, 1);
  TAP_OK (virtq_pop_chain (&q, &c) == 1, "good chain pops");
  TAP_OK (c.n_out == 1 && c.n_in == 1 && c.out_len == 5 && c.in_len == 16, "chain has 1 readable and 1 writable");
  TAP_OK (virtq_chain_copy_from_out (&c, 0, buf, sizeof buf) == 5 && memcmp (buf, "hello", 5) == 0,
          "readable data copied");
  TAP_OK (virtq_chain_copy_to_in (&c, 0, "world", 5) == 5 && memcmp (ram + 0x6000, "world", 5) == 0,
          "writable data copied");
  virtq_push_used (&q, c.head, 5);
  memcpy (&used_idx, ram + USED + 2, 2);
  memcpy (&used_id, ram + USED + 4, 4);
  memcpy (&used_len, ram + USED + 8, 4);
  TAP_OK (used_idx == 1 && used_id == 0 && used_len == 5, "used ring updated");
  TAP_OK (virtq_pop_chain (&q, &c) == 0, "ring empty afterwards");
  TAP_OK (virtq_should_notify (&q), "driver wants interrupts by default");

  /* unpop */
  fresh (&q);
  set_desc (0, 0x5000, 5, 0, 0);
  publish (0, 0, 1);
  virtq_pop_chain (&q, &c);
  virtq_unpop (&q);
  TAP_OK (virtq_pop_chain (&q, &c) == 1 && c.head == 0, "unpop returns the same chain");

  /* loop */
  fresh (&q);
  set_desc (0, 0x5000, 4, VRING_DESC_F_NEXT, 1);
  set_desc (1, 0x5000, 4, VRING_DESC_F_NEXT, 0);
  publish (0, 0, 1);
  TAP_OK (virtq_pop_chain (&q, &c) == -1 && q.broken, "descriptor loop is detected");
  TAP_OK (virtq_pop_chain (&q, &c) == 0, "broken queue yields nothing more");

  /* out-of-range buffer */
  fresh (&q);
  set_desc (0, MEM_SIZE - 2, 4, 0, 0);
  publish (0, 0, 1);
  TAP_OK (virtq_pop_chain (&q, &c) == -1, "buffer past the end of RAM is refused");

  /* oversized */
  fresh (&q);
  set_desc (0, 0x5000, 0xffffffff, 0, 0);
  publish (0, 0, 1);
  TAP_OK (virtq_pop_chain (&q, &c) == -1, "oversized descriptor is refused");

  /* zero length: skipped, not an error */
  fresh (&q);
  set_desc (0, 0x5000, 0, VRING_DESC_F_NEXT, 1);
  set_desc (1, 0x5000, 3, 0, 0);
  publish (0, 0, 1);
  TAP_OK (virtq_pop_chain (&q, &c) == 1 && c.n_out == 1 && c.out_len == 3, "zero-length descriptor is ignored");

  /* bad head, bad next */
  fresh (&q);
  publish (0, QSIZE, 1);
  TAP_OK (virtq_pop_chain (&q, &c) == -1, "head index out of range is refused");
  fresh (&q);
  set_desc (0, 0x5000, 4, VRING_DESC_F_NEXT, 200);
  publish (0, 0, 1);
  TAP_OK (virtq_pop_chain (&q, &c) == -1, "next index out of range is refused");

  /* readable after writable */
  fresh (&q);
  set_desc (0, 0x5000, 4, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 1);
  set_desc (1, 0x6000, 4, 0, 0);
  publish (0, 0, 1);
  TAP_OK (virtq_pop_chain (&q, &c) == -1, "readable after writable is refused");

  /* indirect not negotiated */
  fresh (&q);
  set_desc (0, 0x5000, 16, VRING_DESC_F_INDIRECT, 0);
  publish (0, 0, 1);
  TAP_OK (virtq_pop_chain (&q, &c) == -1, "indirect descriptor (not offered) is refused");

  /* avail index running ahead by more than the queue size */
  fresh (&q);
  set_desc (0, 0x5000, 4, 0, 0);
  publish (0, 0, QSIZE + 1);
  TAP_OK (virtq_pop_chain (&q, &c) == -1, "avail index too far ahead is refused");

  /* NO_INTERRUPT */
  fresh (&q);
  {
    uint16_t f = VRING_AVAIL_F_NO_INTERRUPT;
    memcpy (ram + AVAIL, &f, 2);
  }
  TAP_OK (!virtq_should_notify (&q), "NO_INTERRUPT suppresses notification");

  /* a full-length chain of QSIZE descriptors is fine, QSIZE + loop is not */
  fresh (&q);
  for (unsigned i = 0; i < QSIZE; i++)
    set_desc (i, 0x5000 + i, 1, i + 1 < QSIZE ? VRING_DESC_F_NEXT : 0, (uint16_t) (i + 1));
  publish (0, 0, 1);
  TAP_OK (virtq_pop_chain (&q, &c) == 1 && c.n_out == QSIZE, "chain as long as the queue is accepted");

  /* A queue marked ready that virtq_setup never accepted (the transport
   * does not allow it; if it ever did) has no memory to look in: it is
   * broken, not a crash. */
  {
    struct virtq raw;
    virtq_reset (&raw);
    raw.size = QSIZE;
    raw.ready = true;
    TAP_OK (virtq_pop_chain (&raw, &c) == -1 && raw.broken, "a ready queue never set up: broken, nothing popped");
    virtq_reset (&raw);
    raw.size = QSIZE;
    raw.ready = true;
    virtq_push_used (&raw, 0, 0);
    TAP_OK (raw.broken && raw.used_idx == 0, "a ready queue never set up: push_used marks it broken");
    TAP_OK (virtq_should_notify (&raw), "a ready queue never set up: should_notify answers without reading");
  }

  free (ram);
  return tap_done ();
}
