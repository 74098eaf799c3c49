/* The host side of one container: its state directory under --root, the
 * state.json that records it (written atomically, pid + process start time
 * so a reused pid is never mistaken for the container), and the client end
 * of the monitor's control socket. */
#ifndef RUNVM_CONTAINER_H
#define RUNVM_CONTAINER_H

#include <stdbool.h>
#include <sys/types.h>
#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "error.h"
#include "runvm.h"

#define STATE_FILE "state.json"
#define MONITOR_SOCKET "monitor.sock"
#define CONSOLE_LOG "console.log"
#define VSOCK_BASE "v" /* guest port P -> <state>/v_P */
#define MONITOR_REPLY_TIMEOUT_MS 120000

struct container_state
{
  char *id;
  char *bundle;
  char *rootfs;
  char *config_path;
  pid_t pid;
  unsigned long long pid_start;
  char *created; /* RFC 3339 */
  char *status;  /* creating created running paused stopped */
  int exit_status; /* -1 unknown */
  yajl_val annotations; /* object, may be NULL */
  char *owner;
};

/* <root>/<id> */
char *container_dir (struct runvm_global *g, const char *id);
int container_validate_id (const char *id, runvm_error_t *err);
/* Loads state.json; a missing dir gives runc's "container does not exist". */
int container_load (struct runvm_global *g, const char *id, struct container_state *st, runvm_error_t *err);
int container_save (const char *dir, const struct container_state *st, runvm_error_t *err);
void container_state_release (struct container_state *st);
/* Effective status: "stopped" once the monitor (pid + start time) is gone. */
const char *container_status (const struct container_state *st);
bool container_monitor_alive (const struct container_state *st);
/* OCI state JSON (as `runvm state` prints it). */
char *container_state_json (const struct container_state *st, bool pretty);

/* Sends one request to the monitor and waits for its reply (a parsed
 * object, caller frees). An {"type":"error"} reply becomes an error. */
int monitor_request (const char *dir, const char *json, yajl_val *reply, runvm_error_t *err);
/* Same, keeping the connection open (exec waits on it for the exit). */
int monitor_connect (const char *dir, runvm_error_t *err);

/* The monitor: runs in the child that `create` forks. Never returns. */
struct monitor_args
{
  struct runvm_global *g;
  const char *id;
  const char *dir;
  const char *bundle;
  int sync_fd;      /* write "ok PID\n" or "error MSG\n" once created */
  int console_fd;   /* pty slave when --console-socket, else -1 */
  int preserve_fds;
};
void monitor_main (struct monitor_args *a) __attribute__ ((noreturn));


/* $ENV if set, else the installed PKGLIBDIR/FILE (kernel, initramfs). */
const char *runvm_default_path (const char *env, const char *file, char *buf, size_t len);

/* JSON text of a parsed value; a quoted, escaped JSON string. */
char *json_from_tree (yajl_val v);
/* The same, emitted into GEN: a parsed value (null for NULL), a string. */
void json_gen_tree (yajl_gen gen, yajl_val v);
void json_gen_string (yajl_gen gen, const char *s);
char *json_quote (const char *s);

#endif
