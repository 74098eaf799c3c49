/* virtio-vsock device (virtio 1.2, 5.10): queue 0 carries packets to the
 * guest, queue 1 packets from it, queue 2 events (kept set up, unused: we
 * never reset the transport under a running driver). Every descriptor chain
 * is guest-controlled; the header is copied out before it is trusted and
 * payload lengths are checked against the chain by vsock-conn.c. Everything
 * runs on the event loop thread (the transport runs activate and reset
 * there too), and after the VM stopped on the thread tearing it down. */
#include <config.h>
#include "vsock.h"
#include "virtio.h"
#include "../vm.h"
#include "../loop.h"
#include "utils.h"

#include <endian.h>
#include <string.h>
#include <linux/virtio_ids.h>

enum
{
  VSOCK_QUEUE_RX = 0,
  VSOCK_QUEUE_TX = 1,
  VSOCK_QUEUE_EVENT = 2,
  VSOCK_NUM_QUEUES = 3,
};

#define VSOCK_QUEUE_SIZE 256

struct virtio_vsock
{
  struct virtio_device *dev;
  struct event_loop *loop;
  struct vsock_mux *mux;
  uint64_t guest_cid;
  bool active; /* between DRIVER_OK and reset */
  bool tx_stalled; /* TX packets may be waiting in the ring */
  /* unit tests watch fds themselves */
  const struct vsock_mux_ops *watch;
  void *watch_ctx;
  struct virtq_chain chain; /* 4 KiB: kept off the loop thread's stack */
  struct iovec iov[VIRTQ_MAX_CHAIN];
};

static bool
vsock_active (struct virtio_vsock *v)
{
  return __atomic_load_n (&v->active, __ATOMIC_ACQUIRE);
}

/* ---- RX: packets for the guest ---- */

/* Fills the guest's RX buffers while the mux has packets for it. */
static bool
vsock_fill_rx (struct virtio_vsock *v)
{
  struct virtq *q = &v->dev->vq[VSOCK_QUEUE_RX];
  struct virtq_chain *c = &v->chain;
  bool used = false;

  while (vsock_mux_has_rx (v->mux))
    {
      uint8_t raw[VSOCK_HDR_SIZE];
      struct vsock_hdr h;
      size_t cap;
      unsigned n;

      if (virtq_pop_chain (q, c) != 1)
        break; /* no buffers: the data waits in the host fds */
      if (c->in_len < VSOCK_HDR_SIZE)
        {
          /* Cannot even hold a header: give it back empty. */
          virtq_push_used (q, c->head, 0);
          used = true;
          continue;
        }
      cap = c->in_len - VSOCK_HDR_SIZE;
      if (cap > VSOCK_MAX_PAYLOAD)
        cap = VSOCK_MAX_PAYLOAD;
      n = vsock_iov_slice (c->iov + c->n_out, c->n_in, VSOCK_HDR_SIZE, cap, v->iov, VIRTQ_MAX_CHAIN);
      if (!vsock_mux_fill_rx (v->mux, &h, v->iov, n, cap))
        {
          virtq_unpop (q);
          break;
        }
      vsock_hdr_encode (&h, raw);
      virtq_chain_copy_to_in (c, 0, raw, sizeof raw);
      virtq_push_used (q, c->head, VSOCK_HDR_SIZE + h.len);
      used = true;
    }
  return used;
}

/* ---- TX: packets from the guest ---- */

/* Takes the guest's TX packets until the ring is empty (returns false) or
 * too many replies are queued (returns true: call again once RX drained). */
static bool
vsock_take_tx (struct virtio_vsock *v, bool *used)
{
  struct virtq *q = &v->dev->vq[VSOCK_QUEUE_TX];
  struct virtq_chain *c = &v->chain;

  for (;;)
    {
      uint8_t raw[VSOCK_HDR_SIZE];
      struct vsock_hdr h;
      size_t avail;
      unsigned n;

      if (vsock_mux_tx_blocked (v->mux))
        return true; /* each packet may need a reply: wait for RX buffers */
      if (virtq_pop_chain (q, c) != 1)
        return false;
      if (c->out_len >= VSOCK_HDR_SIZE)
        {
          virtq_chain_copy_from_out (c, 0, raw, sizeof raw);
          vsock_hdr_decode (&h, raw);
          avail = c->out_len - VSOCK_HDR_SIZE;
          n = vsock_iov_slice (c->iov, c->n_out, VSOCK_HDR_SIZE, h.len < avail ? h.len : avail, v->iov,
                               VIRTQ_MAX_CHAIN);
          vsock_mux_handle_tx (v->mux, &h, v->iov, n, avail);
        }
      /* else: too short for a header, nothing to answer; drop it. */
      virtq_push_used (q, c->head, 0);
      *used = true;
    }
}

/* Moves packets both ways until neither direction can progress. */
static void
vsock_run (struct virtio_vsock *v, bool tx_kicked)
{
  bool rx_used = false, tx_used = false;

  if (!vsock_active (v))
    return;
  if (tx_kicked)
    v->tx_stalled = true;
  for (;;)
    {
      if (v->tx_stalled)
        v->tx_stalled = vsock_take_tx (v, &tx_used);
      if (vsock_fill_rx (v))
        rx_used = true;
      if (!v->tx_stalled || vsock_mux_tx_blocked (v->mux))
        break;
    }
  if (tx_used)
    virtio_signal_used (v->dev, VSOCK_QUEUE_TX);
  if (rx_used)
    virtio_signal_used (v->dev, VSOCK_QUEUE_RX);
}

/* ---- virtio device ops ---- */

static void
vsock_queue_notify (struct virtio_device *d, unsigned q)
{
  struct virtio_vsock *v = d->priv;

  if (q == VSOCK_QUEUE_TX || q == VSOCK_QUEUE_RX)
    vsock_run (v, q == VSOCK_QUEUE_TX);
  /* The event queue only holds buffers for events we never send. */
}

static void
vsock_config_read (struct virtio_device *d, uint32_t offset, void *data, uint32_t len)
{
  struct virtio_vsock *v = d->priv;
  uint8_t cfg[8];
  uint64_t cid = htole64 (v->guest_cid);

  memcpy (cfg, &cid, sizeof cfg);
  if (offset >= sizeof cfg)
    return;
  if (len > sizeof cfg - offset)
    len = sizeof cfg - offset;
  memcpy (data, cfg + offset, len);
}

static int
vsock_activate (struct virtio_device *d)
{
  struct virtio_vsock *v = d->priv;

  __atomic_store_n (&v->active, true, __ATOMIC_RELEASE);
  return 0;
}

/* The transport calls this on the loop thread, which owns the connections
 * (and in unit tests from the only thread there is). */
static void
vsock_reset (struct virtio_device *d)
{
  struct virtio_vsock *v = d->priv;

  __atomic_store_n (&v->active, false, __ATOMIC_RELEASE);
  v->tx_stalled = false;
  vsock_mux_reset (v->mux);
}

static const struct virtio_device_ops vsock_ops = {
  .name = "vsock",
  .device_id = VIRTIO_ID_VSOCK,
  .num_queues = VSOCK_NUM_QUEUES,
  .queue_max_size = VSOCK_QUEUE_SIZE,
  .features = 0, /* stream only: no VIRTIO_VSOCK_F_SEQPACKET */
  .config_read = vsock_config_read,
  .activate = vsock_activate,
  .reset = vsock_reset,
  .queue_notify = vsock_queue_notify,
};

/* ---- host fd watching: the event loop, or a test's own ---- */

static int
dev_watch_add (void *ctx, int fd, uint32_t events, event_cb cb, void *opaque)
{
  struct virtio_vsock *v = ctx;
  cleanup_error runvm_error_t err = NULL;

  if (v->watch)
    return v->watch->watch_add (v->watch_ctx, fd, events, cb, opaque);
  if (event_loop_add (v->loop, fd, events, cb, opaque, &err) < 0)
    {
      errno = err && err->status ? err->status : EINVAL;
      return -1;
    }
  return 0;
}

static int
dev_watch_modify (void *ctx, int fd, uint32_t events)
{
  struct virtio_vsock *v = ctx;

  if (v->watch)
    return v->watch->watch_modify (v->watch_ctx, fd, events);
  return event_loop_modify (v->loop, fd, events);
}

static void
dev_watch_remove (void *ctx, int fd)
{
  struct virtio_vsock *v = ctx;

  if (v->watch)
    v->watch->watch_remove (v->watch_ctx, fd);
  else
    event_loop_remove (v->loop, fd);
}

static void
dev_rx_ready (void *ctx)
{
  vsock_run (ctx, false);
}

static const struct vsock_mux_ops dev_mux_ops = {
  .watch_add = dev_watch_add,
  .watch_modify = dev_watch_modify,
  .watch_remove = dev_watch_remove,
  .rx_ready = dev_rx_ready,
};

/* ---- lifetime ---- */

static int
vsock_new (uint64_t guest_cid, const char *uds_base, struct virtio_vsock **out, runvm_error_t *err)
{
  cleanup_free struct virtio_vsock *v = NULL;

  /* 0-2 are reserved (hypervisor, local, host); U32_MAX is VMADDR_CID_ANY,
   * and Linux keeps CIDs to 32 bits. */
  if (guest_cid < 3 || guest_cid >= UINT32_MAX)
    return runvm_make_error (err, EINVAL, "vsock: invalid guest CID %llu", (unsigned long long) guest_cid);
  v = calloc (1, sizeof *v);
  if (v == NULL)
    return runvm_make_error (err, ENOMEM, "vsock");
  v->guest_cid = guest_cid;
  if (vsock_mux_new (guest_cid, uds_base, &dev_mux_ops, v, &v->mux, err) < 0)
    return -1;
  *out = steal_pointer (&v);
  return 0;
}

/* Takes what the guest queued before it stopped: the tail of a container's
 * output may still sit in the TX ring when the VM powers off. */
static void
vsock_drain_tx (struct virtio_vsock *v)
{
  if (v->dev && vsock_active (v))
    vsock_run (v, true);
}

int
virtio_vsock_drain (struct virtio_vsock *v, int timeout_ms)
{
  if (v == NULL)
    return 0;
  vsock_drain_tx (v);
  /* The guest will never take the RSTs we owe it; do not let them hold
   * back the TX packets behind them. */
  while (v->dev && vsock_active (v) && v->tx_stalled && vsock_mux_tx_blocked (v->mux))
    {
      vsock_mux_drop_ctrl_replies (v->mux);
      vsock_run (v, false);
    }
  return vsock_mux_drain (v->mux, timeout_ms);
}

void
virtio_vsock_release (void *opaque)
{
  struct virtio_vsock *v = opaque;

  if (v == NULL)
    return;
  vsock_drain_tx (v);
  vsock_mux_free (v->mux);
  if (v->dev && v->dev->priv == v)
    v->dev->priv = NULL;
  free (v);
}

int
virtio_vsock_create (struct vm *vm, uint64_t guest_cid, const char *uds_base, struct virtio_vsock **out,
                     runvm_error_t *err)
{
  struct virtio_vsock *v = NULL;

  if (vsock_new (guest_cid, uds_base, &v, err) < 0)
    return -1;
  v->loop = vm->loop;
  if (virtio_mmio_create (vm, &vsock_ops, v, &v->dev, err) < 0)
    {
      /* The transport registered its own state with the VM already. */
      vsock_mux_free (v->mux);
      free (v);
      return runvm_error_wrap (err, "vsock");
    }
  vm_add_device (vm, v, virtio_vsock_release);
  if (out)
    *out = v;
  return 0;
}

int
virtio_vsock_attach (struct virtio_device *d, uint64_t guest_cid, const char *uds_base,
                     const struct vsock_mux_ops *ops, void *ops_ctx, struct virtio_vsock **out, runvm_error_t *err)
{
  struct virtio_vsock *v = NULL;

  if (vsock_new (guest_cid, uds_base, &v, err) < 0)
    return -1;
  v->watch = ops;
  v->watch_ctx = ops_ctx;
  v->loop = d->loop;
  v->dev = d;
  d->ops = &vsock_ops;
  d->priv = v;
  *out = v;
  return 0;
}

int
virtio_vsock_set_port_fds (struct virtio_vsock *v, uint32_t port, int rfd, int wfd, runvm_error_t *err)
{
  return vsock_mux_set_port_fds (v->mux, port, rfd, wfd, err);
}
