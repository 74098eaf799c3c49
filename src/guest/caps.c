/* Process attributes applied in the child before execve: rlimits, the
 * user and groups, the five capability sets (libcap), the environment and
 * runc's PATH lookup with its exact error wording. */
#include <config.h>
#include "init.h"
#include "utils.h"

#include <ctype.h>
#include <fcntl.h>
#include <grp.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>

int
apply_rlimits (const oci_process *p, runvm_error_t *err)
{
  size_t i;

  for (i = 0; i < p->n_rlimits; i++)
    {
      struct rlimit rl = { .rlim_cur = p->rlimits[i].soft, .rlim_max = p->rlimits[i].hard };
      int resource = oci_rlimit_resource (p->rlimits[i].type);
      if (resource < 0)
        return runvm_make_error (err, 0, "wrong rlimit value: %s", p->rlimits[i].type);
      if (setrlimit (resource, &rl) < 0)
        return runvm_make_error (err, errno, "error setting rlimit type %s", p->rlimits[i].type);
    }
  return 0;
}

/* Capability numbers of NAMES; unknown names are skipped with a warning,
 * as runc does ("ignoring unknown or unavailable capabilities"). */
static size_t
cap_values (char **names, size_t n, cap_value_t *out)
{
  size_t i, k = 0;

  for (i = 0; i < n; i++)
    {
      char lower[64];
      size_t j;
      cap_value_t v;

      for (j = 0; names[i][j] && j < sizeof lower - 1; j++)
        lower[j] = (char) tolower ((unsigned char) names[i][j]);
      lower[j] = '\0';
      if (cap_from_name (lower, &v) < 0 || v < 0 || v >= (cap_value_t) cap_max_bits ())
        {
          init_log ("ignoring unknown or unavailable capability %s", names[i]);
          continue;
        }
      out[k++] = v;
    }
  return k;
}

static bool
in_set (const cap_value_t *set, size_t n, cap_value_t v)
{
  size_t i;
  for (i = 0; i < n; i++)
    if (set[i] == v)
      return true;
  return false;
}

static int
set_flag (cap_t caps, cap_flag_t flag, char **names, size_t n, runvm_error_t *err)
{
  cap_value_t values[CAP_LAST_CAP + 64];
  size_t k;

  if (names == NULL)
    return 0;
  k = cap_values (names, n < ARRAY_SIZE (values) ? n : ARRAY_SIZE (values), values);
  if (k && cap_set_flag (caps, flag, (int) k, values, CAP_SET) < 0)
    return runvm_make_error (err, errno, "cap_set_flag");
  return 0;
}

/* GIVEN NULL or a set left out means no capabilities, as with runc: a
 * process without process.capabilities runs with none at all. */
int
apply_user_and_caps (const oci_process *p, const oci_capabilities *given, runvm_error_t *err)
{
  static const oci_capabilities none;
  const oci_capabilities *c = given ? given : &none;
  cap_value_t bounding[CAP_LAST_CAP + 64];
  size_t n_bounding = 0, i;
  cap_value_t v;

  if (c->bounding)
    n_bounding = cap_values (c->bounding, c->n_bounding < ARRAY_SIZE (bounding) ? c->n_bounding : 0, bounding);
  for (v = 0; v < (cap_value_t) cap_max_bits (); v++)
    if (!in_set (bounding, n_bounding, v) && prctl (PR_CAPBSET_DROP, v, 0, 0, 0) < 0 && errno != EINVAL)
      return runvm_make_error (err, errno, "drop capability %d from the bounding set", (int) v);
  /* Keep the permitted set across setuid; the sets are set right after. */
  if (prctl (PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
    return runvm_make_error (err, errno, "prctl(PR_SET_KEEPCAPS)");
  if (setgroups (p->n_additional_gids, p->additional_gids) < 0)
    return runvm_make_error (err, errno, "setgroups");
  if (setresgid (p->gid, p->gid, p->gid) < 0)
    return runvm_make_error (err, errno, "setgid %u", (unsigned) p->gid);
  if (setresuid (p->uid, p->uid, p->uid) < 0)
    return runvm_make_error (err, errno, "setuid %u", (unsigned) p->uid);
  if (prctl (PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
    return runvm_make_error (err, errno, "prctl(PR_SET_KEEPCAPS)");
  {
    cap_t caps = cap_init ();
    int r = 0;
    if (caps == NULL)
      return runvm_make_error (err, errno, "cap_init");
    if (set_flag (caps, CAP_EFFECTIVE, c->effective, c->n_effective, err) < 0
        || set_flag (caps, CAP_PERMITTED, c->permitted, c->n_permitted, err) < 0
        || set_flag (caps, CAP_INHERITABLE, c->inheritable, c->n_inheritable, err) < 0)
      r = -1;
    else if (cap_set_proc (caps) < 0)
      r = runvm_make_error (err, errno, "apply the capabilities");
    cap_free (caps);
    if (r < 0)
      return r;
  }
  if (prctl (PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
    return runvm_make_error (err, errno, "clear the ambient capabilities");
  if (c->ambient)
    {
      cap_value_t amb[CAP_LAST_CAP + 64];
      size_t n = cap_values (c->ambient, c->n_ambient < ARRAY_SIZE (amb) ? c->n_ambient : 0, amb);
      for (i = 0; i < n; i++)
        if (prctl (PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, amb[i], 0, 0) < 0)
          init_log ("cannot raise ambient capability %d: %s", (int) amb[i], strerror (errno));
    }
  return 0;
}

/* Go spells errno strings in lower case ("is a directory"). */
static const char *
go_strerror (int e, char *buf, size_t len)
{
  snprintf (buf, len, "%s", strerror (e));
  if (buf[0] >= 'A' && buf[0] <= 'Z' && !(buf[1] >= 'A' && buf[1] <= 'Z'))
    buf[0] = (char) (buf[0] - 'A' + 'a');
  return buf;
}

/* Go's exec.findExecutable, which runc's LookPath uses. Returns 0 or the
 * errno to report. */
static int
find_executable (const char *path, bool *stat_failed)
{
  struct stat st;

  *stat_failed = false;
  if (stat (path, &st) < 0)
    {
      *stat_failed = true;
      return errno;
    }
  if (S_ISDIR (st.st_mode))
    return EISDIR;
  if (faccessat (AT_FDCWD, path, X_OK, AT_EACCESS) == 0)
    return 0;
  if (errno != ENOSYS && errno != EPERM)
    return errno;
  return (st.st_mode & 0111) ? 0 : EACCES;
}

int
lookup_executable (const char *argv0, char **env, char **out, int *status, runvm_error_t *err)
{
  const char *path_env;
  bool stat_failed;
  char ebuf[128];
  int e;

  if (strchr (argv0, '/'))
    {
      e = find_executable (argv0, &stat_failed);
      if (e == 0)
        {
          *out = strdup (argv0);
          return 0;
        }
      *status = e == ENOENT || e == ENOTDIR ? 127 : 126;
      if (stat_failed)
        return runvm_make_error (err, 0, "exec: \"%s\": stat %s: %s", argv0, argv0,
                                 go_strerror (e, ebuf, sizeof ebuf));
      return runvm_make_error (err, 0, "exec: \"%s\": %s", argv0, go_strerror (e, ebuf, sizeof ebuf));
    }
  path_env = oci_env_get (env, "PATH");
  while (path_env && argv0[0])
    {
      const char *colon = strchr (path_env, ':');
      size_t len = colon ? (size_t) (colon - path_env) : strlen (path_env);
      cleanup_free char *candidate = NULL;

      if (asprintf (&candidate, "%.*s/%s", (int) len, len ? path_env : ".", argv0) < 0)
        abort ();
      if (find_executable (candidate, &stat_failed) == 0)
        {
          *out = steal_pointer (&candidate);
          return 0;
        }
      if (colon == NULL)
        break;
      path_env = colon + 1;
    }
  *status = 127;
  return runvm_make_error (err, 0, "exec: \"%s\": executable file not found in $PATH", argv0);
}

/* HOME from the container's /etc/passwd, as runc sets it when absent. */
static char *
home_of (uid_t uid)
{
  FILE *f = fopen ("/etc/passwd", "re");
  char line[1024];
  char *home = NULL;

  while (f && home == NULL && fgets (line, sizeof line, f))
    {
      char *fields[7], *save = NULL, *tok, *s = line;
      int n = 0;
      line[strcspn (line, "\n")] = '\0';
      /* strsep keeps empty fields (a user without a password). */
      while (n < 7 && (tok = strsep (&s, ":")) != NULL)
        fields[n++] = tok;
      (void) save;
      if (n >= 6 && strtoul (fields[2], NULL, 10) == uid && fields[2][0])
        home = strdup (fields[5]);
    }
  if (f)
    fclose (f);
  return home ? home : strdup ("/");
}

char **
process_environment (const oci_process *p)
{
  char **env = calloc (p->n_env + 2, sizeof (char *));
  size_t i;

  if (env == NULL)
    abort ();
  for (i = 0; i < p->n_env; i++)
    env[i] = p->env[i];
  if (oci_env_get (p->env, "HOME") == NULL)
    {
      cleanup_free char *home = home_of (p->uid);
      if (asprintf (&env[i], "HOME=%s", home) < 0)
        abort ();
    }
  return env;
}
