/* runvm events [--stats] [--interval 5s] ID: resource statistics from the
 * guest, in runc's event JSON ({"type":"stats","id":...,"data":{...}}). */
#include <config.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "container.h"
#include "proto.h"
#include "utils.h"

static long long
get_nested (yajl_val tree, const char *a, const char *b)
{
  long long v = 0;
  proto_get_int (proto_get (tree, a), b, &v);
  return v;
}

static int
print_stats (struct runvm_global *g, const char *id, runvm_error_t *err)
{
  cleanup_free char *dir = container_dir (g, id);
  yajl_val reply = NULL;
  long long pids = 0;

  if (monitor_request (dir, "{\"type\":\"stats\"}", &reply, err) < 0)
    return -1;
  proto_get_int (reply, "pids", &pids);
  printf ("{\"type\":\"stats\",\"id\":\"%s\",\"data\":{\"cpu\":{\"usage\":{\"total\":%lld}},"
          "\"memory\":{\"usage\":{\"usage\":%lld,\"limit\":%lld}},\"pids\":{\"current\":%lld}}}\n",
          id, get_nested (reply, "cpu", "usage_ns"), get_nested (reply, "memory", "usage"),
          get_nested (reply, "memory", "limit"), pids);
  fflush (stdout);
  yajl_tree_free (reply);
  return 0;
}

int
cmd_events (struct runvm_global *g, int argc, char **argv, runvm_error_t *err)
{
  bool stats = false;
  double interval = 5;
  int i = 1;

  for (; i < argc && argv[i][0] == '-'; i++)
    {
      if (strcmp (argv[i], "--stats") == 0)
        stats = true;
      else if (strcmp (argv[i], "--interval") == 0 && i + 1 < argc)
        interval = strtod (argv[++i], NULL);
      else if (strncmp (argv[i], "--interval=", 11) == 0)
        interval = strtod (argv[i] + 11, NULL);
      else
        return runvm_make_error (err, 0, "flag provided but not defined: %s", argv[i]);
    }
  if (require_id (argc, argv, i, err) < 0)
    return -1;
  if (interval <= 0)
    return runvm_make_error (err, 0, "duration interval must be greater than 0");
  for (;;)
    {
      struct container_state st;
      bool running;
      if (container_load (g, argv[i], &st, err) < 0)
        return -1;
      running = strcmp (container_status (&st), "stopped") != 0;
      container_state_release (&st);
      if (!running)
        return stats ? runvm_make_error (err, 0, "container not running") : 0;
      if (print_stats (g, argv[i], err) < 0)
        return -1;
      if (stats)
        return 0;
      usleep ((useconds_t) (interval * 1e6));
    }
}
