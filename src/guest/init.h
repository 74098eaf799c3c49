/* runvm-init: the static PID 1 of the guest. Shared declarations of its
 * parts: the event loop and stdio relays (loop.c, stdio.c), guest bring-up
 * and transport (bringup.c), the protocol agent and process lifecycle
 * (agent.c, container.c, agent.h), and the child side of the container
 * and exec processes (process.c, rootfs.c, caps.c, seccomp.c). */
#ifndef RUNVM_GUEST_INIT_H
#define RUNVM_GUEST_INIT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"
#include "proto.h"
#include "oci-spec/spec.h"

/* ---- global options (main.c) ---- */
struct init_options
{
  /* Non-NULL in host mode: no guest bring-up, no power-off, and vsock
   * port P is the unix socket HOST_DIR/vsock.sock_P. */
  const char *host_dir;
  bool verbose;
};
extern struct init_options init_opts;

void init_log (const char *fmt, ...) __attribute__ ((format (printf, 1, 2)));
#define init_debug(...)                                                                                               \
  do                                                                                                                  \
    {                                                                                                                 \
      if (init_opts.verbose)                                                                                          \
        init_log (__VA_ARGS__);                                                                                       \
    }                                                                                                                 \
  while (0)

/* ---- event loop (loop.c) ---- */
struct loop_watch;
typedef void (*loop_fn) (struct loop_watch *w, uint32_t events);
struct loop_watch
{
  int fd;
  uint32_t events; /* currently registered */
  bool added;
  loop_fn fn;
  void *data;
};

int loop_init (runvm_error_t *err);
/* Registers or re-registers W for EVENTS (0 keeps it added but idle). */
void loop_set (struct loop_watch *w, uint32_t events);
void loop_remove (struct loop_watch *w);
/* Runs one iteration: waits for one event or timer. */
void loop_run_once (void);

typedef void (*timer_fn) (void *data);
/* One-shot timer, MS milliseconds from now. Returns an id for cancel. */
int loop_timer_add (int ms, timer_fn fn, void *data);
void loop_timer_cancel (int id);

/* ---- stdio relays (stdio.c) ---- */
struct relay;
typedef void (*relay_done_fn) (struct relay *r, void *data);
/* Copies SRC to DST until SRC reaches EOF and everything was written, then
 * shuts DST down (sockets) or closes it (pipes) and calls DONE. Takes
 * ownership of both fds and makes them non-blocking. */
struct relay *relay_new (const char *name, int src, int dst, relay_done_fn done, void *data);
/* Stops reading: what was read is still written, then DST is closed. */
void relay_finish_input (struct relay *r);
/* Closes both ends now, dropping buffered data; calls DONE. */
void relay_abort (struct relay *r);
bool relay_is_done (const struct relay *r);
void relay_free (struct relay *r);

/* ---- transport and bring-up (bringup.c) ---- */
/* Connects to host port PORT (AF_VSOCK CID 2, or the host-mode socket). */
int transport_connect (unsigned port, runvm_error_t *err);
int guest_bringup (runvm_error_t *err);
int guest_mount_share (const char *tag, const char *target, runvm_error_t *err);
/* Binds DIR of the initramfs (hidden once bring-up left it) on DIR. */
int guest_expose_initramfs (const char *dir, runvm_error_t *err);
/* Kills everything, syncs and reboots (guest) or exits (host mode). */
__attribute__ ((noreturn)) void guest_poweroff (int host_mode_status);

/* ---- agent (agent.c, container.c) ---- */
/* Speaks the protocol on CONTROL_FD until bye; returns the exit status
 * for host mode. */
int agent_run (int control_fd);
void agent_on_child_exit (pid_t pid, int status);

/* ---- processes (process.c) ---- */
struct share
{
  char *tag;
  int mount_index; /* -1 for the root */
  char *file;      /* single file in the share, or NULL */
  char *path;      /* where the guest mounted it */
};

struct container_config
{
  oci_spec *spec;
  const char *rootfs; /* guest path of the container rootfs */
  struct share *shares;
  size_t n_shares;
};

/* What the child needs for its stdio: either three fds, or a terminal. */
struct child_stdio
{
  bool terminal;
  int fds[3]; /* used when !terminal; -1 = leave closed */
};

/* Sync-channel messages, child -> parent (one SOCK_SEQPACKET datagram each):
 *   "R"            setup done, waiting for start (container) / about to exec
 *   "T" + fd       the terminal master (SCM_RIGHTS)
 *   "E<n>:<text>"  setup failed; n is the shell status it maps to (1, 126, 127)
 * Parent -> child: "S" start (container only). EOF after "R": exec'ed. */
int process_spawn_container (const struct container_config *cfg, struct child_stdio *io, pid_t *pid, int *sync_fd,
                             runvm_error_t *err);
int process_spawn_exec (const struct container_config *cfg, pid_t container_pid, const oci_process *proc,
                        struct child_stdio *io, pid_t *pid, int *sync_fd, runvm_error_t *err);

/* ---- rootfs (rootfs.c), run in the container's mount namespace ---- */
int rootfs_prepare (const struct container_config *cfg, runvm_error_t *err);
int rootfs_enter (const struct container_config *cfg, runvm_error_t *err);
/* Joins ROOT and an untrusted PATH, following symlinks inside ROOT. */
char *rootfs_resolve (const char *root, const char *path);
int set_loopback_up (runvm_error_t *err);

/* ---- process attributes (caps.c) ---- */
int apply_rlimits (const oci_process *p, runvm_error_t *err);
/* GIVEN: the process's capabilities (NULL: none, as with runc). */
int apply_user_and_caps (const oci_process *p, const oci_capabilities *given, runvm_error_t *err);
/* Resolves ARGV0 like Go's exec.LookPath with the process's PATH; fills
 * *status with 127/126 on failure and uses runc's wording. */
int lookup_executable (const char *argv0, char **env, char **out, int *status, runvm_error_t *err);
/* The environment to exec with: the spec's, plus HOME when absent. */
char **process_environment (const oci_process *p);

/* ---- seccomp (seccomp.c) ---- */
/* Compiles the OCI profile with libseccomp and loads it. */
int seccomp_apply (const oci_seccomp *s, runvm_error_t *err);

#endif
