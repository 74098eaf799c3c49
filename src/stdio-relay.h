/* Adapting the container's stdio fds for the monitor's vsock device. */
#ifndef RUNVM_STDIO_RELAY_H
#define RUNVM_STDIO_RELAY_H

#include <pthread.h>
#include <stdbool.h>

#include "error.h"

struct stdio_relays
{
  pthread_t threads[8];
  unsigned n;
};

/* Returns an fd the device may own and make non-blocking. A relay thread,
 * when one is needed, is recorded in relays, or detached when NULL. */
int stdio_for_device (int fd, bool input, struct stdio_relays *relays, runvm_error_t *err);
/* Waits for the relays to finish (after the device closed its ends). */
void stdio_relays_join (struct stdio_relays *relays);

#endif
