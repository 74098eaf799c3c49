/* virtio-vsock: the connection state machine (vsock-conn.c) driven as a
 * guest would drive it, against real unix sockets and pipes, and then the
 * whole device (vsock.c) on fake guest memory with hand-built split
 * virtqueues. */
#include <config.h>
#include "tap.h"
#include "vm/virtio/vsock.h"
#include "vm/virtio/virtio.h"
#include "vm/guest-mem.h"
#include "utils.h"

#include <endian.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <linux/virtio_ring.h>
#include <linux/virtio_vsock.h>

#define GUEST_CID 3
#define MAX_FDS 4096

/* ---- a tiny fd watcher standing in for the event loop ---- */

struct harness
{
  int epfd;
  event_cb cb[MAX_FDS];
  void *opaque[MAX_FDS];
  unsigned callbacks;
  unsigned rx_ready;
};

static struct harness H;

static int
h_add (void *ctx, int fd, uint32_t events, event_cb cb, void *opaque)
{
  struct epoll_event ev = { .events = events, .data.fd = fd };
  if (fd < 0 || fd >= MAX_FDS)
    {
      errno = EINVAL;
      return -1;
    }
  if (epoll_ctl (H.epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
    return -1;
  H.cb[fd] = cb;
  H.opaque[fd] = opaque;
  return 0;
}

static int
h_modify (void *ctx, int fd, uint32_t events)
{
  struct epoll_event ev = { .events = events, .data.fd = fd };
  return epoll_ctl (H.epfd, EPOLL_CTL_MOD, fd, &ev);
}

static void
h_remove (void *ctx, int fd)
{
  epoll_ctl (H.epfd, EPOLL_CTL_DEL, fd, NULL);
  H.cb[fd] = NULL;
}

static void
h_rx_ready (void *ctx)
{
  H.rx_ready++;
}

static const struct vsock_mux_ops harness_ops = { h_add, h_modify, h_remove, h_rx_ready };

/* Dispatches ready fds; returns the number of callbacks run. */
static int
pump (int timeout_ms)
{
  struct epoll_event evs[64];
  int n = epoll_wait (H.epfd, evs, 64, timeout_ms), i, ran = 0;

  for (i = 0; i < n; i++)
    {
      int fd = evs[i].data.fd;
      if (H.cb[fd])
        {
          H.cb[fd](H.opaque[fd], evs[i].events);
          H.callbacks++;
          ran++;
        }
    }
  return ran;
}

/* ---- helpers ---- */

static char tmpdir[64];
static char base[80];

static uint32_t rng_state = 0x12345678;
static uint32_t
rnd (void)
{
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 17;
  rng_state ^= rng_state << 5;
  return rng_state;
}

static int
listen_port (uint32_t port)
{
  struct sockaddr_un sa = { .sun_family = AF_UNIX };
  int fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

  snprintf (sa.sun_path, sizeof sa.sun_path, "%s_%u", base, port);
  unlink (sa.sun_path);
  if (bind (fd, (struct sockaddr *) &sa, sizeof sa) < 0 || listen (fd, 16) < 0)
    abort ();
  return fd;
}

static int
accept_nb (int lfd)
{
  struct pollfd p = { .fd = lfd, .events = POLLIN };
  if (poll (&p, 1, 1000) != 1)
    return -1;
  return accept4 (lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
}

/* The guest side of one connection, as the test plays it. */
struct guest
{
  struct vsock_mux *m;
  uint32_t port, host_port;
  uint32_t buf_alloc; /* what we advertise */
  uint32_t fwd_cnt;   /* what we consumed */
  uint32_t rcvd;      /* bytes received */
  uint32_t sent;      /* bytes sent */
  uint32_t peer_buf_alloc, peer_fwd_cnt;
};

static struct vsock_hdr
ghdr (struct guest *g, uint16_t op, uint32_t len)
{
  struct vsock_hdr h = { 0 };
  h.src_cid = GUEST_CID;
  h.dst_cid = VSOCK_HOST_CID;
  h.src_port = g->port;
  h.dst_port = g->host_port;
  h.len = len;
  h.type = VIRTIO_VSOCK_TYPE_STREAM;
  h.op = op;
  h.buf_alloc = g->buf_alloc;
  h.fwd_cnt = g->fwd_cnt;
  return h;
}

static void
gsend_hdr (struct guest *g, const struct vsock_hdr *h, const void *data, size_t avail)
{
  struct iovec iov = { (void *) data, avail };
  vsock_mux_handle_tx (g->m, h, &iov, data ? 1 : 0, avail);
}

static void
gsend (struct guest *g, uint16_t op, uint32_t flags, const void *data, uint32_t len)
{
  struct vsock_hdr h = ghdr (g, op, len);
  h.flags = flags;
  gsend_hdr (g, &h, data, len);
  if (op == VIRTIO_VSOCK_OP_RW)
    g->sent += len;
}

/* One packet for the guest, payload into buf (cap bytes). */
static bool
grecv (struct vsock_mux *m, struct vsock_hdr *h, void *buf, size_t cap)
{
  struct iovec iov = { buf, cap };
  memset (h, 0xa5, sizeof *h);
  return vsock_mux_fill_rx (m, h, &iov, 1, cap);
}

static bool
hdr_ok (const struct vsock_hdr *h, struct guest *g, uint16_t op)
{
  return h->op == op && h->src_cid == VSOCK_HOST_CID && h->dst_cid == GUEST_CID && h->src_port == g->host_port
         && h->dst_port == g->port && h->type == VIRTIO_VSOCK_TYPE_STREAM;
}

static void
g_note_credit (struct guest *g, const struct vsock_hdr *h)
{
  g->peer_buf_alloc = h->buf_alloc;
  g->peer_fwd_cnt = h->fwd_cnt;
}

static uint32_t
g_credit (const struct guest *g)
{
  uint32_t used = g->sent - g->peer_fwd_cnt;
  return used >= g->peer_buf_alloc ? 0 : g->peer_buf_alloc - used;
}

static struct vsock_mux *
new_mux (void)
{
  struct vsock_mux *m = NULL;
  runvm_error_t err = NULL;
  if (vsock_mux_new (GUEST_CID, base, &harness_ops, NULL, &m, &err) < 0)
    abort ();
  return m;
}

/* Connects guest port `port` to host port `hport`; returns the RESPONSE
 * check result. */
static bool
gconnect (struct guest *g, struct vsock_mux *m, uint32_t port, uint32_t hport, uint32_t buf_alloc)
{
  struct vsock_hdr h;
  uint8_t b[16];

  memset (g, 0, sizeof *g);
  g->m = m;
  g->port = port;
  g->host_port = hport;
  g->buf_alloc = buf_alloc;
  gsend (g, VIRTIO_VSOCK_OP_REQUEST, 0, NULL, 0);
  if (!grecv (m, &h, b, sizeof b) || !hdr_ok (&h, g, VIRTIO_VSOCK_OP_RESPONSE) || h.len != 0)
    return false;
  g_note_credit (g, &h);
  return true;
}

static bool
no_rx (struct vsock_mux *m)
{
  struct vsock_hdr h;
  uint8_t b[16];
  return !grecv (m, &h, b, sizeof b);
}

/* ---- connection tests ---- */

static void
test_connect (void)
{
  struct vsock_mux *m = new_mux ();
  int lfd = listen_port (1024), hfd;
  struct guest g;
  struct vsock_hdr h;
  uint8_t b[16];

  TAP_OK (gconnect (&g, m, 5000, 1024, 65536), "REQUEST to a listening socket -> RESPONSE with swapped ports");
  TAP_OK (g.peer_buf_alloc == VSOCK_CONN_BUF_SIZE && g.peer_fwd_cnt == 0, "RESPONSE advertises buf_alloc %u",
          g.peer_buf_alloc);
  hfd = accept_nb (lfd);
  TAP_OK (hfd >= 0, "host listener got the connection");
  TAP_OK (vsock_mux_conn_count (m) == 1, "one connection");
  TAP_OK (no_rx (m), "nothing else pending");

  /* missing socket */
  memset (&g, 0, sizeof g);
  g.m = m;
  g.port = 5001;
  g.host_port = 7777;
  gsend (&g, VIRTIO_VSOCK_OP_REQUEST, 0, NULL, 0);
  TAP_OK (grecv (m, &h, b, sizeof b) && hdr_ok (&h, &g, VIRTIO_VSOCK_OP_RST), "REQUEST to a missing socket -> RST");
  TAP_OK (vsock_mux_conn_count (m) == 1, "no connection kept for it");

  /* a second REQUEST on the live connection resets it */
  g.port = 5000;
  g.host_port = 1024;
  gsend (&g, VIRTIO_VSOCK_OP_REQUEST, 0, NULL, 0);
  TAP_OK (grecv (m, &h, b, sizeof b) && hdr_ok (&h, &g, VIRTIO_VSOCK_OP_RST), "duplicate REQUEST -> RST");
  TAP_OK (vsock_mux_conn_count (m) == 0, "and the connection is gone");
  {
    char c;
    struct pollfd p = { .fd = hfd, .events = POLLIN };
    TAP_OK (poll (&p, 1, 1000) == 1 && read (hfd, &c, 1) == 0, "host sees EOF");
  }
  close (hfd);
  close (lfd);
  vsock_mux_free (m);
}

/* 1 MiB from the guest in random packet sizes, never beyond our credit. */
static void
test_guest_to_host (void)
{
  const size_t total = 1 << 20;
  struct vsock_mux *m = new_mux ();
  int lfd = listen_port (1030), hfd;
  uint8_t *src = malloc (total), *dst = malloc (total), pkt[64];
  size_t got = 0, i;
  struct guest g;
  struct vsock_hdr h;
  bool rst = false, eof = false, overdrawn = false;
  unsigned credit_updates = 0, stalls = 0;
  int rcvbuf = 4096;

  for (i = 0; i < total; i++)
    src[i] = (uint8_t) rnd ();
  TAP_OK (gconnect (&g, m, 6000, 1030, 65536), "connected");
  hfd = accept_nb (lfd);
  setsockopt (hfd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  while (got < total && !rst)
    {
      uint32_t credit = g_credit (&g);
      if (g.sent < total && credit > 0)
        {
          uint32_t n = 1 + rnd () % VSOCK_MAX_PAYLOAD;
          if (n > credit)
            n = credit;
          if (n > total - g.sent)
            n = (uint32_t) (total - g.sent);
          gsend (&g, VIRTIO_VSOCK_OP_RW, 0, src + g.sent, n);
          if (g.sent - g.peer_fwd_cnt > VSOCK_CONN_BUF_SIZE)
            overdrawn = true;
        }
      else if (g.sent < total)
        stalls++;
      /* the host reads slowly: sometimes not at all */
      if (rnd () % 3 == 0)
        {
          ssize_t r = read (hfd, dst + got, total - got < 8192 ? total - got : 8192);
          if (r > 0)
            got += (size_t) r;
        }
      pump (0);
      while (grecv (m, &h, pkt, sizeof pkt))
        {
          if (h.op == VIRTIO_VSOCK_OP_RST)
            rst = true;
          if (h.op == VIRTIO_VSOCK_OP_CREDIT_UPDATE)
            credit_updates++;
          g_note_credit (&g, &h);
        }
    }
  TAP_OK (!rst, "no RST while respecting credit");
  TAP_OK (!overdrawn, "guest never had more than buf_alloc in flight");
  TAP_OK (stalls > 0 && credit_updates > 0, "credit ran out (%u stalls) and CREDIT_UPDATEs refilled it (%u)", stalls,
          credit_updates);
  TAP_OK (got == total && memcmp (src, dst, total) == 0, "1 MiB arrived intact and in order (%zu bytes)", got);

  gsend (&g, VIRTIO_VSOCK_OP_SHUTDOWN, VIRTIO_VSOCK_SHUTDOWN_SEND, NULL, 0);
  {
    struct pollfd p = { .fd = hfd, .events = POLLIN };
    char c;
    eof = poll (&p, 1, 1000) == 1 && read (hfd, &c, 1) == 0;
  }
  TAP_OK (eof, "guest SHUTDOWN(SEND) -> host reads EOF");
  /* half-closed: host -> guest still works */
  TAP_OK (write (hfd, "late", 4) == 4, "host writes after the guest's half-close");
  pump (100);
  TAP_OK (grecv (m, &h, pkt, sizeof pkt) && hdr_ok (&h, &g, VIRTIO_VSOCK_OP_RW) && h.len == 4
              && memcmp (pkt, "late", 4) == 0,
          "and the guest receives it");
  close (hfd);
  pump (100);
  TAP_OK (grecv (m, &h, pkt, sizeof pkt) && hdr_ok (&h, &g, VIRTIO_VSOCK_OP_SHUTDOWN)
              && (h.flags & VIRTIO_VSOCK_SHUTDOWN_SEND),
          "host close -> SHUTDOWN(SEND)");
  TAP_OK (grecv (m, &h, pkt, sizeof pkt) && hdr_ok (&h, &g, VIRTIO_VSOCK_OP_RST),
          "both directions done -> RST");
  TAP_OK (vsock_mux_conn_count (m) == 0, "connection freed");
  close (lfd);
  free (src);
  free (dst);
  vsock_mux_free (m);
}

/* 1 MiB from the host with a small guest buffer: the device must never
 * send beyond the guest's credit, and EOF comes after the last byte. */
static void
test_host_to_guest (void)
{
  const size_t total = 1 << 20;
  const uint32_t guest_buf = 32 * 1024;
  struct vsock_mux *m = new_mux ();
  int lfd = listen_port (1031), hfd;
  uint8_t *src = malloc (total), *dst = malloc (total), pkt[4096];
  size_t written = 0, got = 0, i;
  struct guest g;
  struct vsock_hdr h;
  bool overdrawn = false, bad = false, shut = false, data_after_shut = false;
  unsigned credit_requests = 0, idle = 0;
  uint32_t held = 0;

  for (i = 0; i < total; i++)
    src[i] = (uint8_t) rnd ();
  TAP_OK (gconnect (&g, m, 6001, 1031, guest_buf), "connected with a 32 KiB guest buffer");
  hfd = accept_nb (lfd);
  while (!shut && idle < 200)
    {
      bool progress = false;
      if (written < total)
        {
          ssize_t r = write (hfd, src + written, total - written < 16384 ? total - written : 16384);
          if (r > 0)
            {
              written += (size_t) r;
              progress = true;
            }
          if (written == total)
            shutdown (hfd, SHUT_WR);
        }
      pump (written == total ? 10 : 0);
      while (grecv (m, &h, pkt, sizeof pkt))
        {
          progress = true;
          if (h.op == VIRTIO_VSOCK_OP_RW)
            {
              if (shut)
                data_after_shut = true;
              if (h.len > sizeof pkt || got + h.len > total)
                {
                  bad = true;
                  break;
                }
              memcpy (dst + got, pkt, h.len);
              got += h.len;
              g.rcvd += h.len;
              held += h.len;
              if (g.rcvd - g.fwd_cnt > guest_buf)
                overdrawn = true;
            }
          else if (h.op == VIRTIO_VSOCK_OP_CREDIT_REQUEST)
            {
              credit_requests++;
              gsend (&g, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0, NULL, 0);
            }
          else if (h.op == VIRTIO_VSOCK_OP_SHUTDOWN)
            shut = (h.flags & VIRTIO_VSOCK_SHUTDOWN_SEND) != 0;
          else if (h.op != VIRTIO_VSOCK_OP_CREDIT_UPDATE)
            bad = true;
        }
      /* The guest's reader catches up now and then; like Linux it sends a
       * credit update once it consumed enough. */
      if (held > 0 && rnd () % 4 == 0)
        {
          g.fwd_cnt += held;
          held = 0;
          gsend (&g, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0, NULL, 0);
          progress = true;
        }
      idle = progress ? 0 : idle + 1;
    }
  TAP_OK (!bad, "only RW/credit/shutdown packets, each within the buffer");
  TAP_OK (!overdrawn, "never more than the guest's buf_alloc in flight");
  TAP_OK (got == total && memcmp (src, dst, total) == 0, "1 MiB arrived intact and in order (%zu bytes)", got);
  TAP_OK (shut && !data_after_shut, "SHUTDOWN(SEND) after the last byte");
  printf ("# %u CREDIT_REQUESTs from the device\n", credit_requests);

  /* guest closes: SHUTDOWN both -> RST, host sees EOF */
  gsend (&g, VIRTIO_VSOCK_OP_SHUTDOWN, VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND, NULL, 0);
  TAP_OK (grecv (m, &h, pkt, sizeof pkt) && hdr_ok (&h, &g, VIRTIO_VSOCK_OP_RST), "guest close -> RST");
  {
    char c;
    struct pollfd p = { .fd = hfd, .events = POLLIN };
    TAP_OK (poll (&p, 1, 1000) == 1 && read (hfd, &c, 1) == 0, "host sees EOF");
  }
  close (hfd);
  close (lfd);
  free (src);
  free (dst);
  vsock_mux_free (m);
}

/* Credit stalls: host data waits in the socket, the device asks the guest
 * for credit once, and resumes on the guest's update. */
static void
test_credit_stall (void)
{
  struct vsock_mux *m = new_mux ();
  int lfd = listen_port (1032), hfd;
  uint8_t pkt[8192], data[20000];
  struct guest g;
  struct vsock_hdr h;
  uint32_t got = 0;
  unsigned req = 0, cb_before;

  memset (data, 'x', sizeof data);
  gconnect (&g, m, 6002, 1032, 10000);
  hfd = accept_nb (lfd);
  TAP_OK (write (hfd, data, sizeof data) == (ssize_t) sizeof data, "host wrote 20000 bytes");
  pump (100);
  while (grecv (m, &h, pkt, sizeof pkt))
    {
      if (h.op == VIRTIO_VSOCK_OP_RW)
        got += h.len;
      if (h.op == VIRTIO_VSOCK_OP_CREDIT_REQUEST)
        req++;
      pump (10);
    }
  TAP_OK (got == 10000, "exactly the guest's buf_alloc was sent (%u)", got);
  TAP_OK (req == 1, "one CREDIT_REQUEST when credit ran out");
  cb_before = H.callbacks;
  pump (50);
  pump (50);
  TAP_OK (H.callbacks == cb_before, "no host fd wakeups while the guest has no credit");
  g.fwd_cnt = 10000;
  gsend (&g, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0, NULL, 0);
  pump (100);
  while (grecv (m, &h, pkt, sizeof pkt))
    if (h.op == VIRTIO_VSOCK_OP_RW)
      got += h.len;
  TAP_OK (got == 20000, "the rest follows the guest's CREDIT_UPDATE (%u)", got);

  /* CREDIT_REQUEST from the guest is answered */
  gsend (&g, VIRTIO_VSOCK_OP_CREDIT_REQUEST, 0, NULL, 0);
  TAP_OK (grecv (m, &h, pkt, sizeof pkt) && hdr_ok (&h, &g, VIRTIO_VSOCK_OP_CREDIT_UPDATE)
              && h.buf_alloc == VSOCK_CONN_BUF_SIZE,
          "guest CREDIT_REQUEST -> CREDIT_UPDATE");

  /* With data pending but no RX buffers taken, the fd stays quiet. */
  g.fwd_cnt = 20000;
  gsend (&g, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0, NULL, 0);
  TAP_OK (write (hfd, data, 100) == 100, "more host data");
  pump (50);
  cb_before = H.callbacks;
  pump (50);
  pump (50);
  TAP_OK (H.callbacks == cb_before, "no busy wakeups while the guest has not taken the data");
  TAP_OK (vsock_mux_has_rx (m), "data is pending for the guest");
  TAP_OK (grecv (m, &h, pkt, sizeof pkt) && h.op == VIRTIO_VSOCK_OP_RW && h.len == 100, "and delivered later");
  close (hfd);
  close (lfd);
  vsock_mux_free (m);
}

static void
test_bad_packets (void)
{
  struct vsock_mux *m = new_mux ();
  int lfd = listen_port (1033), hfd;
  uint8_t pkt[256], big[VSOCK_MAX_PAYLOAD + 16];
  struct guest g, u;
  struct vsock_hdr h;
  char c;

  memset (big, 0, sizeof big);
  gconnect (&g, m, 7000, 1033, 65536);
  hfd = accept_nb (lfd);

  h = ghdr (&g, VIRTIO_VSOCK_OP_RW, 10);
  h.src_cid = 99;
  gsend_hdr (&g, &h, "0123456789", 10);
  TAP_OK (no_rx (m) && vsock_mux_conn_count (m) == 1, "wrong src_cid: dropped silently");

  h = ghdr (&g, VIRTIO_VSOCK_OP_REQUEST, 0);
  h.dst_cid = 5;
  h.src_port = 7001;
  gsend_hdr (&g, &h, NULL, 0);
  TAP_OK (grecv (m, &h, pkt, sizeof pkt) && h.op == VIRTIO_VSOCK_OP_RST && h.src_cid == 5 && h.dst_port == 7001,
          "REQUEST to CID 5 -> RST from CID 5");

  h = ghdr (&g, VIRTIO_VSOCK_OP_REQUEST, 0);
  h.type = VIRTIO_VSOCK_TYPE_SEQPACKET;
  h.src_port = 7002;
  gsend_hdr (&g, &h, NULL, 0);
  TAP_OK (grecv (m, &h, pkt, sizeof pkt) && h.op == VIRTIO_VSOCK_OP_RST && h.dst_port == 7002,
          "SEQPACKET REQUEST -> RST");

  memset (&u, 0, sizeof u);
  u.m = m;
  u.port = 7003;
  u.host_port = 1033;
  gsend (&u, VIRTIO_VSOCK_OP_RW, 0, "abc", 3);
  TAP_OK (grecv (m, &h, pkt, sizeof pkt) && hdr_ok (&h, &u, VIRTIO_VSOCK_OP_RST), "RW on unknown connection -> RST");
  gsend (&u, VIRTIO_VSOCK_OP_RST, 0, NULL, 0);
  TAP_OK (no_rx (m), "RST on unknown connection -> nothing");
  gsend (&u, 0x4242, 0, NULL, 0);
  TAP_OK (grecv (m, &h, pkt, sizeof pkt) && hdr_ok (&h, &u, VIRTIO_VSOCK_OP_RST),
          "unknown op on unknown connection -> RST");

  /* len larger than the chain carries */
  h = ghdr (&g, VIRTIO_VSOCK_OP_RW, 5000);
  gsend_hdr (&g, &h, pkt, 100);
  TAP_OK (grecv (m, &h, pkt, sizeof pkt) && hdr_ok (&h, &g, VIRTIO_VSOCK_OP_RST), "len > chain size -> RST");
  TAP_OK (no_rx (m) && vsock_mux_conn_count (m) == 0, "connection dropped");
  TAP_OK (read (hfd, &c, 1) == 0, "host sees EOF, and none of the bogus data");
  close (hfd);

  /* oversized packet, even if the chain has it */
  gconnect (&g, m, 7010, 1033, 65536);
  hfd = accept_nb (lfd);
  h = ghdr (&g, VIRTIO_VSOCK_OP_RW, VSOCK_MAX_PAYLOAD + 1);
  gsend_hdr (&g, &h, big, sizeof big);
  TAP_OK (grecv (m, &h, pkt, sizeof pkt) && hdr_ok (&h, &g, VIRTIO_VSOCK_OP_RST), "len > 64 KiB -> RST");
  close (hfd);

  /* unknown op on a live connection */
  gconnect (&g, m, 7011, 1033, 65536);
  hfd = accept_nb (lfd);
  gsend (&g, 99, 0, NULL, 0);
  TAP_OK (grecv (m, &h, pkt, sizeof pkt) && hdr_ok (&h, &g, VIRTIO_VSOCK_OP_RST), "unknown op -> RST");
  TAP_OK (vsock_mux_conn_count (m) == 0, "connection dropped");
  close (hfd);

  /* RESPONSE from the guest (we never connect to it) */
  gconnect (&g, m, 7012, 1033, 65536);
  hfd = accept_nb (lfd);
  gsend (&g, VIRTIO_VSOCK_OP_RESPONSE, 0, NULL, 0);
  TAP_OK (grecv (m, &h, pkt, sizeof pkt) && hdr_ok (&h, &g, VIRTIO_VSOCK_OP_RST), "RESPONSE from the guest -> RST");
  close (hfd);

  /* a guest that ignores our credit: the host does not read */
  gconnect (&g, m, 7013, 1033, 65536);
  hfd = accept_nb (lfd);
  {
    bool rst = false;
    unsigned i;
    for (i = 0; i < 64 && !rst; i++)
      {
        gsend (&g, VIRTIO_VSOCK_OP_RW, 0, big, VSOCK_MAX_PAYLOAD);
        while (grecv (m, &h, pkt, sizeof pkt))
          if (h.op == VIRTIO_VSOCK_OP_RST)
            rst = true;
      }
    TAP_OK (rst && g.sent > VSOCK_CONN_BUF_SIZE, "sending beyond credit -> RST (after %u bytes)", g.sent);
    TAP_OK (vsock_mux_conn_count (m) == 0, "connection dropped");
  }
  close (hfd);

  /* guest RST: the connection goes away without a reply, data flushed */
  gconnect (&g, m, 7014, 1033, 65536);
  hfd = accept_nb (lfd);
  gsend (&g, VIRTIO_VSOCK_OP_RW, 0, "bye", 3);
  gsend (&g, VIRTIO_VSOCK_OP_RST, 0, NULL, 0);
  TAP_OK (no_rx (m) && vsock_mux_conn_count (m) == 0, "guest RST -> dropped, no reply");
  TAP_OK (read (hfd, pkt, sizeof pkt) == 3 && read (hfd, pkt, sizeof pkt) == 0, "data before it delivered, then EOF");
  close (hfd);

  /* data before the RESPONSE went out */
  memset (&g, 0, sizeof g);
  g.m = m;
  g.port = 7015;
  g.host_port = 1033;
  g.buf_alloc = 4096;
  gsend (&g, VIRTIO_VSOCK_OP_REQUEST, 0, NULL, 0);
  gsend (&g, VIRTIO_VSOCK_OP_RW, 0, "early", 5);
  TAP_OK (grecv (m, &h, pkt, sizeof pkt) && hdr_ok (&h, &g, VIRTIO_VSOCK_OP_RST), "RW before RESPONSE -> RST");
  TAP_OK (no_rx (m) && vsock_mux_conn_count (m) == 0, "only the RST went out");
  hfd = accept_nb (lfd);
  close (hfd);

  close (lfd);
  vsock_mux_free (m);
}

static void
test_port_fds (void)
{
  struct vsock_mux *m = new_mux ();
  int in[2], out[2], dup_r, dup_w;
  uint8_t pkt[256];
  struct guest g;
  struct vsock_hdr h;
  runvm_error_t err = NULL;
  char buf[16];
  unsigned i;

  if (pipe2 (in, O_CLOEXEC) < 0 || pipe2 (out, O_CLOEXEC) < 0)
    abort ();
  TAP_OK (vsock_mux_set_port_fds (m, 1025, in[0], out[1], &err) == 0, "override registered");
  dup_r = open ("/dev/null", O_RDONLY | O_CLOEXEC);
  dup_w = open ("/dev/null", O_WRONLY | O_CLOEXEC);
  TAP_OK (vsock_mux_set_port_fds (m, 1025, dup_r, dup_w, &err) < 0 && err->status == EEXIST,
          "a second override for the port -> EEXIST");
  runvm_error_release (&err);
  TAP_OK (fcntl (dup_r, F_GETFD) < 0 && fcntl (dup_w, F_GETFD) < 0, "and its fds were closed");

  TAP_OK (gconnect (&g, m, 8000, 1025, 65536), "REQUEST to the overridden port -> RESPONSE (no socket needed)");
  TAP_OK (write (in[1], "hello", 5) == 5, "host writes to the rfd pipe");
  pump (100);
  TAP_OK (grecv (m, &h, pkt, sizeof pkt) && hdr_ok (&h, &g, VIRTIO_VSOCK_OP_RW) && h.len == 5
              && memcmp (pkt, "hello", 5) == 0,
          "guest receives it");
  gsend (&g, VIRTIO_VSOCK_OP_RW, 0, "world", 5);
  TAP_OK (read (out[0], buf, sizeof buf) == 5 && memcmp (buf, "world", 5) == 0, "guest data reaches the wfd pipe");
  TAP_OK (write (in[1], "tail", 4) == 4, "more host data");
  close (in[1]);
  pump (100);
  TAP_OK (grecv (m, &h, pkt, sizeof pkt) && h.op == VIRTIO_VSOCK_OP_RW && h.len == 4, "last data first");
  pump (100);
  TAP_OK (grecv (m, &h, pkt, sizeof pkt) && hdr_ok (&h, &g, VIRTIO_VSOCK_OP_SHUTDOWN)
              && h.flags == VIRTIO_VSOCK_SHUTDOWN_SEND,
          "EOF on rfd -> SHUTDOWN(SEND)");
  gsend (&g, VIRTIO_VSOCK_OP_SHUTDOWN, VIRTIO_VSOCK_SHUTDOWN_SEND, NULL, 0);
  TAP_OK (read (out[0], buf, sizeof buf) == 0, "guest SHUTDOWN(SEND) -> wfd closed");
  TAP_OK (grecv (m, &h, pkt, sizeof pkt) && hdr_ok (&h, &g, VIRTIO_VSOCK_OP_RST) && vsock_mux_conn_count (m) == 0,
          "both done -> RST, connection freed");
  close (out[0]);

  /* one-shot: the next connection to 1025 looks for a socket (none) */
  memset (&g, 0, sizeof g);
  g.m = m;
  g.port = 8001;
  g.host_port = 1025;
  gsend (&g, VIRTIO_VSOCK_OP_REQUEST, 0, NULL, 0);
  TAP_OK (grecv (m, &h, pkt, sizeof pkt) && h.op == VIRTIO_VSOCK_OP_RST, "override is one-shot");

  /* host reader gone: guest gets SHUTDOWN(RCV), no SIGPIPE kills us */
  if (pipe2 (out, O_CLOEXEC) < 0)
    abort ();
  vsock_mux_set_port_fds (m, 1026, -1, out[1], &err);
  gconnect (&g, m, 8002, 1026, 65536);
  TAP_OK (grecv (m, &h, pkt, sizeof pkt) && h.op == VIRTIO_VSOCK_OP_SHUTDOWN && h.flags == VIRTIO_VSOCK_SHUTDOWN_SEND,
          "no rfd -> SHUTDOWN(SEND) right after RESPONSE");
  close (out[0]);
  gsend (&g, VIRTIO_VSOCK_OP_RW, 0, "lost", 4);
  TAP_OK (grecv (m, &h, pkt, sizeof pkt) && h.op == VIRTIO_VSOCK_OP_SHUTDOWN && h.flags == VIRTIO_VSOCK_SHUTDOWN_RCV,
          "write to a closed pipe -> SHUTDOWN(RCV), monitor alive");
  TAP_OK (grecv (m, &h, pkt, sizeof pkt) && h.op == VIRTIO_VSOCK_OP_RST, "then RST");

  /* discard: no fds at all; credit still flows */
  vsock_mux_set_port_fds (m, 1027, -1, -1, &err);
  gconnect (&g, m, 8003, 1027, 65536);
  grecv (m, &h, pkt, sizeof pkt); /* SHUTDOWN(SEND) */
  {
    static uint8_t junk[VSOCK_MAX_PAYLOAD];
    bool rst = false;
    for (i = 0; i < 16 && !rst; i++)
      {
        if (g_credit (&g) < sizeof junk)
          break;
        gsend (&g, VIRTIO_VSOCK_OP_RW, 0, junk, sizeof junk);
        while (grecv (m, &h, pkt, sizeof pkt))
          {
            rst |= h.op == VIRTIO_VSOCK_OP_RST;
            g_note_credit (&g, &h);
          }
      }
    TAP_OK (!rst && i == 16, "wfd -1 discards, and credit keeps flowing (%u packets)", i);
  }

  /* connection limit */
  {
    unsigned ok = 0;
    uint32_t n0 = vsock_mux_conn_count (m);
    for (i = 0; i < VSOCK_MAX_CONNS + 1; i++)
      vsock_mux_set_port_fds (m, 20000 + i, -1, -1, &err);
    for (i = 0; n0 + i < VSOCK_MAX_CONNS; i++)
      {
        struct guest t;
        if (gconnect (&t, m, 30000 + i, 20000 + i, 4096))
          ok++;
        while (grecv (m, &h, pkt, sizeof pkt))
          ;
      }
    TAP_OK (vsock_mux_conn_count (m) == VSOCK_MAX_CONNS, "%u connections open", vsock_mux_conn_count (m));
    memset (&g, 0, sizeof g);
    g.m = m;
    g.port = 40000;
    g.host_port = 20000 + i;
    gsend (&g, VIRTIO_VSOCK_OP_REQUEST, 0, NULL, 0);
    TAP_OK (grecv (m, &h, pkt, sizeof pkt) && h.op == VIRTIO_VSOCK_OP_RST,
            "connection %u -> RST (limit %u)", VSOCK_MAX_CONNS + 1, VSOCK_MAX_CONNS);
    vsock_mux_reset (m);
    TAP_OK (vsock_mux_conn_count (m) == 0 && no_rx (m), "reset drops every connection");
  }
  vsock_mux_free (m); /* closes the unused overrides */
}

/* Guest data the host cannot take yet is buffered and flushed in order,
 * and the guest's close waits for the flush. */
static void
test_flush_on_close (void)
{
  struct vsock_mux *m = new_mux ();
  int lfd = listen_port (1034), hfd;
  static uint8_t data[250000], back[250000];
  uint8_t pkt[64];
  struct guest g;
  struct vsock_hdr h;
  size_t got = 0, i;
  bool rst = false;
  int small = 4096;

  for (i = 0; i < sizeof data; i++)
    data[i] = (uint8_t) (i * 7);
  gconnect (&g, m, 9000, 1034, 65536);
  hfd = accept_nb (lfd);
  setsockopt (hfd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  for (i = 0; i < sizeof data; i += 50000)
    gsend (&g, VIRTIO_VSOCK_OP_RW, 0, data + i, 50000);
  gsend (&g, VIRTIO_VSOCK_OP_SHUTDOWN, VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND, NULL, 0);
  while (grecv (m, &h, pkt, sizeof pkt))
    rst |= h.op == VIRTIO_VSOCK_OP_RST;
  TAP_OK (vsock_mux_conn_count (m) == 1 && !rst, "close with buffered data: no RST yet");
  for (i = 0; i < 1000 && !rst; i++)
    {
      ssize_t r = read (hfd, back + got, sizeof back - got);
      if (r > 0)
        got += (size_t) r;
      pump (1);
      while (grecv (m, &h, pkt, sizeof pkt))
        rst |= h.op == VIRTIO_VSOCK_OP_RST;
    }
  while (got < sizeof back)
    {
      ssize_t r = read (hfd, back + got, sizeof back - got);
      if (r <= 0)
        break;
      got += (size_t) r;
    }
  TAP_OK (rst, "RST once flushed");
  TAP_OK (got == sizeof data && memcmp (data, back, sizeof data) == 0, "all %zu bytes reached the host in order", got);
  close (hfd);
  close (lfd);
  vsock_mux_free (m);
}

/* ---- draining at exit: slow, gone and stuck readers ---- */

static int64_t
mono_ms (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A host reader that takes `chunk` bytes every `delay_ms`, until EOF. */
struct slow_reader
{
  int fd;
  uint8_t *buf;
  size_t cap, got;
  size_t chunk;
  unsigned delay_ms;
  bool eof;
  pthread_t thread;
};

static void *
slow_reader_run (void *opaque)
{
  struct slow_reader *r = opaque;
  struct timespec pause = { 0, (long) r->delay_ms * 1000000L };

  for (;;)
    {
      struct pollfd p = { .fd = r->fd, .events = POLLIN };
      size_t want = r->cap - r->got < r->chunk ? r->cap - r->got : r->chunk;
      ssize_t n;

      if (poll (&p, 1, 10000) != 1)
        break;
      n = read (r->fd, r->buf + r->got, want > 0 ? want : 1);
      if (n == 0)
        {
          r->eof = true;
          break;
        }
      if (n < 0 && errno != EAGAIN && errno != EINTR)
        break;
      if (n > 0)
        r->got += (size_t) n;
      nanosleep (&pause, NULL);
    }
  return NULL;
}

static void
slow_reader_start (struct slow_reader *r, int fd, size_t cap, size_t chunk, unsigned delay_ms)
{
  memset (r, 0, sizeof *r);
  r->fd = fd;
  r->buf = calloc (1, cap + 1);
  r->cap = cap + 1; /* room for one byte too many: it must not come */
  r->chunk = chunk;
  r->delay_ms = delay_ms;
  if (pthread_create (&r->thread, NULL, slow_reader_run, r) != 0)
    abort ();
}

/* A pipe whose buffer holds one page, so a slow reader really is slow. */
static void
small_pipe (int p[2])
{
  if (pipe2 (p, O_CLOEXEC) < 0)
    abort ();
  fcntl (p[1], F_SETPIPE_SZ, 4096);
}

static void
test_drain (void)
{
  static uint8_t data[250000];
  struct vsock_mux *m = new_mux ();
  runvm_error_t err = NULL;
  struct slow_reader r;
  struct vsock_hdr h;
  struct guest g;
  uint8_t pkt[64];
  int64_t t0, took;
  int p[2], ret;
  size_t i;

  for (i = 0; i < sizeof data; i++)
    data[i] = (uint8_t) (i * 31 + 7);

  /* A reader slower than the timeout allows in total, but never idle for
   * that long: it gets every byte, then EOF (the guest had shut down). */
  small_pipe (p);
  vsock_mux_set_port_fds (m, 1050, -1, p[1], &err);
  gconnect (&g, m, 9100, 1050, 65536);
  for (i = 0; i < sizeof data; i += 50000)
    gsend (&g, VIRTIO_VSOCK_OP_RW, 0, data + i, 50000);
  gsend (&g, VIRTIO_VSOCK_OP_SHUTDOWN, VIRTIO_VSOCK_SHUTDOWN_SEND, NULL, 0);
  while (grecv (m, &h, pkt, sizeof pkt))
    ;
  slow_reader_start (&r, p[0], sizeof data, 4096, 8);
  t0 = mono_ms ();
  ret = vsock_mux_drain (m, 300);
  took = mono_ms () - t0;
  pthread_join (r.thread, NULL);
  TAP_OK (ret == 0, "drain with a slow reader returns 0 (%lld ms)", (long long) took);
  TAP_OK (took > 300, "it waited past the no-progress timeout while the reader made progress");
  TAP_OK (r.got == sizeof data && memcmp (r.buf, data, sizeof data) == 0 && r.eof,
          "the slow reader got all %zu bytes in order, then EOF", r.got);
  free (r.buf);
  close (p[0]);

  /* The reader is gone: the data cannot be delivered; return at once. */
  small_pipe (p);
  vsock_mux_set_port_fds (m, 1051, -1, p[1], &err);
  gconnect (&g, m, 9101, 1051, 65536);
  for (i = 0; i < 200000; i += 50000)
    gsend (&g, VIRTIO_VSOCK_OP_RW, 0, data + i, 50000);
  while (grecv (m, &h, pkt, sizeof pkt))
    ;
  close (p[0]);
  t0 = mono_ms ();
  ret = vsock_mux_drain (m, 30000);
  took = mono_ms () - t0;
  TAP_OK (ret == 0 && took < 1000, "closed reader: drain returns promptly (%lld ms, ret %d)", (long long) took, ret);

  /* A reader that stays but never reads: give up after the timeout. */
  small_pipe (p);
  vsock_mux_set_port_fds (m, 1052, -1, p[1], &err);
  gconnect (&g, m, 9102, 1052, 65536);
  gsend (&g, VIRTIO_VSOCK_OP_RW, 0, data, 50000);
  while (grecv (m, &h, pkt, sizeof pkt))
    ;
  t0 = mono_ms ();
  ret = vsock_mux_drain (m, 200);
  took = mono_ms () - t0;
  TAP_OK (ret < 0 && errno == ETIMEDOUT && took >= 190 && took < 2000,
          "stuck reader: drain gives up after the timeout (%lld ms)", (long long) took);
  close (p[0]);
  vsock_mux_free (m);
}

/* ---- the device on fake guest memory ---- */

#define MEM_SIZE (4u << 20)
#define QSIZE 64
#define DATA_BASE 0x100000u

struct fake_queue
{
  uint64_t desc, avail, used;
  uint16_t next_desc, avail_idx, used_seen;
};

static uint8_t *gmem;
static struct guest_mem mem;
static struct fake_queue fq[3];
static uint64_t bump;

static uint64_t
galloc (uint32_t len)
{
  uint64_t at = bump;
  bump += (len + 15) & ~15u;
  if (bump > MEM_SIZE)
    abort ();
  return at;
}

struct seg
{
  uint64_t gpa;
  uint32_t len;
  bool writable;
};

static void
fq_add (struct fake_queue *q, const struct seg *s, unsigned n)
{
  uint16_t head = q->next_desc % QSIZE;
  unsigned i;

  for (i = 0; i < n; i++)
    {
      uint16_t idx = (uint16_t) ((head + i) % QSIZE);
      uint8_t *d = gmem + q->desc + 16 * idx;
      uint16_t flags = (s[i].writable ? VRING_DESC_F_WRITE : 0) | (i + 1 < n ? VRING_DESC_F_NEXT : 0);
      uint16_t next = (uint16_t) ((idx + 1) % QSIZE);
      memcpy (d, &s[i].gpa, 8);
      memcpy (d + 8, &s[i].len, 4);
      memcpy (d + 12, &flags, 2);
      memcpy (d + 14, &next, 2);
    }
  q->next_desc = (uint16_t) (q->next_desc + n);
  memcpy (gmem + q->avail + 4 + 2 * (q->avail_idx % QSIZE), &head, 2);
  q->avail_idx++;
  __atomic_store_n ((uint16_t *) (gmem + q->avail + 2), q->avail_idx, __ATOMIC_RELEASE);
}

/* Next used element, if any. */
static bool
fq_used (struct fake_queue *q, uint32_t *id, uint32_t *len)
{
  uint16_t idx = __atomic_load_n ((uint16_t *) (gmem + q->used + 2), __ATOMIC_ACQUIRE);
  if (idx == q->used_seen)
    return false;
  memcpy (id, gmem + q->used + 4 + 8 * (q->used_seen % QSIZE), 4);
  memcpy (len, gmem + q->used + 8 + 8 * (q->used_seen % QSIZE), 4);
  q->used_seen++;
  return true;
}

/* RX buffers as Linux 6.1 posts them: header and data in two descriptors. */
static uint64_t rx_hdr_gpa[QSIZE], rx_data_gpa[QSIZE];

static void
post_rx (unsigned n)
{
  unsigned i;
  for (i = 0; i < n; i++)
    {
      uint16_t head = fq[0].next_desc % QSIZE;
      struct seg s[2] = { { galloc (VSOCK_HDR_SIZE), VSOCK_HDR_SIZE, true }, { galloc (4096), 4096, true } };
      rx_hdr_gpa[head] = s[0].gpa;
      rx_data_gpa[head] = s[1].gpa;
      fq_add (&fq[0], s, 2);
    }
}

static void
tx_packet (struct virtio_device *d, const struct vsock_hdr *h, const void *data, uint32_t len, unsigned split)
{
  struct seg s[4];
  unsigned n = 0;
  uint8_t raw[VSOCK_HDR_SIZE];

  vsock_hdr_encode (h, raw);
  s[0].gpa = galloc (VSOCK_HDR_SIZE);
  s[0].len = VSOCK_HDR_SIZE;
  s[0].writable = false;
  memcpy (gmem + s[0].gpa, raw, VSOCK_HDR_SIZE);
  n = 1;
  if (len > 0)
    {
      uint32_t first = split ? len / 2 : len;
      s[n].gpa = galloc (first);
      s[n].len = first;
      s[n].writable = false;
      memcpy (gmem + s[n].gpa, data, first);
      n++;
      if (first < len)
        {
          s[n].gpa = galloc (len - first);
          s[n].len = len - first;
          s[n].writable = false;
          memcpy (gmem + s[n].gpa, (const uint8_t *) data + first, len - first);
          n++;
        }
    }
  fq_add (&fq[1], s, n);
  d->ops->queue_notify (d, 1);
}

/* Next packet the device put in an RX buffer. */
static bool
rx_packet (struct vsock_hdr *h, uint8_t *data, uint32_t *used_len)
{
  uint32_t id, len;
  if (!fq_used (&fq[0], &id, &len))
    return false;
  vsock_hdr_decode (h, gmem + rx_hdr_gpa[id % QSIZE]);
  *used_len = len;
  if (len > VSOCK_HDR_SIZE && len <= VSOCK_HDR_SIZE + 4096)
    memcpy (data, gmem + rx_data_gpa[id % QSIZE], len - VSOCK_HDR_SIZE);
  return true;
}

static struct vsock_hdr
dhdr (uint16_t op, uint32_t port, uint32_t hport, uint32_t len)
{
  struct vsock_hdr h = { 0 };
  h.src_cid = GUEST_CID;
  h.dst_cid = VSOCK_HOST_CID;
  h.src_port = port;
  h.dst_port = hport;
  h.len = len;
  h.type = VIRTIO_VSOCK_TYPE_STREAM;
  h.op = op;
  h.buf_alloc = 1 << 20;
  return h;
}

/* A virtio_device with its three queues set up on fresh fake guest memory. */
static struct virtio_device *
dev_new (void)
{
  struct virtio_device *d = calloc (1, sizeof *d);
  unsigned i;

  gmem = calloc (1, MEM_SIZE);
  guest_mem_init_from_buffer (&mem, gmem, MEM_SIZE);
  memset (fq, 0, sizeof fq);
  for (i = 0; i < 3; i++)
    {
      fq[i].desc = 0x1000 + 0x3000 * i;
      fq[i].avail = fq[i].desc + 0x1000;
      fq[i].used = fq[i].desc + 0x2000;
      d->vq[i].size = QSIZE;
      d->vq[i].desc_gpa = fq[i].desc;
      d->vq[i].avail_gpa = fq[i].avail;
      d->vq[i].used_gpa = fq[i].used;
      d->vq[i].ready = true;
      if (!virtq_setup (&d->vq[i], &mem))
        abort ();
    }
  bump = DATA_BASE;
  d->mem = &mem;
  d->irq_eventfd = eventfd (0, EFD_NONBLOCK | EFD_CLOEXEC);
  pthread_mutex_init (&d->lock, NULL);
  return d;
}

static void
dev_free (struct virtio_device *d)
{
  close (d->irq_eventfd);
  pthread_mutex_destroy (&d->lock);
  free (d);
  free (gmem);
  gmem = NULL;
}

/* Adds a TX packet without kicking, as a guest that stopped right after. */
static void
tx_queue_only (const struct vsock_hdr *h, const void *data, uint32_t len)
{
  struct seg s[2];
  uint8_t raw[VSOCK_HDR_SIZE];
  unsigned n = 1;

  vsock_hdr_encode (h, raw);
  s[0].gpa = galloc (VSOCK_HDR_SIZE);
  s[0].len = VSOCK_HDR_SIZE;
  s[0].writable = false;
  memcpy (gmem + s[0].gpa, raw, VSOCK_HDR_SIZE);
  if (len > 0)
    {
      s[1].gpa = galloc (len);
      s[1].len = len;
      s[1].writable = false;
      memcpy (gmem + s[1].gpa, data, len);
      n = 2;
    }
  fq_add (&fq[1], s, n);
}

static void
test_device (void)
{
  struct virtio_device *d = dev_new ();
  struct virtio_vsock *v = NULL;
  runvm_error_t err = NULL;
  int lfd = listen_port (1040), hfd;
  struct vsock_hdr h;
  uint8_t data[4096], cfg[8], big[10000];
  uint32_t len, id, got;
  uint64_t cid;
  unsigned i, tx_used = 0;
  bool ok;

  TAP_OK (virtio_vsock_attach (d, GUEST_CID, base, &harness_ops, NULL, &v, &err) == 0, "device attached");
  TAP_OK (d->ops->device_id == 19 && d->ops->num_queues == 3, "VIRTIO_ID_VSOCK with 3 queues");
  memset (cfg, 0xff, sizeof cfg);
  d->ops->config_read (d, 0, cfg, 8);
  memcpy (&cid, cfg, 8);
  TAP_OK (le64toh (cid) == GUEST_CID, "config space: guest_cid");
  memset (cfg, 0, sizeof cfg);
  d->ops->config_read (d, 6, cfg, 8);
  TAP_OK (cfg[0] == 0 && cfg[2] == 0, "config read past the end stays in bounds");
  d->ops->activate (d);

  post_rx (8);
  h = dhdr (VIRTIO_VSOCK_OP_REQUEST, 4000, 1040, 0);
  tx_packet (d, &h, NULL, 0, 0);
  while (fq_used (&fq[1], &id, &len))
    tx_used++;
  TAP_OK (tx_used == 1, "TX chain returned");
  TAP_OK (rx_packet (&h, data, &len) && h.op == VIRTIO_VSOCK_OP_RESPONSE && len == VSOCK_HDR_SIZE
              && h.dst_port == 4000 && h.src_port == 1040 && h.dst_cid == GUEST_CID,
          "RESPONSE in an RX buffer, used len 44");
  hfd = accept_nb (lfd);
  TAP_OK (hfd >= 0, "host accepted");

  for (i = 0; i < sizeof big; i++)
    big[i] = (uint8_t) (i * 13 + 1);
  h = dhdr (VIRTIO_VSOCK_OP_RW, 4000, 1040, 3000);
  tx_packet (d, &h, big, 3000, 1);
  {
    uint8_t back[3000];
    TAP_OK (read (hfd, back, sizeof back) == 3000 && memcmp (back, big, 3000) == 0,
            "RW split over two descriptors reaches the host");
  }

  TAP_OK (write (hfd, big, sizeof big) == (ssize_t) sizeof big, "host writes 10000 bytes");
  pump (100);
  got = 0;
  ok = true;
  while (rx_packet (&h, data, &len))
    {
      if (h.op != VIRTIO_VSOCK_OP_RW || len != VSOCK_HDR_SIZE + h.len || h.len > 4096
          || memcmp (data, big + got, h.len) != 0)
        ok = false;
      got += h.len;
    }
  TAP_OK (ok && got == sizeof big, "delivered in 4 KiB RX buffers, used len = 44 + len (%u bytes)", got);

  /* RX ring exhausted: data stays in the socket until buffers come */
  {
    unsigned left = 0, cb;
    /* 8 posted: the RESPONSE and 3 RW used them, 4 are left */
    TAP_OK (write (hfd, big, sizeof big) == (ssize_t) sizeof big && write (hfd, big, sizeof big) == (ssize_t) sizeof big,
            "host writes 20000 more");
    pump (100);
    while (rx_packet (&h, data, &len))
      left += h.len;
    TAP_OK (left == 4 * 4096, "the 4 remaining buffers filled (%u bytes)", left);
    cb = H.callbacks;
    pump (50);
    TAP_OK (H.callbacks == cb, "no RX buffers: the host fd is not polled");
    post_rx (4);
    d->ops->queue_notify (d, 0);
    while (rx_packet (&h, data, &len))
      left += h.len;
    TAP_OK (left == 2 * sizeof big, "RX kick after new buffers delivers the rest (%u)", left);
  }

  /* malformed chains */
  post_rx (8);
  {
    struct seg s = { galloc (10), 10, false };
    fq_add (&fq[1], &s, 1);
    d->ops->queue_notify (d, 1);
    TAP_OK (fq_used (&fq[1], &id, &len) && !rx_packet (&h, data, &len), "10-byte TX chain: consumed, no reply");
  }
  h = dhdr (VIRTIO_VSOCK_OP_RW, 4000, 1040, 4000);
  tx_packet (d, &h, big, 100, 0);
  TAP_OK (rx_packet (&h, data, &len) && h.op == VIRTIO_VSOCK_OP_RST && h.dst_port == 4000,
          "header len 4000 with a 100-byte payload -> RST");
  {
    char c;
    TAP_OK (read (hfd, &c, 1) == 0, "host sees EOF");
  }
  close (hfd);

  /* a descriptor pointing outside guest memory breaks the queue, no crash */
  {
    struct seg s = { MEM_SIZE + 4096, 64, false };
    fq_add (&fq[1], &s, 1);
    d->ops->queue_notify (d, 1);
    TAP_OK (d->vq[1].broken, "out-of-range descriptor: TX queue marked broken");
  }

  /* reset drops connections */
  h = dhdr (VIRTIO_VSOCK_OP_REQUEST, 4001, 1040, 0);
  d->vq[1].broken = false;
  d->vq[1].last_avail_idx = fq[1].avail_idx;
  tx_packet (d, &h, NULL, 0, 0);
  hfd = accept_nb (lfd);
  TAP_OK (rx_packet (&h, data, &len) && h.op == VIRTIO_VSOCK_OP_RESPONSE && hfd >= 0, "new connection after repair");
  d->ops->reset (d);
  {
    char c;
    struct pollfd p = { .fd = hfd, .events = POLLIN };
    TAP_OK (poll (&p, 1, 1000) == 1 && read (hfd, &c, 1) == 0, "device reset closes host connections");
  }
  d->ops->queue_notify (d, 1);
  TAP_OK (!rx_packet (&h, data, &len), "inactive device ignores kicks");
  close (hfd);
  close (lfd);
  virtio_vsock_release (v);
  dev_free (d);
}

/* The guest stopped with container output still in its TX ring and in our
 * buffer; the engine reads slowly. Every byte must arrive. */
static void
test_device_drain (void)
{
  static uint8_t out[240000];
  struct virtio_device *d = dev_new ();
  struct virtio_vsock *v = NULL;
  runvm_error_t err = NULL;
  struct slow_reader r;
  struct vsock_hdr h;
  uint8_t data[4096];
  uint32_t len, id;
  unsigned i, used = 0;
  int p[2], ret;

  for (i = 0; i < sizeof out; i++)
    out[i] = (uint8_t) (i * 17 + 3);
  if (virtio_vsock_attach (d, GUEST_CID, base, &harness_ops, NULL, &v, &err) < 0)
    abort ();
  d->ops->activate (d);
  small_pipe (p);
  TAP_OK (virtio_vsock_set_port_fds (v, 1060, -1, p[1], &err) == 0, "stdout-like override registered");
  post_rx (8);
  h = dhdr (VIRTIO_VSOCK_OP_REQUEST, 5000, 1060, 0);
  tx_packet (d, &h, NULL, 0, 0);
  TAP_OK (rx_packet (&h, data, &len) && h.op == VIRTIO_VSOCK_OP_RESPONSE, "guest connected");
  while (fq_used (&fq[1], &id, &len))
    ;
  /* 240000 bytes and SHUTDOWN(SEND) in the ring; nobody kicks. */
  for (i = 0; i < sizeof out; i += 60000)
    {
      h = dhdr (VIRTIO_VSOCK_OP_RW, 5000, 1060, 60000);
      tx_queue_only (&h, out + i, 60000);
    }
  h = dhdr (VIRTIO_VSOCK_OP_SHUTDOWN, 5000, 1060, 0);
  h.flags = VIRTIO_VSOCK_SHUTDOWN_SEND;
  tx_queue_only (&h, NULL, 0);

  slow_reader_start (&r, p[0], sizeof out, 4096, 2);
  ret = virtio_vsock_drain (v, 1000);
  pthread_join (r.thread, NULL);
  while (fq_used (&fq[1], &id, &len))
    used++;
  TAP_OK (ret == 0 && used == 5, "drain took the 5 packets left in the TX ring (%u) and returned %d", used, ret);
  TAP_OK (r.got == sizeof out && memcmp (r.buf, out, sizeof out) == 0 && r.eof,
          "slow reader got all %zu bytes, then EOF", r.got);
  free (r.buf);
  close (p[0]);
  virtio_vsock_release (v);
  dev_free (d);
}

int
main (void)
{
  signal (SIGPIPE, SIG_DFL); /* the device must cope without SIG_IGN */
  snprintf (tmpdir, sizeof tmpdir, "/tmp/test-vsock.XXXXXX");
  if (mkdtemp (tmpdir) == NULL)
    abort ();
  snprintf (base, sizeof base, "%s/v.sock", tmpdir);
  H.epfd = epoll_create1 (EPOLL_CLOEXEC);

  test_connect ();
  test_guest_to_host ();
  test_host_to_guest ();
  test_credit_stall ();
  test_bad_packets ();
  test_port_fds ();
  test_flush_on_close ();
  test_drain ();
  test_device ();
  test_device_drain ();

  {
    runvm_error_t err = NULL;
    remove_tree (tmpdir, &err);
    runvm_error_release (&err);
  }
  return tap_done ();
}
