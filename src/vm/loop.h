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
/* Registers fd (EPOLLIN/EPOLLOUT/...); cb runs on the loop thread. */
int event_loop_add (struct event_loop *l, int fd, uint32_t events, event_cb cb, void *opaque, runvm_error_t *err);
int event_loop_modify (struct event_loop *l, int fd, uint32_t events);
void event_loop_remove (struct event_loop *l, int fd);
/* Runs until event_loop_stop(); returns 0. */
int event_loop_run (struct event_loop *l);
/* Thread-safe: wakes the loop and makes event_loop_run return. */
void event_loop_stop (struct event_loop *l);
/* Thread-safe: runs fn(opaque) on the loop thread soon. */
int event_loop_call (struct event_loop *l, void (*fn) (void *), void *opaque);

#endif
