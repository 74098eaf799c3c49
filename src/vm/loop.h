/* The monitor's event loop: one epoll thread serving device backends
 * (queue kicks, sockets, timers). Callbacks run on the loop thread only. */
#ifndef RUNVM_LOOP_H
#define RUNVM_LOOP_H

#include <stdint.h>
#include <sys/epoll.h>

#include "error.h"

struct event_loop;
typedef void (*event_cb) (void *opaque, uint32_t events);

int event_loop_new (struct event_loop **out, runvm_error_t *err);
void event_loop_free (struct event_loop *l);
/* Registers fd (EPOLLIN/EPOLLOUT/...); cb runs on the loop thread. One
 * registration per fd. add/modify/remove are thread-safe and may be called
 * from callbacks, for any fd; modify and remove find the fd in O(1). */
int event_loop_add (struct event_loop *l, int fd, uint32_t events, event_cb cb, void *opaque, runvm_error_t *err);
/* Returns -1 with errno set (ENOENT: fd not registered). */
int event_loop_modify (struct event_loop *l, int fd, uint32_t events);
/* After it returns, cb is not called again for this registration, even for
 * an event epoll already returned in the current round; the fd may be
 * closed and its number reused. */
void event_loop_remove (struct event_loop *l, int fd);
/* Runs until event_loop_stop(); returns 0 (-1 if epoll fails). Before it
 * returns it runs the calls still queued. Stopping is final. */
int event_loop_run (struct event_loop *l);
/* Thread- and async-signal-safe: wakes the loop and makes event_loop_run
 * return. */
void event_loop_stop (struct event_loop *l);
/* Thread-safe: runs fn(opaque) on the loop thread soon, in call order. */
int event_loop_call (struct event_loop *l, void (*fn) (void *), void *opaque);
/* Thread-safe: runs fn(opaque) on the loop thread and returns once it has
 * run, so fn never races a callback. Called from the loop thread (from a
 * callback), or while no thread runs the loop (not started yet, or
 * stopped), it runs fn right away in the caller; a loop starting meanwhile
 * waits for fn before dispatching. fn must not wait for the calling
 * thread. Returns 0. */
int event_loop_call_wait (struct event_loop *l, void (*fn) (void *), void *opaque);

#endif
