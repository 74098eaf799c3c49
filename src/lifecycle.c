/* create / start / delete: the runtime-spec lifecycle on the host. A failed
 * create leaves nothing behind: the monitor is killed and reaped, the state
 * directory removed. */
#include <config.h>
#include "lifecycle.h"
#include "oci-spec/spec.h"
#include "proto.h"
#include "utils.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>

static const struct
{
  const char *name;
  int sig;
} signals[] = {
  { "HUP", SIGHUP },   { "INT", SIGINT },       { "QUIT", SIGQUIT }, { "ILL", SIGILL },     { "TRAP", SIGTRAP },
  { "ABRT", SIGABRT }, { "IOT", SIGIOT },       { "BUS", SIGBUS },   { "FPE", SIGFPE },     { "KILL", SIGKILL },
  { "USR1", SIGUSR1 }, { "SEGV", SIGSEGV },     { "USR2", SIGUSR2 }, { "PIPE", SIGPIPE },   { "ALRM", SIGALRM },
  { "TERM", SIGTERM }, { "STKFLT", SIGSTKFLT }, { "CHLD", SIGCHLD }, { "CONT", SIGCONT },   { "STOP", SIGSTOP },
  { "TSTP", SIGTSTP }, { "TTIN", SIGTTIN },     { "TTOU", SIGTTOU }, { "URG", SIGURG },     { "XCPU", SIGXCPU },
  { "XFSZ", SIGXFSZ }, { "VTALRM", SIGVTALRM }, { "PROF", SIGPROF }, { "WINCH", SIGWINCH }, { "IO", SIGIO },
  { "POLL", SIGPOLL }, { "PWR", SIGPWR },       { "SYS", SIGSYS },
};

int
parse_signal (const char *s, runvm_error_t *err)
{
  const char *name = s;
  char *end;
  long v;
  size_t i;

  v = strtol (s, &end, 10);
  if (*s && *end == '\0')
    {
      if (v <= 0 || v > SIGRTMAX)
        return runvm_make_error (err, 0, "unknown signal \"%s\"", s);
      return (int) v;
    }
  if (strncasecmp (name, "SIG", 3) == 0)
    name += 3;
  for (i = 0; i < ARRAY_SIZE (signals); i++)
    if (strcasecmp (name, signals[i].name) == 0)
      return signals[i].sig;
  return runvm_make_error (err, 0, "unknown signal \"%s\"", s);
}

static char *
now_rfc3339 (void)
{
  struct timespec ts;
  struct tm tm;
  char buf[64], *out = NULL;

  clock_gettime (CLOCK_REALTIME, &ts);
  gmtime_r (&ts.tv_sec, &tm);
  strftime (buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  if (asprintf (&out, "%s.%09ldZ", buf, ts.tv_nsec) < 0)
    abort ();
  return out;
}

int
console_send (const char *socket_path, int master, runvm_error_t *err)
{
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  cleanup_close int fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  char name[] = "/dev/ptmx";
  struct iovec iov = { name, sizeof name - 1 };
  union
  {
    char buf[CMSG_SPACE (sizeof (int))];
    struct cmsghdr align;
  } u;
  struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf };
  struct cmsghdr *c = CMSG_FIRSTHDR (&msg);

  if (strlen (socket_path) >= sizeof addr.sun_path)
    return runvm_make_error (err, ENAMETOOLONG, "console socket `%s`", socket_path);
  strcpy (addr.sun_path, socket_path);
  if (fd < 0 || connect (fd, (struct sockaddr *) &addr, sizeof addr) < 0)
    return runvm_make_error (err, errno, "connect to the console socket `%s`", socket_path);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN (sizeof (int));
  memcpy (CMSG_DATA (c), &master, sizeof master);
  if (sendmsg (fd, &msg, 0) < 0)
    return runvm_make_error (err, errno, "send the console to `%s`", socket_path);
  return 0;
}

static int
open_console (const char *socket_path, int *slave, runvm_error_t *err)
{
  cleanup_close int master = posix_openpt (O_RDWR | O_NOCTTY | O_CLOEXEC);
  struct termios t;
  char *name;

  if (master < 0 || grantpt (master) < 0 || unlockpt (master) < 0 || (name = ptsname (master)) == NULL)
    return runvm_make_error (err, errno, "allocate a pty");
  *slave = open (name, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (*slave < 0)
    return runvm_make_error (err, errno, "open `%s`", name);
  /* The host side only carries bytes; the guest's pty does the line discipline. */
  if (tcgetattr (*slave, &t) == 0)
    {
      cfmakeraw (&t);
      tcsetattr (*slave, TCSANOW, &t);
    }
  return console_send (socket_path, master, err);
}

/* How long create waits for the guest to report the container created:
 * RUNVM_CREATE_TIMEOUT seconds, default 120. A guest that hangs in its
 * boot, or never answers, must not hold the engine's create forever. */
static int
create_timeout_ms (void)
{
  const char *v = getenv ("RUNVM_CREATE_TIMEOUT");
  char *end;
  long s;

  if (v == NULL || *v == '\0')
    return 120000;
  errno = 0;
  s = strtol (v, &end, 10);
  if (errno || *end || s <= 0 || s > 24 * 3600)
    return 120000;
  return (int) (s * 1000);
}

static int
wait_for_monitor (int sync_fd, pid_t pid, runvm_error_t *err)
{
  int timeout_ms = create_timeout_ms ();
  int64_t deadline = monotonic_ms () + timeout_ms;
  char buf[4096];
  size_t used = 0;

  for (;;)
    {
      struct pollfd pfd = { .fd = sync_fd, .events = POLLIN };
      int64_t left = deadline - monotonic_ms ();
      ssize_t r;
      int p;

      p = left > 0 ? poll (&pfd, 1, (int) left) : 0;
      if (p < 0 && errno == EINTR)
        continue;
      if (p == 0)
        return runvm_make_error (err, 0, "the guest did not report the container as created within %d s",
                                 timeout_ms / 1000);
      r = read (sync_fd, buf + used, sizeof buf - 1 - used);
      if (r < 0 && errno == EINTR)
        continue;
      if (r <= 0)
        break;
      used += r;
      if (memchr (buf, '\n', used) || used == sizeof buf - 1)
        break;
    }
  buf[used] = '\0';
  if (used && buf[used - 1] == '\n')
    buf[used - 1] = '\0';
  if (strncmp (buf, "ok ", 3) == 0)
    return 0;
  if (strncmp (buf, "error ", 6) == 0)
    return runvm_make_error (err, 0, "%s", buf + 6);
  {
    int status = 0;
    if (waitpid (pid, &status, WNOHANG) == pid)
      return runvm_make_error (err, 0, "the monitor exited during create (status %d)", WIFEXITED (status) ? WEXITSTATUS (status) : 128 + WTERMSIG (status));
  }
  return runvm_make_error (err, 0, "the monitor did not report the container as created");
}

int
write_pid_file (const char *path, pid_t pid, runvm_error_t *err)
{
  char buf[32];
  int n = snprintf (buf, sizeof buf, "%d", (int) pid);

  /* runc writes the pid file atomically, without a trailing newline. */
  return write_file_atomic (path, buf, n, err);
}

static void
close_extra_fds (int keep_upto, int keep1, int keep2)
{
  DIR *d = opendir ("/proc/self/fd");
  struct dirent *de;
  int dfd;

  if (d == NULL)
    return;
  dfd = dirfd (d);
  while ((de = readdir (d)))
    {
      int fd = atoi (de->d_name);
      if (de->d_name[0] == '.' || fd <= keep_upto || fd == keep1 || fd == keep2 || fd == dfd)
        continue;
      close (fd);
    }
  closedir (d);
}

static void reap_virtiofsd (const char *dir);

int
lifecycle_create (struct runvm_global *g, struct create_options *o, pid_t *monitor_pid, runvm_error_t *err)
{
  cleanup_free char *dir = NULL, *bundle = NULL, *config = NULL, *rootfs = NULL, *state_json = NULL;
  cleanup_oci_spec oci_spec *spec = NULL;
  struct container_state st;
  cleanup_close int slave = -1;
  int sync_pipe[2];
  struct stat sb;
  pid_t pid;

  if (container_validate_id (o->id, err) < 0)
    return -1;
  bundle = realpath (o->bundle ? o->bundle : ".", NULL);
  if (bundle == NULL)
    return runvm_make_error (err, errno, "bundle `%s`", o->bundle ? o->bundle : ".");
  if (asprintf (&config, "%s/config.json", bundle) < 0)
    abort ();
  if (stat (config, &sb) < 0)
    return runvm_make_error (err, 0, "JSON specification file config.json not found");
  if (oci_spec_parse_file (config, &spec, err) < 0)
    return -1;
  if (spec->process == NULL)
    return runvm_make_error (err, 0, "process property must not be empty");
  if (oci_process_validate (spec->process, err) < 0)
    return -1;
  if (spec->root_path == NULL)
    return runvm_make_error (err, 0, "root must be specified");
  if (spec->root_path[0] == '/')
    rootfs = strdup (spec->root_path);
  else if (asprintf (&rootfs, "%s/%s", bundle, spec->root_path) < 0)
    abort ();
  if (stat (rootfs, &sb) < 0 || !S_ISDIR (sb.st_mode))
    return runvm_make_error (err, 0, "rootfs (%s) does not exist", rootfs);
  if (spec->process->terminal && o->console_socket == NULL && o->detach)
    return runvm_make_error (err, 0, "cannot allocate tty if runc will detach without setting console socket");
  if (!spec->process->terminal && o->console_socket)
    return runvm_make_error (err, 0, "cannot use console socket if runc will not detach or allocate tty");

  if (mkdir_p (g->root, 0700, err) < 0)
    return -1;
  dir = container_dir (g, o->id);
  if (mkdir (dir, 0700) < 0)
    {
      if (errno == EEXIST)
        return runvm_make_error (err, 0, "container with given ID already exists");
      return runvm_make_error (err, errno, "mkdir `%s`", dir);
    }

  memset (&st, 0, sizeof st);
  st.id = (char *) o->id;
  st.bundle = bundle;
  st.rootfs = rootfs;
  st.config_path = config;
  st.created = now_rfc3339 ();
  st.status = (char *) "creating";
  st.owner = (char *) "";
  st.exit_status = -1;
  {
    /* Annotations go into state.json as given. */
    yajl_val ann = proto_get (spec->tree, "annotations");
    if (ann)
      st.annotations = spec->tree;
  }
  if (container_save (dir, &st, err) < 0)
    goto fail_dir;

  if (spec->process->terminal && o->console_socket && open_console (o->console_socket, &slave, err) < 0)
    goto fail_dir;
  if (pipe2 (sync_pipe, O_CLOEXEC) < 0)
    {
      runvm_make_error (err, errno, "pipe");
      goto fail_dir;
    }
  pid = fork ();
  if (pid < 0)
    {
      runvm_make_error (err, errno, "fork");
      close (sync_pipe[0]);
      close (sync_pipe[1]);
      goto fail_dir;
    }
  if (pid == 0)
    {
      struct monitor_args a = { .g = g, .id = o->id, .dir = dir, .bundle = bundle, .sync_fd = sync_pipe[1],
                                .console_fd = slave, .preserve_fds = o->preserve_fds };
      close (sync_pipe[0]);
      close_extra_fds (2 + o->preserve_fds, sync_pipe[1], slave);
      if (chdir ("/") < 0)
        _exit (1);
      monitor_main (&a);
    }
  close (sync_pipe[1]);
  if (wait_for_monitor (sync_pipe[0], pid, err) < 0)
    {
      close (sync_pipe[0]);
      kill (pid, SIGKILL);
      waitpid (pid, NULL, 0);
      goto fail_dir;
    }
  close (sync_pipe[0]);
  if (o->pid_file && write_pid_file (o->pid_file, pid, err) < 0)
    {
      kill (pid, SIGKILL);
      waitpid (pid, NULL, 0);
      goto fail_dir;
    }
  if (spec->hooks)
    {
      struct container_state cur;
      if (container_load (g, o->id, &cur, err) == 0)
        {
          state_json = container_state_json (&cur, false);
          container_state_release (&cur);
        }
      runvm_error_release (err);
      if (run_hooks ("prestart", spec->hooks->prestart.items, spec->hooks->prestart.len, state_json, false, err) < 0
          || run_hooks ("createRuntime", spec->hooks->create_runtime.items, spec->hooks->create_runtime.len,
                        state_json, false, err) < 0
          || run_hooks ("createContainer", spec->hooks->create_container.items, spec->hooks->create_container.len,
                        state_json, false, err) < 0)
        {
          kill (pid, SIGKILL);
          waitpid (pid, NULL, 0);
          goto fail_dir;
        }
    }
  free (st.created);
  *monitor_pid = pid;
  return 0;

fail_dir:
  free (st.created);
  reap_virtiofsd (dir);
  {
    runvm_error_t ignored = NULL;
    remove_tree (dir, &ignored);
    runvm_error_release (&ignored);
  }
  return -1;
}

int
lifecycle_start (struct runvm_global *g, const char *id, runvm_error_t *err)
{
  cleanup_free char *dir = NULL, *state_json = NULL;
  cleanup_oci_spec oci_spec *spec = NULL;
  struct container_state st;
  const char *status;
  int ret = 0;

  if (container_load (g, id, &st, err) < 0)
    return -1;
  status = container_status (&st);
  if (strcmp (status, "created") != 0)
    {
      if (strcmp (status, "stopped") == 0)
        ret = runvm_make_error (err, 0, "cannot start a container that has stopped");
      else if (strcmp (status, "running") == 0)
        ret = runvm_make_error (err, 0, "cannot start an already running container");
      else
        ret = runvm_make_error (err, 0, "cannot start a container in the %s state", status);
      container_state_release (&st);
      return ret;
    }
  dir = container_dir (g, id);
  if (st.config_path && oci_spec_parse_file (st.config_path, &spec, err) < 0)
    runvm_error_release (err);
  state_json = container_state_json (&st, false);
  if (spec && spec->hooks
      && run_hooks ("startContainer", spec->hooks->start_container.items, spec->hooks->start_container.len,
                    state_json, false, err) < 0)
    {
      container_state_release (&st);
      return -1;
    }
  ret = monitor_request (dir, "{\"type\":\"start\"}", NULL, err);
  if (ret == 0 && spec && spec->hooks)
    {
      /* poststart failures are reported but the container keeps running (runc). */
      if (run_hooks ("poststart", spec->hooks->poststart.items, spec->hooks->poststart.len, state_json, false, err)
          < 0)
        ret = -1;
    }
  container_state_release (&st);
  return ret;
}

/* Kills what is left of one virtiofsd process group (recorded by the
 * monitor as <state>/virtiofsd-TAG.pid) and waits for it: only processes of
 * that group whose name is virtiofsd, so a reused id is never hit. Returns
 * how many are still alive. */
static int
kill_virtiofsd_group (pid_t pgid)
{
  DIR *d = opendir ("/proc");
  struct dirent *de;
  int alive = 0;

  if (d == NULL)
    return 0;
  while ((de = readdir (d)))
    {
      char path[64], buf[512], *close_paren, *open_paren;
      int fd, pgrp = 0;
      ssize_t n;
      pid_t pid = (pid_t) atoi (de->d_name);

      if (pid <= 0)
        continue;
      snprintf (path, sizeof path, "/proc/%d/stat", (int) pid);
      fd = open (path, O_RDONLY | O_CLOEXEC);
      if (fd < 0)
        continue;
      n = read (fd, buf, sizeof buf - 1);
      close (fd);
      if (n <= 0)
        continue;
      buf[n] = '\0';
      open_paren = strchr (buf, '(');
      close_paren = strrchr (buf, ')');
      if (open_paren == NULL || close_paren == NULL || close_paren[1] != ' ')
        continue;
      /* fields after the name: state ppid pgrp */
      if (sscanf (close_paren + 2, "%*c %*d %d", &pgrp) != 1 || pgrp != (int) pgid)
        continue;
      if (strncmp (open_paren + 1, "virtiofsd)", 10) != 0 || close_paren[2] == 'Z')
        continue;
      kill (pid, SIGKILL);
      alive++;
    }
  closedir (d);
  return alive;
}

static void
reap_virtiofsd (const char *dir)
{
  DIR *d = opendir (dir);
  struct dirent *de;

  if (d == NULL)
    return;
  while ((de = readdir (d)))
    {
      cleanup_free char *path = NULL, *data = NULL;
      runvm_error_t ignored = NULL;
      pid_t pgid;
      int i;

      if (strncmp (de->d_name, "virtiofsd-", 10) != 0 || strstr (de->d_name, ".pid") == NULL)
        continue;
      if (asprintf (&path, "%s/%s", dir, de->d_name) < 0 || read_file (path, &data, NULL, &ignored) < 0)
        {
          runvm_error_release (&ignored);
          continue;
        }
      pgid = (pid_t) atoi (data);
      for (i = 0; pgid > 1 && i < 500 && kill_virtiofsd_group (pgid) > 0; i++)
        usleep (10000);
    }
  closedir (d);
}

/* The monitor may not be our child: poll until it is gone, up to steps
 * times 10 ms. */
static void
wait_monitor_gone (struct container_state *st, int steps)
{
  int i;

  for (i = 0; i < steps && container_monitor_alive (st); i++)
    {
      waitpid (st->pid, NULL, WNOHANG);
      usleep (10000);
    }
}

int
lifecycle_delete (struct runvm_global *g, const char *id, bool force, runvm_error_t *err)
{
  cleanup_free char *dir = NULL, *state_json = NULL;
  cleanup_oci_spec oci_spec *spec = NULL;
  struct container_state st;
  const char *status;

  if (container_load (g, id, &st, err) < 0)
    {
      if (force && strcmp ((*err)->msg, "container does not exist") == 0)
        {
          runvm_error_release (err);
          return 0;
        }
      return -1;
    }
  dir = container_dir (g, id);
  status = container_status (&st);
  if (strcmp (status, "stopped") != 0)
    {
      if (!force)
        {
          runvm_make_error (err, 0, "cannot delete container %s that is not stopped: %s", id, status);
          container_state_release (&st);
          return -1;
        }
      kill (st.pid, SIGKILL);
      wait_monitor_gone (&st, 1000);
    }
  else if (container_monitor_alive (&st))
    {
      /* "stopped" in state.json while the monitor still runs: it writes
       * that on its way out (give it 2 s to finish, it flushes the last
       * output), or something is wrong; either way no VM may outlive the
       * container's state. */
      wait_monitor_gone (&st, 200);
      if (container_monitor_alive (&st))
        kill (st.pid, SIGKILL);
      wait_monitor_gone (&st, 1000);
    }
  /* A killed monitor's virtiofsd dies asynchronously: make sure it has. */
  reap_virtiofsd (dir);
  if (st.config_path && oci_spec_parse_file (st.config_path, &spec, err) < 0)
    runvm_error_release (err);
  free (st.status);
  st.status = strdup ("stopped");
  state_json = container_state_json (&st, false);
  container_state_release (&st);
  if (remove_tree (dir, err) < 0)
    return -1;
  if (spec && spec->hooks)
    run_hooks ("poststop", spec->hooks->poststop.items, spec->hooks->poststop.len, state_json, true, err);
  runvm_error_release (err);
  return 0;
}
