/* runvm pause ID / runvm resume ID: stop and restart every vCPU. */
#include <config.h>
#include <string.h>

#include "commands.h"
#include "container.h"
#include "utils.h"

static int
pause_or_resume (struct runvm_global *g, int argc, char **argv, bool pause, runvm_error_t *err)
{
  cleanup_free char *dir = NULL;
  struct container_state st;
  const char *status;
  int ret;

  if (require_id (argc, argv, 1, err) < 0)
    return -1;
  if (container_load (g, argv[1], &st, err) < 0)
    return -1;
  status = container_status (&st);
  if (pause && strcmp (status, "running") != 0 && strcmp (status, "created") != 0)
    ret = runvm_make_error (err, 0, "container not running");
  else if (!pause && strcmp (status, "paused") != 0)
    ret = runvm_make_error (err, 0, "container not paused");
  else
    {
      dir = container_dir (g, argv[1]);
      ret = monitor_request (dir, pause ? "{\"type\":\"pause\"}" : "{\"type\":\"resume\"}", NULL, err);
    }
  container_state_release (&st);
  return ret;
}

int
cmd_pause (struct runvm_global *g, int argc, char **argv, runvm_error_t *err)
{
  return pause_or_resume (g, argc, argv, true, err);
}

int
cmd_resume (struct runvm_global *g, int argc, char **argv, runvm_error_t *err)
{
  return pause_or_resume (g, argc, argv, false, err);
}
