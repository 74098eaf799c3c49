/* runvm exec: runs another process in a running container. The process
 * spec (from --process, or the container's process with the flags applied)
 * goes to the monitor with our stdio fds; this host process then waits and
 * exits with the process's status, so conmon can wait on it (with --detach
 * a child of ours does the waiting and its pid goes to --pid-file). */
#include <config.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
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
  char *env[256];
  size_t n_env;
  char *caps[64];
  size_t n_caps;
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
         || (o->n_env && strcmp (key, "env") == 0) || (o->user && strcmp (key, "user") == 0)
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
  if (o->user)
    {
      char *colon;
      long uid = strtol (o->user, &colon, 10), gid = 0;
      if (colon == o->user || (*colon && *colon != ':'))
        {
          yajl_gen_free (gen);
          runvm_make_error (err, 0, "invalid --user `%s`: expected UID[:GID]", o->user);
          return NULL;
        }
      if (*colon == ':')
        gid = strtol (colon + 1, NULL, 10);
      json_gen_string (gen, "user");
      yajl_gen_map_open (gen);
      json_gen_string (gen, "uid");
      yajl_gen_integer (gen, uid);
      json_gen_string (gen, "gid");
      yajl_gen_integer (gen, gid);
      yajl_gen_map_close (gen);
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

static int
parse_exec_flags (int argc, char **argv, struct exec_options *o, runvm_error_t *err)
{
  static const struct option opts[] = {
    { "process", required_argument, NULL, 'p' },     { "tty", no_argument, NULL, 't' },
    { "detach", no_argument, NULL, 'd' },            { "pid-file", required_argument, NULL, 'P' },
    { "console-socket", required_argument, NULL, 'c' }, { "cwd", required_argument, NULL, 'w' },
    { "env", required_argument, NULL, 'e' },         { "user", required_argument, NULL, 'u' },
    { "cap", required_argument, NULL, 'C' },         { "no-new-privs", no_argument, NULL, 'n' },
    { "preserve-fds", required_argument, NULL, 'f' }, { "additional-gids", required_argument, NULL, 'g' },
    { "process-label", required_argument, NULL, 'l' }, { "apparmor", required_argument, NULL, 'a' },
    { "cgroup", required_argument, NULL, 'G' },      { "ignore-paused", no_argument, NULL, 'i' },
    { NULL, 0, NULL, 0 },
  };
  int c;

  optind = 1;
  opterr = 0;
  while ((c = getopt_long (argc, argv, "+p:tde:u:g:", opts, NULL)) != -1)
    switch (c)
      {
      case 'p':
        o->process_file = optarg;
        break;
      case 't':
        o->tty = true;
        break;
      case 'd':
        o->detach = true;
        break;
      case 'P':
        o->pid_file = optarg;
        break;
      case 'c':
        o->console_socket = optarg;
        break;
      case 'w':
        /* runc overrides the cwd only with a non-empty --cwd */
        o->cwd = *optarg ? optarg : NULL;
        break;
      case 'e':
        if (o->n_env < ARRAY_SIZE (o->env))
          o->env[o->n_env++] = optarg;
        break;
      case 'u':
        o->user = optarg;
        break;
      case 'C':
        if (o->n_caps < ARRAY_SIZE (o->caps))
          o->caps[o->n_caps++] = optarg;
        break;
      case 'n':
        o->no_new_privs = true;
        break;
      case 'i':
        o->ignore_paused = true;
        break;
      case 'f':
      case 'g':
      case 'l':
      case 'a':
      case 'G':
        break;
      default:
        return runvm_make_error (err, 0, "flag provided but not defined: %s", argv[optind - 1]);
      }
  if (optind >= argc)
    return runvm_make_error (err, 0, "%s: \"exec\" requires a minimum of 1 argument(s)", program_invocation_name);
  o->args = argv + optind + 1;
  o->n_args = argc - optind - 1;
  return optind;
}

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
cmd_exec (struct runvm_global *g, int argc, char **argv, runvm_error_t *err)
{
  struct exec_options o = { 0 };
  int idx = parse_exec_flags (argc, argv, &o, err);

  if (idx < 0)
    return -1;
  g->failure_status = 255;
  if (exec_process (g, &o, argv[idx], err) < 0)
    return runvm_error_wrap (err, "exec failed");
  return 0;
}
