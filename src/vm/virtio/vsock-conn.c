/* virtio-vsock connections, Firecracker "hybrid vsock" style: a guest stream
 * to host port P is spliced onto the unix socket "<base>_P" (or fds the
 * monitor registered for P). Credit flow control (virtio 1.2, 5.10.6.3)
 * bounds both directions: we hold at most VSOCK_CONN_BUF_SIZE bytes from the
 * guest per connection and never send more than the guest advertised, and
 * host data stays in the host fd while the guest has no room for it.
 * Everything runs on the event loop thread; the guest is hostile. Port
 * overrides, reset, drain and teardown live in vsock-port.c. */
#include <config.h>
#include "vsock-conn-internal.h"
#include "utils.h"

#include <endian.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <linux/virtio_vsock.h>

/* We tell the guest about freed buffer space once its view of our free
 * space drops below this. */
#define CREDIT_UPDATE_THRESHOLD (64 * 1024)

/* ---- header and iovec helpers ---- */

void
vsock_hdr_decode (struct vsock_hdr *h, const uint8_t raw[VSOCK_HDR_SIZE])
{
  struct virtio_vsock_hdr w;

  memcpy (&w, raw, sizeof w);
  h->src_cid = le64toh (w.src_cid);
  h->dst_cid = le64toh (w.dst_cid);
  h->src_port = le32toh (w.src_port);
  h->dst_port = le32toh (w.dst_port);
  h->len = le32toh (w.len);
  h->type = le16toh (w.type);
  h->op = le16toh (w.op);
  h->flags = le32toh (w.flags);
  h->buf_alloc = le32toh (w.buf_alloc);
  h->fwd_cnt = le32toh (w.fwd_cnt);
}

void
vsock_hdr_encode (const struct vsock_hdr *h, uint8_t raw[VSOCK_HDR_SIZE])
{
  struct virtio_vsock_hdr w;

  w.src_cid = htole64 (h->src_cid);
  w.dst_cid = htole64 (h->dst_cid);
  w.src_port = htole32 (h->src_port);
  w.dst_port = htole32 (h->dst_port);
  w.len = htole32 (h->len);
  w.type = htole16 (h->type);
  w.op = htole16 (h->op);
  w.flags = htole32 (h->flags);
  w.buf_alloc = htole32 (h->buf_alloc);
  w.fwd_cnt = htole32 (h->fwd_cnt);
  memcpy (raw, &w, sizeof w);
}

_Static_assert (sizeof (struct virtio_vsock_hdr) == VSOCK_HDR_SIZE, "virtio_vsock_hdr is 44 bytes");

unsigned
vsock_iov_slice (const struct iovec *src, unsigned n, size_t skip, size_t max, struct iovec *dst, unsigned dst_max)
{
  unsigned i, out = 0;

  for (i = 0; i < n && max > 0 && out < dst_max; i++)
    {
      size_t l = src[i].iov_len;
      if (skip >= l)
        {
          skip -= l;
          continue;
        }
      l -= skip;
      if (l > max)
        l = max;
      dst[out].iov_base = (uint8_t *) src[i].iov_base + skip;
      dst[out].iov_len = l;
      out++;
      max -= l;
      skip = 0;
    }
  return out;
}

static size_t
iov_copy_out (const struct iovec *iov, unsigned n, size_t skip, void *dst, size_t len)
{
  size_t done = 0;
  unsigned i;

  for (i = 0; i < n && done < len; i++)
    {
      size_t l = iov[i].iov_len, k;
      if (skip >= l)
        {
          skip -= l;
          continue;
        }
      k = l - skip < len - done ? l - skip : len - done;
      memcpy ((uint8_t *) dst + done, (const uint8_t *) iov[i].iov_base + skip, k);
      done += k;
      skip = 0;
    }
  return done;
}

/* ---- host fd I/O ---- */

/* Writing to a pipe whose reader left raises SIGPIPE; the monitor must not
 * die of it. Sockets get MSG_NOSIGNAL; for anything else the signal is
 * blocked around the write and a pending one is consumed. */
static ssize_t
host_writev (const struct fd_watch *w, const struct iovec *iov, unsigned n)
{
  sigset_t pipe_set, old;
  struct timespec zero = { 0, 0 };
  ssize_t r;
  int saved;

  if (w->is_socket)
    {
      struct msghdr msg = { .msg_iov = (struct iovec *) iov, .msg_iovlen = n };
      return sendmsg (w->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    }
  sigemptyset (&pipe_set);
  sigaddset (&pipe_set, SIGPIPE);
  pthread_sigmask (SIG_BLOCK, &pipe_set, &old);
  r = writev (w->fd, iov, (int) n);
  saved = errno;
  if (r < 0 && errno == EPIPE)
    sigtimedwait (&pipe_set, NULL, &zero);
  pthread_sigmask (SIG_SETMASK, &old, NULL);
  errno = saved;
  return r;
}

static void
fd_watch_init (struct fd_watch *w, struct vsock_conn *c, int fd)
{
  struct stat st;

  w->c = c;
  w->fd = fd;
  w->registered = false;
  w->armed = 0;
  w->is_socket = false;
  w->pollable = true;
  if (fd >= 0 && fstat (fd, &st) == 0)
    {
      w->is_socket = S_ISSOCK (st.st_mode);
      w->pollable = !(S_ISREG (st.st_mode) || S_ISDIR (st.st_mode) || S_ISBLK (st.st_mode));
    }
}

/* ---- connection table and RX queue ---- */

static unsigned
conn_hash (uint32_t host_port, uint32_t guest_port)
{
  uint32_t h = host_port * 0x9e3779b1u ^ guest_port * 0x85ebca6bu;
  return (h ^ (h >> 16)) % HASH_BUCKETS;
}

static struct vsock_conn *
conn_lookup (struct vsock_mux *m, uint32_t host_port, uint32_t guest_port)
{
  struct vsock_conn *c;

  for (c = m->hash[conn_hash (host_port, guest_port)]; c; c = c->hash_next)
    if (c->host_port == host_port && c->guest_port == guest_port)
      return c;
  return NULL;
}

static void
rxq_remove (struct vsock_conn *c)
{
  struct vsock_mux *m = c->m;

  if (!c->in_rxq)
    return;
  if (c->rx_prev)
    c->rx_prev->rx_next = c->rx_next;
  else
    m->rx_head = c->rx_next;
  if (c->rx_next)
    c->rx_next->rx_prev = c->rx_prev;
  else
    m->rx_tail = c->rx_prev;
  c->rx_prev = c->rx_next = NULL;
  c->in_rxq = false;
}

static bool
conn_has_rx (const struct vsock_conn *c)
{
  return c->need_response || c->need_rst || c->need_credit_update || c->need_credit_request || c->need_shut
         || c->want_data;
}

/* Queues the connection for the device's next RX pass if it owes the
 * guest something. */
static void
conn_schedule (struct vsock_conn *c)
{
  struct vsock_mux *m = c->m;

  if (c->in_rxq || !conn_has_rx (c))
    return;
  c->rx_prev = m->rx_tail;
  c->rx_next = NULL;
  if (m->rx_tail)
    m->rx_tail->rx_next = c;
  else
    m->rx_head = c;
  m->rx_tail = c;
  c->in_rxq = true;
}

static void
ctrl_push_rst (struct vsock_mux *m, const struct vsock_hdr *h)
{
  struct ctrl_reply *r;

  if (h->op == VIRTIO_VSOCK_OP_RST)
    return; /* never answer a reset */
  if (m->ctrl_len == CTRL_QUEUE_LEN)
    return; /* the device stops taking TX before this; drop rather than grow */
  r = &m->ctrl[(m->ctrl_head + m->ctrl_len) % CTRL_QUEUE_LEN];
  r->src_cid = h->dst_cid;
  r->src_port = h->dst_port;
  r->dst_port = h->src_port;
  m->ctrl_len++;
}

/* ---- watching host fds ---- */

static void conn_fd_event (void *opaque, uint32_t events);

static uint32_t
peer_credit (const struct vsock_conn *c)
{
  uint32_t in_flight = c->h2g_sent - c->peer_fwd_cnt;
  return in_flight >= c->peer_buf_alloc ? 0 : c->peer_buf_alloc - in_flight;
}

static bool
conn_wants_read (const struct vsock_conn *c)
{
  return c->state == CONN_ESTABLISHED && c->rfd >= 0 && !c->host_eof && !c->peer_shut_rcv && !c->want_data
         && !c->need_response && peer_credit (c) > 0;
}

static bool
conn_wants_write (const struct vsock_conn *c)
{
  if (c->state == CONN_CONNECTING)
    return true;
  return c->state == CONN_ESTABLISHED && c->wfd >= 0 && c->buf_len > 0 && !c->host_wr_dead;
}

static int
watch_register (struct vsock_conn *c, struct fd_watch *w)
{
  struct vsock_mux *m = c->m;

  if (w->fd < 0 || !w->pollable || w->registered)
    return 0;
  if (m->ops->watch_add (m->ctx, w->fd, EPOLLONESHOT, conn_fd_event, w) < 0)
    return -1;
  w->registered = true;
  w->armed = 0;
  return 0;
}

static void
watch_unregister (struct vsock_conn *c, struct fd_watch *w)
{
  if (w->registered)
    c->m->ops->watch_remove (c->m->ctx, w->fd);
  w->registered = false;
  w->armed = 0;
}

static void
watch_arm (struct vsock_conn *c, struct fd_watch *w, uint32_t events)
{
  if (!w->registered || w->armed == events)
    return;
  /* With no events the fd stays registered but disarmed (a hangup may
   * still fire once); removing and re-adding would churn the loop. */
  c->m->ops->watch_modify (c->m->ctx, w->fd, events | EPOLLONESHOT);
  w->armed = events;
}

/* Re-computes what to wait for on the host fds. */
static void
conn_update_watch (struct vsock_conn *c)
{
  bool rd = conn_wants_read (c), wr = conn_wants_write (c);

  if (rd && !c->rw.pollable)
    {
      /* A regular file is always readable. */
      c->want_data = true;
      conn_schedule (c);
      rd = false;
    }
  if (c->shared_fd || c->state == CONN_CONNECTING)
    watch_arm (c, &c->rw, (rd ? EPOLLIN : 0) | (wr ? EPOLLOUT : 0));
  else
    {
      watch_arm (c, &c->rw, rd ? EPOLLIN : 0);
      watch_arm (c, &c->ww, wr ? EPOLLOUT : 0);
    }
}

/* ---- connection lifetime ---- */

static void
conn_close_host (struct vsock_conn *c)
{
  watch_unregister (c, &c->rw);
  if (!c->shared_fd)
    watch_unregister (c, &c->ww);
  if (c->rfd >= 0)
    close (c->rfd);
  if (c->wfd >= 0 && !c->shared_fd)
    close (c->wfd);
  c->rfd = c->wfd = -1;
  c->rw.fd = c->ww.fd = -1;
}

void
vsock_conn_destroy (struct vsock_conn *c)
{
  struct vsock_mux *m = c->m;
  struct vsock_conn **pp;

  rxq_remove (c);
  for (pp = &m->hash[conn_hash (c->host_port, c->guest_port)]; *pp; pp = &(*pp)->hash_next)
    if (*pp == c)
      {
        *pp = c->hash_next;
        break;
      }
  conn_close_host (c);
  free (c->buf);
  free (c);
  m->n_conns--;
}

/* Ends the connection towards the host now and owes the guest an RST; the
 * connection is freed once the RST has been handed to the device. */
static void
conn_reset (struct vsock_conn *c)
{
  conn_close_host (c);
  c->state = CONN_CLOSING;
  c->buf_len = 0;
  c->need_response = c->need_credit_update = c->need_credit_request = false;
  c->need_shut = 0;
  c->want_data = false;
  c->need_rst = true;
  conn_schedule (c);
}

/* Both directions finished cleanly: release the host side, tell the guest. */
static void
conn_check_done (struct vsock_conn *c)
{
  bool h2g_done, g2h_done;

  if (c->state != CONN_ESTABLISHED || c->need_shut || c->need_response)
    return;
  h2g_done = (c->shut_sent & VIRTIO_VSOCK_SHUTDOWN_SEND) || c->peer_shut_rcv;
  g2h_done = (c->peer_shut_send && c->buf_len == 0) || (c->shut_sent & VIRTIO_VSOCK_SHUTDOWN_RCV);
  if (h2g_done && g2h_done)
    conn_reset (c);
}

static void
conn_shut_host_write (struct vsock_conn *c)
{
  if (c->wfd_shut || c->wfd < 0)
    {
      c->wfd_shut = true;
      return;
    }
  c->wfd_shut = true;
  if (c->ww.is_socket)
    shutdown (c->wfd, SHUT_WR);
  else if (!c->shared_fd)
    {
      watch_unregister (c, &c->ww);
      close (c->wfd);
      c->wfd = -1;
      c->ww.fd = -1;
    }
}

/* The host no longer takes data: drop what we hold and tell the guest it
 * cannot send any more (it sees EPIPE, as a process writing to a closed
 * pipe would). */
static void
conn_host_write_failed (struct vsock_conn *c)
{
  c->host_wr_dead = true;
  c->g2h_fwd += c->buf_len;
  c->buf_len = 0;
  if (!c->shared_fd && c->wfd >= 0)
    {
      watch_unregister (c, &c->ww);
      close (c->wfd);
      c->wfd = -1;
      c->ww.fd = -1;
    }
  if (!(c->shut_sent & VIRTIO_VSOCK_SHUTDOWN_RCV))
    c->need_shut |= VIRTIO_VSOCK_SHUTDOWN_RCV;
  conn_schedule (c);
}

static void
conn_maybe_credit_update (struct vsock_conn *c)
{
  uint32_t told_used = c->g2h_rcvd - c->g2h_fwd_told;

  if (c->state != CONN_ESTABLISHED || c->g2h_fwd == c->g2h_fwd_told || c->peer_shut_send)
    return;
  if (told_used > VSOCK_CONN_BUF_SIZE - CREDIT_UPDATE_THRESHOLD)
    {
      c->need_credit_update = true;
      conn_schedule (c);
    }
}

/* Writes buffered guest data to the host. */
void
vsock_conn_flush (struct vsock_conn *c)
{
  while (c->buf_len > 0 && c->wfd >= 0 && !c->host_wr_dead)
    {
      struct iovec iov[2];
      unsigned n = 1;
      uint32_t first = VSOCK_CONN_BUF_SIZE - c->buf_head;
      ssize_t r;

      iov[0].iov_base = c->buf + c->buf_head;
      iov[0].iov_len = first < c->buf_len ? first : c->buf_len;
      if (first < c->buf_len)
        {
          iov[1].iov_base = c->buf;
          iov[1].iov_len = c->buf_len - first;
          n = 2;
        }
      r = host_writev (&c->ww, iov, n);
      if (r < 0 && errno == EINTR)
        continue;
      if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && c->ww.pollable)
        break;
      if (r <= 0)
        {
          conn_host_write_failed (c);
          break;
        }
      c->buf_head = (uint32_t) ((c->buf_head + (uint32_t) r) % VSOCK_CONN_BUF_SIZE);
      c->buf_len -= (uint32_t) r;
      c->g2h_fwd += (uint32_t) r;
    }
  if (c->buf_len == 0)
    c->buf_head = 0;
  if (c->buf_len == 0 && c->peer_shut_send && !c->host_wr_dead)
    conn_shut_host_write (c);
  conn_maybe_credit_update (c);
  conn_check_done (c);
}

static struct vsock_conn *
conn_new (struct vsock_mux *m, const struct vsock_hdr *h, int rfd, int wfd)
{
  struct vsock_conn *c = calloc (1, sizeof *c);
  unsigned b;

  if (c == NULL)
    return NULL;
  c->m = m;
  c->host_port = h->dst_port;
  c->guest_port = h->src_port;
  c->rfd = rfd;
  c->wfd = wfd;
  c->shared_fd = rfd >= 0 && rfd == wfd;
  fd_watch_init (&c->rw, c, rfd);
  if (c->shared_fd)
    c->ww = c->rw;
  else
    fd_watch_init (&c->ww, c, wfd);
  c->peer_buf_alloc = h->buf_alloc;
  c->peer_fwd_cnt = h->fwd_cnt;
  b = conn_hash (c->host_port, c->guest_port);
  c->hash_next = m->hash[b];
  m->hash[b] = c;
  m->n_conns++;
  return c;
}

/* Opens the host end for a guest REQUEST. Returns the socket (connected or
 * connecting, *in_progress says which) or -1. */
static int
connect_unix (struct vsock_mux *m, uint32_t port, bool *in_progress)
{
  struct sockaddr_un sa = { .sun_family = AF_UNIX };
  cleanup_close int fd = -1;
  int n;

  *in_progress = false;
  if (m->uds_base == NULL)
    return -1;
  n = snprintf (sa.sun_path, sizeof sa.sun_path, "%s_%u", m->uds_base, port);
  if (n < 0 || (size_t) n >= sizeof sa.sun_path)
    return -1;
  fd = socket (AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return -1;
  if (connect (fd, (struct sockaddr *) &sa, sizeof sa) < 0)
    {
      /* EAGAIN means the listener's backlog is full: refuse, as
       * Firecracker does, rather than retry behind the guest's back. */
      if (errno != EINPROGRESS)
        return -1;
      *in_progress = true;
    }
  return steal_fd (&fd);
}

static void
handle_request (struct vsock_mux *m, const struct vsock_hdr *h)
{
  struct vsock_conn *c = conn_lookup (m, h->dst_port, h->src_port);
  int rfd = -1, wfd = -1;
  bool in_progress = false;

  if (c)
    {
      /* A second REQUEST on a live connection: the guest lost track of it.
       * The RST we owe covers both. */
      conn_reset (c);
      return;
    }
  if (m->n_conns >= VSOCK_MAX_CONNS)
    {
      ctrl_push_rst (m, h);
      return;
    }
  if (!vsock_override_take (m, h->dst_port, &rfd, &wfd))
    {
      rfd = wfd = connect_unix (m, h->dst_port, &in_progress);
      if (rfd < 0)
        {
          ctrl_push_rst (m, h);
          return;
        }
    }
  c = conn_new (m, h, rfd, wfd);
  if (c == NULL)
    {
      if (rfd >= 0)
        close (rfd);
      if (wfd >= 0 && wfd != rfd)
        close (wfd);
      ctrl_push_rst (m, h);
      return;
    }
  if (watch_register (c, &c->rw) < 0 || (!c->shared_fd && watch_register (c, &c->ww) < 0))
    {
      conn_reset (c);
      return;
    }
  if (in_progress)
    c->state = CONN_CONNECTING;
  else
    {
      c->state = CONN_ESTABLISHED;
      c->need_response = true;
      if (c->rfd < 0)
        {
          /* Nothing will ever come from the host: say so right away. */
          c->host_eof = true;
          c->need_shut |= VIRTIO_VSOCK_SHUTDOWN_SEND;
        }
    }
  conn_schedule (c);
  conn_update_watch (c);
}

static void
handle_rw (struct vsock_conn *c, const struct iovec *payload, unsigned n, uint32_t len)
{
  size_t done = 0;

  if (c->state != CONN_ESTABLISHED || c->need_response || c->peer_shut_send)
    {
      conn_reset (c); /* data before RESPONSE or after SHUTDOWN(SEND) */
      return;
    }
  if (len == 0)
    return;
  if ((uint64_t) (c->g2h_rcvd - c->g2h_fwd) + len > VSOCK_CONN_BUF_SIZE)
    {
      conn_reset (c); /* the guest ignored the credit we gave it */
      return;
    }
  c->g2h_rcvd += len;
  if (c->wfd < 0 || c->host_wr_dead)
    {
      c->g2h_fwd += len; /* discarded by request, or the host is gone */
      conn_maybe_credit_update (c);
      return;
    }
  if (c->buf_len == 0)
    {
      struct iovec iov[64];
      unsigned k = vsock_iov_slice (payload, n, 0, len, iov, ARRAY_SIZE (iov));
      ssize_t r;

      do
        r = host_writev (&c->ww, iov, k);
      while (r < 0 && errno == EINTR);
      if (r < 0 && !((errno == EAGAIN || errno == EWOULDBLOCK) && c->ww.pollable))
        {
          conn_host_write_failed (c);
          c->g2h_fwd += len;
          conn_check_done (c);
          return;
        }
      if (r > 0)
        {
          done = (size_t) r;
          c->g2h_fwd += (uint32_t) r;
        }
    }
  if (done < len)
    {
      uint32_t rest = len - (uint32_t) done, tail, first;

      if (c->buf == NULL && (c->buf = malloc (VSOCK_CONN_BUF_SIZE)) == NULL)
        {
          conn_reset (c);
          return;
        }
      tail = (c->buf_head + c->buf_len) % VSOCK_CONN_BUF_SIZE;
      first = VSOCK_CONN_BUF_SIZE - tail < rest ? VSOCK_CONN_BUF_SIZE - tail : rest;
      iov_copy_out (payload, n, done, c->buf + tail, first);
      if (first < rest)
        iov_copy_out (payload, n, done + first, c->buf, rest - first);
      c->buf_len += rest;
      if (!c->ww.pollable)
        vsock_conn_flush (c);
    }
  conn_maybe_credit_update (c);
  conn_update_watch (c);
}

static void
handle_shutdown (struct vsock_conn *c, uint32_t flags)
{
  if (c->state != CONN_ESTABLISHED)
    return;
  if (flags & VIRTIO_VSOCK_SHUTDOWN_RCV)
    {
      c->peer_shut_rcv = true;
      c->want_data = false;
    }
  if (flags & VIRTIO_VSOCK_SHUTDOWN_SEND)
    {
      c->peer_shut_send = true;
      if (c->buf_len == 0)
        conn_shut_host_write (c);
    }
  conn_check_done (c);
  if (c->state == CONN_ESTABLISHED)
    conn_update_watch (c);
}

void
vsock_mux_handle_tx (struct vsock_mux *m, const struct vsock_hdr *h, const struct iovec *payload, unsigned n_payload,
                     size_t avail)
{
  struct vsock_conn *c;

  /* A packet claiming another source cannot be answered: drop it. */
  if (h->src_cid != m->guest_cid)
    return;
  c = h->op == VIRTIO_VSOCK_OP_REQUEST ? NULL : conn_lookup (m, h->dst_port, h->src_port);
  if (h->dst_cid != VSOCK_HOST_CID || h->type != VIRTIO_VSOCK_TYPE_STREAM || h->len > VSOCK_MAX_PAYLOAD
      || h->len > avail)
    {
      if (c && c->state != CONN_CLOSING)
        conn_reset (c);
      else if (c == NULL)
        ctrl_push_rst (m, h);
      return;
    }
  if (h->op == VIRTIO_VSOCK_OP_REQUEST)
    {
      handle_request (m, h);
      return;
    }
  if (c == NULL)
    {
      ctrl_push_rst (m, h);
      return;
    }
  if (h->op == VIRTIO_VSOCK_OP_RST)
    {
      /* Hand the host whatever the guest sent before it gave up. */
      if (c->state == CONN_ESTABLISHED && c->buf_len > 0)
        vsock_conn_flush (c);
      vsock_conn_destroy (c);
      return;
    }
  if (c->state == CONN_CLOSING)
    return; /* our RST is on its way */

  /* Every packet carries the guest's view of its receive buffer. */
  if (c->peer_buf_alloc != h->buf_alloc || c->peer_fwd_cnt != h->fwd_cnt)
    c->credit_requested = false;
  c->peer_buf_alloc = h->buf_alloc;
  c->peer_fwd_cnt = h->fwd_cnt;

  switch (h->op)
    {
    case VIRTIO_VSOCK_OP_RW:
      handle_rw (c, payload, n_payload, h->len);
      break;
    case VIRTIO_VSOCK_OP_SHUTDOWN:
      handle_shutdown (c, h->flags);
      break;
    case VIRTIO_VSOCK_OP_CREDIT_UPDATE:
      break;
    case VIRTIO_VSOCK_OP_CREDIT_REQUEST:
      if (c->state == CONN_ESTABLISHED)
        {
          c->need_credit_update = true;
          conn_schedule (c);
        }
      break;
    default: /* RESPONSE (we never connect to the guest), INVALID, unknown */
      conn_reset (c);
      return;
    }
  if (c->state == CONN_ESTABLISHED)
    conn_update_watch (c);
}

/* ---- host fd events ---- */

static void
conn_finish_connect (struct vsock_conn *c)
{
  int so_error = 0;
  socklen_t sl = sizeof so_error;

  if (getsockopt (c->rfd, SOL_SOCKET, SO_ERROR, &so_error, &sl) < 0 || so_error != 0)
    {
      conn_reset (c);
      return;
    }
  c->state = CONN_ESTABLISHED;
  c->need_response = true;
  conn_schedule (c);
}

static void
conn_fd_event (void *opaque, uint32_t events)
{
  struct fd_watch *w = opaque;
  struct vsock_conn *c = w->c;
  struct vsock_mux *m = c->m;
  uint32_t armed = w->armed;
  uint32_t ready = EPOLLHUP | EPOLLERR;

  w->armed = 0; /* EPOLLONESHOT: disarmed until re-armed */
  if (c->state == CONN_CONNECTING)
    {
      if (events & (EPOLLOUT | ready))
        conn_finish_connect (c);
    }
  else if (c->state == CONN_ESTABLISHED)
    {
      if ((armed & EPOLLOUT) && (events & (EPOLLOUT | ready)) && w->fd == c->wfd)
        vsock_conn_flush (c);
      if (c->state == CONN_ESTABLISHED && (armed & EPOLLIN) && (events & (EPOLLIN | ready)) && w->fd == c->rfd)
        {
          c->want_data = true;
          conn_schedule (c);
        }
    }
  if (c->state != CONN_CLOSING)
    conn_update_watch (c);
  if (vsock_mux_has_rx (m) && m->ops->rx_ready)
    m->ops->rx_ready (m->ctx);
}

/* ---- packets for the guest ---- */

static void
fill_hdr (const struct vsock_conn *c, struct vsock_hdr *h, uint16_t op)
{
  memset (h, 0, sizeof *h);
  h->src_cid = VSOCK_HOST_CID;
  h->dst_cid = c->m->guest_cid;
  h->src_port = c->host_port;
  h->dst_port = c->guest_port;
  h->type = VIRTIO_VSOCK_TYPE_STREAM;
  h->op = op;
  h->buf_alloc = VSOCK_CONN_BUF_SIZE;
  h->fwd_cnt = c->g2h_fwd;
}

/* Reads host data straight into the guest's buffer. Returns true with an
 * RW or SHUTDOWN packet, false when there was nothing to read. */
static bool
conn_read_host (struct vsock_conn *c, struct vsock_hdr *h, const struct iovec *iov, unsigned n_iov, size_t cap)
{
  struct iovec part[64];
  uint32_t credit = peer_credit (c);
  size_t want = cap;
  unsigned k;
  ssize_t r;

  if (want > credit)
    want = credit;
  if (want > VSOCK_MAX_PAYLOAD)
    want = VSOCK_MAX_PAYLOAD;
  k = vsock_iov_slice (iov, n_iov, 0, want, part, ARRAY_SIZE (part));
  do
    r = readv (c->rfd, part, (int) k);
  while (r < 0 && errno == EINTR);
  if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
    {
      c->want_data = false;
      return false;
    }
  if (r < 0)
    {
      conn_reset (c);
      return false;
    }
  if (r == 0)
    {
      c->host_eof = true;
      c->want_data = false;
      fill_hdr (c, h, VIRTIO_VSOCK_OP_SHUTDOWN);
      h->flags = VIRTIO_VSOCK_SHUTDOWN_SEND | c->need_shut;
      c->shut_sent |= h->flags;
      c->need_shut = 0;
      return true;
    }
  fill_hdr (c, h, VIRTIO_VSOCK_OP_RW);
  h->len = (uint32_t) r;
  c->h2g_sent += (uint32_t) r;
  /* A short read drained the fd (for pipes and sockets): wait for EPOLLIN. */
  if ((size_t) r < want)
    c->want_data = false;
  return true;
}

/* Produces the next packet the connection owes the guest, if any. Sets
 * *freed when the connection is gone (its RST went out). */
static bool
conn_fill (struct vsock_conn *c, struct vsock_hdr *h, const struct iovec *iov, unsigned n_iov, size_t cap,
           bool *freed)
{
  *freed = false;
  if (c->need_rst)
    {
      fill_hdr (c, h, VIRTIO_VSOCK_OP_RST);
      vsock_conn_destroy (c);
      *freed = true;
      return true;
    }
  if (c->need_response)
    {
      c->need_response = false;
      fill_hdr (c, h, VIRTIO_VSOCK_OP_RESPONSE);
      return true;
    }
  if (c->need_credit_update || c->need_credit_request)
    {
      fill_hdr (c, h, c->need_credit_update ? VIRTIO_VSOCK_OP_CREDIT_UPDATE : VIRTIO_VSOCK_OP_CREDIT_REQUEST);
      c->need_credit_update = c->need_credit_request = false;
      return true;
    }
  if (c->need_shut)
    {
      fill_hdr (c, h, VIRTIO_VSOCK_OP_SHUTDOWN);
      h->flags = c->need_shut;
      c->shut_sent |= c->need_shut;
      c->need_shut = 0;
      return true;
    }
  if (c->want_data)
    {
      if (c->state != CONN_ESTABLISHED || c->rfd < 0 || c->host_eof || c->peer_shut_rcv)
        {
          c->want_data = false;
          return false;
        }
      if (peer_credit (c) == 0)
        {
          /* The guest's buffer is full. It normally volunteers a credit
           * update as its reader drains; ask once in case it does not. */
          c->want_data = false;
          if (c->credit_requested)
            return false;
          c->credit_requested = true;
          fill_hdr (c, h, VIRTIO_VSOCK_OP_CREDIT_REQUEST);
          return true;
        }
      if (cap == 0)
        return false; /* a header-only buffer cannot carry data: keep waiting */
      return conn_read_host (c, h, iov, n_iov, cap);
    }
  return false;
}

bool
vsock_mux_fill_rx (struct vsock_mux *m, struct vsock_hdr *h, const struct iovec *iov, unsigned n_iov, size_t cap)
{
  unsigned budget = m->n_conns + 1;

  if (m->ctrl_len > 0)
    {
      const struct ctrl_reply *r = &m->ctrl[m->ctrl_head];

      memset (h, 0, sizeof *h);
      h->src_cid = r->src_cid;
      h->dst_cid = m->guest_cid;
      h->src_port = r->src_port;
      h->dst_port = r->dst_port;
      h->type = VIRTIO_VSOCK_TYPE_STREAM;
      h->op = VIRTIO_VSOCK_OP_RST;
      m->ctrl_head = (m->ctrl_head + 1) % CTRL_QUEUE_LEN;
      m->ctrl_len--;
      return true;
    }
  /* Round robin: a connection that still owes something goes to the back.
   * The budget bounds the walk when none can produce anything now. */
  while (m->rx_head && budget-- > 0)
    {
      struct vsock_conn *c = m->rx_head;
      bool freed, got;

      rxq_remove (c);
      got = conn_fill (c, h, iov, n_iov, cap, &freed);
      if (!freed)
        {
          if (got)
            {
              c->g2h_fwd_told = h->fwd_cnt;
              conn_check_done (c);
            }
          if (c->state != CONN_CLOSING)
            conn_update_watch (c);
          conn_schedule (c);
        }
      if (got)
        return true;
    }
  return false;
}

bool
vsock_mux_has_rx (const struct vsock_mux *m)
{
  return m->ctrl_len > 0 || m->rx_head != NULL;
}

bool
vsock_mux_tx_blocked (const struct vsock_mux *m)
{
  return m->ctrl_len >= CTRL_QUEUE_LEN;
}

unsigned
vsock_mux_conn_count (const struct vsock_mux *m)
{
  return m->n_conns;
}
