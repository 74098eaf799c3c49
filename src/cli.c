/* Command-line flags by runc's rules (see cli.h). The steps follow runc's
 * own: urfave/cli v1 moves the command's known flags in front of the other
 * arguments (not for exec and ps), Go's flag package parses them, urfave/cli
 * refuses the long and short form of one flag together, then answers
 * --help, and runc's checkArgs counts the rest. */
#include <config.h>
#include <ctype.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "utils.h"

static void *
xcalloc (size_t n, size_t size)
{
  void *p = calloc (n, size);
  if (p == NULL)
    abort ();
  return p;
}

static const struct cli_flag help_flag = { "help, h", CLI_BOOL, "show help" };

/* Flag I of C; the implicit help flag comes after the declared ones. */
static const struct cli_flag *
flag_at (const struct cli_command *c, size_t i)
{
  size_t n = 0;
  while (c->flags && c->flags[n].names)
    n++;
  return i < n ? &c->flags[i] : i == n ? &help_flag : NULL;
}

/* Does NAME (no dashes, no "=value") name flag F? Sets *FORM to which of
 * its names it is (0: the first). */
static bool
flag_has_name (const struct cli_flag *f, const char *name, size_t len, unsigned *form)
{
  const char *p = f->names;
  unsigned k = 0;

  for (;; k++)
    {
      size_t n;
      while (*p == ' ')
        p++;
      n = strcspn (p, ",");
      while (n > 0 && p[n - 1] == ' ')
        n--;
      if (n == len && strncmp (p, name, len) == 0)
        {
          *form = k;
          return true;
        }
      p = strchr (p, ',');
      if (p == NULL)
        return false;
      p++;
    }
}

static const struct cli_flag *
find_flag (const struct cli_command *c, const char *name, size_t len, size_t *index, unsigned *form)
{
  const struct cli_flag *f;
  size_t i;
  for (i = 0; (f = flag_at (c, i)); i++)
    if (flag_has_name (f, name, len, form))
      {
        *index = i;
        return f;
      }
  return NULL;
}

/* Name number FORM of F (0: the first), into BUF. */
static const char *
flag_name (const struct cli_flag *f, unsigned form, char *buf, size_t size)
{
  const char *p = f->names;
  size_t n;
  while (form-- > 0 && (p = strchr (p, ',')))
    p++;
  if (p == NULL)
    p = f->names;
  while (*p == ' ')
    p++;
  n = strcspn (p, ", ");
  snprintf (buf, size, "%.*s", (int) n, p);
  return buf;
}

/* urfave/cli's argIsFlag: "-x", "--x", "---x" or any of them with "=v",
 * where x is a declared flag of C ("-" and "--" never are). Go's parser
 * refuses "---x" later, wherever it was. */
static bool
arg_is_flag (const struct cli_command *c, const char *arg)
{
  size_t index;
  unsigned form;
  if (arg[0] != '-' || strcmp (arg, "-") == 0 || strcmp (arg, "--") == 0)
    return false;
  if (arg[1] == '-')
    arg += 2;
  if (arg[0] == '-')
    arg++;
  return find_flag (c, arg, strcspn (arg, "="), &index, &form) != NULL;
}

/* urfave/cli v1's reorderArgs: the command's own flags, each with the
 * argument after it when that is not a flag and the flag has no "=", go
 * in front; everything else keeps its order, and a "--" with everything
 * after it stays at the end. Unknown flags after the id stay arguments. */
static char **
reorder (const struct cli_command *c, int argc, char **argv)
{
  char **flags = xcalloc ((size_t) argc + 2, sizeof *flags), **rest = xcalloc ((size_t) argc + 2, sizeof *rest);
  int nf = 0, nr = 0, i;
  bool value_next = false;

  for (i = 0; i < argc; i++)
    {
      if (value_next && !arg_is_flag (c, argv[i]))
        {
          value_next = false;
          flags[nf++] = argv[i];
        }
      else if (strcmp (argv[i], "--") == 0)
        {
          memmove (rest + 1, rest, (size_t) nr * sizeof *rest);
          rest[0] = argv[i];
          nr++;
          for (i++; i < argc; i++)
            rest[nr++] = argv[i];
          break;
        }
      else if (arg_is_flag (c, argv[i]))
        {
          flags[nf++] = argv[i];
          value_next = strchr (argv[i], '=') == NULL;
        }
      else
        rest[nr++] = argv[i];
    }
  memcpy (flags + nf, rest, (size_t) nr * sizeof *rest);
  free (rest);
  return flags;
}

int
cli_parse_bool (const char *s, bool *out)
{
  static const char *const yes[] = { "1", "t", "T", "TRUE", "true", "True" };
  static const char *const no[] = { "0", "f", "F", "FALSE", "false", "False" };
  size_t i;
  for (i = 0; i < ARRAY_SIZE (yes); i++)
    if (strcmp (s, yes[i]) == 0 || strcmp (s, no[i]) == 0)
      {
        *out = strcmp (s, yes[i]) == 0;
        return 0;
      }
  return -1;
}

int
cli_parse_int (const char *s, long long *out)
{
  bool neg = *s == '-', digit_before = false, overflow = false;
  const char *p = s + (*s == '+' || *s == '-');
  unsigned long long v = 0;
  unsigned base = 10, d;

  /* strconv.ParseInt(s, 0, 64): a sign, then 0b/0o/0x, or a leading 0 for
   * octal; an underscore only between digits or right after a prefix. */
  if (p[0] == '0' && p[1] && p[2] && strchr ("bBoOxX", p[1]))
    {
      base = tolower ((unsigned char) p[1]) == 'b' ? 2 : tolower ((unsigned char) p[1]) == 'o' ? 8 : 16;
      p += 2;
      digit_before = true;
    }
  else if (p[0] == '0' && p[1])
    {
      base = 8;
      p++;
      digit_before = true;
    }
  if (*p == '\0')
    return -1;
  for (; *p; p++)
    {
      if (*p == '_')
        {
          if (!digit_before || p[1] == '\0' || p[1] == '_')
            return -1;
          digit_before = false;
          continue;
        }
      d = isdigit ((unsigned char) *p)   ? (unsigned) (*p - '0')
          : isalpha ((unsigned char) *p) ? (unsigned) (tolower ((unsigned char) *p) - 'a' + 10)
                                         : 99;
      if (d >= base)
        return -1;
      if (v > (ULLONG_MAX - d) / base)
        overflow = true;
      else
        v = v * base + d;
      digit_before = true;
    }
  if (overflow || v > (unsigned long long) LLONG_MAX + neg)
    return -2;
  *out = neg ? (long long) (0 - v) : (long long) v;
  return 0;
}

/* strconv.ParseInt(s, 10, 64), which urfave/cli's Int64Slice uses: a
 * sign and decimal digits only ("0x1e" is refused there). */
static int
parse_decimal (const char *s, long long *out)
{
  const char *p = s + (*s == '+' || *s == '-');
  char *end;

  if (*p == '\0' || strspn (p, "0123456789") != strlen (p))
    return -1;
  errno = 0;
  *out = strtoll (s, &end, 10);
  return errno == ERANGE ? -2 : 0;
}

int
cli_parse_duration (const char *s, double *seconds)
{
  static const struct
  {
    const char *unit;
    double seconds;
  } units[] = { { "ns", 1e-9 }, { "us", 1e-6 }, { "\xc2\xb5s", 1e-6 }, { "\xce\xbcs", 1e-6 },
                { "ms", 1e-3 }, { "s", 1 },     { "m", 60 },           { "h", 3600 } };
  double total = 0;
  bool neg = false;

  /* time.ParseDuration: [-+]? then number+unit pairs ("1h2m0.5s"); a
   * bare "0" is the only number without a unit. */
  if (*s == '-' || *s == '+')
    neg = *s++ == '-';
  if (strcmp (s, "0") == 0)
    {
      *seconds = 0;
      return 0;
    }
  if (*s == '\0')
    return -1;
  while (*s)
    {
      const char *p = s;
      double v;
      size_t i, len;
      char *end;

      while (isdigit ((unsigned char) *p))
        p++;
      if (*p == '.')
        p++;
      while (isdigit ((unsigned char) *p))
        p++;
      if (p == s || (p == s + 1 && *s == '.'))
        return -1;
      v = strtod (s, &end);
      if (end != p)
        return -1;
      len = strcspn (p, "0123456789.");
      for (i = 0; i < ARRAY_SIZE (units); i++)
        if (strlen (units[i].unit) == len && strncmp (p, units[i].unit, len) == 0)
          break;
      if (i == ARRAY_SIZE (units))
        return -1;
      total += v * units[i].seconds;
      s = p + len;
    }
  *seconds = neg ? -total : total;
  return 0;
}

/* Go's flag.FlagSet.failf, and urfave/cli's "Incorrect Usage" with the
 * help on stdout (the global flags word it with a period). */
static int
usage_error (const struct cli_command *c, const char *prog, FILE *out, runvm_error_t *err, const char *fmt, ...)
{
  va_list ap;
  char *msg = NULL;

  va_start (ap, fmt);
  if (vasprintf (&msg, fmt, ap) < 0)
    abort ();
  va_end (ap);
  fprintf (out, "Incorrect Usage%s %s\n\n", c->name ? ":" : ".", msg);
  cli_help (c, prog, out);
  runvm_make_error (err, 0, "%s", msg);
  free (msg);
  return -1;
}

static int
set_value (const struct cli_command *c, const char *prog, FILE *out, const struct cli_flag *f, struct cli_value *v,
           const char *name, size_t name_len, const char *value, runvm_error_t *err)
{
  int r;

  switch (f->kind)
    {
    case CLI_BOOL:
      if (cli_parse_bool (value, &v->on) < 0)
        return usage_error (c, prog, out, err, "invalid boolean value \"%s\" for -%.*s: parse error", value,
                            (int) name_len, name);
      break;
    case CLI_STRING:
      v->str = value;
      break;
    case CLI_STRINGS:
    case CLI_INTS:
      if (f->kind == CLI_INTS && (r = parse_decimal (value, &v->num)) < 0)
        /* urfave/cli's own flag type: Go prints strconv's error whole */
        return usage_error (c, prog, out, err,
                            "invalid value \"%s\" for flag -%.*s: strconv.ParseInt: parsing \"%s\": %s", value,
                            (int) name_len, name, value, r == -2 ? "value out of range" : "invalid syntax");
      v->list = realloc (v->list, (v->n_list + 1) * sizeof *v->list);
      v->nums = realloc (v->nums, (v->n_list + 1) * sizeof *v->nums);
      if (v->list == NULL || v->nums == NULL)
        abort ();
      v->nums[v->n_list] = v->num;
      v->list[v->n_list++] = value;
      break;
    case CLI_INT:
      if ((r = cli_parse_int (value, &v->num)) < 0)
        return usage_error (c, prog, out, err, "invalid value \"%s\" for flag -%.*s: %s", value, (int) name_len, name,
                            r == -2 ? "value out of range" : "parse error");
      break;
    case CLI_DURATION:
      if (cli_parse_duration (value, &v->seconds) < 0)
        return usage_error (c, prog, out, err, "invalid value \"%s\" for flag -%.*s: parse error", value,
                            (int) name_len, name);
      break;
    }
  v->set = true;
  return 0;
}

static int
check_count (const struct cli_command *c, const char *prog, int n, FILE *out, runvm_error_t *err)
{
  const char *how = NULL;
  int want = 0;

  if (c->min_args == c->max_args && n != c->min_args)
    how = "exactly", want = c->min_args;
  else if (n < c->min_args)
    how = "a minimum of", want = c->min_args;
  else if (c->max_args >= 0 && n > c->max_args)
    how = "a maximum of", want = c->max_args;
  if (how == NULL)
    return 0;
  fprintf (out, "Incorrect Usage.\n\n");
  cli_help (c, prog, out);
  return runvm_make_error (err, 0, "%s: \"%s\" requires %s %d argument(s)", prog, c->name, how, want);
}

int
cli_parse (const struct cli_command *c, const char *prog, int argc, char **argv, struct cli_args *a, FILE *out,
           runvm_error_t *err)
{
  unsigned forms[CLI_MAX_FLAGS + 1] = { 0 };
  const struct cli_flag *f;
  char **args;
  size_t n_flags = 0, i;
  int k, n;

  memset (a, 0, sizeof *a);
  a->cmd = c;
  while (flag_at (c, n_flags))
    n_flags++;
  if (n_flags > CLI_MAX_FLAGS + 1)
    abort ();
  argc--, argv++;
  a->order = args = c->name && !c->no_reorder ? reorder (c, argc, argv) : NULL;
  if (args == NULL)
    {
      a->order = args = xcalloc ((size_t) argc + 1, sizeof *args);
      memcpy (args, argv, (size_t) argc * sizeof *args);
    }

  /* Go's flag.FlagSet.Parse: flags up to the first argument that is not
   * one ("-" is not), or up to and without "--". */
  for (k = 0; k < argc; k++)
    {
      const char *s = args[k], *name, *eq;
      size_t len, index;
      unsigned form;

      if (s[0] != '-' || s[1] == '\0')
        break;
      if (strcmp (s, "--") == 0)
        {
          k++;
          break;
        }
      name = s + (s[1] == '-' ? 2 : 1);
      if (*name == '\0' || *name == '-' || *name == '=')
        return usage_error (c, prog, out, err, "bad flag syntax: %s", s);
      eq = strchr (name + 1, '=');
      len = eq ? (size_t) (eq - name) : strlen (name);
      f = find_flag (c, name, len, &index, &form);
      if (f == NULL)
        return usage_error (c, prog, out, err, "flag provided but not defined: -%.*s", (int) len, name);
      forms[index] |= 1u << form;
      if (f->kind == CLI_BOOL && eq == NULL)
        {
          a->v[index].on = a->v[index].set = true;
          continue;
        }
      if (eq == NULL && k + 1 >= argc)
        return usage_error (c, prog, out, err, "flag needs an argument: -%.*s", (int) len, name);
      if (set_value (c, prog, out, f, &a->v[index], name, len, eq ? eq + 1 : args[++k], err) < 0)
        return -1;
    }
  a->argv = args + k;
  a->argc = argc - k;

  /* urfave/cli's normalizeFlags: one flag, two of its names. */
  for (i = 0; i < n_flags; i++)
    if (forms[i] & (forms[i] - 1))
      {
        char first[64], second[64];
        unsigned lo = (unsigned) __builtin_ctz (forms[i]), hi = (unsigned) __builtin_ctz (forms[i] & (forms[i] - 1));
        f = flag_at (c, i);
        return usage_error (c, prog, out, err, "Cannot use two forms of the same flag: %s %s",
                            flag_name (f, hi, second, sizeof second), flag_name (f, lo, first, sizeof first));
      }
  if (a->v[n_flags - 1].on)
    {
      if (c->help)
        c->help (out);
      else
        cli_help (c, prog, out);
      return 1;
    }
  if (c->name == NULL)
    return 0;
  n = a->argc;
  return check_count (c, prog, n, out, err);
}

const struct cli_value *
cli_get (const struct cli_args *a, const char *name)
{
  size_t index;
  unsigned form;
  if (find_flag (a->cmd, name, strlen (name), &index, &form) == NULL || form != 0)
    abort ();
  return &a->v[index];
}

const char *
cli_string (const struct cli_args *a, const char *name, const char *dflt)
{
  const struct cli_value *v = cli_get (a, name);
  return v->str ? v->str : dflt;
}

const char *
cli_long_name (const struct cli_flag *f, char *buf, size_t size)
{
  return flag_name (f, 0, buf, size);
}

void
cli_args_release (struct cli_args *a)
{
  size_t i;
  for (i = 0; i < ARRAY_SIZE (a->v); i++)
    {
      free (a->v[i].list);
      free (a->v[i].nums);
    }
  free (a->order);
  memset (a, 0, sizeof *a);
}

/* "--bundle value, -b value" / "--force, -f", as urfave/cli lists flags. */
static void
flag_label (const struct cli_flag *f, char *buf, size_t size)
{
  const char *p = f->names;
  size_t used = 0;
  buf[0] = '\0';
  for (;;)
    {
      size_t n;
      while (*p == ' ')
        p++;
      n = strcspn (p, ", ");
      used += (size_t) snprintf (buf + used, size > used ? size - used : 0, "%s%s%.*s%s", used ? ", " : "",
                                 n == 1 ? "-" : "--", (int) n, p, f->kind == CLI_BOOL ? "" : " value");
      p = strchr (p, ',');
      if (p == NULL || used >= size)
        return;
      p++;
    }
}

void
cli_help (const struct cli_command *c, const char *prog, FILE *out)
{
  cleanup_free char *copy = strdup (prog);
  const char *base = copy ? basename (copy) : prog;
  char label[128];
  size_t i, width = 0;

  if (c->help)
    {
      c->help (out);
      return;
    }
  for (i = 0; c->flags && c->flags[i].names; i++)
    {
      flag_label (&c->flags[i], label, sizeof label);
      if (strlen (label) > width)
        width = strlen (label);
    }
  fprintf (out, "NAME:\n   %s %s - %s\n\nUSAGE:\n   %s %s%s%s%s\n", base, c->name, c->usage, base, c->name,
           i ? " [command options]" : "", c->args_usage ? " " : "", c->args_usage ? c->args_usage : "");
  if (i == 0)
    return;
  fprintf (out, "\nOPTIONS:\n");
  for (i = 0; c->flags[i].names; i++)
    {
      flag_label (&c->flags[i], label, sizeof label);
      fprintf (out, "   %-*s  %s\n", (int) width, label, c->flags[i].usage);
    }
}
