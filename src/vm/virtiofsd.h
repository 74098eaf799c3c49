/* virtiofsd, the vhost-user backend that serves a host directory to the
 * guest's virtio-fs: spawned by the monitor, supervised, always reaped.
 *
 * The monitor creates the listening socket itself, connects to it and only
 * then starts virtiofsd with --fd, so there is no socket file to wait for
 * and no window in which another process could connect first. virtiofsd
 * gets PR_SET_PDEATHSIG(SIGKILL) and its own session, so a SIGKILLed monitor
 * never leaves it behind (and closing the socket ends it too). Its stderr
 * goes to <state_dir>/virtiofsd-<tag>.log, never to the container's stdio.
 *
 * Read-only shares: the C virtiofsd has no read-only option, so it runs in
 * a private mount namespace where the shared directory is a recursive
 * read-only bind mount of itself; guest writes fail with EROFS.
 *
 * A watcher thread waits for the process (waitid) and reaps it; the
 * monitor must therefore not reap children it does not own (no waitpid(-1),
 * no SIGCHLD set to SIG_IGN). Start it from a thread that lives as long as
 * the VM: the death signal follows the thread that forked it. */
#ifndef RUNVM_VIRTIOFSD_H
#define RUNVM_VIRTIOFSD_H

#include <stdbool.h>
#include <sys/types.h>

#include "error.h"

struct virtiofsd_config
{
  const char *binary;    /* NULL: the configured VIRTIOFSD_PATH */
  const char *tag;       /* names the socket and the log file; no '/' */
  const char *source;    /* directory to share */
  const char *state_dir; /* where the socket and the log file go */
  bool readonly;
  const char *sandbox; /* "namespace" (default: pid+net+mount namespaces, pivot_root) or "chroot" */
  const char *cache;   /* "auto" (default), "always", "none" */
  bool no_xattr;       /* xattrs are on by default: file capabilities, SELinux labels */
};

struct virtiofsd;

/* Runs on the watcher thread when virtiofsd exits before virtiofsd_stop()
 * was called. wait_status is as from waitpid(), or -1 when unknown. It must
 * not call virtiofsd_stop() (that joins the watcher). */
typedef void (*virtiofsd_died_cb) (void *opaque, pid_t pid, int wait_status);

/* Spawns virtiofsd; *sock_fd gets our end of its vhost-user connection
 * (close-on-exec, already connected: the first request may be sent at once). */
int virtiofsd_start (const struct virtiofsd_config *cfg, struct virtiofsd **out, int *sock_fd, runvm_error_t *err);
pid_t virtiofsd_pid (const struct virtiofsd *d);
/* Waits up to timeout_ms (0: just checks) for the process to exit.
 * Returns true when it has, with *wait_status filled (may be NULL). */
bool virtiofsd_wait_exit (struct virtiofsd *d, int timeout_ms, int *wait_status);
/* "exited with status 1", "killed by signal 9", "is running", followed by
 * the last line of its log when there is one. Caller frees. */
char *virtiofsd_describe (struct virtiofsd *d);
void virtiofsd_set_died_cb (struct virtiofsd *d, virtiofsd_died_cb cb, void *opaque);
/* Lets it exit by itself (callers close the socket first) for grace_ms,
 * then SIGTERM, then SIGKILL; always reaps, never hangs; frees d. */
void virtiofsd_stop (struct virtiofsd *d, int grace_ms);

#endif
