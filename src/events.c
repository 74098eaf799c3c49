/* runvm events [--stats] [--interval 5s] ID: resource statistics from the
 * guest, in runc's event JSON ({"type":"stats","id":...,"data":{...}}). */
#include <config.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

static const struct cli_flag events_flags[] = {
  { "interval", CLI_DURATION, "how often to report the stats, as a Go duration (default: 5s)" },
  { "stats", CLI_BOOL, "report the container's stats once and exit" },
  { NULL },
};

const struct cli_command cli_events = {
  .name = "events",
  .usage = "report the container's resource statistics (--stats: once)",
  .args_usage = "<container-id>",
  .flags = events_flags,
  .min_args = 1,
  .max_args = 1,
};

int
cmd_events (struct runvm_global *g, struct cli_args *a, runvm_error_t *err)
{
  const char *id = a->argv[0];
  bool stats = cli_get (a, "stats")->on;
  double interval = cli_get (a, "interval")->set ? cli_get (a, "interval")->seconds : 5;
  struct container_state st;

  /* runc looks the container up before it checks the interval */
  if (container_load (g, id, &st, err) < 0)
    return -1;
  container_state_release (&st);
  if (interval <= 0)
    return runvm_make_error (err, 0, "duration interval must be greater than 0");
  for (;;)
    {
      bool running;
      if (container_load (g, id, &st, err) < 0)
        return -1;
      running = strcmp (container_status (&st), "stopped") != 0;
      container_state_release (&st);
      if (!running)
        return stats ? runvm_make_error (err, 0, "container not running") : 0;
      if (print_stats (g, id, err) < 0)
        return -1;
      if (stats)
        return 0;
      {
        struct timespec ts
            = { .tv_sec = (time_t) interval, .tv_nsec = (long) ((interval - (double) (time_t) interval) * 1e9) };
        while (nanosleep (&ts, &ts) < 0 && errno == EINTR)
          ;
      }
    }
}
