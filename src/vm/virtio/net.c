/* virtio-net device over a tap (see net.h). Frames move between the tap
 * and guest RAM without a bounce buffer: RX gathers enough receive chains
 * for the largest frame the driver can be sent, readv()s into their
 * buffers, and gives back the chains the frame did not need; TX writev()s
 * the guest's chain after checking its header (copied out first, so the
 * guest cannot change it between the check and the write) against the
 * features it negotiated. When the guest runs out of receive buffers the
 * tap is no longer polled until it kicks the RX queue: frames wait in the
 * tap's queue instead of spinning the loop. */
#include <config.h>
#include "net.h"
#include "virtio.h"
#include "../vm.h"
#include "../loop.h"
#include "../tap.h"
#include "utils.h"

#include <endian.h>
#include <string.h>
#include <sys/random.h>
#include <sys/uio.h>
#include <linux/if_tun.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_net.h>

enum
{
  NET_QUEUE_RX = 0,
  NET_QUEUE_TX = 1,
  NET_NUM_QUEUES = 2,
};

#define NET_FEATURES                                                                                               \
  ((1ULL << VIRTIO_NET_F_CSUM) | (1ULL << VIRTIO_NET_F_GUEST_CSUM) | (1ULL << VIRTIO_NET_F_MAC)                  \
   | (1ULL << VIRTIO_NET_F_GUEST_TSO4) | (1ULL << VIRTIO_NET_F_GUEST_TSO6) | (1ULL << VIRTIO_NET_F_GUEST_ECN)    \
   | (1ULL << VIRTIO_NET_F_HOST_TSO4) | (1ULL << VIRTIO_NET_F_HOST_TSO6) | (1ULL << VIRTIO_NET_F_HOST_ECN)       \
   | (1ULL << VIRTIO_NET_F_MRG_RXBUF) | (1ULL << VIRTIO_NET_F_STATUS))

#define NET_CONFIG_SIZE 8 /* mac[6], le16 status */
#define NET_ETH_OVERHEAD 18 /* Ethernet header + one VLAN tag */
#define NET_RX_IOV_MAX 1024 /* IOV_MAX */
/* A guest frame larger than a GSO frame (plus a VLAN tag) is malformed. */
#define NET_TX_MAX (VIRTIO_NET_HDR_SIZE + VIRTIO_NET_MAX_GSO_FRAME + 4)
/* Frames handled per wakeup before yielding to the other event sources. */
#define NET_BUDGET 256

struct rx_chain
{
  uint16_t head;
  uint32_t len;
};

struct virtio_net
{
  struct virtio_device *dev;
  struct event_loop *loop; /* NULL in unit tests */
  int fd;
  bool is_tap;
  uint8_t config[NET_CONFIG_SIZE];

  /* Held by the loop thread while it uses the queues, and by activate and
   * reset (vCPU threads), so a reset never pulls a queue from under RX/TX. */
  pthread_mutex_t lock;
  bool active;
  bool rx_polling;
  bool mergeable;  /* VIRTIO_NET_F_MRG_RXBUF: a frame may span chains */
  size_t rx_need;  /* bytes of buffer (header included) a frame may need */
  uint64_t features;
  struct virtio_net_stats stats;

  struct virtq_chain chain; /* 4 KiB: off the loop thread's stack */
  struct iovec iov[NET_RX_IOV_MAX];
  struct rx_chain rx_chains[VIRTQ_MAX_SIZE];
};

static bool
has (const struct virtio_net *n, unsigned bit)
{
  return (n->features >> bit) & 1;
}

/* Writes src at `offset` of the scatter list. */
static size_t
iov_write (const struct iovec *iov, unsigned cnt, size_t offset, const void *src, size_t len)
{
  size_t done = 0;
  unsigned i;

  for (i = 0; i < cnt && done < len; i++)
    {
      size_t l = iov[i].iov_len, k;
      if (offset >= l)
        {
          offset -= l;
          continue;
        }
      k = l - offset < len - done ? l - offset : len - done;
      memcpy ((uint8_t *) iov[i].iov_base + offset, (const uint8_t *) src + done, k);
      done += k;
      offset = 0;
    }
  return done;
}

static void
net_watch_rx (struct virtio_net *n, bool on)
{
  if (n->rx_polling == on)
    return;
  n->rx_polling = on;
  if (n->loop)
    event_loop_modify (n->loop, n->fd, on ? EPOLLIN : 0);
}

/* ---- RX: tap -> guest ---- */

/* Gathers receive chains (one, or with MRG_RXBUF as many as a frame may
 * need) into n->iov. Returns how many were taken; sets *ring_empty when the
 * guest had no more. Chains too small for the header are given back. */
static unsigned
rx_gather (struct virtio_net *n, size_t *cap, unsigned *niov, bool *ring_empty, bool *used)
{
  struct virtq *q = &n->dev->vq[NET_QUEUE_RX];
  struct virtq_chain *c = &n->chain;
  unsigned taken = 0;

  *cap = 0;
  *niov = 0;
  *ring_empty = false;
  while (*cap < n->rx_need && taken < ARRAY_SIZE (n->rx_chains))
    {
      int r = virtq_pop_chain (q, c);
      if (r != 1)
        {
          *ring_empty = true;
          break;
        }
      if (c->in_len < (taken == 0 ? VIRTIO_NET_HDR_SIZE : 1))
        {
          /* Cannot hold the header: unusable, hand it back empty. */
          virtq_push_used (q, c->head, 0);
          *used = true;
          continue;
        }
      if (*niov + c->n_in > NET_RX_IOV_MAX)
        {
          virtq_unpop (q);
          break;
        }
      /* Device-readable buffers in a receive chain are the driver's error;
       * only the writable part is used. */
      memcpy (n->iov + *niov, c->iov + c->n_out, c->n_in * sizeof (struct iovec));
      *niov += c->n_in;
      n->rx_chains[taken].head = c->head;
      n->rx_chains[taken].len = c->in_len;
      taken++;
      *cap += c->in_len;
      if (!n->mergeable)
        break;
    }
  return taken;
}

/* Moves frames from the tap into the guest until the tap is empty, the
 * guest is out of buffers (then stops polling the tap) or the budget is
 * spent. Called with n->lock held while active. */
static void
net_rx (struct virtio_net *n)
{
  struct virtq *q = &n->dev->vq[NET_QUEUE_RX];
  bool used = false;
  unsigned budget;

  for (budget = 0; budget < NET_BUDGET; budget++)
    {
      size_t cap, left;
      unsigned taken, niov, k;
      bool ring_empty;
      uint16_t num_buffers;
      ssize_t got;

      taken = rx_gather (n, &cap, &niov, &ring_empty, &used);
      if (taken == 0 || (n->mergeable && cap < n->rx_need && ring_empty))
        {
          /* Not enough room for a frame that may be as large as rx_need:
           * wait for the guest to add buffers (it kicks RX when it does). */
          for (k = 0; k < taken; k++)
            virtq_unpop (q);
          net_watch_rx (n, false);
          break;
        }
      got = readv (n->fd, n->iov, (int) niov);
      if (got < 0 && errno == EINTR)
        got = readv (n->fd, n->iov, (int) niov);
      if (got < VIRTIO_NET_HDR_SIZE)
        {
          for (k = 0; k < taken; k++)
            virtq_unpop (q);
          if (got > 0)
            {
              n->stats.rx_dropped++; /* a runt: nothing to deliver */
              continue;
            }
          /* EAGAIN: the tap is empty. EOF or an error (the device went
           * away) would repeat forever: stop polling until the guest kicks. */
          if (got == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
            net_watch_rx (n, false);
          break;
        }
      /* Hand back the chains the frame used, return the others. */
      left = (size_t) got;
      for (k = 0; k < taken && left > 0; k++)
        {
          uint32_t l = left < n->rx_chains[k].len ? (uint32_t) left : n->rx_chains[k].len;
          left -= l;
        }
      num_buffers = htole16 ((uint16_t) k);
      /* tun leaves num_buffers (header bytes 10-11) alone: ours to write. */
      iov_write (n->iov, niov, 10, &num_buffers, sizeof num_buffers);
      left = (size_t) got;
      for (k = 0; k < taken && left > 0; k++)
        {
          uint32_t l = left < n->rx_chains[k].len ? (uint32_t) left : n->rx_chains[k].len;
          virtq_push_used (q, n->rx_chains[k].head, l);
          left -= l;
        }
      for (; k < taken; k++)
        virtq_unpop (q);
      n->stats.rx_packets++;
      used = true;
    }
  if (used)
    virtio_signal_used (n->dev, NET_QUEUE_RX);
}

/* ---- TX: guest -> tap ---- */

/* Whether the header asks only for offloads the driver negotiated. */
static bool
tx_header_ok (const struct virtio_net *n, const uint8_t *hdr)
{
  uint8_t flags = hdr[0], gso = hdr[1];

  if ((flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) && !has (n, VIRTIO_NET_F_CSUM))
    return false;
  if ((gso & VIRTIO_NET_HDR_GSO_ECN) && !has (n, VIRTIO_NET_F_HOST_ECN))
    return false;
  switch (gso & ~VIRTIO_NET_HDR_GSO_ECN)
    {
    case VIRTIO_NET_HDR_GSO_NONE:
      return !(gso & VIRTIO_NET_HDR_GSO_ECN);
    case VIRTIO_NET_HDR_GSO_TCPV4:
      return has (n, VIRTIO_NET_F_HOST_TSO4);
    case VIRTIO_NET_HDR_GSO_TCPV6:
      return has (n, VIRTIO_NET_F_HOST_TSO6);
    default:
      return false; /* UFO and anything newer: not offered */
    }
}

static void
net_tx (struct virtio_net *n)
{
  struct virtq *q = &n->dev->vq[NET_QUEUE_TX];
  struct virtq_chain *c = &n->chain;
  bool used = false;
  unsigned budget;

  for (budget = 0; budget < NET_BUDGET; budget++)
    {
      uint8_t hdr[VIRTIO_NET_HDR_SIZE];
      size_t skip = VIRTIO_NET_HDR_SIZE;
      unsigned i, cnt = 1;
      ssize_t w;

      if (virtq_pop_chain (q, c) != 1)
        break;
      used = true;
      if (c->out_len < VIRTIO_NET_HDR_SIZE || c->out_len > NET_TX_MAX)
        {
          n->stats.tx_dropped++;
          virtq_push_used (q, c->head, 0);
          continue;
        }
      virtq_chain_copy_from_out (c, 0, hdr, sizeof hdr);
      if (!tx_header_ok (n, hdr))
        {
          n->stats.tx_dropped++;
          virtq_push_used (q, c->head, 0);
          continue;
        }
      /* Our copy of the header, then the frame straight from guest RAM. */
      n->iov[0].iov_base = hdr;
      n->iov[0].iov_len = sizeof hdr;
      for (i = 0; i < c->n_out; i++)
        {
          if (skip >= c->iov[i].iov_len)
            {
              skip -= c->iov[i].iov_len;
              continue;
            }
          n->iov[cnt].iov_base = (uint8_t *) c->iov[i].iov_base + skip;
          n->iov[cnt].iov_len = c->iov[i].iov_len - skip;
          skip = 0;
          cnt++;
        }
      do
        w = writev (n->fd, n->iov, (int) cnt);
      while (w < 0 && errno == EINTR);
      /* The tap drops what it cannot queue; a refused frame (bad header
       * fields the kernel checks, EIO with the link down) is dropped too. */
      if (w < 0)
        n->stats.tx_dropped++;
      else
        n->stats.tx_packets++;
      virtq_push_used (q, c->head, 0);
    }
  if (used)
    virtio_signal_used (n->dev, NET_QUEUE_TX);
  if (budget == NET_BUDGET)
    {
      /* More may be waiting: come back after the other event sources. */
      uint64_t one = 1;
      if (n->dev->kick_eventfd[NET_QUEUE_TX] >= 0
          && write (n->dev->kick_eventfd[NET_QUEUE_TX], &one, sizeof one) < 0)
        {
        }
    }
}

/* ---- virtio device ops ---- */

static void
net_queue_notify (struct virtio_device *d, unsigned q)
{
  struct virtio_net *n = d->priv;

  pthread_mutex_lock (&n->lock);
  if (n->active)
    {
      if (q == NET_QUEUE_TX)
        net_tx (n);
      else if (q == NET_QUEUE_RX)
        {
          /* New receive buffers: frames may flow again. */
          net_watch_rx (n, true);
          net_rx (n);
        }
    }
  pthread_mutex_unlock (&n->lock);
}

static void
net_tap_ready (void *opaque, uint32_t events)
{
  struct virtio_net *n = opaque;

  pthread_mutex_lock (&n->lock);
  if (n->active && n->rx_polling)
    net_rx (n);
  else if (!n->active)
    net_watch_rx (n, false);
  pthread_mutex_unlock (&n->lock);
}

static void
net_config_read (struct virtio_device *d, uint32_t offset, void *data, uint32_t len)
{
  struct virtio_net *n = d->priv;

  if (offset >= sizeof n->config)
    return;
  if (len > sizeof n->config - offset)
    len = sizeof n->config - offset;
  memcpy (data, n->config + offset, len);
}

/* TUN_F_* for what the driver accepted: the tap may then hand us frames
 * with partial checksums and GSO, which the guest's stack finishes. */
static unsigned
net_tap_offloads (const struct virtio_net *n)
{
  unsigned f = 0;

  if (!has (n, VIRTIO_NET_F_GUEST_CSUM))
    return 0; /* segmentation offloads need checksum offload */
  f |= TUN_F_CSUM;
  if (has (n, VIRTIO_NET_F_GUEST_TSO4))
    f |= TUN_F_TSO4;
  if (has (n, VIRTIO_NET_F_GUEST_TSO6))
    f |= TUN_F_TSO6;
  if (has (n, VIRTIO_NET_F_GUEST_ECN) && (f & (TUN_F_TSO4 | TUN_F_TSO6)))
    f |= TUN_F_TSO_ECN;
  return f;
}

static int
net_activate (struct virtio_device *d)
{
  struct virtio_net *n = d->priv;
  runvm_error_t err = NULL;
  int mtu;

  pthread_mutex_lock (&n->lock);
  n->features = d->driver_features;
  n->mergeable = has (n, VIRTIO_NET_F_MRG_RXBUF);
  if (has (n, VIRTIO_NET_F_GUEST_TSO4) || has (n, VIRTIO_NET_F_GUEST_TSO6))
    n->rx_need = VIRTIO_NET_HDR_SIZE + VIRTIO_NET_MAX_GSO_FRAME;
  else
    {
      mtu = n->is_tap ? tap_get_mtu (n->fd) : -1;
      n->rx_need = VIRTIO_NET_HDR_SIZE + NET_ETH_OVERHEAD + (size_t) (mtu > 0 ? mtu : 1500);
    }
  if (n->is_tap && tap_set_offload (n->fd, net_tap_offloads (n), &err) < 0)
    {
      cleanup_free char *msg = runvm_error_string (err);
      fprintf (stderr, "runvm: virtio-net: %s\n", msg ? msg : "TUNSETOFFLOAD failed");
      runvm_error_release (&err);
      pthread_mutex_unlock (&n->lock);
      return -1;
    }
  n->active = true;
  net_watch_rx (n, true);
  pthread_mutex_unlock (&n->lock);
  return 0;
}

static void
net_reset (struct virtio_device *d)
{
  struct virtio_net *n = d->priv;

  pthread_mutex_lock (&n->lock);
  n->active = false;
  net_watch_rx (n, false);
  n->features = 0;
  if (n->is_tap)
    {
      runvm_error_t err = NULL;
      if (tap_set_offload (n->fd, 0, &err) < 0)
        runvm_error_release (&err); /* stays as it was: harmless while nobody reads */
    }
  pthread_mutex_unlock (&n->lock);
}

static const struct virtio_device_ops net_ops = {
  .name = "net",
  .device_id = VIRTIO_ID_NET,
  .num_queues = NET_NUM_QUEUES,
  .queue_max_size = VIRTIO_NET_QUEUE_SIZE,
  .features = NET_FEATURES,
  .config_read = net_config_read,
  .activate = net_activate,
  .reset = net_reset,
  .queue_notify = net_queue_notify,
};

/* ---- lifetime ---- */

void
virtio_net_release (void *opaque)
{
  struct virtio_net *n = opaque;

  if (n == NULL)
    return;
  if (n->fd >= 0)
    {
      if (n->loop)
        event_loop_remove (n->loop, n->fd);
      close (n->fd); /* a tap we created disappears with it */
    }
  if (n->dev && n->dev->priv == n)
    n->dev->priv = NULL;
  pthread_mutex_destroy (&n->lock);
  free (n);
}

static struct virtio_net *
net_new (int fd, const uint8_t mac[6])
{
  struct virtio_net *n = calloc (1, sizeof *n);
  uint16_t status = htole16 (VIRTIO_NET_S_LINK_UP);
  static const uint8_t zero[6];

  if (n == NULL)
    return NULL;
  pthread_mutex_init (&n->lock, NULL);
  n->fd = fd;
  if (mac == NULL || memcmp (mac, zero, 6) == 0)
    {
      if (getrandom (n->config, 6, 0) != 6)
        {
          struct timespec ts;
          clock_gettime (CLOCK_REALTIME, &ts);
          memcpy (n->config + 2, &ts.tv_nsec, 4);
        }
      n->config[0] = (uint8_t) ((n->config[0] & 0xfe) | 0x02); /* unicast, locally administered */
    }
  else
    memcpy (n->config, mac, 6);
  memcpy (n->config + 6, &status, 2);
  n->rx_need = VIRTIO_NET_HDR_SIZE + NET_ETH_OVERHEAD + 1500;
  return n;
}

int
virtio_net_create (struct vm *vm, const char *tap_name, const uint8_t mac[6], runvm_error_t *err)
{
  struct virtio_net *n;
  int fd = -1;

  if (tap_open (tap_name, &fd, err) < 0)
    return runvm_error_wrap (err, "virtio-net");
  n = net_new (fd, mac);
  if (n == NULL)
    {
      close (fd);
      return runvm_make_error (err, ENOMEM, "virtio-net");
    }
  n->is_tap = true;
  n->loop = vm->loop;
  if (virtio_mmio_create (vm, &net_ops, n, &n->dev, err) < 0)
    {
      n->loop = NULL;
      virtio_net_release (n);
      return runvm_error_wrap (err, "virtio-net");
    }
  /* Watched from the start with no events: RX polling begins at DRIVER_OK. */
  if (event_loop_add (vm->loop, fd, 0, net_tap_ready, n, err) < 0)
    {
      n->dev->priv = NULL;
      n->loop = NULL;
      virtio_net_release (n);
      return runvm_error_wrap (err, "virtio-net");
    }
  vm_add_device (vm, n, virtio_net_release);
  return 0;
}

int
virtio_net_attach (struct virtio_device *d, int fd, const uint8_t mac[6], struct virtio_net **out,
                   runvm_error_t *err)
{
  struct virtio_net *n = net_new (fd, mac);

  if (n == NULL)
    {
      close (fd);
      return runvm_make_error (err, ENOMEM, "virtio-net");
    }
  n->dev = d;
  d->ops = &net_ops;
  d->priv = n;
  *out = n;
  return 0;
}

void
virtio_net_poll_rx (struct virtio_net *n)
{
  net_tap_ready (n, EPOLLIN);
}

bool
virtio_net_rx_polling (const struct virtio_net *n)
{
  return n->rx_polling;
}

void
virtio_net_get_stats (const struct virtio_net *n, struct virtio_net_stats *out)
{
  *out = n->stats;
}
