/* runvm pause ID / runvm resume ID: stop and restart every vCPU. */
#include <config.h>
#include <string.h>

#include "commands.h"
#include "container.h"
#include "utils.h"

static int
pause_or_resume (struct runvm_global *g, const char *id, bool pause, runvm_error_t *err)
{
  cleanup_free char *dir = NULL;
  struct container_state st;
  const char *status;
  int ret;

  if (container_load (g, id, &st, err) < 0)
    return -1;
  status = container_status (&st);
  if (pause && strcmp (status, "running") != 0 && strcmp (status, "created") != 0)
    ret = runvm_make_error (err, 0, "container not running");
  else if (!pause && strcmp (status, "paused") != 0)
    ret = runvm_make_error (err, 0, "container not paused");
  else
    {
      dir = container_dir (g, id);
      ret = monitor_request (dir, pause ? "{\"type\":\"pause\"}" : "{\"type\":\"resume\"}", NULL, err);
    }
  container_state_release (&st);
  return ret;
}

const struct cli_command cli_pause = {
  .name = "pause",
  .usage = "pause every vCPU of the container's VM",
  .args_usage = "<container-id>",
  .min_args = 1,
  .max_args = 1,
};

const struct cli_command cli_resume = {
  .name = "resume",
  .usage = "resume a paused container",
  .args_usage = "<container-id>",
  .min_args = 1,
  .max_args = 1,
};

int
cmd_pause (struct runvm_global *g, struct cli_args *a, runvm_error_t *err)
{
  return pause_or_resume (g, a->argv[0], true, err);
}

int
cmd_resume (struct runvm_global *g, struct cli_args *a, runvm_error_t *err)
{
  return pause_or_resume (g, a->argv[0], false, err);
}
