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
  { &cli_create, cmd_create, NULL },
  { &cli_start, cmd_start, NULL },
  { &cli_run, cmd_run, NULL },
  { &cli_state, cmd_state, NULL },
  { &cli_kill, cmd_kill, NULL },
  { &cli_delete, cmd_delete, NULL },
  { &cli_list, cmd_list, NULL },
  { &cli_exec, cmd_exec, NULL },
  { &cli_ps, cmd_ps, NULL },
  { &cli_pause, cmd_pause, NULL },
  { &cli_resume, cmd_resume, NULL },
  { &cli_events, cmd_events, NULL },
  { &cli_update, cmd_update, NULL },
  { &cli_spec, cmd_spec, NULL },
  { &cli_features, cmd_features, NULL },
  { &cli_checkpoint, cmd_checkpoint, NULL },
  { &cli_restore, cmd_restore, NULL },
  { &cli_check, cmd_check, NULL },
  { &cli_vm, NULL, cmd_vm },
  { NULL, NULL, NULL },
};

static void
usage (FILE *out)
{
  const struct runvm_command *c;

  fprintf (out, "usage: runvm [global options] COMMAND [options] [args]\n\n"
                "runvm runs OCI containers, each in its own KVM micro-VM.\n\ncommands:\n");
  for (c = commands; c->cli; c++)
    fprintf (out, "  %-12s %s\n", c->cli->name, c->cli->usage);
  fprintf (out, "\nglobal options:\n"
                "  --root DIR          state directory (default /run/runvm)\n"
                "  --log FILE          log file\n"
                "  --log-format FMT    text or json\n"
                "  --debug             debug output\n"
                "  --systemd-cgroup    use the systemd cgroup driver\n"
                "  --version, --help\n"
                "\n\"runvm COMMAND --help\" shows a command's options.\n");
}

/* runc's global flags (--criu and --rootless are accepted and unused). */
static const struct cli_flag global_flags[] = {
  { "debug", CLI_BOOL, NULL },      { "log", CLI_STRING, NULL },      { "log-format", CLI_STRING, NULL },
  { "root", CLI_STRING, NULL },     { "criu", CLI_STRING, NULL },     { "systemd-cgroup", CLI_BOOL, NULL },
  { "rootless", CLI_STRING, NULL }, { "version, v", CLI_BOOL, NULL }, { NULL },
};

static const struct cli_command global_cli = { .flags = global_flags, .max_args = -1, .help = usage };

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

int
main (int argc, char **argv)
{
  struct runvm_global g = { .root = "/run/runvm", .log_format = "text" };
  cleanup_error runvm_error_t err = NULL;
  struct cli_args ga, a;
  const struct runvm_command *c;
  int r;

  r = cli_parse (&global_cli, program_invocation_name, argc, argv, &ga, stdout, &err);
  if (r != 0)
    {
      if (r > 0)
        return 0;
      cleanup_free char *msg = runvm_error_string (err);
      runvm_log (&g, "error", msg);
      return 1;
    }
  if (cli_get (&ga, "version")->on)
    {
      printf ("runvm version %s\nspec: 1.0.2\n", PACKAGE_VERSION);
      return 0;
    }
  g.debug = cli_get (&ga, "debug")->on;
  g.systemd_cgroup = cli_get (&ga, "systemd-cgroup")->on;
  g.root = cli_string (&ga, "root", g.root);
  g.log = cli_string (&ga, "log", NULL);
  g.log_format = cli_string (&ga, "log-format", g.log_format);
  if (strcmp (g.log_format, "text") && strcmp (g.log_format, "json"))
    {
      char msg[512];
      snprintf (msg, sizeof msg, "invalid log-format: %s", g.log_format);
      g.log_format = "text";
      runvm_log (&g, "error", msg);
      return 1;
    }
  if (ga.argc == 0)
    {
      /* runc with no command shows its help */
      usage (stdout);
      return 0;
    }
  for (c = commands; c->cli; c++)
    if (strcmp (c->cli->name, ga.argv[0]) == 0)
      break;
  if (c->cli == NULL)
    {
      char msg[512];
      /* urfave/cli's words, newline included */
      snprintf (msg, sizeof msg, "No help topic for '%s'\n", ga.argv[0]);
      runvm_log (&g, "error", msg);
      return 3;
    }
  if (c->raw)
    r = c->raw (&g, ga.argc, ga.argv, &err);
  else if ((r = cli_parse (c->cli, program_invocation_name, ga.argc, ga.argv, &a, stdout, &err)) == 0)
    r = c->fn (&g, &a, &err);
  else if (r > 0)
    return 0; /* --help */
  else
    g.failure_status = 1; /* a refused command line is status 1, exec's too */
  if (r < 0)
    {
      cleanup_free char *msg = runvm_error_string (err);
      runvm_log (&g, "error", msg);
      return g.failure_status ? g.failure_status : 1;
    }
  return 0;
}
