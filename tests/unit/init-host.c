/* The fake host of runvm-init's tests (see init-host.h). Every wait has a
 * timeout so a broken runvm-init fails the test instead of hanging it. */
#include <config.h>
#include "init-host.h"
#include "proto.h"
#include "utils.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>

static const char *
builddir (void)
{
  const char *b = getenv ("top_builddir");
  return b ? b : ".";
}

static int
copy_file (const char *from, const char *to, mode_t mode)
{
  cleanup_free char *data = NULL;
  size_t len = 0;
  cleanup_close int fd = -1;

  if (read_file (from, &data, &len, NULL) < 0)
    return -1;
  fd = open (to, O_WRONLY | O_CREAT | O_TRUNC, mode);
  if (fd < 0 || write_all (fd, data, len) < 0)
    return -1;
  return 0;
}

int
fake_host_setup_rootfs (char *rootfs, size_t len)
{
  static const char *const dirs[] = { "bin", "proc", "dev", "tmp", "etc", "sys", "data" };
  char path[4096], from[4096];
  size_t i;

  snprintf (rootfs, len, "/tmp/runvm-test-rootfs-XXXXXX");
  if (mkdtemp (rootfs) == NULL)
    return -1;
  chmod (rootfs, 0755);
  for (i = 0; i < ARRAY_SIZE (dirs); i++)
    {
      snprintf (path, sizeof path, "%s/%s", rootfs, dirs[i]);
      mkdir (path, 0755);
    }
  snprintf (path, sizeof path, "%s/tmp", rootfs);
  chmod (path, 01777);
  snprintf (from, sizeof from, "%s/tests/init/testinit", builddir ());
  snprintf (path, sizeof path, "%s/bin/testinit", rootfs);
  if (copy_file (from, path, 0755) < 0)
    return -1;
  snprintf (path, sizeof path, "%s/etc/passwd", rootfs);
  if (copy_file ("/dev/null", path, 0644) < 0)
    return -1;
  {
    cleanup_close int fd = open (path, O_WRONLY | O_TRUNC);
    const char *pw = "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000::/home/user:/bin/sh\n";
    if (fd < 0 || write_all (fd, pw, strlen (pw)) < 0)
      return -1;
  }
  return 0;
}

int
fake_host_listen (struct fake_host *h, unsigned port)
{
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  int fd;

  if (h->n_listeners == ARRAY_SIZE (h->listeners))
    return -1;
  snprintf (addr.sun_path, sizeof addr.sun_path, "%s/vsock.sock_%u", h->dir, port);
  fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || bind (fd, (struct sockaddr *) &addr, sizeof addr) < 0 || listen (fd, 4) < 0)
    return -1;
  h->listeners[h->n_listeners] = fd;
  h->ports[h->n_listeners++] = port;
  return 0;
}

int
fake_host_accept (struct fake_host *h, unsigned port, int timeout_ms)
{
  struct pollfd p = { .events = POLLIN };
  size_t i;

  for (i = 0; i < h->n_listeners; i++)
    if (h->ports[i] == port)
      break;
  if (i == h->n_listeners)
    return -1;
  p.fd = h->listeners[i];
  if (poll (&p, 1, timeout_ms) != 1)
    return -1;
  return accept4 (p.fd, NULL, NULL, SOCK_CLOEXEC);
}

int
fake_host_boot (struct fake_host *h, const char *rootfs)
{
  char init[4096], log[128];
  const char *type = NULL;
  yajl_val hello;
  unsigned port;

  memset (h, 0, sizeof *h);
  h->control = h->in_fd = h->out.fd = h->err.fd = h->tty.fd = -1;
  h->pid = h->error_status = h->status = -1;
  snprintf (h->rootfs, sizeof h->rootfs, "%s", rootfs);
  snprintf (h->dir, sizeof h->dir, "/tmp/runvm-test-host-XXXXXX");
  if (mkdtemp (h->dir) == NULL)
    return -1;
  for (port = RUNVM_PORT_CONTROL; port <= RUNVM_PORT_TTY; port++)
    if (fake_host_listen (h, port) < 0)
      return -1;
  snprintf (init, sizeof init, "%s/runvm-init", builddir ());
  snprintf (log, sizeof log, "%s/init.log", h->dir);
  h->init_pid = fork ();
  if (h->init_pid == 0)
    {
      int fd = open (log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
      dup2 (fd, 2);
      fd = open ("/dev/null", O_RDWR);
      dup2 (fd, 0);
      dup2 (fd, 1);
      execl (init, init, "--host-mode", h->dir, "--verbose", NULL);
      _exit (127);
    }
  h->control = fake_host_accept (h, RUNVM_PORT_CONTROL, 5000);
  if (h->control < 0)
    return -1;
  hello = fake_host_recv (h, &type, 5000);
  if (hello == NULL || strcmp (type, "hello") != 0)
    return -1;
  yajl_tree_free (hello);
  return 0;
}

int
fake_host_send (struct fake_host *h, const char *json)
{
  return proto_send (h->control, json, strlen (json), NULL);
}

yajl_val
fake_host_recv (struct fake_host *h, const char **type, int timeout_ms)
{
  struct pollfd p = { .fd = h->control, .events = POLLIN };
  yajl_val v = NULL;

  if (poll (&p, 1, timeout_ms) != 1)
    return NULL;
  if (proto_recv_tree (h->control, &v, type, NULL) != 1)
    return NULL;
  return v;
}

int
fake_host_create (struct fake_host *h, const char *config, bool with_stdin)
{
  cleanup_free char *msg = NULL;
  const char *type = NULL, *m;
  yajl_val reply;
  long long v;

  h->terminal = strstr (config, "\"terminal\":true") != NULL;
  if (asprintf (&msg, "{\"type\":\"config\",\"config\":%s,\"shares\":[],\"stdin\":%s}", config,
                with_stdin ? "true" : "false")
      < 0)
    return -1;
  if (fake_host_send (h, msg) < 0)
    return -1;
  /* The guest connects its stdio before answering; an early error means
   * it never will, so accept with a short timeout. */
  if (h->terminal)
    h->tty.fd = fake_host_accept (h, RUNVM_PORT_TTY, 2000);
  else
    {
      if (with_stdin)
        h->in_fd = fake_host_accept (h, RUNVM_PORT_STDIN, 2000);
      h->out.fd = fake_host_accept (h, RUNVM_PORT_STDOUT, 2000);
      h->err.fd = fake_host_accept (h, RUNVM_PORT_STDERR, 2000);
    }
  reply = fake_host_recv (h, &type, 10000);
  if (reply == NULL)
    return -1;
  if (strcmp (type, "created") == 0 && proto_get_int (reply, "pid", &v) == 0)
    {
      h->pid = (long) v;
      yajl_tree_free (reply);
      return 0;
    }
  m = proto_get_string (reply, "message");
  h->error = strdup (m ? m : type);
  if (proto_get_int (reply, "status", &v) == 0)
    h->error_status = (long) v;
  yajl_tree_free (reply);
  return -1;
}

int
fake_host_start (struct fake_host *h)
{
  const char *type = NULL;
  yajl_val reply;
  int r;

  if (fake_host_send (h, "{\"type\":\"start\"}") < 0)
    return -1;
  reply = fake_host_recv (h, &type, 5000);
  r = reply && strcmp (type, "started") == 0 ? 0 : -1;
  if (reply)
    yajl_tree_free (reply);
  return r;
}

static void
stream_read (struct stream *s)
{
  char buf[65536];
  ssize_t n = read (s->fd, buf, sizeof buf);
  if (n <= 0)
    {
      s->eof = true;
      return;
    }
  s->buf = realloc (s->buf, s->len + n + 1);
  memcpy (s->buf + s->len, buf, n);
  s->len += n;
  s->buf[s->len] = '\0';
}

/* Moves data until every output stream is at EOF, or NEEDLE appears in
 * WATCH. Writes IN to stdin meanwhile and shuts stdin down after it. */
static int
pump (struct fake_host *h, const char *in, size_t in_len, struct stream *watch, const char *needle, int timeout_ms)
{
  struct stream *streams[] = { &h->out, &h->err, &h->tty };
  size_t in_off = 0;
  time_t deadline = time (NULL) + timeout_ms / 1000 + 1;

  for (;;)
    {
      struct pollfd p[4];
      struct stream *who[4];
      size_t n = 0, i;

      if (watch && needle && watch->buf && strstr (watch->buf, needle))
        return 0;
      for (i = 0; i < ARRAY_SIZE (streams); i++)
        if (streams[i]->fd >= 0 && !streams[i]->eof)
          {
            p[n] = (struct pollfd){ .fd = streams[i]->fd, .events = POLLIN };
            who[n++] = streams[i];
          }
      if (h->in_fd >= 0 && in)
        {
          p[n] = (struct pollfd){ .fd = h->in_fd, .events = POLLOUT };
          who[n++] = NULL;
        }
      if (n == 0)
        return needle ? -1 : 0;
      if (time (NULL) > deadline || poll (p, n, 1000) < 0)
        return -1;
      for (i = 0; i < n; i++)
        {
          if (!p[i].revents)
            continue;
          if (who[i])
            stream_read (who[i]);
          else
            {
              ssize_t w = in_off < in_len ? send (h->in_fd, in + in_off, in_len - in_off, MSG_NOSIGNAL | MSG_DONTWAIT)
                                          : 0;
              if (w > 0)
                in_off += w;
              if (w < 0 && errno != EAGAIN)
                in_off = in_len;
              if (in_off >= in_len)
                {
                  shutdown (h->in_fd, SHUT_WR);
                  in = NULL;
                }
            }
        }
    }
}

int
fake_host_read_until (struct fake_host *h, struct stream *s, const char *needle, int timeout_ms)
{
  return pump (h, NULL, 0, s, needle, timeout_ms);
}

int
fake_host_finish (struct fake_host *h, const char *in, size_t in_len)
{
  const char *type = NULL;
  yajl_val msg;
  long long v;
  int status, i;

  if (h->in_fd >= 0 && in == NULL)
    shutdown (h->in_fd, SHUT_WR);
  if (pump (h, in, in_len, NULL, NULL, 20000) < 0)
    return -1;
  for (;;)
    {
      msg = fake_host_recv (h, &type, 10000);
      if (msg == NULL)
        return -1;
      if (strcmp (type, "exit") == 0)
        break;
      yajl_tree_free (msg);
    }
  if (proto_get_int (msg, "status", &v) == 0)
    h->status = (long) v;
  yajl_tree_free (msg);
  fake_host_send (h, "{\"type\":\"bye\"}");
  for (i = 0; i < 500; i++)
    {
      struct timespec ts = { 0, 10 * 1000 * 1000 };
      if (waitpid (h->init_pid, &status, WNOHANG) == h->init_pid)
        {
          h->init_status = WIFEXITED (status) ? WEXITSTATUS (status) : 128 + WTERMSIG (status);
          h->init_pid = 0;
          return 0;
        }
      nanosleep (&ts, NULL);
    }
  return -1;
}

void
fake_host_cleanup (struct fake_host *h)
{
  char path[256];
  size_t i;

  if (h->init_pid > 0)
    {
      kill (h->init_pid, SIGKILL);
      waitpid (h->init_pid, NULL, 0);
    }
  if (h->control >= 0)
    close (h->control);
  if (h->in_fd >= 0)
    close (h->in_fd);
  if (h->out.fd >= 0)
    close (h->out.fd);
  if (h->err.fd >= 0)
    close (h->err.fd);
  if (h->tty.fd >= 0)
    close (h->tty.fd);
  for (i = 0; i < h->n_listeners; i++)
    close (h->listeners[i]);
  free (h->out.buf);
  free (h->err.buf);
  free (h->tty.buf);
  free (h->error);
  if (getenv ("KEEP_TEST_DIRS") == NULL && h->dir[0])
    {
      for (i = 0; i < h->n_listeners; i++)
        {
          snprintf (path, sizeof path, "%s/vsock.sock_%u", h->dir, h->ports[i]);
          unlink (path);
        }
      snprintf (path, sizeof path, "%s/init.log", h->dir);
      unlink (path);
      rmdir (h->dir);
    }
  memset (h, 0, sizeof *h);
}

static char *
config_with (const char *rootfs, const char *process, const char *namespaces, const char *linux_extra,
             const char *top_extra)
{
  char *c = NULL;
  if (asprintf (&c,
                "{%s\"ociVersion\":\"1.0.2\",\"root\":{\"path\":\"%s\"},\"hostname\":\"ctr\","
                "\"process\":{%s%s\"cwd\":\"/\",\"env\":[\"PATH=/bin:/usr/bin\"]},"
                "\"mounts\":["
                "{\"destination\":\"/proc\",\"type\":\"proc\",\"source\":\"proc\"},"
                "{\"destination\":\"/dev\",\"type\":\"tmpfs\",\"source\":\"tmpfs\","
                "\"options\":[\"nosuid\",\"strictatime\",\"mode=755\",\"size=65536k\"]},"
                "{\"destination\":\"/dev/pts\",\"type\":\"devpts\",\"source\":\"devpts\","
                "\"options\":[\"nosuid\",\"noexec\",\"newinstance\",\"ptmxmode=0666\",\"mode=0620\"]},"
                "{\"destination\":\"/dev/shm\",\"type\":\"tmpfs\",\"source\":\"shm\","
                "\"options\":[\"nosuid\",\"noexec\",\"nodev\",\"mode=1777\"]},"
                "{\"destination\":\"/tmp\",\"type\":\"tmpfs\",\"source\":\"tmpfs\",\"options\":[\"mode=1777\"]}],"
                "\"linux\":{%s\"namespaces\":[%s]}}",
                top_extra ? top_extra : "", rootfs, process, process[0] ? "," : "", linux_extra ? linux_extra : "",
                namespaces)
      < 0)
    abort ();
  return c;
}

char *
make_config (const char *rootfs, const char *process, const char *linux_extra, const char *top_extra)
{
  return config_with (rootfs, process, "{\"type\":\"pid\"},{\"type\":\"mount\"},{\"type\":\"uts\"},{\"type\":\"ipc\"}",
                      linux_extra, top_extra);
}

char *
make_config_nopidns (const char *rootfs, const char *process, const char *linux_extra)
{
  return config_with (rootfs, process, "{\"type\":\"mount\"},{\"type\":\"uts\"},{\"type\":\"ipc\"}", linux_extra,
                      NULL);
}
