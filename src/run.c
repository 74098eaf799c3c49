/* runvm run [--detach] [--keep] [create flags] ID: create + start; in the
 * foreground it waits for the container, forwards signals, exits with the
 * container's status and deletes it (unless --keep). */
#include <config.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "commands.h"
#include "utils.h"

static volatile pid_t monitor_pid;

static void
forward (int sig)
{
  if (monitor_pid > 0)
    kill (monitor_pid, sig);
}

int
cmd_run (struct runvm_global *g, struct cli_args *a, runvm_error_t *err)
{
  struct create_options o = { 0 };
  bool detach = cli_get (a, "detach")->on, keep = cli_get (a, "keep")->on;
  struct sigaction sa;
  pid_t pid;
  int status = 0, sigs[] = { SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH };
  size_t i;

  create_options_from (a, &o);
  o.detach = detach;
  /* runc words a failure past the arguments "runc run failed: ..." */
  if (lifecycle_create (g, &o, &pid, err) < 0)
    return runvm_error_wrap (err, "runvm run failed");
  if (lifecycle_start (g, o.id, err) < 0)
    {
      runvm_error_t ignored = NULL;
      lifecycle_delete (g, o.id, true, &ignored);
      runvm_error_release (&ignored);
      return runvm_error_wrap (err, "runvm run failed");
    }
  if (detach)
    return 0;
  monitor_pid = pid;
  memset (&sa, 0, sizeof sa);
  sa.sa_handler = forward;
  sa.sa_flags = SA_RESTART;
  for (i = 0; i < ARRAY_SIZE (sigs); i++)
    sigaction (sigs[i], &sa, NULL);
  while (waitpid (pid, &status, 0) < 0 && errno == EINTR)
    ;
  if (!keep)
    {
      runvm_error_t ignored = NULL;
      lifecycle_delete (g, o.id, true, &ignored);
      runvm_error_release (&ignored);
    }
  exit (WIFEXITED (status) ? WEXITSTATUS (status) : 128 + WTERMSIG (status));
}
