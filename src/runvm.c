/* runvm entry point: global flags, command dispatch, and runc-style error
 * reporting (the single place an error is printed): logrus text on stderr,
 * or the --log file in text or json lines, as runc writes them. */
#include <config.h>
#include <errno.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "commands.h"
#include "container.h"
#include "runvm.h"
#include "utils.h"

static const struct runvm_command commands[] = {
  { "create", cmd_create, "create a container" },
  { "start", cmd_start, "start a created container" },
  { "run", cmd_run, "create and start a container" },
  { "state", cmd_state, "output the state of a container" },
  { "kill", cmd_kill, "send a signal to the container's process" },
  { "delete", cmd_delete, "delete a container" },
  { "list", cmd_list, "list containers" },
  { "exec", cmd_exec, "run another process in a running container" },
  { "ps", cmd_ps, "list the container's processes (guest pids)" },
  { "pause", cmd_pause, "pause every vCPU of the container's VM" },
  { "resume", cmd_resume, "resume a paused container" },
  { "events", cmd_events, "resource statistics (--stats: once)" },
  { "update", cmd_update, "update resources (not supported for a running VM)" },
  { "spec", cmd_spec, "write a default config.json" },
  { "features", cmd_features, "print the supported features as JSON" },
  { "checkpoint", cmd_checkpoint, "not supported yet" },
  { "restore", cmd_restore, "not supported yet" },
  { "check", cmd_check, "check whether this host can run containers with runvm" },
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

void
runvm_log (struct runvm_global *g, const char *level, const char *msg)
{
  char when[64];
  struct timespec ts;
  struct tm tm;
  cleanup_free char *quoted = json_quote (msg);
  FILE *out = stderr;
  cleanup_file FILE *logf = NULL;

  clock_gettime (CLOCK_REALTIME, &ts);
  gmtime_r (&ts.tv_sec, &tm);
  strftime (when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
  if (g->log && (logf = fopen (g->log, "ae")))
    out = logf;
  if (out == logf && g->log_format && strcmp (g->log_format, "json") == 0)
    fprintf (out, "{\"level\":\"%s\",\"msg\":%s,\"time\":\"%s\"}\n", level, quoted, when);
  else
    fprintf (out, "time=\"%s\" level=%s msg=%s\n", when, level, quoted);
  if (out == logf && strcmp (level, "error") == 0)
    {
      /* Raw on stderr as runc does, but an error can carry text from the
       * guest (runvm-init's messages): no control sequences for the
       * terminal of whoever reads it. */
      size_t cap = strlen (msg) + 1;
      cleanup_free char *clean = malloc (cap);
      fprintf (stderr, "%s\n", clean ? text_sanitize (clean, cap, msg, true) : "(out of memory)");
    }
}

static int
take_value (int argc, char **argv, int *i, const char *name, const char **out)
{
  size_t n = strlen (name);
  if (strncmp (argv[*i], name, n) == 0 && argv[*i][n] == '=')
    {
      *out = argv[*i] + n + 1;
      return 1;
    }
  if (strcmp (argv[*i], name) == 0)
    {
      if (*i + 1 >= argc)
        return -1;
      *out = argv[++*i];
      return 1;
    }
  return 0;
}

int
main (int argc, char **argv)
{
  struct runvm_global g = { .root = "/run/runvm", .log_format = "text" };
  cleanup_error runvm_error_t err = NULL;
  const struct runvm_command *c;
  const char *ignored;
  int i, r;

  for (i = 1; i < argc && argv[i][0] == '-'; i++)
    {
      const char *a = argv[i];
      /* Go's flag package accepts -flag and --flag alike. */
      if (a[1] != '-')
        {
          char *dashed = NULL;
          if (asprintf (&dashed, "-%s", a) < 0)
            return 1;
          argv[i] = dashed; /* lives until exit */
          a = argv[i];
        }
      if (strcmp (a, "--version") == 0 || strcmp (a, "--v") == 0)
        {
          printf ("runvm version %s\nspec: 1.0.2\n", PACKAGE_VERSION);
          return 0;
        }
      if (strcmp (a, "--help") == 0 || strcmp (a, "--h") == 0)
        {
          usage (stdout);
          return 0;
        }
      if ((r = take_value (argc, argv, &i, "--root", &g.root)) || (r = take_value (argc, argv, &i, "--log", &g.log))
          || (r = take_value (argc, argv, &i, "--log-format", &g.log_format))
          || (r = take_value (argc, argv, &i, "--criu", &ignored))
          || (r = take_value (argc, argv, &i, "--rootless", &ignored)))
        {
          if (r < 0)
            {
              fprintf (stderr, "flag needs an argument: -%s\n", a + 2);
              return 1;
            }
          continue;
        }
      if (strcmp (a, "--debug") == 0)
        g.debug = 1;
      else if (strcmp (a, "--systemd-cgroup") == 0)
        g.systemd_cgroup = 1;
      else
        {
          /* Go's flag package (runc) names the flag with one dash. */
          fprintf (stderr, "Incorrect Usage.\n\n");
          usage (stderr);
          fprintf (stderr, "\nflag provided but not defined: -%s\n", a + 2);
          return 1;
        }
    }
  if (g.log_format && strcmp (g.log_format, "text") && strcmp (g.log_format, "json"))
    {
      fprintf (stderr, "invalid log-format: %s\n", g.log_format);
      return 1;
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
      char msg[512];
      snprintf (msg, sizeof msg, "No help topic for '%s'", argv[i]);
      runvm_log (&g, "error", msg);
      return 1;
    }
  if (c->fn (&g, argc - i, argv + i, &err) < 0)
    {
      cleanup_free char *msg = runvm_error_string (err);
      runvm_log (&g, "error", msg);
      return g.failure_status ? g.failure_status : 1;
    }
  return 0;
}

int
require_id (int argc, char **argv, int first, runvm_error_t *err)
{
  if (argc - first != 1)
    return runvm_make_error (err, 0, "%s: \"%s\" requires exactly 1 argument(s)", program_invocation_name, argv[0]);
  return 0;
}
