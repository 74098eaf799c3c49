/* The OCI seccomp profile, compiled with libseccomp the way runc does:
 * unknown syscall names are skipped, rules whose action equals the default
 * are dropped, and conditions on distinct arguments are ANDed while
 * several conditions on one argument become separate (ORed) rules. */
#include <config.h>
#include "init.h"
#include "utils.h"

#include <ctype.h>
#include <seccomp.h>
#include <string.h>

static int
parse_action (const char *name, bool has_errno, unsigned errno_ret, uint32_t *out, runvm_error_t *err)
{
  unsigned e = has_errno ? errno_ret : EPERM;

  if (strcmp (name, "SCMP_ACT_ALLOW") == 0)
    *out = SCMP_ACT_ALLOW;
  else if (strcmp (name, "SCMP_ACT_ERRNO") == 0)
    *out = SCMP_ACT_ERRNO (e);
  else if (strcmp (name, "SCMP_ACT_KILL") == 0 || strcmp (name, "SCMP_ACT_KILL_THREAD") == 0)
    *out = SCMP_ACT_KILL_THREAD;
  else if (strcmp (name, "SCMP_ACT_KILL_PROCESS") == 0)
    *out = SCMP_ACT_KILL_PROCESS;
  else if (strcmp (name, "SCMP_ACT_TRAP") == 0)
    *out = SCMP_ACT_TRAP;
  else if (strcmp (name, "SCMP_ACT_TRACE") == 0)
    *out = SCMP_ACT_TRACE (e);
  else if (strcmp (name, "SCMP_ACT_LOG") == 0)
    *out = SCMP_ACT_LOG;
  else if (strcmp (name, "SCMP_ACT_NOTIFY") == 0)
    return runvm_make_error (err, 0, "seccomp: SCMP_ACT_NOTIFY is not supported by runvm");
  else
    return runvm_make_error (err, 0, "seccomp: unknown action %s", name);
  return 0;
}

static int
parse_op (const char *name, enum scmp_compare *out, runvm_error_t *err)
{
  static const struct
  {
    const char *name;
    enum scmp_compare op;
  } ops[] = {
    { "SCMP_CMP_NE", SCMP_CMP_NE }, { "SCMP_CMP_LT", SCMP_CMP_LT }, { "SCMP_CMP_LE", SCMP_CMP_LE },
    { "SCMP_CMP_EQ", SCMP_CMP_EQ }, { "SCMP_CMP_GE", SCMP_CMP_GE }, { "SCMP_CMP_GT", SCMP_CMP_GT },
    { "SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ },
  };
  size_t i;
  for (i = 0; i < ARRAY_SIZE (ops); i++)
    if (strcmp (name, ops[i].name) == 0)
      {
        *out = ops[i].op;
        return 0;
      }
  return runvm_make_error (err, 0, "seccomp: unknown operator %s", name);
}

static int
add_arch (scmp_filter_ctx ctx, const char *name, runvm_error_t *err)
{
  char lower[64];
  const char *s = name;
  uint32_t arch;
  size_t i;
  int r;

  if (strncmp (s, "SCMP_ARCH_", 10) == 0)
    s += 10;
  for (i = 0; s[i] && i < sizeof lower - 1; i++)
    lower[i] = (char) tolower ((unsigned char) s[i]);
  lower[i] = '\0';
  arch = seccomp_arch_resolve_name (lower);
  if (arch == 0)
    return runvm_make_error (err, 0, "seccomp: unknown architecture %s", name);
  r = seccomp_arch_add (ctx, arch);
  if (r < 0 && r != -EEXIST)
    return runvm_make_error (err, -r, "seccomp: add architecture %s", name);
  return 0;
}

static int
set_flags (scmp_filter_ctx ctx, const oci_seccomp *s, runvm_error_t *err)
{
  size_t i;
  for (i = 0; i < s->n_flags; i++)
    {
      const char *f = s->flags[i];
      int r = 0;
      if (strcmp (f, "SECCOMP_FILTER_FLAG_TSYNC") == 0)
        continue; /* the process is single-threaded */
      else if (strcmp (f, "SECCOMP_FILTER_FLAG_LOG") == 0)
        r = seccomp_attr_set (ctx, SCMP_FLTATR_CTL_LOG, 1);
      else if (strcmp (f, "SECCOMP_FILTER_FLAG_SPEC_ALLOW") == 0)
        r = seccomp_attr_set (ctx, SCMP_FLTATR_CTL_SSB, 1);
      else if (strcmp (f, "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV") == 0)
        continue; /* only matters with SCMP_ACT_NOTIFY, which is refused */
      else
        return runvm_make_error (err, 0, "seccomp: unknown flag %s", f);
      if (r < 0)
        return runvm_make_error (err, -r, "seccomp: set flag %s", f);
    }
  return 0;
}

static int
add_rules (scmp_filter_ctx ctx, uint32_t default_action, const oci_seccomp_syscall *sc, runvm_error_t *err)
{
  struct scmp_arg_cmp conds[16];
  bool repeated = false;
  uint32_t action;
  size_t i, j, n_conds = sc->n_args < ARRAY_SIZE (conds) ? sc->n_args : ARRAY_SIZE (conds);

  if (parse_action (sc->action, sc->has_errno_ret, sc->errno_ret, &action, err) < 0)
    return -1;
  if (action == default_action)
    return 0;
  for (i = 0; i < n_conds; i++)
    {
      enum scmp_compare op = SCMP_CMP_EQ;
      if (parse_op (sc->args[i].op, &op, err) < 0)
        return -1;
      conds[i] = (struct scmp_arg_cmp){ sc->args[i].index, op, sc->args[i].value, sc->args[i].value_two };
      for (j = 0; j < i; j++)
        if (sc->args[j].index == sc->args[i].index)
          repeated = true;
    }
  for (i = 0; i < sc->n_names; i++)
    {
      int nr = seccomp_syscall_resolve_name (sc->names[i]), r;
      if (nr == __NR_SCMP_ERROR)
        continue; /* unknown to this libseccomp or architecture: skipped, as runc does */
      if (n_conds == 0 || !repeated)
        r = seccomp_rule_add_array (ctx, action, nr, (unsigned) n_conds, conds);
      else
        for (j = 0, r = 0; j < n_conds && r == 0; j++)
          r = seccomp_rule_add_array (ctx, action, nr, 1, &conds[j]);
      if (r < 0)
        return runvm_make_error (err, -r, "seccomp: add a rule for %s", sc->names[i]);
    }
  return 0;
}

int
seccomp_apply (const oci_seccomp *s, runvm_error_t *err)
{
  uint32_t default_action;
  scmp_filter_ctx ctx;
  size_t i;
  int r = 0;

  if (parse_action (s->default_action, s->has_default_errno_ret, s->default_errno_ret, &default_action, err) < 0)
    return -1;
  ctx = seccomp_init (default_action);
  if (ctx == NULL)
    return runvm_make_error (err, 0, "seccomp: cannot initialise the filter");
  /* no_new_privs is the spec's own setting, applied separately. */
  r = seccomp_attr_set (ctx, SCMP_FLTATR_CTL_NNP, 0);
  if (r < 0)
    r = runvm_make_error (err, -r, "seccomp: clear the no_new_privs attribute");
  for (i = 0; r == 0 && i < s->n_architectures; i++)
    r = add_arch (ctx, s->architectures[i], err);
  if (r == 0)
    r = set_flags (ctx, s, err);
  for (i = 0; r == 0 && i < s->n_syscalls; i++)
    r = add_rules (ctx, default_action, &s->syscalls[i], err);
  if (r == 0)
    {
      r = seccomp_load (ctx);
      if (r < 0)
        r = runvm_make_error (err, -r, "seccomp: load the filter");
    }
  seccomp_release (ctx);
  return r < 0 ? -1 : 0;
}
