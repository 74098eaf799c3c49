/* virtio core: split virtqueues over guest memory and the virtio-mmio
 * (version 2) transport. A device fills a `struct virtio_device_ops` and
 * registers with virtio_mmio_create(); kvmtool-style, adding a device is
 * adding a file.
 *
 * Threading: the transport's register accesses come from vCPU threads and
 * are serialised by the device's `lock`. Queue notifications arrive through
 * an ioeventfd on the event loop thread (ops->queue_notify runs there) unless
 * the device hands the kick eventfd to an external backend (vhost-user).
 * Queue setup with ops->activate, and ops->reset with the queue wipe, run on
 * the loop thread too (the vCPU waits for them, holding `lock`), so they
 * never race queue_notify. Hence code on the loop thread must never take a
 * device's `lock`. */
#ifndef RUNVM_VIRTIO_H
#define RUNVM_VIRTIO_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "error.h"
#include "guest-mem.h"

struct vm;
struct event_loop;

/* ---- split virtqueue ---- */

#define VIRTQ_MAX_SIZE 1024
/* A descriptor chain longer than this (or than the queue size) is a guest
 * error: it bounds the walk even when the guest builds a loop. */
#define VIRTQ_MAX_CHAIN 256

struct virtq
{
  uint16_t size; /* negotiated QueueNum */
  bool ready;
  uint64_t desc_gpa, avail_gpa, used_gpa;
  uint16_t last_avail_idx; /* next avail ring slot the device reads */
  uint16_t used_idx;       /* shadow of used->idx */
  bool broken;             /* guest violated the spec: queue is dead until reset */
  const struct guest_mem *mem;
};

struct virtq_chain
{
  uint16_t head;
  unsigned n_out; /* device-readable buffers, in iov[0..n_out) */
  unsigned n_in;  /* device-writable buffers, in iov[n_out..n_out+n_in) */
  uint32_t out_len, in_len;
  struct iovec iov[VIRTQ_MAX_CHAIN];
};

/* Validates and sets up the queue (addresses checked against guest memory,
 * alignment per the spec). Returns false when the guest's layout is invalid. */
bool virtq_setup (struct virtq *q, const struct guest_mem *mem);
void virtq_reset (struct virtq *q);
/* Pops the next available chain. Returns 1 with *chain filled, 0 when the
 * ring is empty, -1 when the guest broke the rules (out-of-range address,
 * loop, too long, readable after writable, bad index, indirect inside
 * indirect, zero size); the queue is then marked broken. */
int virtq_pop_chain (struct virtq *q, struct virtq_chain *chain);
/* Puts a chain back so the next pop returns it again (device out of room). */
void virtq_unpop (struct virtq *q);
/* Publishes a used element (written = bytes the device wrote). */
void virtq_push_used (struct virtq *q, uint16_t head, uint32_t written);
/* Whether the driver wants an interrupt now (VRING_AVAIL_F_NO_INTERRUPT). */
bool virtq_should_notify (struct virtq *q);
/* Copies between a chain's writable/readable parts and flat buffers. */
size_t virtq_chain_copy_to_in (struct virtq_chain *c, size_t offset, const void *src, size_t len);
size_t virtq_chain_copy_from_out (const struct virtq_chain *c, size_t offset, void *dst, size_t len);

/* ---- device model ---- */

#define VIRTIO_MAX_QUEUES 8

struct virtio_device;

struct virtio_device_ops
{
  const char *name;
  uint32_t device_id; /* VIRTIO_ID_* */
  unsigned num_queues;
  uint16_t queue_max_size;
  uint64_t features; /* offered; VIRTIO_F_VERSION_1 is added by the transport */
  /* Device config space accesses (offset from 0x100). Must bound-check. */
  void (*config_read) (struct virtio_device *d, uint32_t offset, void *data, uint32_t len);
  void (*config_write) (struct virtio_device *d, uint32_t offset, const void *data, uint32_t len);
  /* DRIVER_OK was written: the queues are set up. Return <0 to fail the
   * device (DEVICE_NEEDS_RESET). Runs on the event loop thread (inline
   * with external_kick) while the writing vCPU holds d->lock. */
  int (*activate) (struct virtio_device *d);
  /* The driver reset the device; the queues are wiped right after. Same
   * thread and locking as activate. */
  void (*reset) (struct virtio_device *d);
  /* Guest kicked queue q (only once DRIVER_OK set it up). Runs on the
   * event loop thread, without d->lock. */
  void (*queue_notify) (struct virtio_device *d, unsigned q);
  /* When set, the transport does not install its own ioeventfd handler:
   * the device takes the kick eventfds (vhost-user) in activate(). */
  bool external_kick;
};

struct virtio_device
{
  const struct virtio_device_ops *ops;
  void *priv; /* the device's own state */
  struct vm *vm;
  struct event_loop *loop;
  const struct guest_mem *mem;
  pthread_mutex_t lock;

  /* transport state */
  uint64_t mmio_base;
  uint32_t irq;
  int irq_eventfd;              /* KVM irqfd for `irq` */
  int kick_eventfd[VIRTIO_MAX_QUEUES]; /* KVM ioeventfd per queue */
  uint32_t status;
  uint32_t device_features_sel, driver_features_sel;
  uint64_t driver_features;
  uint32_t queue_sel;
  uint32_t interrupt_status;
  uint32_t config_generation;
  bool always_report_vring; /* vhost-user: backend signals irqfd directly */
  struct virtq vq[VIRTIO_MAX_QUEUES];
};

#define VIRTIO_MMIO_SIZE 0x1000
#define VIRTIO_MMIO_BASE 0xd0000000ULL
#define VIRTIO_MMIO_FIRST_IRQ 5

/* Creates the device at the next free virtio-mmio slot, adds it to the
 * kernel command line ("virtio_mmio.device=4K@0x...:IRQ") and to the MMIO
 * bus, sets up its irqfd and ioeventfds. */
int virtio_mmio_create (struct vm *vm, const struct virtio_device_ops *ops, void *priv, struct virtio_device **out,
                        runvm_error_t *err);
/* Marks queue q used and injects the interrupt if the driver wants one.
 * Safe from any thread. */
void virtio_signal_used (struct virtio_device *d, unsigned q);
void virtio_signal_config (struct virtio_device *d);
bool virtio_driver_has_feature (const struct virtio_device *d, unsigned bit);

/* MMIO register access entry point (the bus calls it; unit tests too). */
void virtio_mmio_access (struct virtio_device *d, uint64_t offset, void *data, uint32_t len, bool is_write);

#endif
