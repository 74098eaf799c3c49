/* Spawning and supervising virtiofsd: a pre-connected socket handed over
 * with --fd, a child that dies with us, a watcher thread that reaps it and
 * reports an unexpected death. */
#include <config.h>
#include "virtiofsd.h"
#include "capped-log.h"
#include "utils.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <linux/mount.h>

#ifndef VIRTIOFSD_PATH
#define VIRTIOFSD_PATH "/usr/lib/qemu/virtiofsd"
#endif

struct virtiofsd
{
  pid_t pid;
  char *tag;
  char *log_path;
  int log_pipe;            /* read end of virtiofsd's stderr (the watcher drains it) */
  struct capped_log *log;  /* where it goes: log_path, capped (capped-log.h) */
  pthread_t watcher;

  pthread_mutex_t lock;
  pthread_cond_t cond;
  bool exited;
  int wait_status; /* valid when exited; -1 when unknown (ECHILD) */
  bool stopping;
  virtiofsd_died_cb died_cb;
  void *died_opaque;
};

/* What the child reports through the exec pipe when it fails before exec. */
enum child_step
{
  STEP_SETUP = 1,
  STEP_UNSHARE,
  STEP_MOUNT_SLAVE,
  STEP_BIND,
  STEP_READONLY,
  STEP_EXEC,
};

struct child_failure
{
  int step;
  int err;
};

static const char *
step_name (int step)
{
  switch (step)
    {
    case STEP_UNSHARE:
      return "creating a mount namespace for the read-only share";
    case STEP_MOUNT_SLAVE:
      return "making mounts private for the read-only share";
    case STEP_BIND:
      return "bind-mounting the read-only share";
    case STEP_READONLY:
      return "making the share read-only";
    case STEP_EXEC:
      return "executing";
    default:
      return "setting up the child";
    }
}


/* ---- the child, between fork and exec: async-signal-safe calls only ---- */

struct child_args
{
  pid_t parent;
  int devnull_fd, log_fd, listen_fd, report_fd; /* all >= 10 */
  bool readonly;
  const char *source;
  const char *binary;
  char *const *argv;
  char *const *envp;
};

static __attribute__ ((noreturn)) void
child_fail (const struct child_args *a, int step)
{
  struct child_failure f = { .step = step, .err = errno };
  ssize_t n = write (a->report_fd, &f, sizeof f);
  (void) n;
  _exit (127);
}

static int
make_readonly (const char *dir)
{
  struct mount_attr attr = { .attr_set = MOUNT_ATTR_RDONLY };
  struct statvfs sv;
  unsigned long flags = MS_BIND | MS_REMOUNT | MS_RDONLY;

  /* mount_setattr covers every submount (5.12+); the fallback only the top. */
  if (syscall (SYS_mount_setattr, AT_FDCWD, dir, AT_RECURSIVE, &attr, sizeof attr) == 0)
    return 0;
  if (errno != ENOSYS)
    return -1;
  /* A bind remount must repeat the flags it keeps. */
  if (statvfs (dir, &sv) == 0)
    {
      if (sv.f_flag & ST_NOSUID)
        flags |= MS_NOSUID;
      if (sv.f_flag & ST_NODEV)
        flags |= MS_NODEV;
      if (sv.f_flag & ST_NOEXEC)
        flags |= MS_NOEXEC;
      if (sv.f_flag & ST_NOATIME)
        flags |= MS_NOATIME;
      if (sv.f_flag & ST_NODIRATIME)
        flags |= MS_NODIRATIME;
      if (sv.f_flag & ST_RELATIME)
        flags |= MS_RELATIME;
    }
  return mount (NULL, dir, NULL, flags, NULL);
}

static __attribute__ ((noreturn)) void
child_main (const struct child_args *a)
{
  struct sigaction dfl = { .sa_handler = SIG_DFL };
  sigset_t all;
  int sig;

  /* Die with the monitor, even by SIGKILL; if it already died, go now. */
  if (prctl (PR_SET_PDEATHSIG, SIGKILL) < 0)
    child_fail (a, STEP_SETUP);
  if (getppid () != a->parent)
    _exit (127);
  /* Out of the monitor's process group: a ^C meant for runvm must not kill
   * the file server before the VM is down. */
  setsid ();

  for (sig = 1; sig < NSIG; sig++)
    if (sig != SIGKILL && sig != SIGSTOP)
      sigaction (sig, &dfl, NULL);
  sigemptyset (&all);
  sigprocmask (SIG_SETMASK, &all, NULL);

  if (dup2 (a->devnull_fd, 0) < 0 || dup2 (a->devnull_fd, 1) < 0 || dup2 (a->log_fd, 2) < 0
      || dup2 (a->listen_fd, 3) < 0)
    child_fail (a, STEP_SETUP);
  /* Nothing else of the monitor's leaks into virtiofsd (the guest RAM memfd
   * reaches it through SET_MEM_TABLE only). The report pipe is close-on-exec. */
  if (syscall (SYS_close_range, 4, a->report_fd - 1, 0) < 0
      || syscall (SYS_close_range, a->report_fd + 1, ~0U, 0) < 0)
    {
      int fd;
      for (fd = 4; fd < 65536; fd++)
        if (fd != a->report_fd)
          close (fd);
    }

  if (a->readonly)
    {
      if (unshare (CLONE_NEWNS) < 0)
        child_fail (a, STEP_UNSHARE);
      if (mount (NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0)
        child_fail (a, STEP_MOUNT_SLAVE);
      if (mount (a->source, a->source, NULL, MS_BIND | MS_REC, NULL) < 0)
        child_fail (a, STEP_BIND);
      if (make_readonly (a->source) < 0)
        child_fail (a, STEP_READONLY);
    }

  execve (a->binary, a->argv, a->envp);
  child_fail (a, STEP_EXEC);
}

/* ---- the monitor side ---- */

/* virtiofsd logs an error line for each malformed request, and the guest
 * makes the requests: its stderr goes through a pipe into the capped log,
 * until the pipe ends or virtiofsd has exited and said all it had. */
static void
pump_log (struct virtiofsd *d)
{
  int pidfd = (int) syscall (SYS_pidfd_open, d->pid, 0);
  char buf[4096];
  bool gone = false;

  for (;;)
    {
      struct pollfd pfd[2] = { { .fd = d->log_pipe, .events = POLLIN }, { .fd = pidfd, .events = POLLIN } };
      ssize_t n;

      /* Once virtiofsd is gone, read what is left without waiting: a
       * process of its own that kept stderr open must not hold us. */
      if (!gone && poll (pfd, pidfd >= 0 ? 2 : 1, -1) < 0)
        {
          if (errno == EINTR)
            continue;
          break;
        }
      if (pidfd >= 0 && (pfd[1].revents & POLLIN))
        gone = true;
      n = read (d->log_pipe, buf, sizeof buf);
      if (n > 0)
        capped_log_write (d->log, buf, (size_t) n);
      else if (n == 0 || (errno != EINTR && (errno != EAGAIN || gone)))
        break;
    }
  if (pidfd >= 0)
    close (pidfd);
}

static void *
watcher_main (void *opaque)
{
  struct virtiofsd *d = opaque;
  siginfo_t si;
  int status = -1;
  bool report;
  virtiofsd_died_cb cb;
  void *cb_opaque;

  pump_log (d);

  /* WNOWAIT: the pid stays ours (a zombie) until we reap it under the lock,
   * so virtiofsd_stop() can never signal a recycled pid. */
  while (waitid (P_PID, (id_t) d->pid, &si, WEXITED | WNOWAIT) < 0 && errno == EINTR)
    ;
  pthread_mutex_lock (&d->lock);
  while (waitpid (d->pid, &status, 0) < 0)
    {
      if (errno != EINTR)
        {
          status = -1; /* someone else reaped it */
          break;
        }
    }
  d->exited = true;
  d->wait_status = status;
  report = !d->stopping && d->died_cb != NULL;
  cb = d->died_cb;
  cb_opaque = d->died_opaque;
  pthread_cond_broadcast (&d->cond);
  pthread_mutex_unlock (&d->lock);

  if (report)
    cb (cb_opaque, d->pid, status);
  return NULL;
}

static int
dup_high (int fd)
{
  return fcntl (fd, F_DUPFD_CLOEXEC, 10);
}

/* Creates the listening socket at dir/name, connects to it, removes the
 * name again: afterwards only the process we hand *listen_fd to can accept
 * the connection we hold in *conn_fd. */
static int
make_connected_socket (const char *dir, const char *name, int *listen_fd, int *conn_fd, runvm_error_t *err)
{
  cleanup_close int dirfd = -1, lfd = -1, cfd = -1;
  struct sockaddr_un sa = { .sun_family = AF_UNIX };
  int n;

  /* Reached through /proc/self/fd so that long state directories fit. */
  dirfd = open (dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (dirfd < 0)
    return runvm_make_error (err, errno, "open state directory %s", dir);
  n = snprintf (sa.sun_path, sizeof sa.sun_path, "/proc/self/fd/%d/%s", dirfd, name);
  if (n < 0 || (size_t) n >= sizeof sa.sun_path)
    return runvm_make_error (err, ENAMETOOLONG, "socket name %s", name);

  lfd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  cfd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (lfd < 0 || cfd < 0)
    return runvm_make_error (err, errno, "socket");
  unlinkat (dirfd, name, 0); /* a stale one from an earlier run */
  if (bind (lfd, (struct sockaddr *) &sa, sizeof sa) < 0)
    return runvm_make_error (err, errno, "bind %s/%s", dir, name);
  if (listen (lfd, 1) < 0 || connect (cfd, (struct sockaddr *) &sa, sizeof sa) < 0)
    {
      int saved = errno;
      unlinkat (dirfd, name, 0);
      return runvm_make_error (err, saved, "connect to %s/%s", dir, name);
    }
  unlinkat (dirfd, name, 0);
  *listen_fd = steal_fd (&lfd);
  *conn_fd = steal_fd (&cfd);
  return 0;
}

static void
virtiofsd_free (struct virtiofsd *d)
{
  if (d->log_pipe >= 0)
    close (d->log_pipe);
  capped_log_close (d->log);
  pthread_mutex_destroy (&d->lock);
  pthread_cond_destroy (&d->cond);
  free (d->tag);
  free (d->log_path);
  free (d);
}

static bool
valid_tag (const char *tag)
{
  size_t n = tag ? strlen (tag) : 0;
  return n > 0 && n <= 36 && strchr (tag, '/') == NULL && strcmp (tag, ".") != 0 && strcmp (tag, "..") != 0;
}

int
virtiofsd_start (const struct virtiofsd_config *cfg, struct virtiofsd **out, int *sock_fd, runvm_error_t *err)
{
  const char *binary = cfg->binary ? cfg->binary : VIRTIOFSD_PATH;
  const char *sandbox = cfg->sandbox ? cfg->sandbox : "namespace";
  const char *cache = cfg->cache ? cfg->cache : "auto";
  cleanup_free char *sock_name = NULL, *opt_source = NULL, *opt_sandbox = NULL, *opt_cache = NULL;
  cleanup_close int listen_fd = -1, conn_fd = -1, devnull = -1, log_fd = -1;
  cleanup_close int hi_devnull = -1, hi_log = -1, hi_listen = -1;
  cleanup_close int report_rd = -1, report_wr = -1;
  int pipefd[2];
  struct child_args args;
  struct child_failure failure;
  struct virtiofsd *d;
  struct stat st;
  sigset_t all, old;
  ssize_t got;
  pid_t pid;
  int r;

  if (!valid_tag (cfg->tag))
    return runvm_make_error (err, EINVAL, "virtiofsd: invalid tag '%s' (1 to 36 bytes, no '/')",
                             cfg->tag ? cfg->tag : "");
  if (cfg->state_dir == NULL)
    return runvm_make_error (err, EINVAL, "virtiofsd for '%s': no state directory", cfg->tag);
  if (cfg->source == NULL || cfg->source[0] != '/')
    return runvm_make_error (err, EINVAL, "virtiofsd for '%s': source must be an absolute path", cfg->tag);
  if (stat (cfg->source, &st) < 0)
    return runvm_make_error (err, errno, "virtiofsd for '%s': %s", cfg->tag, cfg->source);
  if (!S_ISDIR (st.st_mode))
    return runvm_make_error (err, ENOTDIR, "virtiofsd for '%s': %s", cfg->tag, cfg->source);
  if (strchr (cfg->source, ',') != NULL)
    return runvm_make_error (err, EINVAL, "virtiofsd for '%s': the path %s has a ',' that virtiofsd's -o cannot take",
                             cfg->tag, cfg->source);
  if (access (binary, X_OK) < 0)
    return runvm_make_error (err, errno, "virtiofsd for '%s': %s", cfg->tag, binary);

  d = calloc (1, sizeof *d);
  if (d == NULL)
    return runvm_make_error (err, ENOMEM, "virtiofsd");
  pthread_mutex_init (&d->lock, NULL);
  pthread_cond_init (&d->cond, NULL);
  d->pid = -1;
  d->log_pipe = -1;
  if (asprintf (&d->tag, "%s", cfg->tag) < 0 || asprintf (&d->log_path, "%s/virtiofsd-%s.log", cfg->state_dir, cfg->tag) < 0
      || asprintf (&sock_name, "virtiofsd-%s.sock", cfg->tag) < 0
      || asprintf (&opt_source, "source=%s", cfg->source) < 0 || asprintf (&opt_sandbox, "sandbox=%s", sandbox) < 0
      || asprintf (&opt_cache, "cache=%s", cache) < 0)
    {
      virtiofsd_free (d);
      return runvm_make_error (err, ENOMEM, "virtiofsd");
    }

  if (make_connected_socket (cfg->state_dir, sock_name, &listen_fd, &conn_fd, err) < 0)
    {
      virtiofsd_free (d);
      return runvm_error_wrap (err, "virtiofsd for '%s'", cfg->tag);
    }
  devnull = open ("/dev/null", O_RDWR | O_CLOEXEC);
  if (devnull < 0)
    {
      r = runvm_make_error (err, errno, "virtiofsd for '%s': open /dev/null", cfg->tag);
      virtiofsd_free (d);
      return r;
    }
  /* Truncated: the last line must be this run's when we quote it. */
  if (capped_log_open (-1, d->log_path, VIRTIOFSD_LOG_MAX, true, &d->log, err) < 0)
    {
      virtiofsd_free (d);
      return runvm_error_wrap (err, "virtiofsd for '%s'", cfg->tag);
    }
  /* virtiofsd's stderr: the write end, for the child. */
  if (pipe2 (pipefd, O_CLOEXEC) < 0)
    {
      r = runvm_make_error (err, errno, "virtiofsd for '%s': pipe", cfg->tag);
      virtiofsd_free (d);
      return r;
    }
  d->log_pipe = pipefd[0];
  log_fd = pipefd[1];
  fcntl (d->log_pipe, F_SETFL, O_NONBLOCK);
  /* The child dup2()s these to 0..3: above 10 they cannot collide. */
  hi_devnull = dup_high (devnull);
  hi_log = dup_high (log_fd);
  hi_listen = dup_high (listen_fd);
  if (pipe2 (pipefd, O_CLOEXEC) < 0)
    pipefd[0] = pipefd[1] = -1;
  report_rd = pipefd[0];
  report_wr = pipefd[1] >= 0 ? dup_high (pipefd[1]) : -1;
  if (pipefd[1] >= 0)
    close (pipefd[1]);
  if (hi_devnull < 0 || hi_log < 0 || hi_listen < 0 || report_rd < 0 || report_wr < 0)
    {
      r = runvm_make_error (err, errno, "virtiofsd for '%s': duplicating descriptors", cfg->tag);
      virtiofsd_free (d);
      return r;
    }

  {
    char *argv[] = { (char *) binary, "--fd=3", "-f", "-o", opt_source, "-o", opt_cache, "-o", opt_sandbox,
                     "-o", cfg->no_xattr ? "no_xattr" : "xattr", NULL };
    char *envp[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL };

    args = (struct child_args){ .parent = getpid (), .devnull_fd = hi_devnull, .log_fd = hi_log,
                                .listen_fd = hi_listen, .report_fd = report_wr, .readonly = cfg->readonly,
                                .source = cfg->source, .binary = binary, .argv = argv, .envp = envp };
    /* Signals stay blocked across fork so no handler of ours runs in the child. */
    sigfillset (&all);
    pthread_sigmask (SIG_SETMASK, &all, &old);
    pid = fork ();
    if (pid == 0)
      child_main (&args);
    r = errno;
    pthread_sigmask (SIG_SETMASK, &old, NULL);
  }
  if (pid < 0)
    {
      virtiofsd_free (d);
      return runvm_make_error (err, r, "virtiofsd for '%s': fork", cfg->tag);
    }
  d->pid = pid;
  close (steal_fd (&report_wr));
  {
    /* virtiofsd leads its own process group (setsid in the child). Record it
     * so `runvm delete` can make sure nothing of it outlives a killed
     * monitor: the parent-death signal is asynchronous, and virtiofsd's
     * sandbox child exits after it. */
    cleanup_free char *pid_path = NULL;
    char buf[32];
    int n = snprintf (buf, sizeof buf, "%d", (int) pid);
    if (asprintf (&pid_path, "%s/virtiofsd-%s.pid", cfg->state_dir, cfg->tag) >= 0)
      {
        runvm_error_t ignored = NULL;
        write_file_atomic (pid_path, buf, n, &ignored);
        runvm_error_release (&ignored);
      }
  }

  /* EOF means execve succeeded; a record means the child gave up. */
  do
    got = read (report_rd, &failure, sizeof failure);
  while (got < 0 && errno == EINTR);
  if (got == (ssize_t) sizeof failure)
    {
      while (waitpid (pid, NULL, 0) < 0 && errno == EINTR)
        ;
      r = runvm_make_error (err, failure.err, "virtiofsd for '%s': %s %s", cfg->tag, step_name (failure.step),
                            failure.step == STEP_EXEC ? binary : cfg->source);
      virtiofsd_free (d);
      return r;
    }

  /* The watcher must not take the monitor's signals. */
  sigfillset (&all);
  pthread_sigmask (SIG_SETMASK, &all, &old);
  r = pthread_create (&d->watcher, NULL, watcher_main, d);
  pthread_sigmask (SIG_SETMASK, &old, NULL);
  if (r != 0)
    {
      kill (pid, SIGKILL);
      while (waitpid (pid, NULL, 0) < 0 && errno == EINTR)
        ;
      virtiofsd_free (d);
      return runvm_make_error (err, r, "virtiofsd for '%s': pthread_create", cfg->tag);
    }

  *sock_fd = steal_fd (&conn_fd);
  *out = d;
  return 0;
}

pid_t
virtiofsd_pid (const struct virtiofsd *d)
{
  return d->pid;
}

void
virtiofsd_set_died_cb (struct virtiofsd *d, virtiofsd_died_cb cb, void *opaque)
{
  pthread_mutex_lock (&d->lock);
  d->died_cb = cb;
  d->died_opaque = opaque;
  pthread_mutex_unlock (&d->lock);
}

/* Waits on d->cond (held) until exited or deadline; returns exited. */
static bool
wait_exited_locked (struct virtiofsd *d, int64_t deadline)
{
  while (!d->exited)
    {
      int64_t left = deadline - monotonic_ms ();
      struct timespec ts;

      if (left <= 0)
        break;
      clock_gettime (CLOCK_REALTIME, &ts);
      ts.tv_sec += left / 1000;
      ts.tv_nsec += (left % 1000) * 1000000;
      if (ts.tv_nsec >= 1000000000)
        {
          ts.tv_sec++;
          ts.tv_nsec -= 1000000000;
        }
      pthread_cond_timedwait (&d->cond, &d->lock, &ts);
    }
  return d->exited;
}

bool
virtiofsd_wait_exit (struct virtiofsd *d, int timeout_ms, int *wait_status)
{
  bool exited;

  pthread_mutex_lock (&d->lock);
  exited = wait_exited_locked (d, monotonic_ms () + (timeout_ms > 0 ? timeout_ms : 0));
  if (exited && wait_status)
    *wait_status = d->wait_status;
  pthread_mutex_unlock (&d->lock);
  return exited;
}

char *
virtiofsd_describe (struct virtiofsd *d)
{
  cleanup_free char *line = file_last_line (d->log_path);
  char clean[1024];
  char *out = NULL;
  char state[64];
  bool exited;
  int status;

  pthread_mutex_lock (&d->lock);
  exited = d->exited;
  status = d->wait_status;
  pthread_mutex_unlock (&d->lock);

  if (!exited)
    snprintf (state, sizeof state, "is still running");
  else if (status == -1)
    snprintf (state, sizeof state, "exited");
  else if (WIFEXITED (status))
    snprintf (state, sizeof state, "exited with status %d", WEXITSTATUS (status));
  else if (WIFSIGNALED (status))
    snprintf (state, sizeof state, "was killed by signal %d", WTERMSIG (status));
  else
    snprintf (state, sizeof state, "ended (wait status 0x%x)", (unsigned) status);
  /* virtiofsd may quote what the guest sent. */
  if (asprintf (&out, "%s%s%s%s", state, line ? " (log: " : "",
                line ? text_sanitize (clean, sizeof clean, line, false) : "", line ? ")" : "")
      < 0)
    return NULL;
  return out;
}

void
virtiofsd_stop (struct virtiofsd *d, int grace_ms)
{
  if (d == NULL)
    return;
  pthread_mutex_lock (&d->lock);
  d->stopping = true;
  /* With its socket closed virtiofsd exits by itself; that is the clean
   * path in sandbox=namespace mode, where our child waits for its own. */
  if (!wait_exited_locked (d, monotonic_ms () + (grace_ms > 0 ? grace_ms : 0)))
    {
      kill (d->pid, SIGTERM);
      if (!wait_exited_locked (d, monotonic_ms () + 1000))
        {
          kill (d->pid, SIGKILL);
          /* SIGKILL cannot be ignored: the watcher reaps it promptly. */
        }
    }
  pthread_mutex_unlock (&d->lock);
  pthread_join (d->watcher, NULL);
  virtiofsd_free (d);
}
