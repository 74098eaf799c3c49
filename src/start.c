/* runvm start ID: releases the created container's process. */
#include <config.h>
#include "commands.h"

int
cmd_start (struct runvm_global *g, int argc, char **argv, runvm_error_t *err)
{
  if (require_id (argc, argv, 1, err) < 0)
    return -1;
  return lifecycle_start (g, argv[1], err);
}
