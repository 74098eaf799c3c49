/* runvm ps [--format table|json] ID: the container's processes as the
 * guest sees them (guest pids: they live in the VM, not on the host). */
#include <config.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "container.h"
#include "proto.h"
#include "utils.h"

int
cmd_ps (struct runvm_global *g, int argc, char **argv, runvm_error_t *err)
{
  cleanup_free char *dir = NULL;
  struct container_state st;
  bool json = false;
  yajl_val reply = NULL, pids;
  int i = 1, ret;
  size_t k;

  for (; i < argc && argv[i][0] == '-'; i++)
    {
      if ((strcmp (argv[i], "--format") == 0 || strcmp (argv[i], "-f") == 0) && i + 1 < argc)
        json = strcmp (argv[++i], "json") == 0;
      else if (strncmp (argv[i], "--format=", 9) == 0)
        json = strcmp (argv[i] + 9, "json") == 0;
      else
        return runvm_make_error (err, 0, "flag provided but not defined: %s", argv[i]);
    }
  if (argc - i < 1)
    return runvm_make_error (err, 0, "%s: \"ps\" requires a minimum of 1 argument(s)", program_invocation_name);
  if (container_load (g, argv[i], &st, err) < 0)
    return -1;
  if (strcmp (container_status (&st), "running") != 0 && strcmp (container_status (&st), "created") != 0)
    {
      container_state_release (&st);
      return runvm_make_error (err, 0, "container not running");
    }
  container_state_release (&st);
  dir = container_dir (g, argv[i]);
  ret = monitor_request (dir, "{\"type\":\"ps\"}", &reply, err);
  if (ret < 0)
    return -1;
  pids = proto_get (reply, "pids");
  if (json)
    printf ("[");
  else
    printf ("PID\n");
  for (k = 0; pids && YAJL_IS_ARRAY (pids) && k < pids->u.array.len; k++)
    {
      long long pid = YAJL_IS_INTEGER (pids->u.array.values[k]) ? YAJL_GET_INTEGER (pids->u.array.values[k]) : 0;
      if (json)
        printf ("%s%lld", k ? "," : "", pid);
      else
        printf ("%lld\n", pid);
    }
  if (json)
    printf ("]\n");
  yajl_tree_free (reply);
  return 0;
}
