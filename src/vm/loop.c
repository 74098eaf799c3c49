/* The monitor's epoll event loop. Other threads hand it work through a
 * call queue and an eventfd. Registrations are found by fd in a table; a
 * removed registration is freed only between dispatch rounds, because an
 * event epoll_wait already returned for it may still be in the batch. */
#include <config.h>
#include "loop.h"
#include "utils.h"

#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#include <sys/eventfd.h>

struct loop_entry
{
  int fd;
  event_cb cb; /* atomic: NULL once removed (the loop thread reads it unlocked) */
  void *opaque;
  struct loop_entry *next_dead;
};

struct loop_call
{
  void (*fn) (void *);
  void *opaque;
  struct loop_call *next;
  bool waited; /* event_loop_call_wait's: on the caller's stack, not freed */
  bool done;   /* under lock */
};

struct event_loop
{
  int epfd;
  int wake_fd; /* eventfd: calls queued or stop requested */
  bool stop;   /* atomic */

  pthread_mutex_t lock; /* everything below */
  pthread_cond_t call_done;
  struct loop_entry **by_fd; /* registrations indexed by fd */
  size_t by_fd_len;
  struct loop_entry *dead; /* removed during a round, freed after it */
  struct loop_call *calls, *calls_tail;
  bool running; /* a thread is inside event_loop_run */
  pthread_t thread;
  unsigned inline_calls; /* call_wait functions running outside the loop */
};

static void
loop_wake (struct event_loop *l)
{
  uint64_t one = 1;

  /* Only fails when the counter would overflow: it is then nonzero anyway. */
  if (write (l->wake_fd, &one, sizeof one) < 0)
    {
    }
}

/* Runs the calls queued so far, in order; returns whether there were any. */
static bool
loop_run_calls (struct event_loop *l)
{
  struct loop_call *c, *next;

  pthread_mutex_lock (&l->lock);
  c = l->calls;
  l->calls = l->calls_tail = NULL;
  pthread_mutex_unlock (&l->lock);
  if (c == NULL)
    return false;
  for (; c; c = next)
    {
      next = c->next; /* a waited call's node dies once `done` is seen */
      c->fn (c->opaque);
      if (c->waited)
        {
          pthread_mutex_lock (&l->lock);
          c->done = true;
          pthread_cond_broadcast (&l->call_done);
          pthread_mutex_unlock (&l->lock);
        }
      else
        free (c);
    }
  return true;
}

static void
loop_wake_cb (void *opaque, uint32_t events)
{
  struct event_loop *l = opaque;
  uint64_t n;

  if (read (l->wake_fd, &n, sizeof n) < 0)
    {
      /* EAGAIN: a previous round consumed it; the queue is what counts. */
    }
  loop_run_calls (l);
}

/* Frees the registrations removed while a round may have held them. */
static void
loop_sweep (struct event_loop *l)
{
  struct loop_entry *e, *next;

  pthread_mutex_lock (&l->lock);
  e = l->dead;
  l->dead = NULL;
  pthread_mutex_unlock (&l->lock);
  for (; e; e = next)
    {
      next = e->next_dead;
      free (e);
    }
}

int
event_loop_new (struct event_loop **out, runvm_error_t *err)
{
  struct event_loop *l = calloc (1, sizeof *l);

  if (l == NULL)
    return runvm_make_error (err, ENOMEM, "event loop");
  pthread_mutex_init (&l->lock, NULL);
  pthread_cond_init (&l->call_done, NULL);
  l->wake_fd = -1;
  l->epfd = epoll_create1 (EPOLL_CLOEXEC);
  if (l->epfd >= 0)
    l->wake_fd = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (l->epfd < 0 || l->wake_fd < 0)
    {
      int saved = errno;
      event_loop_free (l);
      return runvm_make_error (err, saved, "event loop");
    }
  if (event_loop_add (l, l->wake_fd, EPOLLIN, loop_wake_cb, l, err) < 0)
    {
      event_loop_free (l);
      return -1;
    }
  *out = l;
  return 0;
}

void
event_loop_free (struct event_loop *l)
{
  struct loop_call *c, *nc;
  size_t i;

  if (l == NULL)
    return;
  loop_sweep (l);
  for (i = 0; i < l->by_fd_len; i++)
    free (l->by_fd[i]);
  free (l->by_fd);
  /* Calls never run: the loop was stopped (waited ones cannot be here). */
  for (c = l->calls; c; c = nc)
    {
      nc = c->next;
      if (!c->waited)
        free (c);
    }
  if (l->epfd >= 0)
    close (l->epfd);
  if (l->wake_fd >= 0)
    close (l->wake_fd);
  pthread_cond_destroy (&l->call_done);
  pthread_mutex_destroy (&l->lock);
  free (l);
}

static struct loop_entry *
loop_find_locked (struct event_loop *l, int fd)
{
  return fd >= 0 && (size_t) fd < l->by_fd_len ? l->by_fd[fd] : NULL;
}

/* Makes room for by_fd[fd]. */
static int
loop_reserve_locked (struct event_loop *l, int fd)
{
  struct loop_entry **t;
  size_t len = l->by_fd_len ? l->by_fd_len : 64;

  if ((size_t) fd < l->by_fd_len)
    return 0;
  while (len <= (size_t) fd)
    len *= 2;
  t = realloc (l->by_fd, len * sizeof *t);
  if (t == NULL)
    return -1;
  memset (t + l->by_fd_len, 0, (len - l->by_fd_len) * sizeof *t);
  l->by_fd = t;
  l->by_fd_len = len;
  return 0;
}

int
event_loop_add (struct event_loop *l, int fd, uint32_t events, event_cb cb, void *opaque, runvm_error_t *err)
{
  struct epoll_event ev = { .events = events };
  struct loop_entry *e;

  if (fd < 0 || cb == NULL)
    return runvm_make_error (err, EINVAL, "event loop: add fd %d", fd);
  e = calloc (1, sizeof *e);
  if (e == NULL)
    return runvm_make_error (err, ENOMEM, "event loop");
  e->fd = fd;
  e->cb = cb;
  e->opaque = opaque;
  ev.data.ptr = e;
  pthread_mutex_lock (&l->lock);
  if (loop_reserve_locked (l, fd) < 0)
    {
      pthread_mutex_unlock (&l->lock);
      free (e);
      return runvm_make_error (err, ENOMEM, "event loop");
    }
  if (l->by_fd[fd] != NULL || epoll_ctl (l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
    {
      int saved = l->by_fd[fd] != NULL ? EEXIST : errno;
      pthread_mutex_unlock (&l->lock);
      free (e);
      return runvm_make_error (err, saved, "epoll_ctl add fd %d", fd);
    }
  l->by_fd[fd] = e;
  pthread_mutex_unlock (&l->lock);
  return 0;
}

int
event_loop_modify (struct event_loop *l, int fd, uint32_t events)
{
  struct epoll_event ev = { .events = events };
  struct loop_entry *e;
  int r = -1, saved = ENOENT;

  pthread_mutex_lock (&l->lock);
  e = loop_find_locked (l, fd);
  if (e)
    {
      ev.data.ptr = e;
      r = epoll_ctl (l->epfd, EPOLL_CTL_MOD, fd, &ev);
      saved = errno;
    }
  pthread_mutex_unlock (&l->lock);
  if (r < 0)
    errno = saved;
  return r;
}

void
event_loop_remove (struct event_loop *l, int fd)
{
  struct loop_entry *e;

  pthread_mutex_lock (&l->lock);
  e = loop_find_locked (l, fd);
  if (e)
    {
      epoll_ctl (l->epfd, EPOLL_CTL_DEL, fd, NULL);
      l->by_fd[fd] = NULL;
      __atomic_store_n (&e->cb, NULL, __ATOMIC_RELEASE);
      if (l->running)
        {
          /* The current round may hold an event for it: free it after. */
          e->next_dead = l->dead;
          l->dead = e;
        }
      else
        free (e);
    }
  pthread_mutex_unlock (&l->lock);
}

int
event_loop_run (struct event_loop *l)
{
  struct epoll_event evs[64];
  int ret = 0;

  pthread_mutex_lock (&l->lock);
  if (l->running)
    {
      pthread_mutex_unlock (&l->lock);
      errno = EBUSY;
      return -1;
    }
  l->running = true;
  l->thread = pthread_self ();
  /* A function call_wait started in its caller before we ran must not
   * overlap our callbacks; later ones are queued to us. */
  while (l->inline_calls > 0)
    pthread_cond_wait (&l->call_done, &l->lock);
  pthread_mutex_unlock (&l->lock);

  while (!__atomic_load_n (&l->stop, __ATOMIC_ACQUIRE))
    {
      int n = epoll_wait (l->epfd, evs, ARRAY_SIZE (evs), -1), i;
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          ret = -1;
          break;
        }
      for (i = 0; i < n && !__atomic_load_n (&l->stop, __ATOMIC_ACQUIRE); i++)
        {
          struct loop_entry *e = evs[i].data.ptr;
          event_cb cb = __atomic_load_n (&e->cb, __ATOMIC_ACQUIRE);
          if (cb)
            cb (e->opaque, evs[i].events);
        }
      loop_sweep (l);
    }

  /* No caller of event_loop_call_wait may be left waiting: run what is
   * queued, and stop counting as running only once the queue is empty
   * (later callers then run their function themselves). */
  for (;;)
    {
      loop_run_calls (l);
      pthread_mutex_lock (&l->lock);
      if (l->calls == NULL)
        {
          l->running = false;
          pthread_mutex_unlock (&l->lock);
          break;
        }
      pthread_mutex_unlock (&l->lock);
    }
  loop_sweep (l);
  return ret;
}

static void
loop_enqueue_locked (struct event_loop *l, struct loop_call *c)
{
  c->next = NULL;
  if (l->calls_tail)
    l->calls_tail->next = c;
  else
    l->calls = c;
  l->calls_tail = c;
}

int
event_loop_call (struct event_loop *l, void (*fn) (void *), void *opaque)
{
  struct loop_call *c = calloc (1, sizeof *c);

  if (c == NULL || fn == NULL)
    {
      free (c);
      errno = c ? EINVAL : ENOMEM;
      return -1;
    }
  c->fn = fn;
  c->opaque = opaque;
  pthread_mutex_lock (&l->lock);
  loop_enqueue_locked (l, c);
  pthread_mutex_unlock (&l->lock);
  loop_wake (l);
  return 0;
}

int
event_loop_call_wait (struct event_loop *l, void (*fn) (void *), void *opaque)
{
  struct loop_call c = { .fn = fn, .opaque = opaque, .waited = true };

  pthread_mutex_lock (&l->lock);
  if (l->running && pthread_equal (l->thread, pthread_self ()))
    {
      pthread_mutex_unlock (&l->lock);
      fn (opaque);
      return 0;
    }
  if (!l->running)
    {
      l->inline_calls++;
      pthread_mutex_unlock (&l->lock);
      fn (opaque);
      pthread_mutex_lock (&l->lock);
      l->inline_calls--;
      pthread_cond_broadcast (&l->call_done);
      pthread_mutex_unlock (&l->lock);
      return 0;
    }
  loop_enqueue_locked (l, &c);
  pthread_mutex_unlock (&l->lock);
  loop_wake (l);
  pthread_mutex_lock (&l->lock);
  while (!c.done)
    pthread_cond_wait (&l->call_done, &l->lock);
  pthread_mutex_unlock (&l->lock);
  return 0;
}

void
event_loop_stop (struct event_loop *l)
{
  __atomic_store_n (&l->stop, true, __ATOMIC_RELEASE);
  loop_wake (l);
}
