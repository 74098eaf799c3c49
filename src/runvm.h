/* The runvm CLI: global options and the command table. One command per
 * file (src/<command>.c), each a thin layer over the lifecycle library. */
#ifndef RUNVM_H
#define RUNVM_H

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

typedef int (*runvm_command_fn) (struct runvm_global *g, int argc, char **argv, runvm_error_t *err);

struct runvm_command
{
  const char *name;
  runvm_command_fn fn;
  const char *summary;
};

#endif
