/* runvm delete [--force] ID: removes a stopped container (--force kills a
 * running one first). */
#include <config.h>

#include "commands.h"

static const struct cli_flag delete_flags[] = {
  { "force, f", CLI_BOOL, "kill the container's VM first if it still runs (SIGKILL)" },
  { NULL },
};

const struct cli_command cli_delete = {
  .name = "delete",
  .usage = "delete a container and everything it holds",
  .args_usage = "<container-id>",
  .flags = delete_flags,
  .min_args = 1,
  .max_args = 1,
};

int
cmd_delete (struct runvm_global *g, struct cli_args *a, runvm_error_t *err)
{
  return lifecycle_delete (g, a->argv[0], cli_get (a, "force")->on, err);
}
