/* The single-threaded event loop of runvm-init: epoll over file
 * descriptors plus a short list of one-shot timers. One event is handled
 * per wakeup so a handler may free any watch without leaving a stale
 * pointer in a pending event batch. */
#include <config.h>
#include "init.h"
#include "utils.h"

#include <string.h>
#include <sys/epoll.h>
#include <time.h>

static int epoll_fd = -1;

struct timer
{
  int id;
  long long deadline_ms;
  timer_fn fn;
  void *data;
};
static struct timer *timers;
static size_t n_timers, alloc_timers;
static int next_timer_id = 1;


int
loop_init (runvm_error_t *err)
{
  epoll_fd = epoll_create1 (EPOLL_CLOEXEC);
  if (epoll_fd < 0)
    return runvm_make_error (err, errno, "epoll_create1");
  return 0;
}

void
loop_set (struct loop_watch *w, uint32_t events)
{
  struct epoll_event ev = { .events = events, .data.ptr = w };

  if (w->added && w->events == events)
    return;
  if (epoll_ctl (epoll_fd, w->added ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, w->fd, &ev) < 0)
    {
      init_log ("epoll_ctl fd %d: %s", w->fd, strerror (errno));
      return;
    }
  w->added = true;
  w->events = events;
}

void
loop_remove (struct loop_watch *w)
{
  if (!w->added)
    return;
  epoll_ctl (epoll_fd, EPOLL_CTL_DEL, w->fd, NULL);
  w->added = false;
  w->events = 0;
}

int
loop_timer_add (int ms, timer_fn fn, void *data)
{
  if (n_timers == alloc_timers)
    {
      alloc_timers = alloc_timers ? alloc_timers * 2 : 8;
      timers = realloc (timers, alloc_timers * sizeof *timers);
      if (timers == NULL)
        abort ();
    }
  timers[n_timers] = (struct timer){ next_timer_id, monotonic_ms () + ms, fn, data };
  n_timers++;
  return next_timer_id++;
}

void
loop_timer_cancel (int id)
{
  size_t i;
  for (i = 0; i < n_timers; i++)
    if (timers[i].id == id)
      {
        memmove (&timers[i], &timers[i + 1], (n_timers - i - 1) * sizeof *timers);
        n_timers--;
        return;
      }
}

static void
run_expired_timers (void)
{
  for (;;)
    {
      long long now = monotonic_ms ();
      struct timer t;
      size_t i;

      for (i = 0; i < n_timers; i++)
        if (timers[i].deadline_ms <= now)
          break;
      if (i == n_timers)
        return;
      t = timers[i];
      memmove (&timers[i], &timers[i + 1], (n_timers - i - 1) * sizeof *timers);
      n_timers--;
      t.fn (t.data);
    }
}

void
loop_run_once (void)
{
  struct epoll_event ev;
  int timeout = -1, n;
  size_t i;

  if (n_timers)
    {
      long long now = monotonic_ms (), first = timers[0].deadline_ms;
      for (i = 1; i < n_timers; i++)
        if (timers[i].deadline_ms < first)
          first = timers[i].deadline_ms;
      timeout = first <= now ? 0 : (int) (first - now);
    }
  n = epoll_wait (epoll_fd, &ev, 1, timeout);
  if (n < 0 && errno != EINTR)
    init_log ("epoll_wait: %s", strerror (errno));
  if (n == 1)
    {
      struct loop_watch *w = ev.data.ptr;
      w->fn (w, ev.events);
    }
  run_expired_timers ();
}
