/* runvm checkpoint / restore: not supported yet (a VM snapshot would be the
 * way, not CRIU). */
#include <config.h>
#include "commands.h"

int
cmd_checkpoint (struct runvm_global *g, int argc, char **argv, runvm_error_t *err)
{
  return runvm_make_error (err, 0, "checkpoint is not supported yet by runvm");
}

int
cmd_restore (struct runvm_global *g, int argc, char **argv, runvm_error_t *err)
{
  return runvm_make_error (err, 0, "restore is not supported yet by runvm");
}
