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

static const struct cli_flag ps_flags[] = {
  { "format, f", CLI_STRING, "table or json (default: table)" },
  { NULL },
};

const struct cli_command cli_ps = {
  .name = "ps",
  .usage = "list the container's processes (guest pids)",
  .args_usage = "<container-id> [ps options]",
  .flags = ps_flags,
  .min_args = 1,
  .max_args = -1,
  .no_reorder = true, /* after the id: ps(1)'s options, for runc */
};

int
cmd_ps (struct runvm_global *g, struct cli_args *a, runvm_error_t *err)
{
  const char *format = cli_string (a, "format", "table");
  cleanup_free char *dir = NULL;
  struct container_state st;
  bool json = strcmp (format, "json") == 0;
  yajl_val reply = NULL, pids;
  int ret;
  size_t k;

  /* The arguments after the id are ps(1)'s options for runc, which runs
   * the host's ps; the container's processes are in the guest, and only
   * their pids are listed. */
  if (container_load (g, a->argv[0], &st, err) < 0)
    return -1;
  if (strcmp (container_status (&st), "running") != 0 && strcmp (container_status (&st), "created") != 0)
    {
      container_state_release (&st);
      return runvm_make_error (err, 0, "container not running");
    }
  container_state_release (&st);
  if (!json && strcmp (format, "table") != 0)
    return runvm_make_error (err, 0, "invalid format option");
  dir = container_dir (g, a->argv[0]);
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
