/* Unit-test helpers: a driver's side of split virtqueues on fake guest
 * memory (a malloc'ed buffer), so a device can be driven without a VM. */
#ifndef RUNVM_TEST_FAKE_QUEUE_H
#define RUNVM_TEST_FAKE_QUEUE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <linux/virtio_ring.h>

#include "vm/guest-mem.h"
#include "vm/virtio/virtio.h"

#define FQ_RAM_SIZE (8u << 20)
#define FQ_SIZE 64
#define FQ_DATA_START 0x100000u /* buffers are bump-allocated from here */

struct fake_queue
{
  uint64_t desc, avail, used;
  uint16_t avail_idx, used_seen, next_desc;
};

struct fq_buf
{
  uint64_t gpa;
  uint32_t len;
  bool writable;
};

static uint8_t *fq_ram;
static struct guest_mem fq_mem;
static uint64_t fq_next_data = FQ_DATA_START;

static inline void
fq_ram_init (void)
{
  if (fq_ram == NULL)
    fq_ram = calloc (1, FQ_RAM_SIZE);
  if (fq_ram == NULL)
    abort ();
  memset (fq_ram, 0, FQ_RAM_SIZE);
  guest_mem_init_from_buffer (&fq_mem, fq_ram, FQ_RAM_SIZE);
  fq_next_data = FQ_DATA_START;
}

/* A fresh guest buffer of len bytes (16-byte aligned), zeroed. */
static inline uint64_t
fq_alloc (uint32_t len)
{
  uint64_t gpa = fq_next_data;
  fq_next_data += (len + 15u) & ~15u;
  if (fq_next_data > FQ_RAM_SIZE)
    abort ();
  memset (fq_ram + gpa, 0, len);
  return gpa;
}

static inline void *
fq_host (uint64_t gpa)
{
  return fq_ram + gpa;
}

/* Lays out queue `index` of d (rings below FQ_DATA_START) and makes it ready. */
static inline void
fq_setup (struct virtio_device *d, unsigned index, struct fake_queue *fq)
{
  memset (fq, 0, sizeof *fq);
  fq->desc = 0x1000 + 0x4000 * (uint64_t) index;
  fq->avail = fq->desc + 0x1000;
  fq->used = fq->desc + 0x2000;
  memset (fq_ram + fq->desc, 0, 0x3000);
  virtq_reset (&d->vq[index]);
  d->vq[index].size = FQ_SIZE;
  d->vq[index].desc_gpa = fq->desc;
  d->vq[index].avail_gpa = fq->avail;
  d->vq[index].used_gpa = fq->used;
  d->vq[index].ready = true;
  if (!virtq_setup (&d->vq[index], &fq_mem))
    abort ();
}

static inline void
fq_set_desc (struct fake_queue *fq, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
  uint8_t *p = fq_ram + fq->desc + 16 * (uint64_t) i;
  memcpy (p, &addr, 8);
  memcpy (p + 8, &len, 4);
  memcpy (p + 12, &flags, 2);
  memcpy (p + 14, &next, 2);
}

/* Publishes a chain made of bufs[0..n); returns its head. */
static inline uint16_t
fq_add_chain (struct fake_queue *fq, const struct fq_buf *bufs, unsigned n)
{
  uint16_t head = fq->next_desc % FQ_SIZE, idx = head, slot;
  unsigned i;

  for (i = 0; i < n; i++)
    {
      uint16_t next = (uint16_t) ((idx + 1) % FQ_SIZE);
      uint16_t flags = (bufs[i].writable ? VRING_DESC_F_WRITE : 0) | (i + 1 < n ? VRING_DESC_F_NEXT : 0);
      fq_set_desc (fq, idx, bufs[i].gpa, bufs[i].len, flags, next);
      idx = next;
    }
  fq->next_desc = (uint16_t) (fq->next_desc + n);
  slot = fq->avail_idx % FQ_SIZE;
  memcpy (fq_ram + fq->avail + 4 + 2 * slot, &head, 2);
  fq->avail_idx++;
  __atomic_store_n ((uint16_t *) (fq_ram + fq->avail + 2), fq->avail_idx, __ATOMIC_RELEASE);
  return head;
}

/* Takes the next used element; false when the device has published none. */
static inline bool
fq_get_used (struct fake_queue *fq, uint32_t *id, uint32_t *len)
{
  uint16_t idx;
  uint8_t *e;

  memcpy (&idx, fq_ram + fq->used + 2, 2);
  if (idx == fq->used_seen)
    return false;
  e = fq_ram + fq->used + 4 + 8 * (uint64_t) (fq->used_seen % FQ_SIZE);
  memcpy (id, e, 4);
  memcpy (len, e + 4, 4);
  fq->used_seen++;
  return true;
}

#endif
