/* Command-line flags by runc's rules. runc parses its command line with
 * urfave/cli v1 on top of Go's flag package, and engines and users see the
 * result: which spellings are accepted (-flag, --flag, --flag=value, a
 * value in the next argument), which known flags may follow the container
 * id, and the exact words of every refusal. This module reproduces those
 * rules so that runvm accepts, refuses and words a command line as runc
 * 1.1 does (checked side by side in tests/cli-args.test). */
#ifndef RUNVM_CLI_H
#define RUNVM_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "error.h"

enum cli_kind
{
  CLI_BOOL,     /* -f, -f=true|false|1|0|t|f|... */
  CLI_STRING,   /* the last one given wins */
  CLI_STRINGS,  /* repeatable: every value, in order */
  CLI_INT,      /* Go's strconv.ParseInt, base prefixes allowed */
  CLI_INTS,     /* repeatable CLI_INT (urfave/cli's Int64Slice) */
  CLI_DURATION, /* Go's time.ParseDuration: "5s", "1m30s", "250ms" */
};

struct cli_flag
{
  const char *names; /* "bundle, b": the long name first, as runc declares them */
  enum cli_kind kind;
  const char *usage; /* one line for --help */
};

struct cli_command
{
  const char *name;             /* NULL: the global flags, before the command */
  const char *usage;            /* one line: what the command does */
  const char *args_usage;       /* "<container-id>" */
  const struct cli_flag *flags; /* ends with { NULL } */
  int min_args, max_args;       /* positional arguments; max -1: no limit */
  bool no_reorder;              /* exec, ps: nothing after the id is runvm's */
  void (*help) (FILE *out);     /* the global flags' help (names the commands) */
};

struct cli_value
{
  bool set;          /* given on the command line */
  bool on;           /* CLI_BOOL */
  const char *str;   /* CLI_STRING */
  long long num;     /* CLI_INT */
  double seconds;    /* CLI_DURATION */
  const char **list; /* CLI_STRINGS, CLI_INTS: as given */
  long long *nums;   /* CLI_INTS */
  size_t n_list;
};

#define CLI_MAX_FLAGS 32

struct cli_args
{
  const struct cli_command *cmd;
  struct cli_value v[CLI_MAX_FLAGS + 1]; /* v[i] is cmd->flags[i]'s; then the implicit help flag */
  char **argv;                           /* the positional arguments, after the flags */
  int argc;
  char **order; /* the arguments as urfave/cli reorders them (owned) */
};

/* Parses ARGV[1..ARGC-1] (ARGV[0] is the command's name) into A. Returns 0
 * to go on, 1 when --help/-h was given (the help is printed on OUT: the
 * command is done, with status 0), or -1 with *ERR set. As runc, a refusal
 * also prints "Incorrect Usage" and the command's help on OUT, and an
 * argument count error names PROG (runc's os.Args[0]). A is filled in
 * every case: cli_args_release frees what it holds. */
int cli_parse (const struct cli_command *c, const char *prog, int argc, char **argv, struct cli_args *a, FILE *out,
               runvm_error_t *err);
/* The value of the flag whose long name is NAME (aborts on a name the
 * command does not declare: a programming error). */
const struct cli_value *cli_get (const struct cli_args *a, const char *name);
/* The string flag NAME's value, or DFLT when it was not given. */
const char *cli_string (const struct cli_args *a, const char *name, const char *dflt);
/* F's long name (its first), into BUF. */
const char *cli_long_name (const struct cli_flag *f, char *buf, size_t size);
void cli_args_release (struct cli_args *a);
void cli_help (const struct cli_command *c, const char *prog, FILE *out);

/* Go's parsers, exposed for the unit test. 0 on success, -1 if malformed,
 * -2 (ints) if out of range. */
int cli_parse_bool (const char *s, bool *out);
int cli_parse_int (const char *s, long long *out);
int cli_parse_duration (const char *s, double *seconds);

#endif
