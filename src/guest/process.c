/* Creating the container process and exec'ed processes. The parent (the
 * agent) clones a child into the requested namespaces; the child sets
 * itself up (rootfs, terminal, rlimits, user, capabilities, seccomp) and
 * reports over a SOCK_SEQPACKET sync channel (see init.h) before it
 * exec's. The container process waits there for `start`, so the path
 * lookup and every setup error happen at create time, as with runc. */
#include <config.h>
#include "init.h"
#include "utils.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <termios.h>

#define SYNC_FD 3

/* Where child_fail reports: the sync channel, before and after it moves. */
static int child_sync = SYNC_FD;

/* ---- child side ---- */

static void __attribute__ ((noreturn)) child_fail (int status, runvm_error_t *err)
{
  cleanup_free char *text = runvm_error_string (*err);
  char buf[4096];
  int n = snprintf (buf, sizeof buf, "E%d:%s", status, text ? text : "setup failed");
  if (send (child_sync, buf, n < (int) sizeof buf ? n : (int) sizeof buf - 1, MSG_NOSIGNAL) < 0)
    init_log ("%s", text);
  _exit (status);
}

/* Puts the child's stdio on 0..2 and the sync channel on 3, closes every
 * other descriptor inherited from runvm-init, and resets signals. */
static void
child_prelude (struct child_stdio *io, int sync_fd)
{
  sigset_t all;
  int fds[4], i;

  sigemptyset (&all);
  sigprocmask (SIG_SETMASK, &all, NULL);
  for (i = 1; i < NSIG; i++)
    signal (i, SIG_DFL);
  prctl (PR_SET_PDEATHSIG, SIGKILL);

  /* Move everything above the targets first so dup2 never clobbers. */
  for (i = 0; i < 3; i++)
    fds[i] = io->terminal || io->fds[i] < 0 ? -1 : fcntl (io->fds[i], F_DUPFD, 10);
  fds[3] = fcntl (sync_fd, F_DUPFD_CLOEXEC, 10);
  if (io->terminal)
    {
      /* The pty is opened after the rootfs is ready; until then /dev/null. */
      int null = open ("/dev/null", O_RDWR);
      for (i = 0; i < 3; i++)
        fds[i] = null >= 0 ? fcntl (null, F_DUPFD, 10) : -1;
    }
  for (i = 0; i < 3; i++)
    {
      if (fds[i] >= 0)
        dup2 (fds[i], i);
      else
        close (i);
    }
  dup2 (fds[3], SYNC_FD);
  fcntl (SYNC_FD, F_SETFD, FD_CLOEXEC);
  syscall (SYS_close_range, SYNC_FD + 1, ~0U, 0);
  child_sync = SYNC_FD;
  setsid ();
}

/* Opens a pty in the container's own devpts, gives the master to the
 * agent and makes the slave our controlling terminal and stdio. */
static int
setup_terminal (const oci_process *p, bool bind_console, char *slave_name, size_t len, runvm_error_t *err)
{
  cleanup_close int master = -1, slave = -1;
  char cbuf[CMSG_SPACE (sizeof (int))] = { 0 };
  struct iovec iov = { "T", 1 };
  struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf };
  struct cmsghdr *cm = CMSG_FIRSTHDR (&mh);
  int unlock = 0;

  master = open ("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0)
    return runvm_make_error (err, errno, "open /dev/ptmx");
  if (ioctl (master, TIOCSPTLCK, &unlock) < 0)
    return runvm_make_error (err, errno, "unlock pty");
  if (ptsname_r (master, slave_name, len) != 0)
    return runvm_make_error (err, errno, "ptsname");
  slave = open (slave_name, O_RDWR | O_CLOEXEC);
  if (slave < 0)
    return runvm_make_error (err, errno, "open `%s`", slave_name);
  /* The process's user owns its terminal, as with runc. */
  if (fchown (slave, p->uid, (gid_t) -1) < 0)
    return runvm_make_error (err, errno, "chown `%s`", slave_name);
  if (p->has_console_size)
    {
      struct winsize ws = { .ws_row = p->console_height, .ws_col = p->console_width };
      ioctl (master, TIOCSWINSZ, &ws);
    }
  cm->cmsg_level = SOL_SOCKET;
  cm->cmsg_type = SCM_RIGHTS;
  cm->cmsg_len = CMSG_LEN (sizeof (int));
  memcpy (CMSG_DATA (cm), &master, sizeof (int));
  if (sendmsg (SYNC_FD, &mh, MSG_NOSIGNAL) < 0)
    return runvm_make_error (err, errno, "send the pty master");
  if (bind_console)
    {
      /* runc binds the pty over /dev/console for the container's init. */
      cleanup_close int fd = open ("/dev/console", O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0600);
      if (fd >= 0 && mount (slave_name, "/dev/console", NULL, MS_BIND, NULL) < 0)
        return runvm_make_error (err, errno, "bind the pty on /dev/console");
    }
  if (ioctl (slave, TIOCSCTTY, 0) < 0)
    return runvm_make_error (err, errno, "make the pty the controlling terminal");
  if (dup2 (slave, 0) < 0 || dup2 (slave, 1) < 0 || dup2 (slave, 2) < 0)
    return runvm_make_error (err, errno, "dup2 the pty");
  return 0;
}

static int
write_oom_score_adj (const oci_process *p, runvm_error_t *err)
{
  char buf[16];
  cleanup_close int fd = -1;
  int n;

  if (!p->has_oom_score_adj)
    return 0;
  fd = open ("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
  n = snprintf (buf, sizeof buf, "%d", p->oom_score_adj);
  if (fd < 0 || write (fd, buf, n) != n)
    return runvm_make_error (err, errno, "set oomScoreAdj");
  return 0;
}

/* The part shared by the container process and exec: the process's own
 * attributes, from the terminal to the last step before execve. Returns
 * the resolved executable and environment. */
static int
setup_process (const struct container_config *cfg, const oci_process *p, bool is_container, char **path,
               char ***envp, int *status, runvm_error_t *err)
{
  const oci_seccomp *sc = cfg->spec->linux_ ? cfg->spec->linux_->seccomp : NULL;
  char slave[128];
  bool cwd_done;

  *status = 1;
  if (p->terminal && setup_terminal (p, is_container, slave, sizeof slave, err) < 0)
    return -1;
  if (write_oom_score_adj (p, err) < 0 || apply_rlimits (p, err) < 0)
    return -1;
  *envp = process_environment (p);
  /* As root first; a cwd only the target user may enter is retried after
   * the user change (runc does the same). */
  cwd_done = chdir (p->cwd) == 0;
  if (sc && !p->no_new_privileges && seccomp_apply (sc, err) < 0)
    return -1;
  /* An exec without capabilities of its own gets the container's (runc). */
  if (apply_user_and_caps (p, p->capabilities || is_container ? p->capabilities : cfg->spec->process->capabilities,
                           err)
      < 0)
    return -1;
  if (!cwd_done && chdir (p->cwd) < 0)
    return runvm_make_error (err, errno, "chdir to cwd (\"%s\") set in config.json failed", p->cwd);
  /* As the target user, like runc's exec.LookPath after finalizeNamespace. */
  if (lookup_executable (p->args[0], *envp, path, status, err) < 0)
    return -1;
  *status = 1;
  umask (p->has_umask ? p->umask : 022);
  if (p->no_new_privileges && prctl (PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
    return runvm_make_error (err, errno, "set no_new_privs");
  return 0;
}

static void __attribute__ ((noreturn))
do_exec (const struct container_config *cfg, const oci_process *p, const char *path, char **envp)
{
  const oci_seccomp *sc = cfg->spec->linux_ ? cfg->spec->linux_->seccomp : NULL;
  cleanup_error runvm_error_t err = NULL;
  int status;

  /* Seccomp last, so the profile need not allow our own setup. Without
   * no_new_privs it went in before the capabilities were dropped. */
  if (sc && p->no_new_privileges && seccomp_apply (sc, &err) < 0)
    child_fail (1, &err);
  execve (path, p->args, envp);
  status = errno == ENOENT ? 127 : 126;
  runvm_make_error (&err, errno, "exec %s", path);
  {
    cleanup_free char *text = runvm_error_string (err);
    dprintf (2, "runvm: %s\n", text);
  }
  child_fail (status, &err);
}

static void __attribute__ ((noreturn))
container_child (const struct container_config *cfg, struct child_stdio *io, int sync_fd)
{
  const oci_process *p = cfg->spec->process;
  const oci_namespace *net = oci_spec_namespace (cfg->spec, "network");
  cleanup_error runvm_error_t err = NULL;
  char **envp = NULL, *path = NULL, start;
  int status = 1;

  child_sync = sync_fd;
  child_prelude (io, sync_fd);
  if (net && net->path == NULL && set_loopback_up (&err) < 0)
    child_fail (1, &err);
  if (rootfs_prepare (cfg, &err) < 0 || rootfs_enter (cfg, &err) < 0)
    child_fail (1, &err);
  if (setup_process (cfg, p, true, &path, &envp, &status, &err) < 0)
    child_fail (status, &err);
  if (send (SYNC_FD, "R", 1, MSG_NOSIGNAL) != 1)
    _exit (1);
  /* Blocked here until the host sends `start`; EOF means the agent is gone. */
  if (read (SYNC_FD, &start, 1) != 1 || start != 'S')
    _exit (1);
  do_exec (cfg, p, path, envp);
}

static unsigned long
clone_flags (const oci_spec *spec)
{
  unsigned long flags = CLONE_NEWNS; /* always: the guest's mounts stay private */
  size_t i;

  for (i = 0; spec->linux_ && i < spec->linux_->n_namespaces; i++)
    {
      const oci_namespace *ns = &spec->linux_->namespaces[i];
      if (strcmp (ns->type, "pid") == 0)
        flags |= CLONE_NEWPID;
      else if (strcmp (ns->type, "uts") == 0)
        flags |= CLONE_NEWUTS;
      else if (strcmp (ns->type, "ipc") == 0)
        flags |= CLONE_NEWIPC;
      else if (strcmp (ns->type, "cgroup") == 0)
        flags |= CLONE_NEWCGROUP;
      /* A network namespace with a path is the engine's on the host: the
       * guest's own network already is that one. Without a path the
       * container gets an empty namespace, as under runc. User and time
       * namespaces are not created: the VM is the isolation boundary. */
      else if (strcmp (ns->type, "network") == 0 && ns->path == NULL)
        flags |= CLONE_NEWNET;
    }
  return flags;
}

static pid_t
raw_clone (unsigned long flags)
{
  return (pid_t) syscall (SYS_clone, flags | SIGCHLD, NULL, NULL, NULL, NULL);
}

int
process_spawn_container (const struct container_config *cfg, struct child_stdio *io, pid_t *pid, int *sync_fd,
                         runvm_error_t *err)
{
  int sv[2];
  pid_t child;

  if (socketpair (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
    return runvm_make_error (err, errno, "socketpair");
  child = raw_clone (clone_flags (cfg->spec));
  if (child < 0)
    {
      int saved = errno;
      close (sv[0]);
      close (sv[1]);
      return runvm_make_error (err, saved, "clone the container process");
    }
  if (child == 0)
    {
      close (sv[0]);
      container_child (cfg, io, sv[1]);
    }
  close (sv[1]);
  *pid = child;
  *sync_fd = sv[0];
  return 0;
}

/* ---- exec ---- */

static const struct
{
  const char *name;
  int type;
} exec_namespaces[] = {
  /* mnt last: after it, /proc/PID paths would be the container's. */
  { "ipc", CLONE_NEWIPC }, { "uts", CLONE_NEWUTS }, { "net", CLONE_NEWNET },
  { "cgroup", CLONE_NEWCGROUP }, { "mnt", CLONE_NEWNS },
};

static void __attribute__ ((noreturn))
exec_child (const struct container_config *cfg, const oci_process *p, struct child_stdio *io, int sync_fd,
            const int *ns_fds)
{
  cleanup_error runvm_error_t err = NULL;
  char **envp = NULL, *path = NULL;
  int status = 1;
  size_t i;

  child_sync = sync_fd;
  for (i = 0; i < ARRAY_SIZE (exec_namespaces); i++)
    if (ns_fds[i] >= 0 && setns (ns_fds[i], exec_namespaces[i].type) < 0)
      {
        runvm_make_error (&err, errno, "join the container's %s namespace", exec_namespaces[i].name);
        child_fail (1, &err);
      }
  /* setns(mnt) put us at the namespace's root: the container's rootfs. */
  if (chdir ("/") < 0)
    {
      runvm_make_error (&err, errno, "chdir /");
      child_fail (1, &err);
    }
  child_prelude (io, sync_fd);
  if (setup_process (cfg, p, false, &path, &envp, &status, &err) < 0)
    child_fail (status, &err);
  if (send (SYNC_FD, "R", 1, MSG_NOSIGNAL) != 1)
    _exit (1);
  do_exec (cfg, p, path, envp);
}

/* Opens the container's namespace NAME; *fd is -1 when it is ours. */
static int
open_namespace (pid_t pid, const char *name, int *fd, runvm_error_t *err)
{
  char path[64], self[64];
  struct stat a, b;

  *fd = -1;
  snprintf (path, sizeof path, "/proc/%d/ns/%s", (int) pid, name);
  snprintf (self, sizeof self, "/proc/self/ns/%s", name);
  if (stat (path, &a) < 0)
    return runvm_make_error (err, errno, "stat `%s`", path);
  if (stat (self, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino)
    return 0;
  *fd = open (path, O_RDONLY | O_CLOEXEC);
  if (*fd < 0)
    return runvm_make_error (err, errno, "open `%s`", path);
  return 0;
}

static void
close_fds (int *fds, size_t n)
{
  size_t i;
  for (i = 0; i < n; i++)
    if (fds[i] >= 0)
      close (fds[i]);
}

int
process_spawn_exec (const struct container_config *cfg, pid_t container_pid, const oci_process *proc,
                    struct child_stdio *io, pid_t *pid, int *sync_fd, runvm_error_t *err)
{
  int ns_fds[ARRAY_SIZE (exec_namespaces)], sv[2], saved;
  cleanup_close int own_pidns = -1, pidns = -1;
  pid_t child;
  size_t i;

  for (i = 0; i < ARRAY_SIZE (exec_namespaces); i++)
    ns_fds[i] = -1;
  for (i = 0; i < ARRAY_SIZE (exec_namespaces); i++)
    if (open_namespace (container_pid, exec_namespaces[i].name, &ns_fds[i], err) < 0)
      {
        close_fds (ns_fds, ARRAY_SIZE (exec_namespaces));
        return -1;
      }
  if (open_namespace (container_pid, "pid", &pidns, err) < 0)
    {
      close_fds (ns_fds, ARRAY_SIZE (exec_namespaces));
      return -1;
    }
  if (socketpair (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
    {
      close_fds (ns_fds, ARRAY_SIZE (exec_namespaces));
      return runvm_make_error (err, errno, "socketpair");
    }
  /* A pid namespace is entered by children only: switch ours for the
   * clone and back. */
  if (pidns >= 0)
    {
      own_pidns = open ("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC);
      if (own_pidns < 0 || setns (pidns, CLONE_NEWPID) < 0)
        {
          saved = errno;
          close_fds (ns_fds, ARRAY_SIZE (exec_namespaces));
          close (sv[0]);
          close (sv[1]);
          return runvm_make_error (err, saved, "join the container's pid namespace");
        }
    }
  child = raw_clone (0);
  saved = errno;
  if (child == 0)
    {
      close (sv[0]);
      exec_child (cfg, proc, io, sv[1], ns_fds);
    }
  if (own_pidns >= 0 && setns (own_pidns, CLONE_NEWPID) < 0)
    init_log ("cannot return to the guest's pid namespace: %s", strerror (errno));
  close_fds (ns_fds, ARRAY_SIZE (exec_namespaces));
  close (sv[1]);
  if (child < 0)
    {
      close (sv[0]);
      return runvm_make_error (err, saved, "clone the exec process");
    }
  *pid = child;
  *sync_fd = sv[0];
  return 0;
}
