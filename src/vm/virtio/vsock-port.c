/* The host side's configuration and the end of the mux's life: port
 * overrides (the fds the monitor registers for container stdio), reset,
 * and the drain and teardown that make sure guest output buffered here
 * reaches the host before the fds are closed. */
#include <config.h>
#include "vsock-conn-internal.h"
#include "utils.h"

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <string.h>
#include <time.h>

/* How long vsock_mux_free() waits for host readers (vsock_mux_drain() is
 * the patient one). */
#define RELEASE_FLUSH_MS 1000

struct port_override
{
  uint32_t port;
  int rfd, wfd;
  struct port_override *next;
};

/* ---- setup and port overrides ---- */

int
vsock_mux_new (uint64_t guest_cid, const char *uds_base, const struct vsock_mux_ops *ops, void *ctx,
               struct vsock_mux **out, runvm_error_t *err)
{
  struct vsock_mux *m = calloc (1, sizeof *m);

  if (m == NULL)
    return runvm_make_error (err, ENOMEM, "vsock");
  if (uds_base && (m->uds_base = strdup (uds_base)) == NULL)
    {
      free (m);
      return runvm_make_error (err, ENOMEM, "vsock");
    }
  m->guest_cid = guest_cid;
  m->ops = ops;
  m->ctx = ctx;
  pthread_mutex_init (&m->override_lock, NULL);
  *out = m;
  return 0;
}

int
vsock_mux_set_port_fds (struct vsock_mux *m, uint32_t port, int rfd, int wfd, runvm_error_t *err)
{
  struct port_override *o, *it;
  int fds[2] = { rfd, wfd };
  unsigned i;

  for (i = 0; i < 2; i++)
    if (fds[i] >= 0)
      {
        int fl = fcntl (fds[i], F_GETFL);
        if (fl < 0 || fcntl (fds[i], F_SETFL, fl | O_NONBLOCK) < 0)
          {
            int saved = errno;
            if (rfd >= 0)
              close (rfd);
            if (wfd >= 0 && wfd != rfd)
              close (wfd);
            return runvm_make_error (err, saved, "vsock port %u: fd %d", port, fds[i]);
          }
      }
  o = calloc (1, sizeof *o);
  if (o == NULL)
    {
      if (rfd >= 0)
        close (rfd);
      if (wfd >= 0 && wfd != rfd)
        close (wfd);
      return runvm_make_error (err, ENOMEM, "vsock port %u", port);
    }
  o->port = port;
  o->rfd = rfd;
  o->wfd = wfd;
  pthread_mutex_lock (&m->override_lock);
  for (it = m->overrides; it; it = it->next)
    if (it->port == port)
      break;
  if (it == NULL)
    {
      o->next = m->overrides;
      m->overrides = o;
    }
  pthread_mutex_unlock (&m->override_lock);
  if (it)
    {
      if (rfd >= 0)
        close (rfd);
      if (wfd >= 0 && wfd != rfd)
        close (wfd);
      free (o);
      return runvm_make_error (err, EEXIST, "vsock port %u: fds already registered", port);
    }
  return 0;
}

bool
vsock_override_take (struct vsock_mux *m, uint32_t port, int *rfd, int *wfd)
{
  struct port_override **pp, *o;
  bool found = false;

  pthread_mutex_lock (&m->override_lock);
  for (pp = &m->overrides; *pp; pp = &(*pp)->next)
    if ((*pp)->port == port)
      {
        o = *pp;
        *pp = o->next;
        *rfd = o->rfd;
        *wfd = o->wfd;
        free (o);
        found = true;
        break;
      }
  pthread_mutex_unlock (&m->override_lock);
  return found;
}

/* ---- reset, drain and teardown ---- */

void
vsock_mux_drop_ctrl_replies (struct vsock_mux *m)
{
  m->ctrl_head = m->ctrl_len = 0;
}

void
vsock_mux_reset (struct vsock_mux *m)
{
  unsigned b;

  for (b = 0; b < HASH_BUCKETS; b++)
    while (m->hash[b])
      vsock_conn_destroy (m->hash[b]);
  m->ctrl_head = m->ctrl_len = 0;
}


/* Guest data we hold that a live host reader has yet to take. */
static bool
conn_has_pending_output (const struct vsock_conn *c)
{
  return c->state == CONN_ESTABLISHED && c->buf_len > 0 && c->wfd >= 0 && !c->host_wr_dead;
}

int
vsock_mux_drain (struct vsock_mux *m, int timeout_ms)
{
  cleanup_free struct pollfd *pfd = NULL;
  cleanup_free struct vsock_conn **conns = NULL;
  int64_t deadline = monotonic_ms () + timeout_ms;

  if (m == NULL || m->n_conns == 0)
    return 0;
  pfd = calloc (m->n_conns, sizeof *pfd);
  conns = calloc (m->n_conns, sizeof *conns);
  if (pfd == NULL || conns == NULL)
    {
      errno = ENOMEM;
      return -1;
    }
  for (;;)
    {
      unsigned n = 0, i, b;
      bool progress = false;
      int64_t left;
      int r;

      /* No connection is created or freed while the guest is stopped, so
       * the table holds at most the n_conns it held on entry. */
      for (b = 0; b < HASH_BUCKETS; b++)
        {
          struct vsock_conn *c;
          for (c = m->hash[b]; c; c = c->hash_next)
            if (conn_has_pending_output (c) && n < m->n_conns)
              {
                pfd[n].fd = c->wfd;
                pfd[n].events = POLLOUT;
                pfd[n].revents = 0;
                conns[n++] = c;
              }
        }
      if (n == 0)
        return 0;
      left = timeout_ms < 0 ? -1 : deadline - monotonic_ms ();
      if (timeout_ms >= 0 && left <= 0)
        {
          errno = ETIMEDOUT;
          return -1;
        }
      r = poll (pfd, n, left > INT_MAX ? INT_MAX : (int) left);
      if (r < 0 && errno != EINTR)
        return -1;
      for (i = 0; r > 0 && i < n; i++)
        {
          struct vsock_conn *c = conns[i];
          uint32_t before = c->buf_len;

          if (pfd[i].revents == 0)
            continue;
          /* An error or hangup makes the write fail (EPIPE): the data is
           * dropped and the connection stops counting. */
          vsock_conn_flush (c);
          if (c->buf_len != before || !conn_has_pending_output (c))
            progress = true;
        }
      /* A reader that keeps taking data gets all of it, however slowly. */
      if (progress)
        deadline = monotonic_ms () + timeout_ms;
    }
}

void
vsock_mux_free (struct vsock_mux *m)
{
  int64_t deadline = monotonic_ms () + RELEASE_FLUSH_MS;
  struct port_override *o, *next;
  unsigned b;

  if (m == NULL)
    return;
  /* Guest output still buffered here (say, the last of a container's
   * stdout) is worth a short wait for the host reader. */
  for (b = 0; b < HASH_BUCKETS; b++)
    {
      struct vsock_conn *c;
      for (c = m->hash[b]; c; c = c->hash_next)
        {
          c->rw.registered = c->ww.registered = false; /* the loop may be gone */
          while (c->state == CONN_ESTABLISHED && c->buf_len > 0 && c->wfd >= 0 && !c->host_wr_dead)
            {
              struct pollfd p = { .fd = c->wfd, .events = POLLOUT };
              int64_t left = deadline - monotonic_ms ();
              uint32_t before = c->buf_len;

              if (left <= 0 || poll (&p, 1, (int) left) <= 0)
                break;
              vsock_conn_flush (c);
              if (c->buf_len == before)
                break;
            }
        }
    }
  for (b = 0; b < HASH_BUCKETS; b++)
    while (m->hash[b])
      {
        m->hash[b]->rw.registered = m->hash[b]->ww.registered = false;
        vsock_conn_destroy (m->hash[b]);
      }
  for (o = m->overrides; o; o = next)
    {
      next = o->next;
      if (o->rfd >= 0)
        close (o->rfd);
      if (o->wfd >= 0 && o->wfd != o->rfd)
        close (o->wfd);
      free (o);
    }
  pthread_mutex_destroy (&m->override_lock);
  free (m->uds_base);
  free (m);
}
