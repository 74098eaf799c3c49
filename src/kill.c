/* runvm kill [--all] ID [SIGNAL]: signals the container's process in the
 * guest (default SIGTERM). Only a created or running container can be killed. */
#include <config.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "container.h"
#include "utils.h"

static const struct cli_flag kill_flags[] = {
  { "all, a", CLI_BOOL, "signal every process of the container, not only its init" },
  { NULL },
};

const struct cli_command cli_kill = {
  .name = "kill",
  .usage = "send a signal to the container's process (default: SIGTERM)",
  .args_usage = "<container-id> [signal]",
  .flags = kill_flags,
  .min_args = 1,
  .max_args = 2,
};

int
cmd_kill (struct runvm_global *g, struct cli_args *a, runvm_error_t *err)
{
  cleanup_free char *dir = NULL;
  struct container_state st;
  bool all = cli_get (a, "all")->on;
  int sig = SIGTERM, ret;
  char req[128];
  const char *status;

  /* runc looks the container up before it reads the signal */
  if (container_load (g, a->argv[0], &st, err) < 0)
    return -1;
  if (a->argc == 2 && (sig = parse_signal (a->argv[1], err)) < 0)
    {
      container_state_release (&st);
      return -1;
    }
  status = container_status (&st);
  if (strcmp (status, "created") != 0 && strcmp (status, "running") != 0 && strcmp (status, "paused") != 0)
    {
      container_state_release (&st);
      return runvm_make_error (err, 0, "container not running");
    }
  dir = container_dir (g, a->argv[0]);
  snprintf (req, sizeof req, "{\"type\":\"signal\",\"signal\":%d,\"all\":%s}", sig, all ? "true" : "false");
  ret = monitor_request (dir, req, NULL, err);
  container_state_release (&st);
  return ret;
}
