/* runvm checkpoint / restore: not supported yet (a VM snapshot would be the
 * way, not CRIU). Both take runc's flags, so that a command line is refused
 * for the right reason. */
#include <config.h>
#include "commands.h"
#include "container.h"

static const struct cli_flag checkpoint_flags[] = {
  { "image-path", CLI_STRING, "where to save the images" },
  { "work-path", CLI_STRING, "where to save work files and logs" },
  { "parent-path", CLI_STRING, "the images of a previous pre-dump" },
  { "leave-running", CLI_BOOL, "leave the container running after the checkpoint" },
  { "tcp-established", CLI_BOOL, "allow open TCP connections" },
  { "ext-unix-sk", CLI_BOOL, "allow external unix sockets" },
  { "shell-job", CLI_BOOL, "allow shell jobs" },
  { "lazy-pages", CLI_BOOL, "restore memory pages lazily" },
  { "status-fd", CLI_INT, "a file descriptor to signal once lazy pages are ready" },
  { "page-server", CLI_STRING, "ADDRESS:PORT of a page server" },
  { "file-locks", CLI_BOOL, "handle file locks" },
  { "pre-dump", CLI_BOOL, "dump memory only and leave the container running" },
  { "manage-cgroups-mode", CLI_STRING, "soft, full or strict" },
  { "empty-ns", CLI_STRINGS, "a namespace to create without restoring its properties" },
  { "auto-dedup", CLI_BOOL, "deduplicate memory images" },
  { NULL },
};

static const struct cli_flag restore_flags[] = {
  { "console-socket", CLI_STRING, "an AF_UNIX socket that receives the console's pty master" },
  { "image-path", CLI_STRING, "where the images are" },
  { "work-path", CLI_STRING, "where to save work files and logs" },
  { "tcp-established", CLI_BOOL, "allow open TCP connections" },
  { "ext-unix-sk", CLI_BOOL, "allow external unix sockets" },
  { "shell-job", CLI_BOOL, "allow shell jobs" },
  { "file-locks", CLI_BOOL, "handle file locks" },
  { "manage-cgroups-mode", CLI_STRING, "soft, full or strict" },
  { "bundle, b", CLI_STRING, "the bundle directory" },
  { "detach, d", CLI_BOOL, "detach from the container's process" },
  { "pid-file", CLI_STRING, "write the container's pid to this file" },
  { "no-subreaper", CLI_BOOL, "do not act as a subreaper" },
  { "no-pivot", CLI_BOOL, "do not use pivot_root" },
  { "empty-ns", CLI_STRINGS, "a namespace to create without restoring its properties" },
  { "auto-dedup", CLI_BOOL, "deduplicate memory images" },
  { "lazy-pages", CLI_BOOL, "restore memory pages lazily" },
  { "lsm-profile", CLI_STRING, "an LSM profile for the restored process (TYPE:NAME)" },
  { "lsm-mount-context", CLI_STRING, "an LSM mount context for the restore" },
  { NULL },
};

const struct cli_command cli_checkpoint = {
  .name = "checkpoint",
  .usage = "checkpoint a running container (not supported yet)",
  .args_usage = "<container-id>",
  .flags = checkpoint_flags,
  .min_args = 1,
  .max_args = 1,
};

const struct cli_command cli_restore = {
  .name = "restore",
  .usage = "restore a container from a checkpoint (not supported yet)",
  .args_usage = "<container-id>",
  .flags = restore_flags,
  .min_args = 1,
  .max_args = 1,
};

int
cmd_checkpoint (struct runvm_global *g, struct cli_args *a, runvm_error_t *err)
{
  struct container_state st;

  /* runc names a missing container first */
  if (container_load (g, a->argv[0], &st, err) < 0)
    return -1;
  container_state_release (&st);
  return runvm_make_error (err, 0, "checkpoint is not supported yet by runvm");
}

int
cmd_restore (struct runvm_global *g, struct cli_args *a, runvm_error_t *err)
{
  return runvm_make_error (err, 0, "restore is not supported yet by runvm");
}
