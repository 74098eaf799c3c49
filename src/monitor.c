/* The monitor: the host process that stands for one container. It runs the
 * VM (main thread) and a control thread that speaks docs/protocol.md with
 * runvm-init over vsock and serves the CLI on <state>/monitor.sock. It
 * exits with the container's status (the code, or 128+N after signal N),
 * which is what conmon and the containerd shim wait for. */
#include <config.h>
#include "container.h"
#include "stdio-relay.h"
#include "oci-spec/spec.h"
#include "proto.h"
#include "utils.h"
#include "vm.h"
#include "virtio/vsock.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>

#define MAX_CLIENTS 64
#define MAX_EXECS 64

struct client
{
  int fd;
  char waiting[32]; /* agent reply type this client waits for ("" = none) */
  int exec;         /* exec number this client owns, -1 */
};

struct monitor
{
  struct monitor_args *a;
  oci_spec *spec;
  struct container_state st;
  struct vm *vm;
  struct virtio_vsock *vsock;
  int log_fd;
  int agent_listen, agent_fd, ctl_listen, sig_fd, sync_fd;
  bool hello, created, start_sent, started, exited, failed;
  int exit_status;
  struct client clients[MAX_CLIENTS];
  unsigned next_exec;
  pthread_t control_thread;
  struct stdio_relays relays;
  char *shares_json; /* the config message's "shares" array */
  struct ratelimit guest_log; /* lines the guest's messages cause (monitor_log_guest) */
};

static void
monitor_vlog (struct monitor *m, const char *note, const char *fmt, va_list ap)
{
  char buf[1024];
  int n;

  if (m->log_fd < 0)
    return;
  n = snprintf (buf, sizeof buf, "runvm monitor[%d] %s: %s", (int) getpid (), m->a->id, note);
  if (n < (int) sizeof buf - 2)
    n += vsnprintf (buf + n, sizeof buf - n, fmt, ap);
  if (n > (int) sizeof buf - 2)
    n = sizeof buf - 2;
  buf[n++] = '\n';
  if (write (m->log_fd, buf, n) < 0)
    {
    }
}

void
monitor_log (struct monitor *m, const char *fmt, ...)
{
  va_list ap;

  va_start (ap, fmt);
  monitor_vlog (m, "", fmt, ap);
  va_end (ap);
}

/* A line the guest causes, one per message it sends: rate-limited (a burst
 * of 100, then 10 a second), so a guest that sends messages without end
 * cannot grow the log (the engine's --log file, or monitor.log on /run)
 * without bound. The next line that gets through says how many did not.
 * Called on the control thread only. */
static void
monitor_log_guest (struct monitor *m, const char *fmt, ...)
{
  char note[80] = "";
  unsigned dropped = 0;
  va_list ap;

  if (!ratelimit_allow (&m->guest_log, monotonic_ms (), &dropped))
    return;
  if (dropped)
    snprintf (note, sizeof note, "(%u lines about the guest's messages not logged) ", dropped);
  va_start (ap, fmt);
  monitor_vlog (m, note, fmt, ap);
  va_end (ap);
}

static void
sync_report (struct monitor *m, const char *fmt, ...)
{
  char buf[4096];
  va_list ap;
  int n;

  if (m->sync_fd < 0)
    return;
  va_start (ap, fmt);
  n = vsnprintf (buf, sizeof buf - 1, fmt, ap);
  va_end (ap);
  if (n > (int) sizeof buf - 2)
    n = sizeof buf - 2;
  buf[n++] = '\n';
  if (write (m->sync_fd, buf, n) < 0)
    {
    }
  close (m->sync_fd);
  m->sync_fd = -1;
}

static void
save_status (struct monitor *m, const char *status)
{
  cleanup_error runvm_error_t err = NULL;

  free (m->st.status);
  m->st.status = strdup (status);
  m->st.exit_status = m->exited ? m->exit_status : -1;
  if (container_save (m->a->dir, &m->st, &err) < 0)
    monitor_log (m, "saving state: %s", err->msg);
}

static int
listen_unix (const char *path, runvm_error_t *err)
{
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  cleanup_close int fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

  if (fd < 0)
    return runvm_make_error (err, errno, "socket");
  if (strlen (path) >= sizeof addr.sun_path)
    return runvm_make_error (err, ENAMETOOLONG, "socket path `%s`", path);
  strcpy (addr.sun_path, path);
  unlink (path);
  if (bind (fd, (struct sockaddr *) &addr, sizeof addr) < 0 || listen (fd, 16) < 0)
    return runvm_make_error (err, errno, "listen on `%s`", path);
  return steal_fd (&fd);
}

static int
send_json (int fd, const char *fmt, ...)
{
  cleanup_free char *msg = NULL;
  va_list ap;
  int n;

  va_start (ap, fmt);
  n = vasprintf (&msg, fmt, ap);
  va_end (ap);
  if (n < 0)
    return -1;
  return proto_send (fd, msg, n, NULL);
}

static int
send_error (int fd, const char *msg)
{
  cleanup_free char *esc = json_quote (msg);
  return send_json (fd, "{\"type\":\"error\",\"message\":%s}", esc);
}

/* ---- agent messages ---- */

static struct client *
client_waiting_for (struct monitor *m, const char *type, int exec)
{
  unsigned i;
  for (i = 0; i < MAX_CLIENTS; i++)
    if (m->clients[i].fd >= 0 && strcmp (m->clients[i].waiting, type) == 0
        && (exec < 0 || m->clients[i].exec == exec))
      return &m->clients[i];
  return NULL;
}

static void
client_close (struct client *c)
{
  if (c->fd >= 0)
    close (c->fd);
  c->fd = -1;
  c->waiting[0] = '\0';
  c->exec = -1;
}

static void
forward_reply (struct monitor *m, const char *waiting_type, int exec, const char *json, size_t len, bool done)
{
  struct client *c = client_waiting_for (m, waiting_type, exec);
  if (c == NULL)
    return;
  proto_send (c->fd, json, len, NULL);
  if (done)
    client_close (c);
  else
    c->waiting[0] = '\0';
}

static int
send_config (struct monitor *m, runvm_error_t *err)
{
  cleanup_free char *msg = NULL;
  int n;

  n = asprintf (&msg, "{\"type\":\"config\",\"config\":%s,\"shares\":%s,\"stdin\":true}", m->spec->raw,
                m->shares_json);
  if (n < 0)
    return runvm_make_error (err, ENOMEM, "config message");
  return proto_send (m->agent_fd, msg, n, err);
}

/* The guest's messages follow one order: hello, created, started (only
 * after the host sent start), exit, each once. A guest that sends them out
 * of turn could otherwise make state.json say "created" again while it
 * runs, or "stopped" while the VM goes on; such messages are ignored. */
static bool
in_turn (struct monitor *m, const char *type, bool ok)
{
  if (!ok)
    monitor_log_guest (m, "guest sent %s out of turn: ignored", type);
  return ok;
}

static void
handle_agent_message (struct monitor *m, yajl_val tree, const char *type, const char *json, size_t len)
{
  long long v;

  if (strcmp (type, "hello") == 0)
    {
      cleanup_error runvm_error_t err = NULL;
      if (!in_turn (m, type, !m->hello))
        return;
      m->hello = true;
      if (proto_get_int (tree, "version", &v) < 0 || v != RUNVM_PROTO_VERSION)
        {
          char msg[256];
          snprintf (msg, sizeof msg, "runvm-init speaks protocol %lld, runvm speaks %d: reinstall runvm-init",
                    proto_get_int (tree, "version", &v) == 0 ? v : -1LL, RUNVM_PROTO_VERSION);
          send_error (m->agent_fd, msg);
          sync_report (m, "error %s", msg);
          m->failed = true;
          vm_request_stop (m->vm, VM_END_KILLED);
          return;
        }
      if (send_config (m, &err) < 0)
        monitor_log_guest (m, "sending config: %s", err->msg);
    }
  else if (strcmp (type, "created") == 0)
    {
      if (!in_turn (m, type, m->hello && !m->created))
        return;
      m->created = true;
      save_status (m, "created");
      sync_report (m, "ok %d", (int) getpid ());
    }
  else if (strcmp (type, "error") == 0)
    {
      const char *raw = proto_get_string (tree, "message");
      char clean[1024];
      const char *msg = raw ? text_sanitize (clean, sizeof clean, raw, false) : NULL;
      if (!m->created)
        {
          sync_report (m, "error %s", msg ? msg : "container setup failed in the guest");
          m->failed = true;
          vm_request_stop (m->vm, VM_END_KILLED);
        }
      else
        {
          monitor_log_guest (m, "guest: %s", msg ? msg : "error");
          forward_reply (m, "started", -1, json, len, true);
          forward_reply (m, "ps", -1, json, len, true);
          forward_reply (m, "stats", -1, json, len, true);
        }
    }
  else if (strcmp (type, "started") == 0)
    {
      if (!in_turn (m, type, m->start_sent && !m->started && !m->exited))
        return;
      m->started = true;
      save_status (m, "running");
      forward_reply (m, "started", -1, json, len, true);
    }
  else if (strcmp (type, "exit") == 0)
    {
      if (!in_turn (m, type, m->created && !m->exited))
        return;
      m->exit_status = proto_get_int (tree, "status", &v) == 0 ? (int) v : 255;
      m->exited = true;
      /* The guest syncs its disks and powers off on bye; state.json says
       * "stopped" once the VM has ended (monitor_main). A guest that stays
       * up looks like the running container it is: kill and delete
       * --force still end it. */
      send_json (m->agent_fd, "{\"type\":\"bye\"}");
    }
  else if (strcmp (type, "ps") == 0 || strcmp (type, "stats") == 0)
    forward_reply (m, type, -1, json, len, true);
  else if (strcmp (type, "exec-started") == 0 || strcmp (type, "exec-error") == 0 || strcmp (type, "exec-exit") == 0)
    {
      if (proto_get_int (tree, "exec", &v) == 0)
        {
          struct client *c = NULL;
          unsigned i;
          for (i = 0; i < MAX_CLIENTS; i++)
            if (m->clients[i].fd >= 0 && m->clients[i].exec == (int) v)
              c = &m->clients[i];
          if (c)
            {
              proto_send (c->fd, json, len, NULL);
              if (strcmp (type, "exec-started") != 0)
                client_close (c);
            }
        }
    }
  else
    {
      char clean[128];
      monitor_log_guest (m, "guest sent unknown message type %s", text_sanitize (clean, sizeof clean, type, false));
    }
}

/* ---- CLI requests ---- */

static int
recv_fds (int sock, int *fds, int max)
{
  char byte;
  struct iovec iov = { &byte, 1 };
  union
  {
    char buf[CMSG_SPACE (sizeof (int) * 4)];
    struct cmsghdr align;
  } u;
  struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf };
  struct cmsghdr *c;
  int n = 0;

  if (recvmsg (sock, &msg, MSG_CMSG_CLOEXEC) <= 0)
    return -1;
  for (c = CMSG_FIRSTHDR (&msg); c; c = CMSG_NXTHDR (&msg, c))
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
      {
        int k = (int) ((c->cmsg_len - CMSG_LEN (0)) / sizeof (int)), i;
        for (i = 0; i < k; i++)
          {
            int fd;
            memcpy (&fd, CMSG_DATA (c) + i * sizeof (int), sizeof fd);
            if (n < max)
              fds[n++] = fd;
            else
              close (fd);
          }
      }
  return n;
}

static void *
kill_watchdog (void *opaque)
{
  struct monitor *m = opaque;
  /* SIGKILL must work even when the guest is wedged: give the guest a few
   * seconds to report the exit, then end the VM. */
  sleep (10);
  vm_request_stop (m->vm, VM_END_KILLED);
  return NULL;
}

static void
handle_client_request (struct monitor *m, struct client *c, yajl_val tree, const char *type)
{
  cleanup_error runvm_error_t err = NULL;
  long long v;

  if (strcmp (type, "start") == 0)
    {
      if (!m->created || m->started)
        {
          send_error (c->fd, m->started ? "container already started" : "container is not created");
          client_close (c);
          return;
        }
      snprintf (c->waiting, sizeof c->waiting, "started");
      m->start_sent = true;
      send_json (m->agent_fd, "{\"type\":\"start\"}");
    }
  else if (strcmp (type, "signal") == 0)
    {
      int all = proto_get_bool (tree, "all", 0);
      if (proto_get_int (tree, "signal", &v) < 0 || v <= 0 || v > 64)
        {
          send_error (c->fd, "invalid signal");
          client_close (c);
          return;
        }
      if (m->agent_fd >= 0)
        send_json (m->agent_fd, "{\"type\":\"signal\",\"signal\":%lld,\"all\":%s}", v, all ? "true" : "false");
      if (v == SIGKILL)
        {
          pthread_t t;
          if (m->vm->paused)
            vm_request_stop (m->vm, VM_END_KILLED);
          else if (pthread_create (&t, NULL, kill_watchdog, m) == 0)
            pthread_detach (t);
        }
      send_json (c->fd, "{\"type\":\"ok\"}");
      client_close (c);
    }
  else if (strcmp (type, "pause") == 0 || strcmp (type, "resume") == 0)
    {
      bool pause = strcmp (type, "pause") == 0;
      if ((pause ? vm_pause (m->vm, &err) : vm_resume (m->vm, &err)) < 0)
        send_error (c->fd, err->msg);
      else
        {
          save_status (m, pause ? "paused" : (m->started ? "running" : "created"));
          send_json (c->fd, "{\"type\":\"ok\"}");
        }
      client_close (c);
    }
  else if (strcmp (type, "ps") == 0 || strcmp (type, "stats") == 0)
    {
      snprintf (c->waiting, sizeof c->waiting, "%s", type);
      send_json (m->agent_fd, "{\"type\":\"%s\"}", type);
    }
  else if (strcmp (type, "exec") == 0)
    {
      yajl_val process = proto_get (tree, "process");
      cleanup_free char *process_json = process ? json_from_tree (process) : NULL;
      int fds[4], n, k, i;
      bool tty = proto_get_bool (tree, "tty", 0);

      n = recv_fds (c->fd, fds, 4);
      if (process_json == NULL)
        {
          send_error (c->fd, "exec: missing process");
          client_close (c);
          return;
        }
      if (!m->started || m->exited || n != (tty ? 1 : 3))
        {
          for (i = 0; i < n; i++)
            close (fds[i]);
          send_error (c->fd, m->exited ? "cannot exec in a stopped container" : n < 0 ? "exec: no stdio received"
                      : !m->started ? "cannot exec in a container that has not started" : "exec: bad stdio");
          client_close (c);
          return;
        }
      k = (int) m->next_exec++;
      {
        /* Same adaptation as the container's own stdio (stdio-relay.c). */
        uint32_t base = RUNVM_PORT_EXEC_BASE + 4 * k;
        int in = stdio_for_device (fds[0], true, NULL, &err);
        int out = in < 0 ? -1 : stdio_for_device (tty ? fds[0] : fds[1], false, NULL, &err);
        int errfd = (tty || out < 0) ? -1 : stdio_for_device (fds[2], false, NULL, &err);
        for (i = 0; i < n; i++)
          close (fds[i]);
        if (in < 0 || out < 0 || (!tty && errfd < 0)
            || (tty ? virtio_vsock_set_port_fds (m->vsock, base + 3, in, out, &err)
                    : (virtio_vsock_set_port_fds (m->vsock, base, in, -1, &err) < 0
                       || virtio_vsock_set_port_fds (m->vsock, base + 1, -1, out, &err) < 0
                       || virtio_vsock_set_port_fds (m->vsock, base + 2, -1, errfd, &err) < 0 ? -1 : 0)) < 0)
          {
            send_error (c->fd, err ? err->msg : "exec: stdio");
            client_close (c);
            return;
          }
      }
      c->exec = k;
      send_json (m->agent_fd, "{\"type\":\"exec\",\"exec\":%d,\"process\":%s}", k, process_json);
    }
  else
    {
      send_error (c->fd, "unknown request");
      client_close (c);
    }
}

static void
forward_signal (struct monitor *m, int sig)
{
  if (m->agent_fd >= 0 && m->created)
    send_json (m->agent_fd, "{\"type\":\"signal\",\"signal\":%d,\"all\":false}", sig);
  else
    vm_request_stop (m->vm, VM_END_KILLED);
}

static void *
control_thread (void *opaque)
{
  struct monitor *m = opaque;

  for (;;)
    {
      struct pollfd pfd[3 + MAX_CLIENTS];
      unsigned n = 0, i, base;

      pfd[n++] = (struct pollfd){ .fd = m->agent_fd >= 0 ? m->agent_fd : m->agent_listen, .events = POLLIN };
      pfd[n++] = (struct pollfd){ .fd = m->ctl_listen, .events = POLLIN };
      pfd[n++] = (struct pollfd){ .fd = m->sig_fd, .events = POLLIN };
      base = n;
      for (i = 0; i < MAX_CLIENTS; i++)
        pfd[n++] = (struct pollfd){ .fd = m->clients[i].fd, .events = POLLIN };
      if (poll (pfd, n, -1) < 0)
        {
          if (errno == EINTR)
            continue;
          break;
        }
      if (pfd[0].revents)
        {
          if (m->agent_fd < 0)
            {
              m->agent_fd = accept4 (m->agent_listen, NULL, NULL, SOCK_CLOEXEC);
            }
          else
            {
              cleanup_error runvm_error_t err = NULL;
              cleanup_free char *json = NULL;
              char errbuf[128];
              size_t len = 0;
              int r = proto_recv (m->agent_fd, &json, &len, &err);
              yajl_val tree = NULL;

              if (r <= 0)
                {
                  if (r < 0)
                    monitor_log (m, "agent connection: %s", err->msg);
                  close (m->agent_fd);
                  m->agent_fd = -2; /* gone; don't accept again */
                  if (!m->created)
                    {
                      sync_report (m, "error the guest agent closed its connection during setup");
                      m->failed = true;
                    }
                  pfd[0].fd = -1;
                }
              else if ((tree = json_parse (json, errbuf, sizeof errbuf)) && proto_get_string (tree, "type"))
                {
                  char clean[128];
                  monitor_log_guest (m, "guest: %s",
                                     text_sanitize (clean, sizeof clean, proto_get_string (tree, "type"), false));
                  handle_agent_message (m, tree, proto_get_string (tree, "type"), json, len);
                }
              else
                monitor_log_guest (m, "malformed message from the guest");
              if (tree)
                yajl_tree_free (tree);
            }
        }
      if (pfd[1].revents & POLLIN)
        {
          int fd = accept4 (m->ctl_listen, NULL, NULL, SOCK_CLOEXEC);
          for (i = 0; fd >= 0 && i < MAX_CLIENTS; i++)
            if (m->clients[i].fd < 0)
              {
                m->clients[i].fd = fd;
                m->clients[i].exec = -1;
                m->clients[i].waiting[0] = '\0';
                fd = -1;
              }
          if (fd >= 0)
            close (fd);
        }
      if (pfd[2].revents & POLLIN)
        {
          struct signalfd_siginfo si;
          if (read (m->sig_fd, &si, sizeof si) == sizeof si)
            forward_signal (m, (int) si.ssi_signo);
        }
      for (i = 0; i < MAX_CLIENTS; i++)
        {
          struct client *c = &m->clients[i];
          if (c->fd < 0 || !pfd[base + i].revents)
            continue;
          if (c->waiting[0] || c->exec >= 0)
            {
              /* A client waiting on a reply hung up. */
              if (pfd[base + i].revents & (POLLHUP | POLLERR))
                client_close (c);
              else
                {
                  char b;
                  if (recv (c->fd, &b, 1, MSG_DONTWAIT | MSG_PEEK) == 0)
                    client_close (c);
                }
              continue;
            }
          {
            cleanup_error runvm_error_t err = NULL;
            yajl_val tree = NULL;
            const char *type = NULL;
            if (proto_recv_tree (c->fd, &tree, &type, &err) <= 0)
              {
                client_close (c);
                continue;
              }
            monitor_log (m, "request: %s", type);
            handle_client_request (m, c, tree, type);
            yajl_tree_free (tree);
          }
        }
    }
  return NULL;
}

/* ---- setup ---- */

static uint64_t
parse_u64 (const char *s)
{
  char *end;
  unsigned long long v;
  if (s == NULL)
    return 0;
  errno = 0;
  v = strtoull (s, &end, 10);
  return (errno || *end || end == s) ? 0 : v;
}

/* VM sizing: vm.hwConfig, then annotations, then linux.resources, then defaults. */
static void
size_vm (struct monitor *m, struct vm_config *cfg)
{
  const oci_spec *s = m->spec;
  uint64_t v;

  cfg->vcpus = 1;
  cfg->mem_bytes = 512ULL << 20;
  if (s->linux_ && s->linux_->resources)
    {
      oci_resources *r = s->linux_->resources;
      if (r->has_cpu_quota && r->cpu_quota > 0)
        {
          uint64_t period = r->has_cpu_period && r->cpu_period ? r->cpu_period : 100000;
          cfg->vcpus = (unsigned) ((r->cpu_quota + period - 1) / period);
        }
      if (r->has_memory_limit && r->memory_limit > 0)
        {
          /* The guest kernel needs room of its own beside the workload. */
          cfg->mem_bytes = (uint64_t) r->memory_limit + (64ULL << 20);
        }
    }
  if ((v = parse_u64 (oci_spec_annotation (s, "run.oci.runvm.vcpus"))))
    cfg->vcpus = (unsigned) v;
  if ((v = parse_u64 (oci_spec_annotation (s, "run.oci.runvm.memory_mib"))))
    cfg->mem_bytes = v << 20;
  if (s->vm && s->vm->has_vcpus && s->vm->vcpus)
    cfg->vcpus = s->vm->vcpus;
  if (s->vm && s->vm->has_memory && s->vm->memory_mib)
    cfg->mem_bytes = s->vm->memory_mib << 20;
  if (cfg->vcpus < 1)
    cfg->vcpus = 1;
  if (cfg->vcpus > VM_MAX_VCPUS)
    cfg->vcpus = VM_MAX_VCPUS;
  cfg->mem_bytes = (cfg->mem_bytes + (2ULL << 20) - 1) & ~((2ULL << 20) - 1);
}

static bool
is_bind (const oci_mount *mt)
{
  size_t i;
  if (mt->type && strcmp (mt->type, "bind") == 0)
    return true;
  for (i = 0; i < mt->n_options; i++)
    if (strcmp (mt->options[i], "bind") == 0 || strcmp (mt->options[i], "rbind") == 0)
      return true;
  return false;
}

/* OCI bind mounts (volumes, and the engine's /etc/hosts, resolv.conf, ...)
 * reach the guest through virtio-fs: one share per distinct host
 * directory, a file through its parent directory. Fills cfg->shares after
 * the rootfs and m->shares_json for the config message (docs/protocol.md). */
static int
plan_bind_shares (struct monitor *m, struct vm_config *cfg, runvm_error_t *err)
{
  static char dirs[VM_MAX_SHARES][4096], tags[VM_MAX_SHARES][16];
  size_t used = 0, cap = 4096, i;
  char *json = malloc (cap);

  if (json == NULL)
    return runvm_make_error (err, ENOMEM, "shares");
  used = snprintf (json, cap, "[{\"tag\":\"rootfs\",\"mount\":\"root\"}");
  for (i = 0; i < m->spec->n_mounts; i++)
    {
      const oci_mount *mt = &m->spec->mounts[i];
      cleanup_free char *file = NULL, *quoted = NULL;
      char dir[4096];
      struct stat st;
      unsigned k;

      if (!is_bind (mt) || mt->source == NULL || stat (mt->source, &st) < 0)
        continue; /* a missing source is reported by the guest, like runc */
      snprintf (dir, sizeof dir, "%s", mt->source);
      if (!S_ISDIR (st.st_mode))
        {
          char *slash = strrchr (dir, '/');
          if (slash == NULL)
            continue;
          file = strdup (slash + 1);
          if (slash == dir)
            slash[1] = '\0';
          else
            *slash = '\0';
        }
      for (k = 1; k < cfg->n_shares; k++)
        if (strcmp (cfg->shares[k].path, dir) == 0)
          break;
      if (k == cfg->n_shares)
        {
          if (cfg->n_shares >= VM_MAX_SHARES)
            {
              free (json);
              return runvm_make_error (err, 0, "too many distinct bind mount sources (at most %d)", VM_MAX_SHARES - 1);
            }
          snprintf (dirs[k], sizeof dirs[k], "%s", dir);
          snprintf (tags[k], sizeof tags[k], "s%u", k);
          cfg->shares[k].path = dirs[k];
          cfg->shares[k].tag = tags[k];
          cfg->n_shares++;
        }
      quoted = file ? json_quote (file) : NULL;
      if (used + 128 + (quoted ? strlen (quoted) : 0) > cap)
        {
          char *n = realloc (json, cap *= 2);
          if (n == NULL)
            {
              free (json);
              return runvm_make_error (err, ENOMEM, "shares");
            }
          json = n;
        }
      used += snprintf (json + used, cap - used, ",{\"tag\":\"%s\",\"mount\":%zu%s%s}", cfg->shares[k].tag, i,
                        quoted ? ",\"file\":" : "", quoted ? quoted : "");
    }
  snprintf (json + used, cap - used, "]");
  m->shares_json = json;
  return 0;
}

static int
monitor_setup (struct monitor *m, runvm_error_t *err)
{
  static char kernel_buf[4096], initrd_buf[4096], vsock_base[4096], path[4096], rootfs_abs[4096];
  struct vm_config cfg = { .console_fd = -1, .guest_cid = 3, .virtiofsd_path = VIRTIOFSD_PATH, .rng = true };
  static char cmdline[2048];
  const char *a;
  sigset_t mask;

  snprintf (path, sizeof path, "%s/config.json", m->a->bundle);
  if (oci_spec_parse_file (path, &m->spec, err) < 0)
    return -1;
  size_vm (m, &cfg);
  cfg.kernel_path = runvm_default_path ("RUNVM_KERNEL", "vmlinux", kernel_buf, sizeof kernel_buf);
  if ((a = oci_spec_annotation (m->spec, "run.oci.runvm.kernel")))
    cfg.kernel_path = a;
  if (m->spec->vm && m->spec->vm->kernel_path)
    cfg.kernel_path = m->spec->vm->kernel_path;
  cfg.initrd_path = runvm_default_path ("RUNVM_INITRD", "runvm-init.cpio", initrd_buf, sizeof initrd_buf);
  if ((a = oci_spec_annotation (m->spec, "run.oci.runvm.initrd")))
    cfg.initrd_path = a;
  if (m->spec->vm && m->spec->vm->kernel_initrd)
    cfg.initrd_path = m->spec->vm->kernel_initrd;
  if (m->spec->vm && m->spec->vm->n_kernel_parameters)
    {
      size_t i, used = 0;
      for (i = 0; i < m->spec->vm->n_kernel_parameters; i++)
        used += snprintf (cmdline + used, sizeof cmdline - used, "%s%s", i ? " " : "",
                          m->spec->vm->kernel_parameters[i]);
      cfg.cmdline = cmdline;
    }
  if ((a = getenv ("RUNVM_VIRTIOFSD")) && *a)
    cfg.virtiofsd_path = a;
  snprintf (path, sizeof path, "%s/%s", m->a->dir, CONSOLE_LOG);
  cfg.console_log = path;
  snprintf (vsock_base, sizeof vsock_base, "%s/%s", m->a->dir, VSOCK_BASE);
  cfg.vsock_uds = vsock_base;
  cfg.state_dir = m->a->dir;
  if (m->st.rootfs)
    {
      snprintf (rootfs_abs, sizeof rootfs_abs, "%s", m->st.rootfs);
      cfg.shares[0].tag = "rootfs";
      cfg.shares[0].path = rootfs_abs;
      cfg.n_shares = 1;
    }
  if (plan_bind_shares (m, &cfg, err) < 0)
    return -1;

  {
    char agent_path[4200], ctl_path[4200];
    snprintf (agent_path, sizeof agent_path, "%s_%d", vsock_base, RUNVM_PORT_CONTROL);
    m->agent_listen = listen_unix (agent_path, err);
    if (m->agent_listen < 0)
      return -1;
    snprintf (ctl_path, sizeof ctl_path, "%s/%s", m->a->dir, MONITOR_SOCKET);
    m->ctl_listen = listen_unix (ctl_path, err);
    if (m->ctl_listen < 0)
      return -1;
  }

  /* Signals for the container arrive through a signalfd on the control thread. */
  sigemptyset (&mask);
  sigaddset (&mask, SIGTERM);
  sigaddset (&mask, SIGINT);
  sigaddset (&mask, SIGHUP);
  sigaddset (&mask, SIGQUIT);
  sigaddset (&mask, SIGUSR1);
  sigaddset (&mask, SIGUSR2);
  sigaddset (&mask, SIGWINCH);
  pthread_sigmask (SIG_BLOCK, &mask, NULL);
  m->sig_fd = signalfd (-1, &mask, SFD_CLOEXEC);

  if (vm_create (&m->vm, &cfg, err) < 0)
    return -1;
  m->vsock = m->vm->vsock;
  if (m->vsock == NULL)
    return runvm_make_error (err, 0, "the VM has no vsock device");
  /* The container's stdio: the fds runvm inherited, or the console pty. */
  if (m->a->console_fd >= 0)
    {
      int in = stdio_for_device (m->a->console_fd, true, &m->relays, err), out;
      if (in < 0)
        return -1;
      out = stdio_for_device (m->a->console_fd, false, &m->relays, err);
      if (out < 0 || virtio_vsock_set_port_fds (m->vsock, RUNVM_PORT_TTY, in, out, err) < 0)
        return -1;
    }
  else
    {
      int fd;
      if ((fd = stdio_for_device (0, true, &m->relays, err)) < 0
          || virtio_vsock_set_port_fds (m->vsock, RUNVM_PORT_STDIN, fd, -1, err) < 0)
        return -1;
      if ((fd = stdio_for_device (1, false, &m->relays, err)) < 0
          || virtio_vsock_set_port_fds (m->vsock, RUNVM_PORT_STDOUT, -1, fd, err) < 0)
        return -1;
      if ((fd = stdio_for_device (2, false, &m->relays, err)) < 0
          || virtio_vsock_set_port_fds (m->vsock, RUNVM_PORT_STDERR, -1, fd, err) < 0)
        return -1;
    }
  return 0;
}

/* For an error: the guest kernel's panic line if there is one near the end
 * of its console (with panic=-1 the VM resets right after the register
 * dump that follows it), else the console's last line; NULL for none. */
static char *
console_last_words (const char *path)
{
  static const char panic[] = "Kernel panic - not syncing:";
  char buf[8192], *p, *found = NULL;
  ssize_t n = file_tail (path, buf, sizeof buf);

  if (n <= 0)
    return NULL;
  for (p = buf; (p = memmem (p, (size_t) (buf + n - p), panic, sizeof panic - 1)) != NULL; p++)
    found = p;
  if (found == NULL)
    return text_last_line (buf);
  found[strcspn (found, "\r\n")] = '\0';
  return strdup (found);
}

static void
detach_stdio (void)
{
  /* The device holds the container's stdio now; keeping our own copies
   * would delay EOF for the engine reading them. */
  int null = open ("/dev/null", O_RDWR | O_CLOEXEC);
  if (null >= 0)
    {
      dup2 (null, 0);
      dup2 (null, 1);
      dup2 (null, 2);
      close (null);
    }
}

void
monitor_main (struct monitor_args *a)
{
  static struct monitor mon;
  struct monitor *m = &mon;
  cleanup_error runvm_error_t err = NULL;
  enum vm_end_reason why;
  int status, i;

  memset (m, 0, sizeof *m);
  m->a = a;
  m->agent_fd = m->agent_listen = m->ctl_listen = m->sig_fd = -1;
  m->sync_fd = a->sync_fd;
  m->exit_status = -1;
  m->guest_log = (struct ratelimit){ .burst = 100, .per_sec = 10 };
  for (i = 0; i < MAX_CLIENTS; i++)
    m->clients[i].fd = -1, m->clients[i].exec = -1;
  m->log_fd = -1;
  if (a->g->log)
    m->log_fd = open (a->g->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (m->log_fd < 0)
    {
      char p[4096];
      snprintf (p, sizeof p, "%s/monitor.log", a->dir);
      m->log_fd = open (p, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    }
  prctl (PR_SET_NAME, "runvm-monitor");
  /* A CLI client or an engine that goes away must not take the container
   * with it: writes to closed sockets and pipes fail with EPIPE instead. */
  signal (SIGPIPE, SIG_IGN);
  if (container_load (a->g, a->id, &m->st, &err) < 0 || monitor_setup (m, &err) < 0)
    {
      sync_report (m, "error %s", err ? err->msg : "monitor setup failed");
      _exit (1);
    }
  detach_stdio ();
  m->st.pid = getpid ();
  m->st.pid_start = process_start_time (m->st.pid);
  if (pthread_create (&m->control_thread, NULL, control_thread, m) != 0)
    {
      sync_report (m, "error cannot start the control thread");
      _exit (1);
    }
  why = vm_run (m->vm);
  if (m->vm->vsock)
    virtio_vsock_drain (m->vm->vsock, 30000);
  if (m->exited)
    status = m->exit_status;
  else
    {
      monitor_log (m, "VM ended before the container reported its exit: %s%s%s", vm_end_reason_string (why),
                   m->vm->end_detail[0] ? ": " : "", m->vm->end_detail);
      status = why == VM_END_KILLED ? 137 : 255;
      if (!m->created)
        {
          /* create removes the state dir, console.log with it: say what
           * the guest's console said last (a panic, say), made safe. */
          char path[4200], clean[512];
          cleanup_free char *last = NULL;
          snprintf (path, sizeof path, "%s/%s", a->dir, CONSOLE_LOG);
          last = console_last_words (path);
          sync_report (m, "error the VM ended during container setup: %s%s%s%s", vm_end_reason_string (why),
                       last ? " (the guest's console said last: " : "",
                       last ? text_sanitize (clean, sizeof clean, last, false) : "", last ? ")" : "");
        }
      m->exit_status = status;
      m->exited = true;
    }
  save_status (m, "stopped");
  vm_destroy (m->vm);
  /* The device closed its ends: let the relays flush the last output. */
  stdio_relays_join (&m->relays);
  _exit (status & 0xff);
}
