/* runvm state ID: the OCI state JSON. */
#include <config.h>
#include <stdio.h>
#include <stdlib.h>

#include "commands.h"
#include "container.h"

const struct cli_command cli_state = {
  .name = "state",
  .usage = "output the state of a container",
  .args_usage = "<container-id>",
  .min_args = 1,
  .max_args = 1,
};

int
cmd_state (struct runvm_global *g, struct cli_args *a, runvm_error_t *err)
{
  struct container_state st;
  char *json;

  if (container_load (g, a->argv[0], &st, err) < 0)
    return -1;
  json = container_state_json (&st, true);
  printf ("%s\n", json);
  free (json);
  container_state_release (&st);
  return 0;
}
