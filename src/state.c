/* runvm state ID: the OCI state JSON. */
#include <config.h>
#include <stdio.h>
#include <stdlib.h>

#include "commands.h"
#include "container.h"

int
cmd_state (struct runvm_global *g, int argc, char **argv, runvm_error_t *err)
{
  struct container_state st;
  char *json;

  if (require_id (argc, argv, 1, err) < 0)
    return -1;
  if (container_load (g, argv[1], &st, err) < 0)
    return -1;
  json = container_state_json (&st, true);
  printf ("%s\n", json);
  free (json);
  container_state_release (&st);
  return 0;
}
