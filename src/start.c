/* runvm start ID: releases the created container's process. */
#include <config.h>
#include "commands.h"

const struct cli_command cli_start = {
  .name = "start",
  .usage = "start a created container's process",
  .args_usage = "<container-id>",
  .min_args = 1,
  .max_args = 1,
};

int
cmd_start (struct runvm_global *g, struct cli_args *a, runvm_error_t *err)
{
  return lifecycle_start (g, a->argv[0], err);
}
