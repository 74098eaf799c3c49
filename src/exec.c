/* runvm exec: runs another process in a running container. The process
 * spec (from --process, or the container's process with the flags applied)
 * goes to the monitor with our stdio fds; this host process then waits and
 * exits with the process's status, so conmon can wait on it (with --detach
 * a child of ours does the waiting and its pid goes to --pid-file). */
#include <config.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <termios.h>
#include <yajl/yajl_gen.h>

#include "commands.h"
#include "container.h"
#include "proto.h"
#include "oci-spec/spec.h"
#include "utils.h"

struct exec_options
{
  const char *process_file, *pid_file, *console_socket, *cwd, *user;
  bool tty, detach, no_new_privs, ignore_paused;
  const char **env; /* --env, in order */
  size_t n_env;
  const char **caps; /* --cap */
  size_t n_caps;
  const long long *gids; /* --additional-gids */
  size_t n_gids;
  char **args;
  size_t n_args;
};

static void
gen_strv (yajl_gen gen, char **v, size_t n)
{
  size_t i;
  yajl_gen_array_open (gen);
  for (i = 0; i < n; i++)
    json_gen_string (gen, v[i]);
  yajl_gen_array_close (gen);
}

static bool
overridden (const struct exec_options *o, const char *key)
{
  return strcmp (key, "args") == 0 || strcmp (key, "terminal") == 0 || (o->cwd && strcmp (key, "cwd") == 0)
         || (o->n_env && strcmp (key, "env") == 0) || ((o->user || o->n_gids) && strcmp (key, "user") == 0)
         || (o->no_new_privs && strcmp (key, "noNewPrivileges") == 0)
         || (o->n_caps && strcmp (key, "capabilities") == 0);
}

static void
gen_caps (yajl_gen gen, yajl_val base, const struct exec_options *o)
{
  static const char *sets[] = { "bounding", "effective", "inheritable", "permitted", "ambient" };
  size_t i, j;

  yajl_gen_map_open (gen);
  for (i = 0; i < ARRAY_SIZE (sets); i++)
    {
      yajl_val have = proto_get (base, sets[i]);
      json_gen_string (gen, sets[i]);
      yajl_gen_array_open (gen);
      if (have && YAJL_IS_ARRAY (have))
        for (j = 0; j < have->u.array.len; j++)
          if (YAJL_IS_STRING (have->u.array.values[j]))
            json_gen_string (gen, have->u.array.values[j]->u.string);
      if (strcmp (sets[i], "ambient") != 0)
        for (j = 0; j < o->n_caps; j++)
          json_gen_string (gen, o->caps[j]);
      yajl_gen_array_close (gen);
    }
  yajl_gen_map_close (gen);
}

/* runc checks the process before it runs anything (validateProcessSpec):
 * the same checks, in its words, before the request leaves the host. */
static int
check_process (yajl_val node, runvm_error_t *err)
{
  cleanup_oci_process oci_process *p = NULL;

  if (oci_process_parse (node, "process", &p, err) < 0)
    return -1;
  return oci_process_validate (p, err);
}

/* strconv.Atoi, with runc's words for a bad --user part. */
static int
user_part (const char *s, size_t len, const char *what, long long *v, runvm_error_t *err)
{
  cleanup_free char *part = strndup (s, len);
  const char *digits = part + (*part == '+' || *part == '-'), *why = "invalid syntax";
  char *end;

  errno = 0;
  if (isdigit ((unsigned char) *digits))
    {
      *v = strtoll (part, &end, 10);
      if (*end == '\0' && errno == 0)
        return 0;
      if (*end == '\0')
        why = "value out of range";
    }
  return runvm_make_error (err, 0, "parsing %s as int for %s failed: strconv.Atoi: parsing \"%s\": %s", part, what,
                           part, why);
}

/* The process's user as runc's exec sets it: --user UID[:GID] replaces
 * the uid (and the gid if given), --additional-gids add to the groups, the
 * rest of the container's user (umask, ...) stays. */
static int
gen_user (yajl_gen gen, yajl_val base, const struct exec_options *o, runvm_error_t *err)
{
  long long uid = 0, gid = 0;
  yajl_val gids = proto_get (base, "additionalGids");
  size_t i;

  proto_get_int (base, "uid", &uid);
  proto_get_int (base, "gid", &gid);
  if (o->user)
    {
      const char *colon = strchr (o->user, ':');
      if (colon && user_part (colon + 1, strlen (colon + 1), "gid", &gid, err) < 0)
        return -1;
      if (user_part (o->user, colon ? (size_t) (colon - o->user) : strlen (o->user), "uid", &uid, err) < 0)
        return -1;
    }
  for (i = 0; i < o->n_gids; i++)
    if (o->gids[i] < 0)
      return runvm_make_error (err, 0, "additional-gids must be a positive number %lld", o->gids[i]);
  json_gen_string (gen, "user");
  yajl_gen_map_open (gen);
  for (i = 0; base && YAJL_IS_OBJECT (base) && i < base->u.object.len; i++)
    {
      const char *k = base->u.object.keys[i];
      if (strcmp (k, "uid") && strcmp (k, "gid") && strcmp (k, "additionalGids"))
        {
          json_gen_string (gen, k);
          json_gen_tree (gen, base->u.object.values[i]);
        }
    }
  /* Go stores them as uint32: -1 is 4294967295 there too */
  json_gen_string (gen, "uid");
  yajl_gen_integer (gen, (uint32_t) uid);
  json_gen_string (gen, "gid");
  yajl_gen_integer (gen, (uint32_t) gid);
  json_gen_string (gen, "additionalGids");
  yajl_gen_array_open (gen);
  for (i = 0; gids && YAJL_IS_ARRAY (gids) && i < gids->u.array.len; i++)
    if (YAJL_IS_INTEGER (gids->u.array.values[i]))
      yajl_gen_integer (gen, YAJL_GET_INTEGER (gids->u.array.values[i]));
  for (i = 0; i < o->n_gids; i++)
    yajl_gen_integer (gen, (uint32_t) o->gids[i]);
  yajl_gen_array_close (gen);
  yajl_gen_map_close (gen);
  return 0;
}

/* The container's process with the exec flags applied, as JSON. */
static char *
build_process (yajl_val base, const struct exec_options *o, runvm_error_t *err)
{
  yajl_gen gen = yajl_gen_alloc (NULL);
  const unsigned char *buf;
  size_t len, i;
  char *out;

  yajl_gen_map_open (gen);
  if (base && YAJL_IS_OBJECT (base))
    for (i = 0; i < base->u.object.len; i++)
      {
        const char *k = base->u.object.keys[i];
        if (overridden (o, k) || strcmp (k, "consoleSize") == 0)
          continue;
        json_gen_string (gen, k);
        json_gen_tree (gen, base->u.object.values[i]);
      }
  json_gen_string (gen, "args");
  gen_strv (gen, o->args, o->n_args);
  json_gen_string (gen, "terminal");
  yajl_gen_bool (gen, o->tty);
  if (o->cwd)
    {
      json_gen_string (gen, "cwd");
      json_gen_string (gen, o->cwd);
    }
  if (o->n_env)
    {
      yajl_val benv = proto_get (base, "env");
      json_gen_string (gen, "env");
      yajl_gen_array_open (gen);
      if (benv && YAJL_IS_ARRAY (benv))
        for (i = 0; i < benv->u.array.len; i++)
          if (YAJL_IS_STRING (benv->u.array.values[i]))
            json_gen_string (gen, benv->u.array.values[i]->u.string);
      for (i = 0; i < o->n_env; i++)
        json_gen_string (gen, o->env[i]);
      yajl_gen_array_close (gen);
    }
  if ((o->user || o->n_gids) && gen_user (gen, proto_get (base, "user"), o, err) < 0)
    {
      yajl_gen_free (gen);
      return NULL;
    }
  if (o->no_new_privs)
    {
      json_gen_string (gen, "noNewPrivileges");
      yajl_gen_bool (gen, 1);
    }
  if (o->n_caps)
    {
      json_gen_string (gen, "capabilities");
      gen_caps (gen, proto_get (base, "capabilities"), o);
    }
  yajl_gen_map_close (gen);
  yajl_gen_get_buf (gen, &buf, &len);
  out = strndup ((const char *) buf, len);
  yajl_gen_free (gen);
  return out;
}

static int
send_fds (int sock, const int *fds, int n, runvm_error_t *err)
{
  char byte = 'F';
  struct iovec iov = { &byte, 1 };
  union
  {
    char buf[CMSG_SPACE (sizeof (int) * 4)];
    struct cmsghdr align;
  } u;
  struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
                        .msg_controllen = CMSG_SPACE (sizeof (int) * n) };
  struct cmsghdr *c = CMSG_FIRSTHDR (&msg);

  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN (sizeof (int) * n);
  memcpy (CMSG_DATA (c), fds, sizeof (int) * n);
  if (sendmsg (sock, &msg, 0) < 0)
    return runvm_make_error (err, errno, "send stdio to the monitor");
  return 0;
}

/* Without a console socket, `exec -t` bridges our own stdio to a pty. */
static void
bridge_pty (int master)
{
  struct termios saved, raw;
  bool restore = tcgetattr (0, &saved) == 0;
  struct winsize ws;
  char buf[8192];

  if (restore)
    {
      raw = saved;
      cfmakeraw (&raw);
      tcsetattr (0, TCSANOW, &raw);
    }
  if (ioctl (0, TIOCGWINSZ, &ws) == 0)
    ioctl (master, TIOCSWINSZ, &ws);
  for (;;)
    {
      struct pollfd p[2] = { { 0, POLLIN, 0 }, { master, POLLIN, 0 } };
      ssize_t n;
      if (poll (p, 2, -1) < 0)
        {
          if (errno == EINTR)
            continue;
          break;
        }
      if (p[1].revents)
        {
          n = read (master, buf, sizeof buf);
          if (n <= 0 || write_all (1, buf, n) < 0)
            break;
        }
      if (p[0].revents)
        {
          n = read (0, buf, sizeof buf);
          if (n <= 0)
            p[0].fd = -1;
          else if (write_all (master, buf, n) < 0)
            break;
        }
    }
  if (restore)
    tcsetattr (0, TCSANOW, &saved);
}

static int
wait_exec_exit (int sock)
{
  for (;;)
    {
      yajl_val tree = NULL;
      const char *type = NULL;
      long long status = 255;
      runvm_error_t ignored = NULL;
      int r = proto_recv_tree (sock, &tree, &type, &ignored);
      runvm_error_release (&ignored);
      if (r <= 0)
        return 255;
      if (strcmp (type, "exec-exit") == 0)
        {
          proto_get_int (tree, "status", &status);
          yajl_tree_free (tree);
          return (int) status;
        }
      yajl_tree_free (tree);
    }
}

static const struct cli_flag exec_flags[] = {
  { "console-socket", CLI_STRING, "an AF_UNIX socket that receives the pty master (with --tty)" },
  { "cwd", CLI_STRING, "the working directory in the container" },
  { "env, e", CLI_STRINGS, "set an environment variable (NAME=VALUE; repeatable)" },
  { "tty, t", CLI_BOOL, "give the process a pseudo-terminal" },
  { "user, u", CLI_STRING, "UID[:GID] to run as" },
  { "additional-gids, g", CLI_INTS, "add a supplementary group to the process (repeatable)" },
  { "process, p", CLI_STRING, "a process.json (the OCI process object) to run" },
  { "detach, d", CLI_BOOL, "return once the process runs" },
  { "pid-file", CLI_STRING, "write the pid that stands for the process to this file" },
  { "process-label", CLI_STRING, "accepted for runc compatibility: no SELinux in the guest" },
  { "apparmor", CLI_STRING, "accepted for runc compatibility: no AppArmor in the guest" },
  { "no-new-privs", CLI_BOOL, "set no_new_privs for the process" },
  { "cap, c", CLI_STRINGS, "add a capability to the process's sets (repeatable)" },
  { "preserve-fds", CLI_INT, "accepted for runc compatibility; no file descriptors are passed" },
  { "cgroup", CLI_STRINGS, "accepted for runc compatibility: the process joins the container's cgroup" },
  { "ignore-paused", CLI_BOOL, "accepted; a paused VM still cannot start a process" },
  { NULL },
};

const struct cli_command cli_exec = {
  .name = "exec",
  .usage = "run another process in a running container",
  .args_usage = "<container-id> <command> [command options]",
  .flags = exec_flags,
  .min_args = 1,
  .max_args = -1,
  .no_reorder = true,
};

/* Everything after the arguments: runc reports a failure here as "exec
 * failed: ..." with status 255 (cmd_exec adds both). */
static int
exec_process (struct runvm_global *g, const struct exec_options *opts, const char *id, runvm_error_t *err)
{
  struct exec_options o = *opts;
  struct container_state st;
  cleanup_free char *dir = NULL, *process = NULL, *config = NULL, *request = NULL;
  cleanup_close int sock = -1, master = -1, slave = -1;
  yajl_val reply = NULL, cfg = NULL;
  const char *type = NULL, *status;
  char errbuf[256];
  int r;

  if (container_load (g, id, &st, err) < 0)
    return -1;
  status = container_status (&st);
  if (strcmp (status, "running") != 0)
    {
      /* runc's words. --ignore-paused cannot help here: a paused VM's
       * vCPUs are stopped, nothing in the guest would start the process. */
      bool paused = strcmp (status, "paused") == 0;
      runvm_make_error (err, 0, "cannot exec in a %s container%s", status,
                        paused && !o.ignore_paused ? " (use --ignore-paused to override)"
                        : paused                   ? " (its VM's vCPUs are stopped)"
                                                   : "");
      container_state_release (&st);
      return -1;
    }
  if (o.process_file == NULL && o.n_args == 0)
    {
      runvm_make_error (err, 0, "process args cannot be empty");
      goto fail;
    }
  if (o.process_file)
    {
      if (read_file (o.process_file, &process, NULL, err) < 0)
        goto fail;
      cfg = json_parse (process, errbuf, sizeof errbuf);
      if (cfg == NULL)
        {
          runvm_make_error (err, 0, "process.json: %s", errbuf);
          goto fail;
        }
      o.tty = proto_get_bool (cfg, "terminal", o.tty);
      r = check_process (cfg, err);
      yajl_tree_free (cfg);
      cfg = NULL;
      if (r < 0)
        goto fail;
    }
  else
    {
      if (st.config_path == NULL || read_file (st.config_path, &config, NULL, err) < 0)
        goto fail;
      cfg = json_parse (config, errbuf, sizeof errbuf);
      process = build_process (cfg ? proto_get (cfg, "process") : NULL, &o, err);
      if (cfg)
        yajl_tree_free (cfg);
      if (process == NULL)
        goto fail;
      cfg = json_parse (process, errbuf, sizeof errbuf);
      r = cfg ? check_process (cfg, err) : runvm_make_error (err, 0, "exec: process: %s", errbuf);
      if (cfg)
        yajl_tree_free (cfg);
      cfg = NULL;
      if (r < 0)
        goto fail;
    }
  if (o.tty && o.detach && o.console_socket == NULL)
    {
      runvm_make_error (err, 0, "cannot allocate tty if runc will detach without setting console socket");
      goto fail;
    }
  dir = container_dir (g, id);
  sock = monitor_connect (dir, err);
  if (sock < 0)
    goto fail;
  if (asprintf (&request, "{\"type\":\"exec\",\"tty\":%s,\"process\":%s}", o.tty ? "true" : "false", process) < 0)
    abort ();
  if (proto_send (sock, request, strlen (request), err) < 0)
    goto fail;
  if (o.tty)
    {
      master = posix_openpt (O_RDWR | O_NOCTTY | O_CLOEXEC);
      if (master < 0 || grantpt (master) < 0 || unlockpt (master) < 0)
        {
          runvm_make_error (err, errno, "allocate a pty");
          goto fail;
        }
      slave = open (ptsname (master), O_RDWR | O_NOCTTY | O_CLOEXEC);
      if (slave < 0 || send_fds (sock, &slave, 1, err) < 0)
        goto fail;
      if (o.console_socket)
        {
          /* Hand the master to the engine, as create does. */
          if (console_send (o.console_socket, master, err) < 0)
            goto fail;
          close (master);
          master = -1;
        }
    }
  else
    {
      int fds[3] = { 0, 1, 2 };
      if (send_fds (sock, fds, 3, err) < 0)
        goto fail;
    }
  r = proto_recv_tree (sock, &reply, &type, err);
  if (r <= 0)
    {
      if (r == 0)
        runvm_make_error (err, 0, "the monitor closed the connection");
      goto fail;
    }
  if (strcmp (type, "exec-started") != 0)
    {
      const char *msg = proto_get_string (reply, "message");
      runvm_make_error (err, 0, "%s", msg ? msg : type);
      yajl_tree_free (reply);
      goto fail;
    }
  yajl_tree_free (reply);
  container_state_release (&st);
  if (o.detach)
    {
      pid_t pid = fork ();
      if (pid < 0)
        return runvm_make_error (err, errno, "fork");
      if (pid == 0)
        {
          int null = open ("/dev/null", O_RDWR);
          setsid ();
          if (null >= 0)
            {
              dup2 (null, 0);
              dup2 (null, 1);
              dup2 (null, 2);
            }
          _exit (wait_exec_exit (sock));
        }
      if (o.pid_file && write_pid_file (o.pid_file, pid, err) < 0)
        return -1;
      return 0;
    }
  if (o.pid_file && write_pid_file (o.pid_file, getpid (), err) < 0)
    return -1;
  if (master >= 0)
    {
      close (slave);
      slave = -1;
      bridge_pty (master);
    }
  exit (wait_exec_exit (sock));

fail:
  container_state_release (&st);
  return -1;
}

int
cmd_exec (struct runvm_global *g, struct cli_args *a, runvm_error_t *err)
{
  const char *cwd = cli_string (a, "cwd", "");
  struct exec_options o = {
    .process_file = cli_get (a, "process")->str,
    .pid_file = cli_get (a, "pid-file")->str,
    .console_socket = cli_get (a, "console-socket")->str,
    /* runc overrides the cwd only with a non-empty --cwd */
    .cwd = *cwd ? cwd : NULL,
    .user = cli_get (a, "user")->str,
    .tty = cli_get (a, "tty")->on,
    .detach = cli_get (a, "detach")->on,
    .no_new_privs = cli_get (a, "no-new-privs")->on,
    .ignore_paused = cli_get (a, "ignore-paused")->on,
    .env = cli_get (a, "env")->list,
    .n_env = cli_get (a, "env")->n_list,
    .caps = cli_get (a, "cap")->list,
    .n_caps = cli_get (a, "cap")->n_list,
    .gids = cli_get (a, "additional-gids")->nums,
    .n_gids = cli_get (a, "additional-gids")->n_list,
    .args = a->argv + 1,
    .n_args = (size_t) a->argc - 1,
  };

  g->failure_status = 255;
  if (exec_process (g, &o, a->argv[0], err) < 0)
    return runvm_error_wrap (err, "exec failed");
  return 0;
}
