/* runvm entry point: global flags, command dispatch, and runc-style error
 * reporting (the single place an error is printed). */
#include <config.h>

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runvm.h"
#include "utils.h"

int cmd_vm (struct runvm_global *g, int argc, char **argv, runvm_error_t *err);

static const struct runvm_command commands[] = {
  { "vm", cmd_vm, "boot a kernel in runvm's monitor (debugging, benchmarks)" },
  { NULL, NULL, NULL },
};

static void
usage (FILE *out)
{
  const struct runvm_command *c;

  fprintf (out, "usage: runvm [global options] COMMAND [options] [args]\n\n"
                "runvm runs OCI containers, each in its own KVM micro-VM.\n\ncommands:\n");
  for (c = commands; c->name; c++)
    fprintf (out, "  %-12s %s\n", c->name, c->summary);
  fprintf (out, "\nglobal options:\n"
                "  --root DIR          state directory (default /run/runvm)\n"
                "  --log FILE          log file\n"
                "  --log-format FMT    text or json\n"
                "  --debug             debug output\n"
                "  --systemd-cgroup    use the systemd cgroup driver\n"
                "  --version, --help\n");
}

int
main (int argc, char **argv)
{
  struct runvm_global g = { .root = "/run/runvm", .log_format = "text" };
  cleanup_error runvm_error_t err = NULL;
  const struct runvm_command *c;
  int i;

  for (i = 1; i < argc && argv[i][0] == '-'; i++)
    {
      if (strcmp (argv[i], "--version") == 0 || strcmp (argv[i], "-v") == 0)
        {
          printf ("runvm version %s\nspec: 1.0.2\n", PACKAGE_VERSION);
          return 0;
        }
      if (strcmp (argv[i], "--help") == 0 || strcmp (argv[i], "-h") == 0)
        {
          usage (stdout);
          return 0;
        }
    }
  if (i >= argc)
    {
      usage (stderr);
      return 1;
    }
  for (c = commands; c->name; c++)
    if (strcmp (c->name, argv[i]) == 0)
      break;
  if (c->name == NULL)
    {
      fprintf (stderr, "runvm: unknown command `%s`\n", argv[i]);
      return 1;
    }
  if (c->fn (&g, argc - i, argv + i, &err) < 0)
    {
      cleanup_free char *msg = runvm_error_string (err);
      fprintf (stderr, "runvm: %s\n", msg);
      return 1;
    }
  return 0;
}
