/* runvm create [--bundle DIR] [--console-socket PATH] [--pid-file FILE] ID, and
 * the flags run shares with it. */
#include <config.h>
#include <limits.h>

#include "lifecycle.h"
#include "commands.h"

/* The flags create and run both take (each list is in runc's order). */
#define FLAG_BUNDLE                                                                                                    \
  {                                                                                                                    \
    "bundle, b", CLI_STRING, "the bundle directory (config.json and rootfs); default: the current directory"           \
  }
#define FLAG_CONSOLE_SOCKET                                                                                            \
  {                                                                                                                    \
    "console-socket", CLI_STRING, "an AF_UNIX socket that receives the console's pty master (terminal: true)"          \
  }
#define FLAG_PID_FILE                                                                                                  \
  {                                                                                                                    \
    "pid-file", CLI_STRING, "write the container's pid (runvm's monitor) to this file"                                 \
  }
#define FLAG_NO_PIVOT                                                                                                  \
  {                                                                                                                    \
    "no-pivot", CLI_BOOL, "accepted for runc compatibility: the VM has its own root"                                   \
  }
#define FLAG_NO_NEW_KEYRING                                                                                            \
  {                                                                                                                    \
    "no-new-keyring", CLI_BOOL, "accepted for runc compatibility: the guest kernel has its own keyrings"               \
  }
#define FLAG_PRESERVE_FDS                                                                                              \
  {                                                                                                                    \
    "preserve-fds", CLI_INT, "pass N more file descriptors to the container (after stdio and $LISTEN_FDS)"             \
  }

static const struct cli_flag create_flags[] = {
  FLAG_BUNDLE, FLAG_CONSOLE_SOCKET, FLAG_PID_FILE, FLAG_NO_PIVOT, FLAG_NO_NEW_KEYRING, FLAG_PRESERVE_FDS, { NULL },
};

static const struct cli_flag run_flags[] = {
  FLAG_BUNDLE,
  FLAG_CONSOLE_SOCKET,
  { "detach, d", CLI_BOOL, "return once the container runs instead of waiting for it" },
  { "keep", CLI_BOOL, "keep the container after it exits (delete it with runvm delete)" },
  FLAG_PID_FILE,
  { "no-subreaper", CLI_BOOL, "accepted for runc compatibility: the monitor reaps its own children" },
  FLAG_NO_PIVOT,
  FLAG_NO_NEW_KEYRING,
  FLAG_PRESERVE_FDS,
  { NULL },
};

const struct cli_command cli_create = {
  .name = "create",
  .usage = "create a container (its VM boots; the process waits for start)",
  .args_usage = "<container-id>",
  .flags = create_flags,
  .min_args = 1,
  .max_args = 1,
};

const struct cli_command cli_run = {
  .name = "run",
  .usage = "create and start a container",
  .args_usage = "<container-id>",
  .flags = run_flags,
  .min_args = 1,
  .max_args = 1,
};

void
create_options_from (const struct cli_args *a, struct create_options *o)
{
  long long fds = cli_get (a, "preserve-fds")->num;

  o->id = a->argv[0];
  o->bundle = cli_get (a, "bundle")->str;
  o->console_socket = cli_get (a, "console-socket")->str;
  o->pid_file = cli_get (a, "pid-file")->str;
  /* runc ignores a negative count; more than the fd table holds is all of it */
  o->preserve_fds = fds < 0 ? 0 : fds > INT_MAX - 3 ? INT_MAX - 3 : (int) fds;
}

int
cmd_create (struct runvm_global *g, struct cli_args *a, runvm_error_t *err)
{
  struct create_options o = { 0 };
  pid_t pid;

  create_options_from (a, &o);
  o.detach = true;
  /* runc words a failure past the arguments "runc create failed: ..." */
  if (lifecycle_create (g, &o, &pid, err) < 0)
    return runvm_error_wrap (err, "runvm create failed");
  return 0;
}
