/* Lifecycle operations shared by the commands (create, start, run,
 * delete): each command file parses its flags and calls one of these. */
#ifndef RUNVM_LIFECYCLE_H
#define RUNVM_LIFECYCLE_H

#include <sys/types.h>

#include "container.h"
#include "runvm.h"

struct create_options
{
  const char *id;
  const char *bundle;
  const char *console_socket;
  const char *pid_file;
  int preserve_fds;
  bool detach; /* run: whether the caller returns before the container ends */
};

/* Creates the container; on success *monitor_pid is the monitor. */
int lifecycle_create (struct runvm_global *g, struct create_options *o, pid_t *monitor_pid, runvm_error_t *err);
int lifecycle_start (struct runvm_global *g, const char *id, runvm_error_t *err);
int lifecycle_delete (struct runvm_global *g, const char *id, bool force, runvm_error_t *err);
/* Writes PID to PATH as runc does (atomically, no newline). */
int write_pid_file (const char *path, pid_t pid, runvm_error_t *err);
/* Sends a pty master over a --console-socket (SCM_RIGHTS). */
int console_send (const char *socket_path, int master, runvm_error_t *err);
/* Parses "KILL", "SIGKILL", "9". */
int parse_signal (const char *s, runvm_error_t *err);
/* Runs the hooks of one kind with the state on stdin. warn_only: poststop. */
int run_hooks (const char *kind, const void *hooks, size_t n, const char *state_json, bool warn_only,
               runvm_error_t *err);

#endif
