/* Shared by the fuzz targets: the guest controls everything a device reads
 * from guest RAM, so each target takes a small header of layout choices
 * (queue size and ring addresses, features, operation bytes) from the
 * input and lays the rest of it over a small fake guest RAM. Addresses are
 * drawn from a range a little larger than RAM so out-of-range rings and
 * buffers are tried too. */
#ifndef RUNVM_FUZZ_H
#define RUNVM_FUZZ_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vm/guest-mem.h"
#include "vm/virtio/virtio.h"
#include "vm/virtio/vsock-conn.h"

#include <sys/eventfd.h>
#include <linux/virtio_config.h>

#define FUZZ_RAM_SIZE (64u << 10)

struct fuzz_in
{
  const uint8_t *p;
  size_t n;
};

static inline uint64_t
fuzz_take (struct fuzz_in *in, unsigned bytes)
{
  uint64_t v = 0;
  unsigned i;

  for (i = 0; i < bytes; i++)
    if (in->n > 0)
      {
        v |= (uint64_t) in->p[0] << (8 * i);
        in->p++;
        in->n--;
      }
  return v;
}

/* Returns a reader for the next `bytes` bytes of *in and moves *in past
 * them (a header whose bytes are used after RAM is laid out). */
static inline struct fuzz_in
fuzz_split (struct fuzz_in *in, size_t bytes)
{
  struct fuzz_in head = *in;
  size_t k = in->n < bytes ? in->n : bytes;

  in->p += k;
  in->n -= k;
  return head;
}

/* Guest RAM: the rest of the input, then zeroes. malloc'ed at its exact
 * size so that AddressSanitizer catches any access past its end. */
static inline uint8_t *
fuzz_ram (struct fuzz_in *in, struct guest_mem *mem)
{
  static uint8_t *ram;
  size_t n = in->n < FUZZ_RAM_SIZE ? in->n : FUZZ_RAM_SIZE;

  if (ram == NULL && (ram = malloc (FUZZ_RAM_SIZE)) == NULL)
    abort ();
  memcpy (ram, in->p, n);
  memset (ram + n, 0, FUZZ_RAM_SIZE - n);
  guest_mem_init_from_buffer (mem, ram, FUZZ_RAM_SIZE);
  return ram;
}

/* Queue q of d from 12 header bytes: size, then desc/avail/used addresses
 * (mostly inside RAM, sometimes just past it). Returns whether the layout
 * was accepted (a device never sees a queue virtq_setup refused). */
static inline int
fuzz_queue (struct fuzz_in *in, struct virtq *q, const struct guest_mem *mem)
{
  const uint64_t span = FUZZ_RAM_SIZE + 0x2000;
  uint16_t size = (uint16_t) fuzz_take (in, 2);
  uint64_t desc = fuzz_take (in, 4) % span, avail = fuzz_take (in, 3) % span, used = fuzz_take (in, 3) % span;

  virtq_reset (q);
  q->size = size;
  q->desc_gpa = desc;
  q->avail_gpa = avail;
  q->used_gpa = used;
  q->ready = 1;
  return virtq_setup (q, mem);
}

/* A virtio_device as the transport has it before a driver touches it:
 * guest RAM `mem`, interrupts to one eventfd shared by all inputs, no kick
 * eventfds. */
static inline void
fuzz_device_init (struct virtio_device *d, const struct guest_mem *mem)
{
  static int irq_fd = -1;
  unsigned i;

  if (irq_fd < 0 && (irq_fd = eventfd (0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0)
    abort ();
  memset (d, 0, sizeof *d);
  d->mem = mem;
  d->irq_eventfd = irq_fd;
  for (i = 0; i < VIRTIO_MAX_QUEUES; i++)
    d->kick_eventfd[i] = -1;
  pthread_mutex_init (&d->lock, NULL);
}

/* Host fd watching for virtio-vsock without an event loop: accepted and
 * ignored (the targets only drive the guest's side). */
static inline int
fuzz_watch_add (void *ctx, int fd, uint32_t events, event_cb cb, void *opaque)
{
  return 0;
}

static inline int
fuzz_watch_modify (void *ctx, int fd, uint32_t events)
{
  return 0;
}

static inline void
fuzz_watch_remove (void *ctx, int fd)
{
}

static inline void
fuzz_rx_ready (void *ctx)
{
}

static inline const struct vsock_mux_ops *
fuzz_vsock_ops (void)
{
  static const struct vsock_mux_ops ops = { fuzz_watch_add, fuzz_watch_modify, fuzz_watch_remove, fuzz_rx_ready };
  return &ops;
}

/* Every buffer of a chain the queue handed out must lie inside guest RAM. */
static inline void
fuzz_check_chain (const struct virtq_chain *c, const uint8_t *ram)
{
  unsigned i;

  if (c->n_out + c->n_in > VIRTQ_MAX_CHAIN)
    abort ();
  for (i = 0; i < c->n_out + c->n_in; i++)
    {
      uintptr_t b = (uintptr_t) c->iov[i].iov_base, r = (uintptr_t) ram;
      if (b < r || c->iov[i].iov_len > FUZZ_RAM_SIZE || b - r > FUZZ_RAM_SIZE - c->iov[i].iov_len)
        abort ();
    }
}

#endif
