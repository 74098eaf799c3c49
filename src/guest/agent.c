/* The guest side of docs/protocol.md, message by message: hello, config,
 * start, signal, resize, exec, ps, stats, bye. The process lifecycle and
 * the exit sequence live in container.c. Everything runs from the one
 * event loop; only the control stream is read with blocking reads, since
 * the host always sends whole frames. */
#include <config.h>
#include "agent.h"
#include "utils.h"

#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/utsname.h>

struct agent agent;

/* ---- sending ---- */

/* JSON string literal for S (quotes included); invalid UTF-8 bytes and
 * control characters are escaped or replaced so the host's parser (which
 * validates UTF-8) always accepts the message. */
static char *
json_quote (const char *s)
{
  size_t len = strlen (s), i, o = 0;
  unsigned char *u = (unsigned char *) s;
  char *out = malloc (len * 6 + 3);

  if (out == NULL)
    abort ();
  out[o++] = '"';
  for (i = 0; i < len; i++)
    {
      unsigned c = u[i];
      size_t need = 0, k;
      if (c == '"' || c == '\\')
        {
          out[o++] = '\\';
          out[o++] = (char) c;
          continue;
        }
      if (c < 0x20)
        {
          o += sprintf (out + o, "\\u%04x", c);
          continue;
        }
      if (c < 0x80)
        {
          out[o++] = (char) c;
          continue;
        }
      if ((c & 0xe0) == 0xc0 && c >= 0xc2)
        need = 1;
      else if ((c & 0xf0) == 0xe0)
        need = 2;
      else if ((c & 0xf8) == 0xf0 && c <= 0xf4)
        need = 3;
      for (k = 1; need && k <= need; k++)
        if (i + k >= len || (u[i + k] & 0xc0) != 0x80)
          need = 0;
      if (need == 0)
        {
          out[o++] = '?';
          continue;
        }
      memcpy (out + o, s + i, need + 1);
      o += need + 1;
      i += need;
    }
  out[o++] = '"';
  out[o] = '\0';
  return out;
}

void
send_msg (const char *fmt, ...)
{
  cleanup_error runvm_error_t err = NULL;
  cleanup_free char *json = NULL;
  va_list ap;
  int n;

  va_start (ap, fmt);
  n = vasprintf (&json, fmt, ap);
  va_end (ap);
  if (n < 0)
    abort ();
  init_debug ("-> %s", json);
  if (proto_send (agent.control, json, n, &err) < 0)
    {
      cleanup_free char *msg = runvm_error_string (err);
      init_log ("control stream lost: %s", msg);
      guest_poweroff (1);
    }
}

void
send_error (const char *type, int exec_id, int status, const char *message)
{
  cleanup_free char *q = json_quote (message);
  char extra[64] = "";

  if (status > 0)
    snprintf (extra, sizeof extra, ",\"status\":%d", status);
  if (exec_id >= 0)
    send_msg ("{\"type\":\"%s\",\"exec\":%d,\"message\":%s%s}", type, exec_id, q, extra);
  else
    send_msg ("{\"type\":\"%s\",\"message\":%s%s}", type, q, extra);
}


static int
parse_shares (yajl_val msg, runvm_error_t *err)
{
  yajl_val shares = proto_get (msg, "shares");
  size_t i;

  if (shares == NULL)
    return 0;
  if (!YAJL_IS_ARRAY (shares))
    return runvm_make_error (err, 0, "config message: shares: expected an array");
  agent.cfg.shares = calloc (shares->u.array.len + 1, sizeof (struct share));
  for (i = 0; i < shares->u.array.len; i++)
    {
      yajl_val s = shares->u.array.values[i], m = proto_get (s, "mount");
      struct share *sh = &agent.cfg.shares[agent.cfg.n_shares];
      const char *tag = proto_get_string (s, "tag"), *file = proto_get_string (s, "file");

      if (tag == NULL || tag[0] == '\0' || strchr (tag, '/') || m == NULL)
        return runvm_make_error (err, 0, "config message: shares[%zu]: expected a tag and a mount", i);
      if (YAJL_IS_STRING (m) && strcmp (m->u.string, "root") == 0)
        sh->mount_index = -1;
      else if (YAJL_IS_INTEGER (m) && YAJL_GET_INTEGER (m) >= 0
               && (size_t) YAJL_GET_INTEGER (m) < agent.spec->n_mounts)
        sh->mount_index = (int) YAJL_GET_INTEGER (m);
      else
        return runvm_make_error (err, 0, "config message: shares[%zu].mount: not \"root\" or a mount index", i);
      if (file && (strchr (file, '/') || strcmp (file, "..") == 0 || strcmp (file, ".") == 0))
        return runvm_make_error (err, 0, "config message: shares[%zu].file: not a file name", i);
      sh->tag = strdup (tag);
      sh->file = file ? strdup (file) : NULL;
      agent.cfg.n_shares++;
    }
  return 0;
}

/* Mounts the shares in the guest (not in host mode, where bind sources
 * and the root are host paths already). */
static int
mount_shares (runvm_error_t *err)
{
  size_t i;

  for (i = 0; i < agent.cfg.n_shares; i++)
    {
      struct share *sh = &agent.cfg.shares[i];
      if (sh->mount_index < 0)
        {
          if (!init_opts.host_dir && guest_mount_share (sh->tag, "/rootfs", err) < 0)
            return -1;
          sh->path = strdup ("/rootfs");
          continue;
        }
      if (asprintf (&sh->path, "/run/runvm/shares/%s", sh->tag) < 0)
        abort ();
      {
        /* Several mounts may come from one share (files of one directory). */
        size_t j;
        bool mounted = false;
        for (j = 0; j < i && !mounted; j++)
          mounted = agent.cfg.shares[j].mount_index >= 0 && strcmp (agent.cfg.shares[j].tag, sh->tag) == 0;
        if (mounted)
          continue;
      }
      if (!init_opts.host_dir && guest_mount_share (sh->tag, sh->path, err) < 0)
        return -1;
    }
  return 0;
}

static int
create_container (yajl_val msg, runvm_error_t *err)
{
  yajl_val config = proto_get (msg, "config");
  struct child_stdio io = { .fds = { -1, -1, -1 } };
  struct guest_proc *c;
  size_t i;
  int r;

  if (!YAJL_IS_OBJECT (config))
    return runvm_make_error (err, 0, "config message: config: expected an object");
  if (oci_spec_parse_tree (config, &agent.spec, err) < 0)
    return runvm_error_wrap (err, "loading config.json");
  if (agent.spec->process == NULL)
    return runvm_make_error (err, 0, "loading config.json: process: missing required field");
  /* The host checked it before it booted us (runc's words); so again,
   * for a process this code will run. */
  if (oci_process_validate (agent.spec->process, err) < 0)
    return -1;
  agent.cfg.spec = agent.spec;
  if (parse_shares (msg, err) < 0 || mount_shares (err) < 0)
    return -1;
  for (i = 0; i < agent.cfg.n_shares; i++)
    if (agent.cfg.shares[i].mount_index < 0)
      agent.cfg.rootfs = agent.cfg.shares[i].path;
  if (init_opts.host_dir)
    agent.cfg.rootfs = agent.spec->root_path;
  if (agent.cfg.rootfs == NULL)
    return runvm_make_error (err, 0, "no share for the container rootfs (a `shares` entry with \"mount\":\"root\")");
  agent.own_pidns = oci_spec_namespace (agent.spec, "pid") != NULL;

  c = agent.container = new_proc (-1, agent.spec->process->terminal);
  r = setup_stdio (c, RUNVM_PORT_STDIN, proto_get_bool (msg, "stdin", false), &io, err);
  if (r == 0)
    r = process_spawn_container (&agent.cfg, &io, &c->pid, &c->sync_fd, err);
  close_child_stdio (&io);
  if (r < 0)
    {
      abort_relays (c);
      return -1;
    }
  if (agent.own_pidns)
    {
      char path[64];
      ssize_t n;
      snprintf (path, sizeof path, "/proc/%d/ns/pid", (int) c->pid);
      n = readlink (path, agent.pidns, sizeof agent.pidns - 1);
      agent.pidns[n > 0 ? n : 0] = '\0';
    }
  agent.state = CREATING;
  watch_sync (c);
  return 0;
}

static void
handle_config (yajl_val msg)
{
  cleanup_error runvm_error_t err = NULL;

  if (agent.state != WAIT_CONFIG)
    {
      send_error ("error", -1, 0, "unexpected message config: the container is already configured");
      return;
    }
  if (create_container (msg, &err) < 0)
    {
      cleanup_free char *text = runvm_error_string (err);
      init_log ("%s", text);
      send_error ("error", -1, 0, text);
      agent.state = FAILED;
    }
}

static void
handle_start (void)
{
  struct guest_proc *c = agent.container;

  if (agent.state != CREATED)
    {
      send_error ("error", -1, 0, "cannot start a container that is not in the created state");
      return;
    }
  if (write (c->sync_fd, "S", 1) != 1)
    init_log ("cannot release the container process: %s", strerror (errno));
  agent.state = RUNNING;
  send_msg ("{\"type\":\"started\"}");
}

static void
handle_signal (yajl_val msg)
{
  long long sig = 0;
  bool all = proto_get_bool (msg, "all", 0);
  struct guest_proc *c = agent.container;

  if (proto_get_int (msg, "signal", &sig) < 0 || sig <= 0 || sig >= 65)
    {
      send_error ("error", -1, 0, "signal: expected a signal number");
      return;
    }
  if (c == NULL || c->reaped)
    return;
  if (all)
    kill_container ((int) sig);
  else if (kill (c->pid, (int) sig) < 0)
    init_log ("kill %d: %s", (int) c->pid, strerror (errno));
}

static void
handle_resize (yajl_val msg)
{
  long long id = -1, rows = 0, cols = 0;
  struct guest_proc *p;
  struct winsize ws = { 0 };

  proto_get_int (msg, "exec", &id);
  if (proto_get_int (msg, "rows", &rows) < 0 || proto_get_int (msg, "cols", &cols) < 0 || rows < 0 || cols < 0
      || rows > 65535 || cols > 65535)
    {
      send_error ("error", -1, 0, "resize: expected rows and cols");
      return;
    }
  p = id < 0 ? agent.container : find_exec ((int) id);
  if (p == NULL || p->tty_master < 0)
    return;
  ws.ws_row = (unsigned short) rows;
  ws.ws_col = (unsigned short) cols;
  if (ioctl (p->tty_master, TIOCSWINSZ, &ws) < 0)
    init_log ("resize: %s", strerror (errno));
}

static void
handle_exec (yajl_val msg)
{
  cleanup_error runvm_error_t err = NULL;
  cleanup_oci_process oci_process *proc = NULL;
  struct child_stdio io = { .fds = { -1, -1, -1 } };
  long long id = -1;
  struct guest_proc *p;
  int r;

  if (proto_get_int (msg, "exec", &id) < 0 || id < 0 || id > 100000)
    {
      send_error ("error", -1, 0, "exec: expected an exec number");
      return;
    }
  if (find_exec ((int) id))
    {
      send_error ("exec-error", (int) id, 0, "exec number already in use");
      return;
    }
  if (agent.container == NULL || agent.container->reaped || (agent.state != CREATED && agent.state != RUNNING))
    {
      send_error ("exec-error", (int) id, 0, "cannot exec in a container that is not running");
      return;
    }
  if (oci_process_parse (proto_get (msg, "process"), "process", &proc, &err) < 0)
    {
      send_error ("exec-error", (int) id, 0, err->msg);
      return;
    }
  if (oci_process_validate (proc, &err) < 0)
    {
      send_error ("exec-error", (int) id, 0, err->msg);
      return;
    }
  p = new_proc ((int) id, proc->terminal);
  p->next = agent.execs;
  agent.execs = p;
  r = setup_stdio (p, RUNVM_PORT_EXEC_BASE + 4 * (unsigned) id, proto_get_bool (msg, "stdin", true), &io, &err);
  if (r == 0)
    r = process_spawn_exec (&agent.cfg, agent.container->pid, proc, &io, &p->pid, &p->sync_fd, &err);
  close_child_stdio (&io);
  if (r < 0)
    {
      cleanup_free char *text = runvm_error_string (err);
      p->failed = p->reaped = true;
      abort_relays (p);
      send_error ("exec-error", (int) id, 0, text);
      maybe_release (p);
      return;
    }
  watch_sync (p);
}

static void
append_pid (pid_t pid, void *data)
{
  char **buf = data, *n = NULL;
  if (asprintf (&n, "%s%s%d", *buf, **buf ? "," : "", (int) pid) < 0)
    abort ();
  free (*buf);
  *buf = n;
}

static void
handle_ps (void)
{
  cleanup_free char *list = strdup ("");
  for_each_container_pid (append_pid, &list);
  send_msg ("{\"type\":\"ps\",\"pids\":[%s]}", list);
}

static void
add_cpu (pid_t pid, void *data)
{
  unsigned long long ticks = 0;
  pid_t ppid, sess;
  if (read_stat (pid, &ppid, &sess, &ticks))
    *(unsigned long long *) data += ticks;
}

static void
handle_stats (void)
{
  unsigned long long total = 0, avail = 0, ticks = 0, v;
  char line[256];
  long hz = sysconf (_SC_CLK_TCK);
  size_t pids;
  FILE *f = fopen ("/proc/meminfo", "re");

  if (f)
    {
      while (fgets (line, sizeof line, f))
        {
          if (sscanf (line, "MemTotal: %llu kB", &v) == 1)
            total = v * 1024;
          else if (sscanf (line, "MemAvailable: %llu kB", &v) == 1)
            avail = v * 1024;
        }
      fclose (f);
    }
  pids = for_each_container_pid (add_cpu, &ticks);
  send_msg ("{\"type\":\"stats\",\"memory\":{\"usage\":%llu,\"limit\":%llu},\"cpu\":{\"usage_ns\":%llu},\"pids\":%zu}",
            total - avail, total, ticks * (1000000000ULL / (unsigned long long) (hz > 0 ? hz : 100)), pids);
}

static void
handle_message (yajl_val msg, const char *type)
{
  if (strcmp (type, "config") == 0)
    handle_config (msg);
  else if (strcmp (type, "start") == 0)
    handle_start ();
  else if (strcmp (type, "signal") == 0)
    handle_signal (msg);
  else if (strcmp (type, "resize") == 0)
    handle_resize (msg);
  else if (strcmp (type, "exec") == 0)
    handle_exec (msg);
  else if (strcmp (type, "ps") == 0)
    handle_ps ();
  else if (strcmp (type, "stats") == 0)
    handle_stats ();
  else if (strcmp (type, "bye") == 0)
    agent.done = true;
  else if (strcmp (type, "error") == 0)
    {
      const char *m = proto_get_string (msg, "message");
      init_log ("the host reports: %s", m ? m : "(no message)");
      agent.result = 1;
      agent.done = true;
    }
  else
    {
      cleanup_free char *text = NULL;
      if (asprintf (&text, "unknown message type %s", type) < 0)
        abort ();
      send_error ("error", -1, 0, text);
    }
}

static void
on_control (struct loop_watch *w, uint32_t events)
{
  cleanup_error runvm_error_t err = NULL;
  cleanup_free char *json = NULL;
  char errbuf[256] = "";
  const char *type;
  yajl_val msg;
  size_t len = 0;
  int r;

  r = proto_recv (agent.control, &json, &len, &err);
  if (r <= 0)
    {
      if (r < 0)
        {
          cleanup_free char *text = runvm_error_string (err);
          init_log ("control stream: %s", text);
        }
      else
        init_debug ("control stream closed by the host");
      agent.result = agent.state == EXITED ? 0 : 1;
      agent.done = true;
      return;
    }
  init_debug ("<- %s", json);
  if (strlen (json) != len || (msg = json_parse (json, errbuf, sizeof errbuf)) == NULL)
    {
      char *nl = strchr (errbuf, '\n');
      if (nl)
        *nl = '\0';
      cleanup_free char *text = NULL;
      if (asprintf (&text, "invalid message: %s", errbuf[0] ? errbuf : "not JSON") < 0)
        abort ();
      send_error ("error", -1, 0, text);
      return;
    }
  type = proto_get_string (msg, "type");
  if (!YAJL_IS_OBJECT (msg) || type == NULL)
    send_error ("error", -1, 0, "invalid message: not an object with a string `type`");
  else
    handle_message (msg, type);
  yajl_tree_free (msg);
}

static int
setup_signalfd (runvm_error_t *err)
{
  sigset_t set;
  int fd;

  sigemptyset (&set);
  sigaddset (&set, SIGCHLD);
  if (sigprocmask (SIG_BLOCK, &set, NULL) < 0)
    return runvm_make_error (err, errno, "sigprocmask");
  fd = signalfd (-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
  if (fd < 0)
    return runvm_make_error (err, errno, "signalfd");
  agent.signal_w = (struct loop_watch){ .fd = fd, .fn = on_signalfd };
  loop_set (&agent.signal_w, EPOLLIN);
  return 0;
}

int
agent_run (int control_fd)
{
  cleanup_error runvm_error_t err = NULL;
  struct utsname u;

  agent.control = control_fd;
  if (loop_init (&err) < 0 || setup_signalfd (&err) < 0)
    {
      cleanup_free char *text = runvm_error_string (err);
      init_log ("%s", text);
      return 1;
    }
  uname (&u);
  {
    cleanup_free char *rel = json_quote (u.release);
    send_msg ("{\"type\":\"hello\",\"version\":%d,\"kernel\":%s}", RUNVM_PROTO_VERSION, rel);
  }
  agent.control_w = (struct loop_watch){ .fd = control_fd, .fn = on_control };
  loop_set (&agent.control_w, EPOLLIN);
  while (!agent.done)
    loop_run_once ();
  if (agent.container && !agent.container->reaped && agent.container->pid > 0)
    kill_container (SIGKILL);
  return agent.result;
}
