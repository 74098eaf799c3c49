/* Unit tests for src/cli.c: runc's command-line rules (urfave/cli v1 on
 * Go's flag package). The expected words are runc 1.1.5's, the same ones
 * tests/cli-args.test checks next to a real runc. */
#include <config.h>
#include "tap.h"
#include "cli.h"
#include "utils.h"

#include <stdlib.h>
#include <string.h>

static const struct cli_flag flags[] = {
  { "bundle, b", CLI_STRING, "the bundle" },
  { "force, f", CLI_BOOL, "force it" },
  { "preserve-fds", CLI_INT, "fds" },
  { "env, e", CLI_STRINGS, "env" },
  { "additional-gids, g", CLI_INTS, "gids" },
  { "interval", CLI_DURATION, "how often" },
  { NULL },
};

static const struct cli_command one = {
  .name = "state",
  .usage = "one id",
  .args_usage = "<container-id>",
  .flags = flags,
  .min_args = 1,
  .max_args = 1,
};
static const struct cli_command upto2 = {
  .name = "kill",
  .usage = "one or two",
  .args_usage = "<container-id> [signal]",
  .flags = flags,
  .min_args = 1,
  .max_args = 2,
};
static const struct cli_command exec_like = {
  .name = "exec",
  .usage = "a command",
  .args_usage = "<container-id> <command>",
  .flags = flags,
  .min_args = 1,
  .max_args = -1,
  .no_reorder = true,
};
static const struct cli_command bare = {
  .name = "start",
  .usage = "no flags",
  .args_usage = "<container-id>",
  .min_args = 1,
  .max_args = 1,
};

static struct cli_args a;
static char *out_text, *err_text;
static int result;

/* Parses the space-separated LINE (after the command's name) with C. */
static int
parse (const struct cli_command *c, const char *line)
{
  static char *argv[32], copy[512];
  runvm_error_t err = NULL;
  size_t out_len = 0;
  FILE *out;
  int argc = 0;
  char *tok, *save = NULL;

  cli_args_release (&a);
  free (out_text);
  free (err_text);
  err_text = NULL;
  snprintf (copy, sizeof copy, "%s", line);
  argv[argc++] = (char *) c->name;
  for (tok = strtok_r (copy, " ", &save); tok; tok = strtok_r (NULL, " ", &save))
    argv[argc++] = strcmp (tok, "''") == 0 ? (char *) "" : tok;
  argv[argc] = NULL;
  out = open_memstream (&out_text, &out_len);
  result = cli_parse (c, "runvm", argc, argv, &a, out, &err);
  fclose (out);
  if (result < 0)
    {
      err_text = strdup (err->msg);
      runvm_error_release (&err);
    }
  return result;
}

/* The positional arguments, space-separated. */
static const char *
args (void)
{
  static char buf[256];
  int i;
  buf[0] = '\0';
  for (i = 0; i < a.argc; i++)
    snprintf (buf + strlen (buf), sizeof buf - strlen (buf), "%s%s", i ? " " : "", a.argv[i]);
  return buf;
}

static void
refused (const struct cli_command *c, const char *line, const char *msg)
{
  parse (c, line);
  TAP_OK (result == -1 && err_text && strcmp (err_text, msg) == 0, "%s %s: refused with '%s' (got %d '%s')", c->name,
          line, msg, result, err_text ? err_text : "");
}

int
main (void)
{
  long long n;
  double d;
  bool b;
  size_t i;

  /* ---- Go's value parsers ---- */
  {
    static const char *const yes[] = { "1", "t", "T", "TRUE", "true", "True" };
    static const char *const no[] = { "0", "f", "F", "FALSE", "false", "False" };
    static const char *const bad[] = { "", "yes", "tRUE", "2", " true" };
    for (i = 0; i < ARRAY_SIZE (yes); i++)
      TAP_OK (cli_parse_bool (yes[i], &b) == 0 && b, "bool: '%s' is true", yes[i]);
    for (i = 0; i < ARRAY_SIZE (no); i++)
      TAP_OK (cli_parse_bool (no[i], &b) == 0 && !b, "bool: '%s' is false", no[i]);
    for (i = 0; i < ARRAY_SIZE (bad); i++)
      TAP_OK (cli_parse_bool (bad[i], &b) < 0, "bool: '%s' is refused", bad[i]);
  }
  {
    static const struct
    {
      const char *s;
      int r;
      long long v;
    } ints[] = {
      { "0", 0, 0 },
      { "42", 0, 42 },
      { "-7", 0, -7 },
      { "+7", 0, 7 },
      { "0x10", 0, 16 },
      { "0X1f", 0, 31 },
      { "010", 0, 8 },
      { "0o17", 0, 15 },
      { "0b101", 0, 5 },
      { "1_000", 0, 1000 },
      { "0x_ff", 0, 255 },
      { "9223372036854775807", 0, 9223372036854775807LL },
      { "-9223372036854775808", 0, (-9223372036854775807LL - 1) },
      { "9223372036854775808", -2, 0 },
      { "99999999999999999999", -2, 0 },
      { "", -1, 0 },
      { "3x", -1, 0 },
      { "08", -1, 0 },
      { "0x", -1, 0 },
      { " 1", -1, 0 },
      { "1_", -1, 0 },
      { "1__0", -1, 0 },
      { "_1", -1, 0 },
      { "-", -1, 0 },
      { "1.5", -1, 0 },
    };
    for (i = 0; i < ARRAY_SIZE (ints); i++)
      {
        int r = cli_parse_int (ints[i].s, &n);
        TAP_OK (r == ints[i].r && (r < 0 || n == ints[i].v), "int: '%s' -> %d %lld (got %d %lld)", ints[i].s, ints[i].r,
                ints[i].v, r, r < 0 ? 0 : n);
      }
  }
  {
    static const struct
    {
      const char *s;
      int r;
      double v;
    } durs[] = {
      { "5s", 0, 5 },
      { "0", 0, 0 },
      { "-0", 0, 0 },
      { "1m30s", 0, 90 },
      { "250ms", 0, 0.25 },
      { "1.5h", 0, 5400 },
      { ".5s", 0, 0.5 },
      { "1.s", 0, 1 },
      { "2us", 0, 2e-6 },
      { "-3s", 0, -3 },
      { "1h2m3s4ms", 0, 3723.004 },
      { "2", -1, 0 },
      { "", -1, 0 },
      { "s", -1, 0 },
      { ".s", -1, 0 },
      { "5x", -1, 0 },
      { "1e3s", -1, 0 },
      { "+", -1, 0 },
      { "5 s", -1, 0 },
    };
    for (i = 0; i < ARRAY_SIZE (durs); i++)
      {
        int r = cli_parse_duration (durs[i].s, &d);
        TAP_OK (r == durs[i].r && (r < 0 || (d - durs[i].v < 1e-9 && durs[i].v - d < 1e-9)),
                "duration: '%s' -> %d %g (got %d %g)", durs[i].s, durs[i].r, durs[i].v, r, r < 0 ? 0 : d);
      }
  }

  /* ---- spellings ---- */
  static const char *const bundles[] = { "--bundle x id", "-bundle x id", "--bundle=x id", "-b x id", "--b=x id" };
  for (i = 0; i < ARRAY_SIZE (bundles); i++)
    TAP_OK (parse (&one, bundles[i]) == 0 && strcmp (cli_get (&a, "bundle")->str, "x") == 0
                && strcmp (args (), "id") == 0,
            "'%s': bundle x, argument id", bundles[i]);
  TAP_OK (parse (&one, "--bundle -x id") == 0 && strcmp (cli_get (&a, "bundle")->str, "-x") == 0,
          "a value flag takes the next argument even when it starts with '-'");
  TAP_OK (parse (&one, "--bundle= id") == 0 && strcmp (cli_get (&a, "bundle")->str, "") == 0,
          "--bundle= sets an empty value");
  TAP_OK (parse (&one, "--bundle a --bundle b id") == 0 && strcmp (cli_get (&a, "bundle")->str, "b") == 0,
          "a repeated value flag: the last one wins");
  TAP_OK (parse (&one, "id") == 0 && cli_get (&a, "bundle")->str == NULL && !cli_get (&a, "bundle")->set
              && !cli_get (&a, "force")->on,
          "flags not given are unset");
  TAP_OK (strcmp (cli_string (&a, "bundle", "."), ".") == 0, "cli_string: the default when not given");
  {
    char name[32];
    TAP_OK (strcmp (cli_long_name (&flags[0], name, sizeof name), "bundle") == 0, "cli_long_name: bundle, b -> bundle");
  }
  TAP_OK (parse (&one, "-b x id") == 0 && strcmp (cli_string (&a, "bundle", "."), "x") == 0,
          "cli_string: the value when given");
  TAP_OK (parse (&one, "--force=false id") == 0 && !cli_get (&a, "force")->on && cli_get (&a, "force")->set,
          "--force=false: set, off");
  TAP_OK (parse (&one, "-f=T id") == 0 && cli_get (&a, "force")->on, "-f=T: on");
  TAP_OK (parse (&exec_like, "-e A=1 -e B=2 -e C=3 id") == 0, "a list flag can be repeated");
  TAP_OK (cli_get (&a, "env")->n_list == 3 && strcmp (cli_get (&a, "env")->list[1], "B=2") == 0,
          "... and keeps every value, in order");
  refused (&exec_like, "-e A=1 --env B=2 id", "Cannot use two forms of the same flag: e env");
  TAP_OK (parse (&one, "--preserve-fds 0x10 id") == 0 && cli_get (&a, "preserve-fds")->num == 16,
          "an int flag takes Go's base prefixes");
  TAP_OK (parse (&one, "--interval 1m30s id") == 0 && cli_get (&a, "interval")->seconds == 90,
          "a duration flag: 1m30s is 90 s");
  TAP_OK (parse (&exec_like, "-g 5 --additional-gids=0x10 id") != 0, "two forms of an int list flag are refused");
  TAP_OK (parse (&exec_like, "-g 5 -g 7 id") == 0 && cli_get (&a, "additional-gids")->n_list == 2
              && cli_get (&a, "additional-gids")->nums[1] == 7,
          "an int list flag keeps every value");

  /* ---- where flags may be: urfave/cli's reordering ---- */
  TAP_OK (parse (&one, "id --force") == 0 && cli_get (&a, "force")->on && strcmp (args (), "id") == 0,
          "a known flag after the id is still a flag");
  TAP_OK (parse (&one, "id --bundle x") == 0 && strcmp (cli_get (&a, "bundle")->str, "x") == 0, "... with its value");
  refused (&one, "id --bogus", "runvm: \"state\" requires exactly 1 argument(s)");
  TAP_OK (parse (&upto2, "id --force KILL") == 0 && strcmp (args (), "KILL id") == 0,
          "runc's quirk: the argument after a reordered bool flag moves with it");
  TAP_OK (parse (&one, "-- --force") == 0 && !cli_get (&a, "force")->on && strcmp (args (), "--force") == 0,
          "after --, nothing is a flag");
  TAP_OK (parse (&one, "-") == 0 && strcmp (args (), "-") == 0, "'-' is an argument");
  TAP_OK (parse (&exec_like, "--force id ls --force -e X") == 0 && strcmp (args (), "id ls --force -e X") == 0
              && cli_get (&a, "env")->n_list == 0,
          "exec: everything after the id is the command's");
  TAP_OK (cli_get (&a, "force")->on, "exec: flags before the id are runvm's");

  /* ---- refusals, in runc's words ---- */
  refused (&one, "--bogus id", "flag provided but not defined: -bogus");
  TAP_OK (strncmp (out_text, "Incorrect Usage: flag provided but not defined: -bogus\n\nNAME:\n", 62) == 0,
          "... and stdout has runc's 'Incorrect Usage:' line, then the help");
  refused (&one, "-bogus=1 id", "flag provided but not defined: -bogus");
  refused (&bare, "--force id", "flag provided but not defined: -force");
  refused (&one, "---force id", "bad flag syntax: ---force");
  refused (&one, "id ---force", "bad flag syntax: ---force"); /* moved in front: "-force" is known */
  refused (&one, "-=x id", "bad flag syntax: -=x");
  refused (&one, "--=x id", "bad flag syntax: --=x");
  refused (&one, "--bundle", "flag needs an argument: -bundle");
  refused (&one, "id -b", "runvm: \"state\" requires exactly 1 argument(s)"); /* -b took "id" */
  refused (&one, "--force=maybe id", "invalid boolean value \"maybe\" for -force: parse error");
  refused (&one, "--force= id", "invalid boolean value \"\" for -force: parse error");
  refused (&one, "--force -f id", "Cannot use two forms of the same flag: f force");
  refused (&one, "--preserve-fds 3x id", "invalid value \"3x\" for flag -preserve-fds: parse error");
  refused (&one, "--preserve-fds=99999999999999999999 id",
           "invalid value \"99999999999999999999\" for flag -preserve-fds: value out of range");
  refused (&one, "--interval 2 id", "invalid value \"2\" for flag -interval: parse error");
  refused (&exec_like, "-g x id", "invalid value \"x\" for flag -g: strconv.ParseInt: parsing \"x\": invalid syntax");
  refused (&exec_like, "-g 0x1e id",
           "invalid value \"0x1e\" for flag -g: strconv.ParseInt: parsing \"0x1e\": invalid syntax");
  TAP_OK (parse (&exec_like, "-g 010 id") == 0 && cli_get (&a, "additional-gids")->nums[0] == 10,
          "an int list flag is decimal only (runc's Int64Slice): 010 is ten");
  refused (&one, "", "runvm: \"state\" requires exactly 1 argument(s)");
  TAP_OK (strncmp (out_text, "Incorrect Usage.\n\nNAME:\n", 24) == 0,
          "... and stdout has runc's 'Incorrect Usage.' line, then the help");
  refused (&one, "a b", "runvm: \"state\" requires exactly 1 argument(s)");
  refused (&upto2, "", "runvm: \"kill\" requires a minimum of 1 argument(s)");
  refused (&upto2, "a b c", "runvm: \"kill\" requires a maximum of 2 argument(s)");
  refused (&exec_like, "--force", "runvm: \"exec\" requires a minimum of 1 argument(s)");
  TAP_OK (parse (&upto2, "a b") == 0 && parse (&exec_like, "id a b c d") == 0, "counts within the limits pass");

  /* ---- help ---- */
  TAP_OK (parse (&one, "--help") == 1 && strstr (out_text, "runvm state - one id"), "--help: 1, the help printed");
  TAP_OK (parse (&one, "-h id") == 1 && parse (&one, "-help=1") == 1, "-h and -help=1 too");
  TAP_OK (parse (&one, "--help=false id") == 0, "--help=false is no help");
  TAP_OK (parse (&one, "--bogus --help") == -1, "a bad flag wins over --help");
  parse (&one, "--help");
  TAP_OK (strstr (out_text, "USAGE:\n   runvm state [command options] <container-id>\n") != NULL,
          "the help's usage line");
  {
    /* the widest label is "--additional-gids value, -g value" (33) */
    char bundle[128], force[128];
    snprintf (bundle, sizeof bundle, "   %-33s  the bundle\n", "--bundle value, -b value");
    snprintf (force, sizeof force, "   %-33s  force it\n", "--force, -f");
    TAP_OK (strstr (out_text, bundle) != NULL && strstr (out_text, force) != NULL,
            "the help lists the flags as runc does, aligned");
  }
  parse (&bare, "--help");
  TAP_OK (strstr (out_text, "USAGE:\n   runvm start <container-id>\n") != NULL && strstr (out_text, "OPTIONS") == NULL,
          "a command without flags has no options section");

  cli_args_release (&a);
  free (out_text);
  free (err_text);
  return tap_done ();
}
