/* Byte relays between the container's pipes or pty and the vsock stdio
 * streams. Each relay moves one direction through a bounded buffer: it
 * stops reading while the buffer is full (backpressure instead of memory
 * growth, and the loop never blocks on a slow peer) and closes the
 * destination only after the source's EOF and the last byte written, so
 * the host sees EOF strictly after all output. */
#include <config.h>
#include "init.h"
#include "utils.h"

#include <fcntl.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>

#define RELAY_BUFFER (64 * 1024)

struct relay
{
  char name[32];
  struct loop_watch src_w, dst_w;
  int src, dst;
  bool dst_is_socket;
  bool src_eof;    /* nothing more will be read */
  bool dst_broken; /* writes fail: data is read and dropped */
  bool done;
  size_t start, end;
  relay_done_fn done_fn;
  void *data;
  char buf[RELAY_BUFFER];
};

static void relay_update (struct relay *r);

static void
set_nonblock (int fd)
{
  int flags = fcntl (fd, F_GETFL);
  if (flags >= 0)
    fcntl (fd, F_SETFL, flags | O_NONBLOCK);
}

static void
close_src (struct relay *r)
{
  if (r->src < 0)
    return;
  loop_remove (&r->src_w);
  close (r->src);
  r->src = r->src_w.fd = -1;
}

static void
close_dst (struct relay *r)
{
  if (r->dst < 0)
    return;
  loop_remove (&r->dst_w);
  if (r->dst_is_socket)
    shutdown (r->dst, SHUT_WR);
  close (r->dst);
  r->dst = r->dst_w.fd = -1;
}

static void
complete (struct relay *r)
{
  if (r->done)
    return;
  close_src (r);
  close_dst (r);
  r->done = true;
  init_debug ("relay %s: done", r->name);
  if (r->done_fn)
    r->done_fn (r, r->data);
}

static void
relay_write (struct relay *r)
{
  while (r->start < r->end && !r->dst_broken)
    {
      ssize_t n = write (r->dst, r->buf + r->start, r->end - r->start);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && errno == EAGAIN)
        return;
      if (n < 0)
        {
          init_debug ("relay %s: write: %s", r->name, strerror (errno));
          r->dst_broken = true;
          close_dst (r);
          break;
        }
      r->start += n;
    }
  if (r->dst_broken)
    r->start = r->end = 0;
  if (r->start == r->end)
    r->start = r->end = 0;
}

static void
relay_read (struct relay *r)
{
  ssize_t n;

  if (r->end == sizeof r->buf && r->start > 0)
    {
      memmove (r->buf, r->buf + r->start, r->end - r->start);
      r->end -= r->start;
      r->start = 0;
    }
  if (r->end == sizeof r->buf)
    return;
  n = read (r->src, r->buf + r->end, sizeof r->buf - r->end);
  if (n < 0 && (errno == EINTR || errno == EAGAIN))
    return;
  if (n <= 0)
    {
      /* EOF, or EIO from a pty master whose slave side is gone. */
      if (n < 0 && errno != EIO)
        init_debug ("relay %s: read: %s", r->name, strerror (errno));
      r->src_eof = true;
      close_src (r);
      return;
    }
  r->end += n;
  if (r->dst_broken)
    r->start = r->end = 0;
}

static void
on_src (struct loop_watch *w, uint32_t events)
{
  struct relay *r = w->data;
  relay_read (r);
  relay_write (r);
  relay_update (r);
}

static void
on_dst (struct loop_watch *w, uint32_t events)
{
  struct relay *r = w->data;
  relay_write (r);
  relay_update (r);
}

static void
relay_update (struct relay *r)
{
  if (r->done)
    return;
  if (r->src_eof && (r->start == r->end || r->dst_broken))
    {
      complete (r);
      return;
    }
  if (r->src >= 0)
    loop_set (&r->src_w, r->end < sizeof r->buf || r->start > 0 ? EPOLLIN : 0);
  if (r->dst >= 0)
    loop_set (&r->dst_w, r->start < r->end ? EPOLLOUT : 0);
}

struct relay *
relay_new (const char *name, int src, int dst, relay_done_fn done, void *data)
{
  struct relay *r = calloc (1, sizeof *r);
  struct stat st;

  if (r == NULL)
    abort ();
  snprintf (r->name, sizeof r->name, "%s", name);
  r->src = src;
  r->dst = dst;
  r->done_fn = done;
  r->data = data;
  r->dst_is_socket = fstat (dst, &st) == 0 && S_ISSOCK (st.st_mode);
  set_nonblock (src);
  set_nonblock (dst);
  r->src_w = (struct loop_watch){ .fd = src, .fn = on_src, .data = r };
  r->dst_w = (struct loop_watch){ .fd = dst, .fn = on_dst, .data = r };
  relay_update (r);
  return r;
}

void
relay_finish_input (struct relay *r)
{
  if (r == NULL || r->done)
    return;
  r->src_eof = true;
  close_src (r);
  relay_update (r);
}

void
relay_abort (struct relay *r)
{
  if (r == NULL || r->done)
    return;
  r->start = r->end = 0;
  complete (r);
}

bool
relay_is_done (const struct relay *r)
{
  return r == NULL || r->done;
}

void
relay_free (struct relay *r)
{
  if (r == NULL)
    return;
  r->done_fn = NULL;
  close_src (r);
  close_dst (r);
  free (r);
}
