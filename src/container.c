/* State directory handling and the monitor control-socket client. */
#include <config.h>
#include "container.h"
#include "proto.h"
#include "utils.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <yajl/yajl_gen.h>

char *
container_dir (struct runvm_global *g, const char *id)
{
  char *p = NULL;
  if (asprintf (&p, "%s/%s", g->root, id) < 0)
    abort ();
  return p;
}

int
container_validate_id (const char *id, runvm_error_t *err)
{
  const char *p;

  if (id == NULL || *id == '\0')
    return runvm_make_error (err, 0, "container id cannot be empty");
  if (strlen (id) > 1024)
    return runvm_make_error (err, 0, "invalid container ID format");
  /* runc: ^[\w+-\.]+$ and not "." or "..". */
  for (p = id; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_'
          || *p == '+' || *p == '-' || *p == '.'))
      return runvm_make_error (err, 0, "invalid container ID format");
  if (strcmp (id, ".") == 0 || strcmp (id, "..") == 0)
    return runvm_make_error (err, 0, "invalid container ID format");
  return 0;
}

static char *
dup_string (yajl_val tree, const char *key)
{
  const char *s = proto_get_string (tree, key);
  return s ? strdup (s) : NULL;
}

int
container_load (struct runvm_global *g, const char *id, struct container_state *st, runvm_error_t *err)
{
  cleanup_free char *dir = NULL, *path = NULL, *data = NULL;
  char errbuf[256];
  yajl_val tree;
  long long v;

  memset (st, 0, sizeof *st);
  st->exit_status = -1;
  if (container_validate_id (id, err) < 0)
    return -1;
  dir = container_dir (g, id);
  if (asprintf (&path, "%s/%s", dir, STATE_FILE) < 0)
    abort ();
  if (read_file (path, &data, NULL, err) < 0)
    {
      if ((*err)->status == ENOENT)
        {
          runvm_error_release (err);
          return runvm_make_error (err, 0, "container does not exist");
        }
      return -1;
    }
  tree = json_parse (data, errbuf, sizeof errbuf);
  if (tree == NULL)
    return runvm_make_error (err, 0, "%s: invalid state file: %s", path, errbuf);
  st->id = dup_string (tree, "id");
  st->bundle = dup_string (tree, "bundle");
  st->rootfs = dup_string (tree, "rootfs");
  st->config_path = dup_string (tree, "config");
  st->created = dup_string (tree, "created");
  st->status = dup_string (tree, "status");
  st->owner = dup_string (tree, "owner");
  if (proto_get_int (tree, "pid", &v) == 0)
    st->pid = (pid_t) v;
  if (proto_get_int (tree, "pid_start", &v) == 0)
    st->pid_start = (unsigned long long) v;
  if (proto_get_int (tree, "exit_status", &v) == 0)
    st->exit_status = (int) v;
  {
    yajl_val a = proto_get (tree, "annotations");
    if (a && YAJL_IS_OBJECT (a))
      {
        /* Keep the whole tree alive through the annotations pointer owner. */
        st->annotations = tree;
        tree = NULL;
      }
  }
  if (tree)
    yajl_tree_free (tree);
  if (st->id == NULL || st->status == NULL)
    return runvm_make_error (err, 0, "%s: incomplete state file", path);
  return 0;
}

void
container_state_release (struct container_state *st)
{
  free (st->id);
  free (st->bundle);
  free (st->rootfs);
  free (st->config_path);
  free (st->created);
  free (st->status);
  free (st->owner);
  if (st->annotations)
    yajl_tree_free (st->annotations);
  memset (st, 0, sizeof *st);
}

bool
container_monitor_alive (const struct container_state *st)
{
  if (st->pid <= 0)
    return false;
  if (kill (st->pid, 0) < 0 && errno == ESRCH)
    return false;
  /* A reused pid has another start time; a zombie is not alive either. */
  if (process_start_time (st->pid) != st->pid_start)
    return false;
  {
    char path[64], buf[512];
    cleanup_file FILE *f = NULL;
    snprintf (path, sizeof path, "/proc/%d/stat", (int) st->pid);
    f = fopen (path, "re");
    if (f && fgets (buf, sizeof buf, f))
      {
        char *p = strrchr (buf, ')');
        if (p && p[1] == ' ' && p[2] == 'Z')
          return false;
      }
  }
  return true;
}

const char *
container_status (const struct container_state *st)
{
  if (strcmp (st->status, "stopped") == 0)
    return "stopped";
  if (!container_monitor_alive (st))
    return "stopped";
  return st->status;
}

void
json_gen_string (yajl_gen gen, const char *s)
{
  yajl_gen_string (gen, (const unsigned char *) s, strlen (s));
}

void
json_gen_tree (yajl_gen gen, yajl_val v)
{
  size_t i;

  if (v == NULL || YAJL_IS_NULL (v))
    yajl_gen_null (gen);
  else if (YAJL_IS_STRING (v))
    json_gen_string (gen, v->u.string);
  else if (YAJL_IS_NUMBER (v))
    yajl_gen_number (gen, v->u.number.r, strlen (v->u.number.r));
  else if (YAJL_IS_TRUE (v))
    yajl_gen_bool (gen, 1);
  else if (YAJL_IS_FALSE (v))
    yajl_gen_bool (gen, 0);
  else if (YAJL_IS_OBJECT (v))
    {
      yajl_gen_map_open (gen);
      for (i = 0; i < v->u.object.len; i++)
        {
          json_gen_string (gen, v->u.object.keys[i]);
          json_gen_tree (gen, v->u.object.values[i]);
        }
      yajl_gen_map_close (gen);
    }
  else if (YAJL_IS_ARRAY (v))
    {
      yajl_gen_array_open (gen);
      for (i = 0; i < v->u.array.len; i++)
        json_gen_tree (gen, v->u.array.values[i]);
      yajl_gen_array_close (gen);
    }
}

static char *
gen_finish (yajl_gen gen)
{
  const unsigned char *buf;
  size_t len;
  char *out;

  yajl_gen_get_buf (gen, &buf, &len);
  out = strndup ((const char *) buf, len);
  yajl_gen_free (gen);
  return out;
}

static void
gen_state (yajl_gen gen, const struct container_state *st, bool internal)
{
  const char *status = internal ? st->status : container_status (st);

  yajl_gen_map_open (gen);
  json_gen_string (gen, "ociVersion");
  json_gen_string (gen, "1.0.2");
  json_gen_string (gen, "id");
  json_gen_string (gen, st->id);
  json_gen_string (gen, "pid");
  yajl_gen_integer (gen, strcmp (status, "stopped") == 0 && !internal ? 0 : st->pid);
  json_gen_string (gen, "status");
  json_gen_string (gen, status);
  json_gen_string (gen, "bundle");
  json_gen_string (gen, st->bundle ? st->bundle : "");
  json_gen_string (gen, "rootfs");
  json_gen_string (gen, st->rootfs ? st->rootfs : "");
  json_gen_string (gen, "created");
  json_gen_string (gen, st->created ? st->created : "");
  json_gen_string (gen, "owner");
  json_gen_string (gen, st->owner ? st->owner : "");
  if (st->annotations)
    {
      json_gen_string (gen, "annotations");
      json_gen_tree (gen, proto_get (st->annotations, "annotations"));
    }
  if (internal)
    {
      json_gen_string (gen, "pid_start");
      yajl_gen_integer (gen, (long long) st->pid_start);
      json_gen_string (gen, "config");
      json_gen_string (gen, st->config_path ? st->config_path : "");
      json_gen_string (gen, "exit_status");
      yajl_gen_integer (gen, st->exit_status);
    }
  yajl_gen_map_close (gen);
}

char *
container_state_json (const struct container_state *st, bool pretty)
{
  yajl_gen gen = yajl_gen_alloc (NULL);
  if (pretty)
    {
      yajl_gen_config (gen, yajl_gen_beautify, 1);
      yajl_gen_config (gen, yajl_gen_indent_string, "  ");
    }
  gen_state (gen, st, false);
  return gen_finish (gen);
}

int
container_save (const char *dir, const struct container_state *st, runvm_error_t *err)
{
  cleanup_free char *path = NULL, *json = NULL;
  yajl_gen gen = yajl_gen_alloc (NULL);

  gen_state (gen, st, true);
  json = gen_finish (gen);
  if (asprintf (&path, "%s/%s", dir, STATE_FILE) < 0)
    abort ();
  return write_file_atomic (path, json, strlen (json), err);
}

int
monitor_connect (const char *dir, runvm_error_t *err)
{
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  cleanup_close int fd = -1;
  int n;

  n = snprintf (addr.sun_path, sizeof addr.sun_path, "%s/%s", dir, MONITOR_SOCKET);
  if (n < 0 || (size_t) n >= sizeof addr.sun_path)
    return runvm_make_error (err, ENAMETOOLONG, "monitor socket path");
  fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return runvm_make_error (err, errno, "socket");
  if (connect (fd, (struct sockaddr *) &addr, sizeof addr) < 0)
    return runvm_make_error (err, errno, "connect to the container's monitor");
  return steal_fd (&fd);
}

int
monitor_request (const char *dir, const char *json, yajl_val *reply, runvm_error_t *err)
{
  cleanup_close int fd = monitor_connect (dir, err);
  const char *type = NULL;
  yajl_val tree = NULL;
  int r;

  if (fd < 0)
    return -1;
  if (proto_send (fd, json, strlen (json), err) < 0)
    return -1;
  {
    /* Never hang on a wedged monitor or guest: the guest answers within
     * seconds even on emulated KVM. */
    struct pollfd p = { .fd = fd, .events = POLLIN };
    int n;
    do
      n = poll (&p, 1, MONITOR_REPLY_TIMEOUT_MS);
    while (n < 0 && errno == EINTR);
    if (n == 0)
      return runvm_make_error (err, 0, "timed out after %d s waiting for the container's monitor to answer",
                               MONITOR_REPLY_TIMEOUT_MS / 1000);
  }
  r = proto_recv_tree (fd, &tree, &type, err);
  if (r < 0)
    return -1;
  if (r == 0)
    return runvm_make_error (err, 0, "the container's monitor closed the connection");
  if (strcmp (type, "error") == 0)
    {
      const char *msg = proto_get_string (tree, "message");
      runvm_make_error (err, 0, "%s", msg ? msg : "unknown error");
      yajl_tree_free (tree);
      return -1;
    }
  if (reply)
    *reply = tree;
  else
    yajl_tree_free (tree);
  return 0;
}

char *
json_from_tree (yajl_val v)
{
  yajl_gen gen = yajl_gen_alloc (NULL);
  json_gen_tree (gen, v);
  return gen_finish (gen);
}

char *
json_quote (const char *s)
{
  yajl_gen gen = yajl_gen_alloc (NULL);
  json_gen_string (gen, s ? s : "");
  return gen_finish (gen);
}

const char *
runvm_default_path (const char *env, const char *file, char *buf, size_t len)
{
  const char *v = getenv (env);
  if (v && *v)
    return v;
  snprintf (buf, len, "%s/%s", PKGLIBDIR, file);
  return buf;
}
