/* The runvm CLI: global options and the command table. One command per
 * file (src/<command>.c), each a thin layer over the lifecycle library. */
#ifndef RUNVM_H
#define RUNVM_H

#include "cli.h"
#include "error.h"

struct runvm_global
{
  const char *root;       /* --root, default /run/runvm */
  const char *log;        /* --log */
  const char *log_format; /* text|json */
  int debug;
  int systemd_cgroup;
  int failure_status; /* exit status when the command fails; 0: 1 */
};

/* A command gets its flags and arguments parsed by runc's rules (cli.h). */
typedef int (*runvm_command_fn) (struct runvm_global *g, struct cli_args *a, runvm_error_t *err);
/* ...or, for runvm's own debugging commands, parses ARGV (ARGV[0]: its name) itself. */
typedef int (*runvm_raw_command_fn) (struct runvm_global *g, int argc, char **argv, runvm_error_t *err);

struct runvm_command
{
  const struct cli_command *cli;
  runvm_command_fn fn;
  runvm_raw_command_fn raw;
};

#endif
