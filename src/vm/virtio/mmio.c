/* virtio-mmio transport, version 2 (virtio 1.2, 4.2). Register accesses come
 * from vCPU threads; queue kicks go through KVM ioeventfds to the event loop
 * (or straight to a vhost-user backend), interrupts through KVM irqfds. */
#include <config.h>
#include "virtio.h"
#include "../vm.h"
#include "../bus.h"
#include "../loop.h"
#include "utils.h"

#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <linux/kvm.h>
#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>

#define VIRTIO_MMIO_VENDOR 0x4d564e52 /* "RNVM" */

struct kick_ctx
{
  struct virtio_device *dev;
  unsigned queue;
};

static uint64_t
device_features (const struct virtio_device *d)
{
  return d->ops->features | (1ULL << VIRTIO_F_VERSION_1);
}

bool
virtio_driver_has_feature (const struct virtio_device *d, unsigned bit)
{
  return (d->driver_features >> bit) & 1;
}

void
virtio_signal_used (struct virtio_device *d, unsigned q)
{
  uint64_t one = 1;

  if (q < VIRTIO_MAX_QUEUES && d->vq[q].ready && !virtq_should_notify (&d->vq[q]))
    return;
  __atomic_fetch_or (&d->interrupt_status, VIRTIO_MMIO_INT_VRING, __ATOMIC_SEQ_CST);
  if (write (d->irq_eventfd, &one, sizeof one) < 0)
    {
      /* eventfd counter overflow cannot happen with 1s; nothing to do. */
    }
}

void
virtio_signal_config (struct virtio_device *d)
{
  uint64_t one = 1;

  __atomic_fetch_add (&d->config_generation, 1, __ATOMIC_SEQ_CST);
  __atomic_fetch_or (&d->interrupt_status, VIRTIO_MMIO_INT_CONFIG, __ATOMIC_SEQ_CST);
  if (write (d->irq_eventfd, &one, sizeof one) < 0)
    {
    }
}

/* Queue setup and teardown race with queue_notify, which runs on the loop
 * thread without d->lock (wiping a queue under it pulls q->mem away in the
 * middle of a chain walk). So they run on the loop thread too, between two
 * callbacks, while the vCPU that wrote Status waits holding d->lock; no
 * loop-thread code takes d->lock, so this cannot deadlock. A device whose
 * kicks go to an external backend (vhost-user) has no queue_notify to race
 * and keeps doing it inline. */
static void
transport_run (struct virtio_device *d, void (*fn) (void *), void *opaque)
{
  if (d->loop && !d->ops->external_kick)
    event_loop_call_wait (d->loop, fn, opaque);
  else
    fn (opaque);
}

static void
device_reset_queues (void *opaque)
{
  struct virtio_device *d = opaque;
  unsigned i;

  if (d->ops->reset && (d->status & VIRTIO_CONFIG_S_DRIVER_OK))
    d->ops->reset (d);
  for (i = 0; i < VIRTIO_MAX_QUEUES; i++)
    virtq_reset (&d->vq[i]);
}

static void
device_reset (struct virtio_device *d)
{
  transport_run (d, device_reset_queues, d);
  d->status = 0;
  d->driver_features = 0;
  d->device_features_sel = d->driver_features_sel = 0;
  d->queue_sel = 0;
  __atomic_store_n (&d->interrupt_status, 0, __ATOMIC_SEQ_CST);
}

struct activation
{
  struct virtio_device *d;
  uint32_t status;
};

/* DRIVER_OK: sets the queues up and starts the device. */
static void
device_activate (void *opaque)
{
  struct activation *a = opaque;
  struct virtio_device *d = a->d;
  unsigned i;

  for (i = 0; i < d->ops->num_queues; i++)
    if (d->vq[i].ready && !virtq_setup (&d->vq[i], d->mem))
      {
        d->status = a->status | VIRTIO_CONFIG_S_NEEDS_RESET;
        d->vq[i].ready = false;
        return;
      }
  d->status = a->status;
  if (d->ops->activate && d->ops->activate (d) < 0)
    d->status |= VIRTIO_CONFIG_S_NEEDS_RESET;
}

/* Status bits the driver sets; NEEDS_RESET is the device's. */
#define DRIVER_STATUS_BITS                                                                                         \
  (VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK \
   | VIRTIO_CONFIG_S_FAILED)

static void
status_write (struct virtio_device *d, uint32_t v)
{
  if (v == 0)
    {
      device_reset (d);
      return;
    }
  /* Only a reset clears status bits (2.1.2). A driver that drops
   * DRIVER_OK or FEATURES_OK without one is ignored: otherwise it could
   * change the features or lay out queues again under a running device
   * (queues that virtq_setup never checked). */
  if ((v & d->status & DRIVER_STATUS_BITS) != (d->status & DRIVER_STATUS_BITS))
    return;
  v = (v & DRIVER_STATUS_BITS) | (d->status & VIRTIO_CONFIG_S_NEEDS_RESET);
  if ((v & VIRTIO_CONFIG_S_FEATURES_OK) && !(d->status & VIRTIO_CONFIG_S_FEATURES_OK))
    {
      /* The driver may only accept what we offered, and must accept VERSION_1. */
      if ((d->driver_features & ~device_features (d)) || !virtio_driver_has_feature (d, VIRTIO_F_VERSION_1))
        v &= ~VIRTIO_CONFIG_S_FEATURES_OK;
    }
  /* DRIVER_OK comes after FEATURES_OK (3.1.1). */
  if ((v & VIRTIO_CONFIG_S_DRIVER_OK) && !(v & VIRTIO_CONFIG_S_FEATURES_OK))
    v &= ~VIRTIO_CONFIG_S_DRIVER_OK;
  if ((v & VIRTIO_CONFIG_S_DRIVER_OK) && !(d->status & VIRTIO_CONFIG_S_DRIVER_OK))
    {
      struct activation a = { d, v };
      transport_run (d, device_activate, &a);
      return;
    }
  d->status = v;
}

static void
set_addr (uint64_t *field, uint32_t v, bool high)
{
  if (high)
    *field = (*field & 0xffffffffULL) | ((uint64_t) v << 32);
  else
    *field = (*field & ~0xffffffffULL) | v;
}

static uint32_t
reg_read (struct virtio_device *d, uint64_t off)
{
  struct virtq *q = d->queue_sel < d->ops->num_queues ? &d->vq[d->queue_sel] : NULL;

  switch (off)
    {
    case VIRTIO_MMIO_MAGIC_VALUE:
      return 0x74726976;
    case VIRTIO_MMIO_VERSION:
      return 2;
    case VIRTIO_MMIO_DEVICE_ID:
      return d->ops->device_id;
    case VIRTIO_MMIO_VENDOR_ID:
      return VIRTIO_MMIO_VENDOR;
    case VIRTIO_MMIO_DEVICE_FEATURES:
      return d->device_features_sel > 1 ? 0 : (uint32_t) (device_features (d) >> (32 * d->device_features_sel));
    case VIRTIO_MMIO_QUEUE_NUM_MAX:
      return q ? d->ops->queue_max_size : 0;
    case VIRTIO_MMIO_QUEUE_READY:
      return q ? q->ready : 0;
    case VIRTIO_MMIO_INTERRUPT_STATUS:
      if (d->always_report_vring)
        return VIRTIO_MMIO_INT_VRING | __atomic_load_n (&d->interrupt_status, __ATOMIC_SEQ_CST);
      return __atomic_load_n (&d->interrupt_status, __ATOMIC_SEQ_CST);
    case VIRTIO_MMIO_STATUS:
      return d->status;
    case VIRTIO_MMIO_CONFIG_GENERATION:
      return __atomic_load_n (&d->config_generation, __ATOMIC_SEQ_CST);
    case 0x0b0: /* SHMLenLow: no shared memory regions */
    case 0x0b4:
      return 0xffffffff;
    default:
      return 0;
    }
}

static void
reg_write (struct virtio_device *d, uint64_t off, uint32_t v)
{
  struct virtq *q = d->queue_sel < d->ops->num_queues ? &d->vq[d->queue_sel] : NULL;
  bool queue_writable = q && !q->ready && !(d->status & VIRTIO_CONFIG_S_DRIVER_OK);

  switch (off)
    {
    case VIRTIO_MMIO_DEVICE_FEATURES_SEL:
      d->device_features_sel = v;
      break;
    case VIRTIO_MMIO_DRIVER_FEATURES:
      if (d->driver_features_sel <= 1 && !(d->status & VIRTIO_CONFIG_S_FEATURES_OK))
        {
          unsigned shift = 32 * d->driver_features_sel;
          d->driver_features = (d->driver_features & ~(0xffffffffULL << shift)) | ((uint64_t) v << shift);
        }
      break;
    case VIRTIO_MMIO_DRIVER_FEATURES_SEL:
      d->driver_features_sel = v;
      break;
    case VIRTIO_MMIO_QUEUE_SEL:
      d->queue_sel = v;
      break;
    case VIRTIO_MMIO_QUEUE_NUM:
      if (queue_writable)
        q->size = v <= d->ops->queue_max_size ? (uint16_t) v : 0;
      break;
    case VIRTIO_MMIO_QUEUE_READY:
      if (q && !(d->status & VIRTIO_CONFIG_S_DRIVER_OK))
        q->ready = v == 1;
      break;
    case VIRTIO_MMIO_QUEUE_NOTIFY:
      /* Normally swallowed by the ioeventfd; forward if it reaches us. */
      if (v < d->ops->num_queues)
        {
          uint64_t one = 1;
          if (write (d->kick_eventfd[v], &one, sizeof one) < 0)
            {
            }
        }
      break;
    case VIRTIO_MMIO_INTERRUPT_ACK:
      __atomic_fetch_and (&d->interrupt_status, ~v, __ATOMIC_SEQ_CST);
      break;
    case VIRTIO_MMIO_STATUS:
      status_write (d, v);
      break;
    case VIRTIO_MMIO_QUEUE_DESC_LOW:
    case VIRTIO_MMIO_QUEUE_DESC_HIGH:
      if (queue_writable)
        set_addr (&q->desc_gpa, v, off == VIRTIO_MMIO_QUEUE_DESC_HIGH);
      break;
    case VIRTIO_MMIO_QUEUE_AVAIL_LOW:
    case VIRTIO_MMIO_QUEUE_AVAIL_HIGH:
      if (queue_writable)
        set_addr (&q->avail_gpa, v, off == VIRTIO_MMIO_QUEUE_AVAIL_HIGH);
      break;
    case VIRTIO_MMIO_QUEUE_USED_LOW:
    case VIRTIO_MMIO_QUEUE_USED_HIGH:
      if (queue_writable)
        set_addr (&q->used_gpa, v, off == VIRTIO_MMIO_QUEUE_USED_HIGH);
      break;
    default:
      break;
    }
}

void
virtio_mmio_access (struct virtio_device *d, uint64_t offset, void *data, uint32_t len, bool is_write)
{
  pthread_mutex_lock (&d->lock);
  if (offset >= VIRTIO_MMIO_CONFIG)
    {
      if (is_write && d->ops->config_write)
        d->ops->config_write (d, offset - VIRTIO_MMIO_CONFIG, data, len);
      else if (!is_write)
        {
          memset (data, 0, len);
          if (d->ops->config_read)
            d->ops->config_read (d, offset - VIRTIO_MMIO_CONFIG, data, len);
        }
    }
  else if (len != 4 || (offset & 3))
    {
      /* Registers are 32-bit only (4.2.2.2); ignore anything else. */
      if (!is_write)
        memset (data, 0, len);
    }
  else if (is_write)
    {
      uint32_t v;
      memcpy (&v, data, 4);
      reg_write (d, offset, v);
    }
  else
    {
      uint32_t v = reg_read (d, offset);
      memcpy (data, &v, 4);
    }
  pthread_mutex_unlock (&d->lock);
}

static void
bus_cb (void *opaque, uint64_t offset, void *data, uint32_t len, bool is_write)
{
  virtio_mmio_access (opaque, offset, data, len, is_write);
}

static void
kick_cb (void *opaque, uint32_t events)
{
  struct kick_ctx *k = opaque;
  uint64_t n;

  if (read (k->dev->kick_eventfd[k->queue], &n, sizeof n) < 0)
    return;
  /* A kick before DRIVER_OK set the queue up (or after a reset wiped it)
   * is a driver bug; q->mem only changes on this thread. */
  if (k->dev->vq[k->queue].mem == NULL)
    return;
  if (k->dev->ops->queue_notify)
    k->dev->ops->queue_notify (k->dev, k->queue);
}

static void
virtio_device_release (void *opaque)
{
  struct virtio_device *d = opaque;
  unsigned i;

  for (i = 0; i < VIRTIO_MAX_QUEUES; i++)
    if (d->kick_eventfd[i] >= 0)
      close (d->kick_eventfd[i]);
  if (d->irq_eventfd >= 0)
    close (d->irq_eventfd);
  pthread_mutex_destroy (&d->lock);
  free (d);
}

int
virtio_mmio_create (struct vm *vm, const struct virtio_device_ops *ops, void *priv, struct virtio_device **out,
                    runvm_error_t *err)
{
  struct virtio_device *d;
  struct kvm_irqfd irqfd = { 0 };
  unsigned i;

  if (ops->num_queues > VIRTIO_MAX_QUEUES)
    return runvm_make_error (err, EINVAL, "virtio %s: too many queues", ops->name);
  if (vm->n_virtio >= ARRAY_SIZE (vm->virtio))
    return runvm_make_error (err, ENOSPC, "virtio %s: too many devices", ops->name);
  d = calloc (1, sizeof *d);
  if (d == NULL)
    return runvm_make_error (err, ENOMEM, "virtio %s", ops->name);
  d->ops = ops;
  d->priv = priv;
  d->vm = vm;
  d->loop = vm->loop;
  d->mem = &vm->mem;
  pthread_mutex_init (&d->lock, NULL);
  for (i = 0; i < VIRTIO_MAX_QUEUES; i++)
    d->kick_eventfd[i] = -1;
  d->irq_eventfd = -1;
  vm_add_device (vm, d, virtio_device_release);

  d->mmio_base = VIRTIO_MMIO_BASE + (uint64_t) vm->n_virtio * VIRTIO_MMIO_SIZE;
  d->irq = vm_alloc_irq (vm);
  if (d->irq == 0)
    return runvm_make_error (err, ENOSPC, "virtio %s: out of interrupt lines", ops->name);

  d->irq_eventfd = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (d->irq_eventfd < 0)
    return runvm_make_error (err, errno, "virtio %s: eventfd", ops->name);
  irqfd.fd = (uint32_t) d->irq_eventfd;
  irqfd.gsi = d->irq;
  if (ioctl (vm->vm_fd, KVM_IRQFD, &irqfd) < 0)
    return runvm_make_error (err, errno, "virtio %s: KVM_IRQFD", ops->name);

  for (i = 0; i < ops->num_queues; i++)
    {
      struct kvm_ioeventfd ioev = { 0 };

      d->kick_eventfd[i] = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
      if (d->kick_eventfd[i] < 0)
        return runvm_make_error (err, errno, "virtio %s: eventfd", ops->name);
      ioev.addr = d->mmio_base + VIRTIO_MMIO_QUEUE_NOTIFY;
      ioev.len = 4;
      ioev.datamatch = i;
      ioev.fd = d->kick_eventfd[i];
      ioev.flags = KVM_IOEVENTFD_FLAG_DATAMATCH;
      if (ioctl (vm->vm_fd, KVM_IOEVENTFD, &ioev) < 0)
        return runvm_make_error (err, errno, "virtio %s: KVM_IOEVENTFD", ops->name);
      if (!ops->external_kick)
        {
          struct kick_ctx *k = calloc (1, sizeof *k);
          if (k == NULL)
            return runvm_make_error (err, ENOMEM, "virtio %s", ops->name);
          k->dev = d;
          k->queue = i;
          vm_add_device (vm, k, free);
          if (event_loop_add (vm->loop, d->kick_eventfd[i], EPOLLIN, kick_cb, k, err) < 0)
            return -1;
        }
    }
  if (bus_register (vm->mmio_bus, d->mmio_base, VIRTIO_MMIO_SIZE, bus_cb, d, err) < 0)
    return -1;
  vm_cmdline_append (vm, " virtio_mmio.device=4K@0x%llx:%u", (unsigned long long) d->mmio_base, d->irq);
  vm->virtio[vm->n_virtio++] = d;
  if (out)
    *out = d;
  return 0;
}
