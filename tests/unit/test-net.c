/* virtio-net on fake guest memory, with a SOCK_SEQPACKET socketpair in
 * place of the tap (one message per frame, vnet header first, truncating
 * like a tap): receive into one or several (mergeable) chains with
 * num_buffers filled in, waiting without polling when the guest has no
 * buffers, and transmit with the header checked against the negotiated
 * offloads. */
#include <config.h>
#include "tap.h"
#include "fake-queue.h"
#include "vm/virtio/net.h"
#include "vm/virtio/virtio.h"
#include "utils.h"

#include <endian.h>
#include <fcntl.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <linux/virtio_config.h>
#include <linux/virtio_net.h>

#define HDR VIRTIO_NET_HDR_SIZE

static struct fake_queue rxq, txq;
static int peer = -1; /* the "tap" side the test plays */

static struct virtio_device *
dev_new (const uint8_t *mac, struct virtio_net **out)
{
  struct virtio_device *d = calloc (1, sizeof *d);
  runvm_error_t err = NULL;
  int sv[2];
  unsigned i;

  if (d == NULL || socketpair (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
    abort ();
  fcntl (sv[0], F_SETFL, O_NONBLOCK);
  fcntl (sv[1], F_SETFL, O_NONBLOCK);
  if (peer >= 0)
    close (peer);
  peer = sv[1];
  fq_ram_init ();
  d->mem = &fq_mem;
  d->irq_eventfd = eventfd (0, EFD_NONBLOCK | EFD_CLOEXEC);
  for (i = 0; i < VIRTIO_MAX_QUEUES; i++)
    d->kick_eventfd[i] = -1;
  fq_setup (d, 0, &rxq);
  fq_setup (d, 1, &txq);
  if (virtio_net_attach (d, sv[0], mac, out, &err) < 0)
    abort ();
  return d;
}

static void
dev_free (struct virtio_device *d, struct virtio_net *n)
{
  virtio_net_release (n);
  close (d->irq_eventfd);
  free (d);
}

static void
activate (struct virtio_device *d, uint64_t features)
{
  d->driver_features = features | (1ULL << VIRTIO_F_VERSION_1);
  if (d->ops->activate (d) < 0)
    abort ();
}

/* The tap hands the device a frame: header (num_buffers garbage, as tun
 * leaves it) + `len` bytes of pattern. */
static void
tap_send (size_t len, uint8_t seed)
{
  static uint8_t buf[HDR + 70000];
  size_t i;

  memset (buf, 0, HDR);
  buf[0] = VIRTIO_NET_HDR_F_DATA_VALID;
  buf[10] = 0xee;
  buf[11] = 0xee;
  for (i = 0; i < len; i++)
    buf[HDR + i] = (uint8_t) (seed + i);
  if (send (peer, buf, HDR + len, 0) != (ssize_t) (HDR + len))
    abort ();
}

static uint64_t
post_rx (uint32_t len)
{
  uint64_t g = fq_alloc (len);
  struct fq_buf b = { g, len, true };
  fq_add_chain (&rxq, &b, 1);
  return g;
}

static uint16_t
num_buffers_at (uint64_t gpa)
{
  uint16_t v;
  memcpy (&v, (uint8_t *) fq_host (gpa) + 10, 2);
  return le16toh (v);
}

static bool
frame_at (const uint8_t *p, size_t len, uint8_t seed)
{
  size_t i;
  for (i = 0; i < len; i++)
    if (p[i] != (uint8_t) (seed + i))
      return false;
  return true;
}

static ssize_t
tap_recv (uint8_t *buf, size_t len)
{
  return recv (peer, buf, len, MSG_DONTWAIT);
}

static void
test_config (void)
{
  static const uint8_t mac[6] = { 0x02, 0x11, 0x22, 0x33, 0x44, 0x55 };
  struct virtio_net *n;
  struct virtio_device *d = dev_new (mac, &n);
  uint8_t cfg[8], got_mac[6];
  uint16_t status;

  d->ops->config_read (d, 0, cfg, sizeof cfg);
  memcpy (&status, cfg + 6, 2);
  TAP_OK (memcmp (cfg, mac, 6) == 0, "config: the MAC given");
  TAP_OK (le16toh (status) == VIRTIO_NET_S_LINK_UP, "config: link up");
  TAP_OK (((d->ops->features >> VIRTIO_NET_F_MAC) & 1) && ((d->ops->features >> VIRTIO_NET_F_STATUS) & 1)
              && ((d->ops->features >> VIRTIO_NET_F_MRG_RXBUF) & 1),
          "offers MAC, STATUS, MRG_RXBUF");
  TAP_OK (((d->ops->features >> VIRTIO_NET_F_CSUM) & 1) && ((d->ops->features >> VIRTIO_NET_F_GUEST_CSUM) & 1)
              && ((d->ops->features >> VIRTIO_NET_F_HOST_TSO4) & 1)
              && ((d->ops->features >> VIRTIO_NET_F_GUEST_TSO6) & 1),
          "offers checksum and TSO offloads");
  TAP_OK (!((d->ops->features >> VIRTIO_NET_F_CTRL_VQ) & 1) && !((d->ops->features >> VIRTIO_NET_F_MQ) & 1)
              && !((d->ops->features >> VIRTIO_NET_F_HOST_UFO) & 1),
          "no control queue, no multiqueue, no UFO");
  memset (got_mac, 0xaa, sizeof got_mac);
  d->ops->config_read (d, 6, got_mac, 6);
  TAP_OK (got_mac[2] == 0xaa, "config read past the 8 bytes stops at the end");
  dev_free (d, n);

  d = dev_new (NULL, &n);
  d->ops->config_read (d, 0, got_mac, 6);
  TAP_OK ((got_mac[0] & 0x03) == 0x02, "no MAC given: a random unicast, locally administered one");
  dev_free (d, n);
}

static void
test_rx (void)
{
  struct virtio_net *n;
  struct virtio_device *d = dev_new (NULL, &n);
  struct virtio_net_stats st;
  uint64_t b[4];
  uint32_t id, len;
  unsigned i;

  tap_send (100, 1);
  virtio_net_poll_rx (n);
  TAP_OK (!virtio_net_rx_polling (n) && !fq_get_used (&rxq, &id, &len), "nothing received before DRIVER_OK");

  activate (d, (1ULL << VIRTIO_NET_F_MRG_RXBUF) | (1ULL << VIRTIO_NET_F_MAC));
  TAP_OK (virtio_net_rx_polling (n), "polls the tap once active");
  virtio_net_poll_rx (n);
  TAP_OK (!virtio_net_rx_polling (n), "no receive buffers: stops polling the tap");
  TAP_OK (!fq_get_used (&rxq, &id, &len), "  and delivers nothing");

  for (i = 0; i < 4; i++)
    b[i] = post_rx (1000);
  d->ops->queue_notify (d, 0);
  TAP_OK (virtio_net_rx_polling (n), "RX kick: polls the tap again");
  TAP_OK (fq_get_used (&rxq, &id, &len) && id == 0 && len == HDR + 100, "the waiting frame lands in one buffer");
  TAP_OK (num_buffers_at (b[0]) == 1 && frame_at ((uint8_t *) fq_host (b[0]) + HDR, 100, 1)
              && ((uint8_t *) fq_host (b[0]))[0] == VIRTIO_NET_HDR_F_DATA_VALID,
          "header passed through, num_buffers = 1, frame intact");
  TAP_OK (!fq_get_used (&rxq, &id, &len), "the buffers it did not need go back to the ring");

  /* a frame spanning two mergeable buffers */
  tap_send (1400, 7);
  virtio_net_poll_rx (n);
  TAP_OK (fq_get_used (&rxq, &id, &len) && id == 1 && len == 1000, "big frame: first buffer full");
  TAP_OK (fq_get_used (&rxq, &id, &len) && id == 2 && len == HDR + 1400 - 1000, "  second buffer has the rest");
  TAP_OK (num_buffers_at (b[1]) == 2, "  num_buffers = 2 in the first buffer's header");
  {
    static uint8_t whole[HDR + 1400];
    memcpy (whole, fq_host (b[1]), 1000);
    memcpy (whole + 1000, fq_host (b[2]), HDR + 1400 - 1000);
    TAP_OK (frame_at (whole + HDR, 1400, 7), "  frame intact across the two");
  }

  /* only 1000 bytes left: not enough for an MTU frame; wait for more */
  tap_send (50, 3);
  virtio_net_poll_rx (n);
  TAP_OK (!fq_get_used (&rxq, &id, &len) && !virtio_net_rx_polling (n),
          "less room than an MTU frame: waits (not polling) instead of truncating");
  post_rx (1000);
  d->ops->queue_notify (d, 0);
  TAP_OK (fq_get_used (&rxq, &id, &len) && id == 3 && len == HDR + 50 && frame_at ((uint8_t *) fq_host (b[3]) + HDR, 50, 3),
          "more buffers: the frame is delivered");

  /* a buffer too small for the header is handed back empty */
  {
    uint64_t small, big;
    small = post_rx (8);
    big = post_rx (2000);
    (void) small;
    tap_send (64, 9);
    d->ops->queue_notify (d, 0);
    /* the leftover 1000-byte buffer from above is first in line */
    TAP_OK (fq_get_used (&rxq, &id, &len) && len == HDR + 64, "next frame uses the leftover buffer");
    tap_send (64, 10);
    virtio_net_poll_rx (n);
    TAP_OK (fq_get_used (&rxq, &id, &len) && len == 0, "a buffer smaller than the header is returned unused");
    TAP_OK (fq_get_used (&rxq, &id, &len) && len == HDR + 64 && frame_at ((uint8_t *) fq_host (big) + HDR, 64, 10),
            "  and the frame goes to the next one");
  }
  virtio_net_get_stats (n, &st);
  TAP_OK (st.rx_packets == 5 && st.rx_dropped == 0, "stats: 5 frames received");

  d->ops->reset (d);
  TAP_OK (!virtio_net_rx_polling (n), "reset stops polling the tap");
  post_rx (2000);
  tap_send (64, 11);
  d->ops->queue_notify (d, 0);
  virtio_net_poll_rx (n);
  TAP_OK (!fq_get_used (&rxq, &id, &len), "after reset nothing is delivered");
  dev_free (d, n);
}

static void
test_rx_plain (void)
{
  struct virtio_net *n;
  struct virtio_device *d = dev_new (NULL, &n);
  uint64_t b0, b1;
  uint32_t id, len;

  activate (d, 1ULL << VIRTIO_NET_F_MAC); /* no MRG_RXBUF: one chain per frame */
  b0 = post_rx (1526);
  b1 = post_rx (1526);
  tap_send (1514, 5);
  tap_send (60, 6);
  virtio_net_poll_rx (n);
  TAP_OK (fq_get_used (&rxq, &id, &len) && id == 0 && len == 1526 && num_buffers_at (b0) == 1
              && frame_at ((uint8_t *) fq_host (b0) + HDR, 1514, 5),
          "without MRG_RXBUF: a full-size frame in one 1526-byte buffer, num_buffers = 1");
  TAP_OK (fq_get_used (&rxq, &id, &len) && id == 1 && len == HDR + 60 && num_buffers_at (b1) == 1,
          "  two frames, two buffers");
  dev_free (d, n);
}

/* Publishes a TX chain: header (flags, gso_type) + frame split in two. */
static void
post_tx (uint8_t flags, uint8_t gso, size_t frame_len, unsigned header_len)
{
  uint64_t g = fq_alloc (HDR + (uint32_t) frame_len);
  uint8_t *p = fq_host (g);
  struct fq_buf bufs[3];
  size_t i;

  p[0] = flags;
  p[1] = gso;
  for (i = 0; i < frame_len; i++)
    p[HDR + i] = (uint8_t) (0x40 + i);
  if (header_len < HDR)
    {
      bufs[0] = (struct fq_buf){ g, header_len, false };
      fq_add_chain (&txq, bufs, 1);
      return;
    }
  bufs[0] = (struct fq_buf){ g, HDR, false };
  bufs[1] = (struct fq_buf){ g + HDR, (uint32_t) (frame_len / 2), false };
  bufs[2] = (struct fq_buf){ g + HDR + frame_len / 2, (uint32_t) (frame_len - frame_len / 2), false };
  fq_add_chain (&txq, bufs, 3);
}

static void
test_tx (void)
{
  struct virtio_net *n;
  struct virtio_device *d = dev_new (NULL, &n);
  struct virtio_net_stats st;
  static uint8_t buf[70000];
  uint32_t id, len;
  ssize_t got;
  unsigned i;

  activate (d, (1ULL << VIRTIO_NET_F_MRG_RXBUF) | (1ULL << VIRTIO_NET_F_CSUM) | (1ULL << VIRTIO_NET_F_HOST_TSO4));

  post_tx (0, VIRTIO_NET_HDR_GSO_NONE, 60, HDR);
  d->ops->queue_notify (d, 1);
  got = tap_recv (buf, sizeof buf);
  TAP_OK (got == HDR + 60 && buf[0] == 0 && frame_at (buf + HDR, 60, 0x40), "TX: header + frame reach the tap");
  TAP_OK (fq_get_used (&txq, &id, &len) && len == 0, "TX: chain returned with used length 0");

  post_tx (VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4, 3000, HDR);
  d->ops->queue_notify (d, 1);
  got = tap_recv (buf, sizeof buf);
  TAP_OK (got == HDR + 3000 && buf[1] == VIRTIO_NET_HDR_GSO_TCPV4, "TX: TSO4 frame passes when HOST_TSO4 was accepted");
  fq_get_used (&txq, &id, &len);

  post_tx (0, VIRTIO_NET_HDR_GSO_TCPV6, 3000, HDR);
  post_tx (0, VIRTIO_NET_HDR_GSO_UDP, 3000, HDR);
  post_tx (0, VIRTIO_NET_HDR_GSO_TCPV4 | VIRTIO_NET_HDR_GSO_ECN, 3000, HDR);
  post_tx (0, 0, 60, 8);
  post_tx (0, 0, VIRTIO_NET_MAX_GSO_FRAME + 100, HDR);
  d->ops->queue_notify (d, 1);
  TAP_OK (tap_recv (buf, sizeof buf) < 0 && errno == EAGAIN,
          "TX: TSO6 / UFO / ECN not negotiated, 8-byte header, oversized frame: all dropped");
  for (i = 0; fq_get_used (&txq, &id, &len); i++)
    ;
  TAP_OK (i == 5, "  and their chains returned");
  virtio_net_get_stats (n, &st);
  TAP_OK (st.tx_packets == 2 && st.tx_dropped == 5, "stats: 2 sent, 5 dropped");
  dev_free (d, n);

  d = dev_new (NULL, &n);
  activate (d, 1ULL << VIRTIO_NET_F_MRG_RXBUF); /* no CSUM */
  post_tx (VIRTIO_NET_HDR_F_NEEDS_CSUM, 0, 60, HDR);
  d->ops->queue_notify (d, 1);
  TAP_OK (tap_recv (buf, sizeof buf) < 0, "TX: NEEDS_CSUM without CSUM negotiated is dropped");
  post_tx (0, 0, 60, HDR);
  d->ops->queue_notify (d, 1);
  TAP_OK (tap_recv (buf, sizeof buf) == HDR + 60, "TX: a plain frame still goes through");
  dev_free (d, n);
}

int
main (void)
{
  test_config ();
  test_rx ();
  test_rx_plain ();
  test_tx ();
  if (peer >= 0)
    close (peer);
  return tap_done ();
}
