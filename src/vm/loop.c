/* The monitor's epoll event loop. Other threads talk to it only through
 * event_loop_call() and event_loop_stop(), which go through a pipe. */
#include <config.h>
#include "loop.h"
#include "utils.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>

struct loop_entry
{
  int fd;
  event_cb cb;
  void *opaque;
  struct loop_entry *next;
};

struct loop_call
{
  void (*fn) (void *);
  void *opaque;
};

struct event_loop
{
  int epfd;
  int wake[2];
  bool stop;
  struct loop_entry *entries;
  pthread_mutex_t lock; /* protects entries against add/remove from callbacks */
};

static void
loop_wake_cb (void *opaque, uint32_t events)
{
  struct event_loop *l = opaque;
  struct loop_call c;

  for (;;)
    {
      ssize_t r = read (l->wake[0], &c, sizeof c);
      if (r != (ssize_t) sizeof c)
        break;
      if (c.fn == NULL)
        l->stop = true;
      else
        c.fn (c.opaque);
    }
}

int
event_loop_new (struct event_loop **out, runvm_error_t *err)
{
  struct event_loop *l = calloc (1, sizeof *l);

  if (l == NULL)
    return runvm_make_error (err, ENOMEM, "event loop");
  pthread_mutex_init (&l->lock, NULL);
  l->epfd = epoll_create1 (EPOLL_CLOEXEC);
  if (l->epfd < 0 || pipe2 (l->wake, O_CLOEXEC | O_NONBLOCK) < 0)
    {
      int saved = errno;
      free (l);
      return runvm_make_error (err, saved, "event loop");
    }
  if (event_loop_add (l, l->wake[0], EPOLLIN, loop_wake_cb, l, err) < 0)
    return -1;
  *out = l;
  return 0;
}

void
event_loop_free (struct event_loop *l)
{
  struct loop_entry *e, *n;

  if (l == NULL)
    return;
  for (e = l->entries; e; e = n)
    {
      n = e->next;
      free (e);
    }
  close (l->epfd);
  close (l->wake[0]);
  close (l->wake[1]);
  free (l);
}

int
event_loop_add (struct event_loop *l, int fd, uint32_t events, event_cb cb, void *opaque, runvm_error_t *err)
{
  struct loop_entry *e = calloc (1, sizeof *e);
  struct epoll_event ev = { .events = events };

  if (e == NULL)
    return runvm_make_error (err, ENOMEM, "event loop");
  e->fd = fd;
  e->cb = cb;
  e->opaque = opaque;
  ev.data.ptr = e;
  if (epoll_ctl (l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
    {
      int saved = errno;
      free (e);
      return runvm_make_error (err, saved, "epoll_ctl add fd %d", fd);
    }
  pthread_mutex_lock (&l->lock);
  e->next = l->entries;
  l->entries = e;
  pthread_mutex_unlock (&l->lock);
  return 0;
}

static struct loop_entry *
loop_find (struct event_loop *l, int fd)
{
  struct loop_entry *e;
  for (e = l->entries; e; e = e->next)
    if (e->fd == fd && e->cb)
      return e;
  return NULL;
}

int
event_loop_modify (struct event_loop *l, int fd, uint32_t events)
{
  struct epoll_event ev = { .events = events };
  struct loop_entry *e;

  pthread_mutex_lock (&l->lock);
  e = loop_find (l, fd);
  pthread_mutex_unlock (&l->lock);
  if (e == NULL)
    return -1;
  ev.data.ptr = e;
  return epoll_ctl (l->epfd, EPOLL_CTL_MOD, fd, &ev);
}

void
event_loop_remove (struct event_loop *l, int fd)
{
  struct loop_entry *e;

  pthread_mutex_lock (&l->lock);
  e = loop_find (l, fd);
  if (e)
    {
      epoll_ctl (l->epfd, EPOLL_CTL_DEL, fd, NULL);
      /* Keep the entry allocated (cb = NULL) so an event already returned by
       * epoll_wait in this round cannot touch freed memory; swept on free. */
      e->cb = NULL;
      e->fd = -1;
    }
  pthread_mutex_unlock (&l->lock);
}

int
event_loop_run (struct event_loop *l)
{
  struct epoll_event evs[64];

  while (!l->stop)
    {
      int n = epoll_wait (l->epfd, evs, ARRAY_SIZE (evs), -1), i;
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return -1;
      for (i = 0; i < n && !l->stop; i++)
        {
          struct loop_entry *e = evs[i].data.ptr;
          if (e->cb)
            e->cb (e->opaque, evs[i].events);
        }
    }
  return 0;
}

int
event_loop_call (struct event_loop *l, void (*fn) (void *), void *opaque)
{
  struct loop_call c = { fn, opaque };
  /* A pipe write of <= PIPE_BUF bytes is atomic. */
  return write (l->wake[1], &c, sizeof c) == (ssize_t) sizeof c ? 0 : -1;
}

void
event_loop_stop (struct event_loop *l)
{
  event_loop_call (l, NULL, NULL);
}
