/* runvm update ID [flags]: a running VM's vCPUs and RAM are fixed at boot
 * (no hotplug yet), so resource changes are refused with a clear error
 * rather than silently ignored. */
#include <config.h>

#include "commands.h"
#include "container.h"

static const struct cli_flag update_flags[] = {
  { "resources, r", CLI_STRING, "a JSON file of the resources to change, or - for stdin" },
  { "blkio-weight", CLI_INT, "block IO weight, 10 to 1000" },
  { "cpu-period", CLI_STRING, "CPU CFS period in microseconds" },
  { "cpu-quota", CLI_STRING, "CPU CFS quota in microseconds per period" },
  { "cpu-share", CLI_STRING, "CPU shares (relative weight)" },
  { "cpu-rt-period", CLI_STRING, "CPU realtime period in microseconds" },
  { "cpu-rt-runtime", CLI_STRING, "CPU realtime runtime in microseconds per period" },
  { "cpuset-cpus", CLI_STRING, "the CPUs to run on" },
  { "cpuset-mems", CLI_STRING, "the memory nodes to use" },
  { "memory", CLI_STRING, "memory limit in bytes" },
  { "memory-reservation", CLI_STRING, "memory soft limit in bytes" },
  { "memory-swap", CLI_STRING, "memory plus swap limit in bytes (-1: unlimited)" },
  { "pids-limit", CLI_INT, "the most processes the container may have" },
  { "l3-cache-schema", CLI_STRING, "Intel RDT L3 cache schema" },
  { "mem-bw-schema", CLI_STRING, "Intel RDT memory bandwidth schema" },
  { NULL },
};

const struct cli_command cli_update = {
  .name = "update",
  .usage = "update a container's resources (refused: a running VM's size is fixed)",
  .args_usage = "<container-id>",
  .flags = update_flags,
  .min_args = 1,
  .max_args = 1,
};

int
cmd_update (struct runvm_global *g, struct cli_args *a, runvm_error_t *err)
{
  struct container_state st;
  char name[64];
  size_t i;

  if (container_load (g, a->argv[0], &st, err) < 0)
    return -1;
  container_state_release (&st);
  for (i = 0; update_flags[i].names; i++)
    if (a->v[i].set)
      return runvm_make_error (err, 0,
                               "runvm cannot change --%s of a running container: the VM's vCPUs and memory are "
                               "fixed when it boots",
                               cli_long_name (&update_flags[i], name, sizeof name));
  return 0;
}
