/* A fake host for runvm-init's tests: listens on the unix sockets that
 * `runvm-init --host-mode DIR` connects to (DIR/vsock.sock_PORT), speaks
 * docs/protocol.md, and collects the container's output. Used by the
 * test-init-*.c programs; root only (namespaces, mounts). */
#ifndef RUNVM_TEST_INIT_HOST_H
#define RUNVM_TEST_INIT_HOST_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <yajl/yajl_tree.h>

struct stream
{
  int fd;
  char *buf;
  size_t len;
  bool eof;
};

struct fake_host
{
  char dir[64];
  char rootfs[128];
  int listeners[32];
  unsigned ports[32];
  size_t n_listeners;
  int control;
  pid_t init_pid;
  int init_status; /* runvm-init's own exit status */
  struct stream out, err, tty;
  int in_fd;
  bool terminal;
  /* Results. */
  long pid;
  char *error;
  long error_status;
  long status;
};

/* Creates the rootfs template once (testinit as /bin/testinit). */
int fake_host_setup_rootfs (char *rootfs, size_t len);
/* Starts runvm-init in host mode and reads its hello. */
int fake_host_boot (struct fake_host *h, const char *rootfs);
int fake_host_listen (struct fake_host *h, unsigned port);
int fake_host_accept (struct fake_host *h, unsigned port, int timeout_ms);
int fake_host_send (struct fake_host *h, const char *json);
/* Next message, NULL on timeout/EOF. *type points into the tree. */
yajl_val fake_host_recv (struct fake_host *h, const char **type, int timeout_ms);
/* config -> created (0) or error (-1, h->error set). */
int fake_host_create (struct fake_host *h, const char *config, bool with_stdin);
int fake_host_start (struct fake_host *h);
/* Reads stdout/stderr/tty until STREAM's data contains NEEDLE. */
int fake_host_read_until (struct fake_host *h, struct stream *s, const char *needle, int timeout_ms);
/* Feeds IN to stdin (then EOF), reads all output to EOF, then `exit`,
 * answers bye and reaps runvm-init. */
int fake_host_finish (struct fake_host *h, const char *in, size_t in_len);
void fake_host_cleanup (struct fake_host *h);

/* A config.json with the usual mounts and namespaces around PROCESS
 * members; LINUX and TOP are extra members (may be "") for those objects.
 * Extra members come first and the parser takes the first of a name, so
 * they override the defaults ("root", "mounts", "cwd", "env"...). */
char *make_config (const char *rootfs, const char *process, const char *linux_extra, const char *top_extra);
/* The same, without a pid namespace (so signals reach a default-action
 * workload). */
char *make_config_nopidns (const char *rootfs, const char *process, const char *linux_extra);

#endif
