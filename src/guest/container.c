/* The lifecycle of the container process and of exec'ed processes: their
 * stdio streams and relays, the sync channel from the child (ready,
 * terminal, errors), reaping, and the exit sequence: when the container's
 * init dies, kill what is left, drain its stdio, send `exit`, and wait for
 * `bye`. */
#include <config.h>
#include "agent.h"
#include "utils.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>

static void maybe_send_exit (void);
static void maybe_send_exec_exit (struct guest_proc *p);


struct guest_proc *
find_exec (int id)
{
  struct guest_proc *p;
  for (p = agent.execs; p; p = p->next)
    if (p->id == id)
      return p;
  return NULL;
}

static struct guest_proc *
find_pid (pid_t pid)
{
  struct guest_proc *p;
  if (agent.container && agent.container->pid == pid)
    return agent.container;
  for (p = agent.execs; p; p = p->next)
    if (p->pid == pid)
      return p;
  return NULL;
}

static bool
outputs_done (struct guest_proc *p)
{
  return relay_is_done (p->out) && relay_is_done (p->err_) && relay_is_done (p->tty_out)
         && (!p->terminal || p->tty_socket < 0);
}

static void
on_output_done (struct relay *r, void *data)
{
  struct guest_proc *p = data;
  if (p->id < 0)
    maybe_send_exit ();
  else
    maybe_send_exec_exit (p);
}

void
abort_relays (struct guest_proc *p)
{
  relay_abort (p->in);
  relay_abort (p->tty_in);
  relay_abort (p->out);
  relay_abort (p->err_);
  relay_abort (p->tty_out);
  if (p->tty_socket >= 0)
    {
      shutdown (p->tty_socket, SHUT_RDWR);
      close (p->tty_socket);
      p->tty_socket = -1;
    }
}

/* Connects the stdio streams of a process at BASE (the container's ports
 * 1025..1028, or an exec's 2048+4k..) and returns the child's ends. */
int
setup_stdio (struct guest_proc *p, unsigned base, bool want_stdin, struct child_stdio *io, runvm_error_t *err)
{
  char name[32];
  int i;

  io->terminal = p->terminal;
  io->fds[0] = io->fds[1] = io->fds[2] = -1;
  if (p->terminal)
    {
      p->tty_socket = transport_connect (base + 3, err);
      return p->tty_socket < 0 ? -1 : 0;
    }
  if (want_stdin)
    {
      int pipefd[2];
      cleanup_close int sock = transport_connect (base, err);
      if (sock < 0)
        return -1;
      if (pipe2 (pipefd, O_CLOEXEC) < 0)
        return runvm_make_error (err, errno, "pipe");
      io->fds[0] = pipefd[0];
      snprintf (name, sizeof name, "stdin.%d", p->id);
      p->in = relay_new (name, steal_fd (&sock), pipefd[1], NULL, p);
    }
  else
    {
      io->fds[0] = open ("/dev/null", O_RDONLY | O_CLOEXEC);
      if (io->fds[0] < 0)
        return runvm_make_error (err, errno, "open /dev/null");
    }
  for (i = 1; i <= 2; i++)
    {
      int pipefd[2];
      cleanup_close int sock = transport_connect (base + i, err);
      if (sock < 0)
        return -1;
      if (pipe2 (pipefd, O_CLOEXEC) < 0)
        return runvm_make_error (err, errno, "pipe");
      io->fds[i] = pipefd[1];
      snprintf (name, sizeof name, "%s.%d", i == 1 ? "stdout" : "stderr", p->id);
      *(i == 1 ? &p->out : &p->err_) = relay_new (name, pipefd[0], steal_fd (&sock), on_output_done, p);
    }
  return 0;
}

void
close_child_stdio (struct child_stdio *io)
{
  int i;
  for (i = 0; i < 3; i++)
    if (io->fds[i] >= 0)
      {
        close (io->fds[i]);
        io->fds[i] = -1;
      }
}

static void
attach_terminal (struct guest_proc *p, int master)
{
  char name[32];
  int sock_r, master_w;

  if (p->tty_socket < 0)
    {
      close (master);
      return;
    }
  p->tty_master = fcntl (master, F_DUPFD_CLOEXEC, 3);
  sock_r = fcntl (p->tty_socket, F_DUPFD_CLOEXEC, 3);
  master_w = fcntl (master, F_DUPFD_CLOEXEC, 3);
  snprintf (name, sizeof name, "tty-out.%d", p->id);
  p->tty_out = relay_new (name, master, p->tty_socket, on_output_done, p);
  snprintf (name, sizeof name, "tty-in.%d", p->id);
  p->tty_in = relay_new (name, sock_r, master_w, NULL, p);
  p->tty_socket = -1;
}

static void
close_sync (struct guest_proc *p)
{
  if (p->sync_fd < 0)
    return;
  loop_remove (&p->sync_w);
  close (p->sync_fd);
  p->sync_fd = -1;
}

/* The child could not become the process. runc words every such failure
 * "unable to start container process: ...", for create and exec alike. */
static void
process_failed (struct guest_proc *p, int status, const char *why)
{
  cleanup_free char *message = NULL;

  if (p->failed)
    return;
  p->failed = true;
  if (asprintf (&message, "unable to start container process: %s", why) < 0)
    abort ();
  if (p->id < 0)
    {
      if (agent.state == CREATING)
        {
          init_log ("container setup failed: %s", message);
          send_error ("error", -1, status, message);
          agent.state = FAILED;
          if (p->pid > 0 && !p->reaped)
            kill (p->pid, SIGKILL);
          abort_relays (p);
        }
      /* After start the child wrote the message on its own stderr. */
    }
  else if (!p->started_sent)
    {
      send_error ("exec-error", p->id, status, message);
      abort_relays (p);
    }
  maybe_release (p);
}

static void
on_sync (struct loop_watch *w, uint32_t events)
{
  struct guest_proc *p = w->data;
  char buf[4096], cbuf[CMSG_SPACE (sizeof (int))];
  struct iovec iov = { buf, sizeof buf - 1 };
  struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf };
  struct cmsghdr *cm;
  ssize_t n;

  n = recvmsg (p->sync_fd, &mh, MSG_CMSG_CLOEXEC);
  if (n < 0 && (errno == EINTR || errno == EAGAIN))
    return;
  if (n <= 0)
    {
      /* EOF: the child exec'ed (sync is close-on-exec) or died. */
      close_sync (p);
      if (!p->got_ready)
        process_failed (p, 1, p->id < 0 ? "container process died during setup" : "exec process died during setup");
      else if (p->id >= 0 && !p->failed && !p->started_sent)
        {
          p->started_sent = true;
          send_msg ("{\"type\":\"exec-started\",\"exec\":%d,\"pid\":%d}", p->id, (int) p->pid);
          maybe_send_exec_exit (p);
        }
      return;
    }
  buf[n] = '\0';
  switch (buf[0])
    {
    case 'T':
      for (cm = CMSG_FIRSTHDR (&mh); cm; cm = CMSG_NXTHDR (&mh, cm))
        if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS)
          {
            int fd;
            memcpy (&fd, CMSG_DATA (cm), sizeof fd);
            attach_terminal (p, fd);
          }
      break;
    case 'R':
      p->got_ready = true;
      if (p->id < 0 && agent.state == CREATING)
        {
          agent.state = CREATED;
          send_msg ("{\"type\":\"created\",\"pid\":%d}", (int) p->pid);
        }
      break;
    case 'E':
      {
        char *colon = strchr (buf, ':');
        process_failed (p, atoi (buf + 1), colon ? colon + 1 : buf + 1);
        break;
      }
    default:
      init_log ("unexpected sync message from pid %d", (int) p->pid);
    }
}

struct guest_proc *
new_proc (int id, bool terminal)
{
  struct guest_proc *p = calloc (1, sizeof *p);
  if (p == NULL)
    abort ();
  p->id = id;
  p->terminal = terminal;
  p->sync_fd = p->tty_socket = p->tty_master = -1;
  return p;
}

void
watch_sync (struct guest_proc *p)
{
  p->sync_w = (struct loop_watch){ .fd = p->sync_fd, .fn = on_sync, .data = p };
  loop_set (&p->sync_w, EPOLLIN);
}

/* ---- the container's processes, as seen from the guest ---- */

bool
read_stat (pid_t pid, pid_t *ppid, pid_t *session, unsigned long long *cpu_ticks)
{
  char path[64], buf[1024], *p;
  unsigned long long utime = 0, stime = 0, cutime = 0, cstime = 0;
  int fd, n, ppid_i = 0, pgrp = 0, sess = 0;

  snprintf (path, sizeof path, "/proc/%d/stat", (int) pid);
  fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return false;
  n = read (fd, buf, sizeof buf - 1);
  close (fd);
  if (n <= 0)
    return false;
  buf[n] = '\0';
  p = strrchr (buf, ')');
  if (p == NULL)
    return false;
  /* state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime cutime cstime */
  if (sscanf (p + 2, "%*c %d %d %d %*d %*d %*u %*u %*u %*u %*u %llu %llu %llu %llu", &ppid_i, &pgrp, &sess, &utime,
              &stime, &cutime, &cstime)
      < 3)
    return false;
  *ppid = ppid_i;
  *session = sess;
  if (cpu_ticks)
    *cpu_ticks = utime + stime + cutime + cstime;
  return true;
}

static bool
is_container_pid (pid_t pid)
{
  pid_t ppid = 0, sess = 0;
  struct guest_proc *e;

  if (pid == getpid () || !read_stat (pid, &ppid, &sess, NULL))
    return false;
  if (agent.own_pidns)
    {
      char path[64], ns[64];
      ssize_t n;
      snprintf (path, sizeof path, "/proc/%d/ns/pid", (int) pid);
      n = readlink (path, ns, sizeof ns - 1);
      if (n <= 0)
        return false;
      ns[n] = '\0';
      return strcmp (ns, agent.pidns) == 0;
    }
  if (!init_opts.host_dir)
    /* The whole guest is the container, minus PID 1 and kernel threads. */
    return pid != 1 && pid != 2 && ppid != 2;
  if (agent.container && sess == agent.container->pid)
    return true;
  for (e = agent.execs; e; e = e->next)
    if (sess == e->pid)
      return true;
  return false;
}

size_t
for_each_container_pid (void (*fn) (pid_t pid, void *data), void *data)
{
  DIR *d = opendir ("/proc");
  struct dirent *de;
  size_t n = 0;

  if (d == NULL)
    return 0;
  while ((de = readdir (d)))
    {
      char *end;
      long pid = strtol (de->d_name, &end, 10);
      if (*end || pid <= 0 || !is_container_pid ((pid_t) pid))
        continue;
      n++;
      if (fn)
        fn ((pid_t) pid, data);
    }
  closedir (d);
  return n;
}

static void
kill_one (pid_t pid, void *data)
{
  kill (pid, *(int *) data);
}

void
kill_container (int sig)
{
  if (agent.own_pidns && sig == SIGKILL && agent.container && !agent.container->reaped)
    {
      /* The kernel takes the rest of the namespace down with its init. */
      kill (agent.container->pid, SIGKILL);
      return;
    }
  for_each_container_pid (kill_one, &sig);
}

/* ---- exit sequence ---- */

static void
on_bye_timeout (void *data)
{
  init_log ("no bye from the host; powering off");
  agent.done = true;
}

static void
maybe_send_exit (void)
{
  struct guest_proc *c = agent.container;

  if (c == NULL || !c->reaped || agent.state != EXITING || !outputs_done (c))
    return;
  if (agent.drain_timer)
    loop_timer_cancel (agent.drain_timer);
  agent.drain_timer = 0;
  relay_abort (c->in);
  relay_abort (c->tty_in);
  agent.state = EXITED;
  send_msg ("{\"type\":\"exit\",\"status\":%d}", c->status);
  agent.bye_timer = loop_timer_add (BYE_TIMEOUT_MS, on_bye_timeout, NULL);
}

static void
on_drain_timeout (void *data)
{
  agent.drain_timer = 0;
  init_log ("container stdio still open after its init exited; closing it");
  abort_relays (agent.container);
  maybe_send_exit ();
}

static void
container_exited (struct guest_proc *c)
{
  if (agent.state == FAILED || agent.state == CREATING)
    {
      /* Setup failed: on_sync reports it (an error, or died-during-setup). */
      if (c->failed)
        abort_relays (c);
      return;
    }
  agent.state = EXITING;
  kill_container (SIGKILL);
  relay_abort (c->in);
  agent.drain_timer = loop_timer_add (DRAIN_TIMEOUT_MS, on_drain_timeout, NULL);
  maybe_send_exit ();
}

static void
maybe_send_exec_exit (struct guest_proc *p)
{
  if (!p->reaped || p->exit_sent || p->failed || !p->started_sent || !outputs_done (p))
    return;
  if (p->drain_timer)
    loop_timer_cancel (p->drain_timer);
  p->drain_timer = 0;
  relay_abort (p->in);
  relay_abort (p->tty_in);
  p->exit_sent = true;
  send_msg ("{\"type\":\"exec-exit\",\"exec\":%d,\"status\":%d}", p->id, p->status);
  maybe_release (p);
}

static void
release_now (void *data)
{
  struct guest_proc *p = data;
  relay_free (p->in);
  relay_free (p->out);
  relay_free (p->err_);
  relay_free (p->tty_in);
  relay_free (p->tty_out);
  p->in = p->out = p->err_ = p->tty_in = p->tty_out = NULL;
  if (p->tty_master >= 0)
    close (p->tty_master);
  if (p->tty_socket >= 0)
    close (p->tty_socket);
  p->tty_master = p->tty_socket = -1;
}

/* Long-lived containers run many execs (health checks): free each one's
 * buffers once it is over. Deferred to a timer because the relay that
 * reported the end may still be on the call stack. */
void
maybe_release (struct guest_proc *p)
{
  if (p->id < 0 || p->released || !p->reaped || !(p->exit_sent || p->failed))
    return;
  p->released = true;
  loop_timer_add (0, release_now, p);
}

static void
on_exec_drain_timeout (void *data)
{
  struct guest_proc *p = data;
  p->drain_timer = 0;
  abort_relays (p);
  maybe_send_exec_exit (p);
}

void
agent_on_child_exit (pid_t pid, int wstatus)
{
  struct guest_proc *p = find_pid (pid);

  if (p == NULL || p->reaped)
    return;
  p->reaped = true;
  p->status = WIFEXITED (wstatus) ? WEXITSTATUS (wstatus) : 128 + WTERMSIG (wstatus);
  init_debug ("pid %d (%s %d) exited with %d", (int) pid, p->id < 0 ? "container" : "exec", p->id, p->status);
  if (p->id < 0)
    container_exited (p);
  else
    {
      if (!p->failed && !outputs_done (p))
        p->drain_timer = loop_timer_add (EXEC_DRAIN_TIMEOUT_MS, on_exec_drain_timeout, p);
      maybe_send_exec_exit (p);
      maybe_release (p);
    }
}

void
on_signalfd (struct loop_watch *w, uint32_t events)
{
  struct signalfd_siginfo si;
  int status;
  pid_t pid;

  while (read (w->fd, &si, sizeof si) == sizeof si)
    ;
  while ((pid = waitpid (-1, &status, WNOHANG)) > 0)
    agent_on_child_exit (pid, status);
}

/* ---- messages ---- */
