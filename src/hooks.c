/* OCI hooks: run on the host, in spec order, with the container state on
 * stdin, their own args and env, and a timeout. A poststop failure only
 * warns (runtime-spec). */
#include <config.h>
#include "container.h"
#include "lifecycle.h"
#include "oci-spec/spec.h"
#include "proto.h"
#include "utils.h"

#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

extern char **environ;

static int
run_one_hook (const char *kind, const oci_hook *h, const char *state_json, runvm_error_t *err)
{
  int in[2];
  pid_t pid;
  int status = 0;
  time_t deadline;

  if (pipe2 (in, O_CLOEXEC) < 0)
    return runvm_make_error (err, errno, "pipe");
  pid = fork ();
  if (pid < 0)
    return runvm_make_error (err, errno, "fork");
  if (pid == 0)
    {
      char *argv0[] = { h->path, NULL };
      static char *empty_env[] = { NULL };
      dup2 (in[0], 0);
      execve (h->path, h->n_args ? h->args : argv0, h->n_env ? h->env : empty_env);
      _exit (127);
    }
  close (in[0]);
  signal (SIGPIPE, SIG_IGN);
  if (state_json && write_all (in[1], state_json, strlen (state_json)) < 0 && errno != EPIPE)
    {
      /* The hook may ignore its stdin. */
    }
  close (in[1]);
  deadline = h->has_timeout && h->timeout > 0 ? time (NULL) + h->timeout : 0;
  for (;;)
    {
      pid_t r = waitpid (pid, &status, deadline ? WNOHANG : 0);
      if (r == pid)
        break;
      if (r < 0 && errno != EINTR)
        return runvm_make_error (err, errno, "waitpid");
      if (deadline && time (NULL) >= deadline)
        {
          kill (pid, SIGKILL);
          waitpid (pid, NULL, 0);
          return runvm_make_error (err, 0, "%s hook %s: timeout after %d seconds", kind, h->path, h->timeout);
        }
      if (deadline)
        usleep (10000);
    }
  if (WIFEXITED (status) && WEXITSTATUS (status) == 0)
    return 0;
  if (WIFEXITED (status))
    return runvm_make_error (err, 0, "error running %s hook %s: exit status %d", kind, h->path, WEXITSTATUS (status));
  return runvm_make_error (err, 0, "error running %s hook %s: killed by signal %d", kind, h->path, WTERMSIG (status));
}

/* The status a hook of KIND sees, as runc sets it: the create-time hooks run
 * while the container is being created, startContainer before the process
 * runs, poststart after (runtime-spec; crun, runc >= 1.2), poststop after
 * it is gone. NULL: leave the state as given. */
static const char *
hook_status (const char *kind)
{
  if (strcmp (kind, "prestart") == 0 || strcmp (kind, "createRuntime") == 0 || strcmp (kind, "createContainer") == 0)
    return "creating";
  if (strcmp (kind, "startContainer") == 0)
    return "created";
  if (strcmp (kind, "poststart") == 0)
    return "running";
  if (strcmp (kind, "poststop") == 0)
    return "stopped";
  return NULL;
}

/* STATE_JSON with its status set for KIND (a new string), or NULL to use
 * STATE_JSON as it is. */
static char *
state_for_hook (const char *kind, const char *state_json)
{
  const char *status = hook_status (kind);
  yajl_val tree, v;
  char *out;

  if (state_json == NULL || status == NULL || (tree = yajl_tree_parse (state_json, NULL, 0)) == NULL)
    return NULL;
  v = proto_get (tree, "status");
  if (v == NULL || !YAJL_IS_STRING (v))
    {
      yajl_tree_free (tree);
      return NULL;
    }
  free (v->u.string);
  v->u.string = strdup (status);
  out = v->u.string ? json_from_tree (tree) : NULL;
  yajl_tree_free (tree);
  return out;
}

int
run_hooks (const char *kind, const void *hooks, size_t n, const char *state_json, bool warn_only,
           runvm_error_t *err)
{
  const oci_hook *h = hooks;
  cleanup_free char *state = n ? state_for_hook (kind, state_json) : NULL;
  size_t i;

  if (state)
    state_json = state;
  for (i = 0; i < n; i++)
    if (run_one_hook (kind, &h[i], state_json, err) < 0)
      {
        if (!warn_only)
          return -1;
        fprintf (stderr, "runvm: warning: %s\n", (*err)->msg);
        runvm_error_release (err);
      }
  return 0;
}
