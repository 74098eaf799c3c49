/* OCI hooks: run on the host, in spec order, with the container state on
 * stdin, their own args and env, and a timeout. A poststop failure only
 * warns (runtime-spec). */
#include <config.h>
#include "container.h"
#include "lifecycle.h"
#include "oci-spec/spec.h"
#include "proto.h"
#include "utils.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* A hook's stdout or stderr, kept for the error message as runc does (the
 * first HOOK_OUTPUT_MAX bytes; the rest is read and dropped). */
#define HOOK_OUTPUT_MAX 4096

struct hook_output
{
  size_t len;
  char buf[HOOK_OUTPUT_MAX + 1];
};

/* Reads what FD has into O; at EOF (or an error) closes FD and sets it to -1. */
static void
hook_output_read (struct hook_output *o, int *fd)
{
  char scratch[4096];
  ssize_t n;

  if (o->len < HOOK_OUTPUT_MAX)
    n = read (*fd, o->buf + o->len, HOOK_OUTPUT_MAX - o->len);
  else
    n = read (*fd, scratch, sizeof scratch);
  if (n > 0 && o->len < HOOK_OUTPUT_MAX)
    o->len += (size_t) n;
  else if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN))
    close (steal_fd (fd));
  o->buf[o->len] = '\0';
}

/* pipe2 (O_CLOEXEC) into two separately owned descriptors. */
static int
pipe_pair (int *r, int *w)
{
  int p[2];

  if (pipe2 (p, O_CLOEXEC) < 0)
    return -1;
  *r = p[0];
  *w = p[1];
  return 0;
}

/* Forks and execs hook H with IN, OUT and ERRFD as its stdio. The exec's
 * errno comes back through a close-on-exec pipe, so a hook that cannot be
 * run fails as runc's does ("fork/exec PATH: ERROR"), not as a hook that
 * ran and exited 127. Returns the pid, or -1 with the errno of the failed
 * exec, fork or pipe2 in *ERROR (saved here, before the scope's cleanup
 * closes anything). Go's exec words a failed fork like a failed exec,
 * "fork/exec PATH: ERROR"; a failed pipe2 gets the same words here. */
static pid_t
spawn_hook (const oci_hook *h, int in, int out, int errfd, int *error)
{
  char *argv0[] = { h->path, NULL };
  static char *empty_env[] = { NULL };
  cleanup_close int report_r = -1, report_w = -1;
  int e = 0;
  ssize_t n;
  pid_t pid;

  *error = 0;
  if (pipe_pair (&report_r, &report_w) < 0)
    {
      *error = errno;
      return -1;
    }
  pid = fork ();
  if (pid == 0)
    {
      dup2 (in, 0);
      dup2 (out, 1);
      dup2 (errfd, 2);
      execve (h->path, h->n_args ? h->args : argv0, h->n_env ? h->env : empty_env);
      e = errno;
      (void) write (report_w, &e, sizeof e);
      _exit (127);
    }
  if (pid < 0)
    {
      *error = errno;
      return -1;
    }
  close (steal_fd (&report_w));
  do
    n = read (report_r, &e, sizeof e);
  while (n < 0 && errno == EINTR);
  if (n == (ssize_t) sizeof e)
    {
      waitpid (pid, NULL, 0);
      *error = e;
      return -1;
    }
  return pid;
}

/* Runs hook number INDEX of KIND with STATE_JSON on its stdin; its stdout
 * and stderr are collected and only shown when it fails, in runc's words:
 * "error running KIND hook #N: exit status S, stdout: ..., stderr: ...". */
static int
run_one_hook (const char *kind, size_t index, const oci_hook *h, const char *state_json, runvm_error_t *err)
{
  struct hook_output out = { 0 }, errout = { 0 };
  cleanup_close int in_r = -1, in_w = -1, out_r = -1, out_w = -1, err_r = -1, err_w = -1;
  int status = 0, drained = 0, spawn_errno;
  int64_t deadline;
  char name[64];
  pid_t pid;

  if (pipe_pair (&in_r, &in_w) < 0 || pipe_pair (&out_r, &out_w) < 0 || pipe_pair (&err_r, &err_w) < 0)
    return runvm_make_error (err, errno, "pipe");
  pid = spawn_hook (h, in_r, out_w, err_w, &spawn_errno);
  if (pid < 0)
    {
      go_words (strerror (spawn_errno), name, sizeof name);
      return runvm_make_error (err, 0, "error running %s hook #%zu: fork/exec %s: %s", kind, index, h->path, name);
    }
  close (steal_fd (&in_r));
  close (steal_fd (&out_w));
  close (steal_fd (&err_w));

  signal (SIGPIPE, SIG_IGN);
  /* The hook may ignore its stdin (EPIPE): that is not an error. */
  if (state_json)
    (void) write_all (in_w, state_json, strlen (state_json));
  close (steal_fd (&in_w));

  /* Collect both outputs while the hook runs; once it has exited, take what
   * is left in the pipes without waiting for EOF (a child it left behind may
   * hold them open). Past the timeout it is killed. */
  deadline = h->has_timeout && h->timeout > 0 ? monotonic_ms () + (int64_t) h->timeout * 1000 : 0;
  for (;;)
    {
      struct pollfd p[2] = { { .fd = out_r, .events = POLLIN }, { .fd = err_r, .events = POLLIN } };
      bool closed = out_r < 0 && err_r < 0;
      /* Both outputs closed and no timeout: nothing left but to wait. */
      pid_t r = waitpid (pid, &status, closed && !deadline ? 0 : WNOHANG);
      bool exited = r == pid;
      int n;

      if (r < 0 && errno != EINTR)
        return runvm_make_error (err, errno, "waitpid");
      if (!exited && deadline && monotonic_ms () >= deadline)
        {
          kill (pid, SIGKILL);
          waitpid (pid, NULL, 0);
          return runvm_make_error (err, 0, "error running %s hook #%zu: hook ran past specified timeout of %d.0s",
                                   kind, index, h->timeout);
        }
      n = poll (p, 2, exited ? 0 : closed ? 10 : 50);
      if (n > 0 && p[0].revents)
        hook_output_read (&out, &out_r);
      if (n > 0 && p[1].revents)
        hook_output_read (&errout, &err_r);
      if (exited && (n <= 0 || ++drained > 64))
        break;
    }
  if (WIFEXITED (status) && WEXITSTATUS (status) == 0)
    return 0;
  if (WIFEXITED (status))
    return runvm_make_error (err, 0, "error running %s hook #%zu: exit status %d, stdout: %s, stderr: %s", kind,
                             index, WEXITSTATUS (status), out.buf, errout.buf);
  /* Go's wording, as runc prints it: "signal: killed". */
  go_words (strsignal (WTERMSIG (status)), name, sizeof name);
  return runvm_make_error (err, 0, "error running %s hook #%zu: signal: %s, stdout: %s, stderr: %s", kind, index,
                           name, out.buf, errout.buf);
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

  if (state_json == NULL || status == NULL || (tree = json_parse (state_json, NULL, 0)) == NULL)
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
    if (run_one_hook (kind, i, &h[i], state_json, err) < 0)
      {
        if (!warn_only)
          return -1;
        fprintf (stderr, "runvm: warning: %s\n", (*err)->msg);
        runvm_error_release (err);
      }
  return 0;
}
