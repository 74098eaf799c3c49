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

int
cmd_kill (struct runvm_global *g, int argc, char **argv, runvm_error_t *err)
{
  cleanup_free char *dir = NULL;
  struct container_state st;
  bool all = false;
  int i = 1, sig = SIGTERM, ret;
  char req[128];
  const char *status;

  for (; i < argc && argv[i][0] == '-' && argv[i][1]; i++)
    {
      if (strcmp (argv[i], "--all") == 0 || strcmp (argv[i], "-a") == 0)
        all = true;
      else
        return runvm_make_error (err, 0, "flag provided but not defined: %s", argv[i]);
    }
  if (argc - i < 1)
    return runvm_make_error (err, 0, "%s: \"kill\" requires a minimum of 1 argument(s)", program_invocation_name);
  if (argc - i > 2)
    return runvm_make_error (err, 0, "%s: \"kill\" requires a maximum of 2 argument(s)", program_invocation_name);
  if (argc - i == 2 && (sig = parse_signal (argv[i + 1], err)) < 0)
    return -1;
  if (container_load (g, argv[i], &st, err) < 0)
    return -1;
  status = container_status (&st);
  if (strcmp (status, "created") != 0 && strcmp (status, "running") != 0 && strcmp (status, "paused") != 0)
    {
      container_state_release (&st);
      return runvm_make_error (err, 0, "container not running");
    }
  dir = container_dir (g, argv[i]);
  snprintf (req, sizeof req, "{\"type\":\"signal\",\"signal\":%d,\"all\":%s}", sig, all ? "true" : "false");
  ret = monitor_request (dir, req, NULL, err);
  container_state_release (&st);
  return ret;
}
