/* runvm-init entry point: options, guest bring-up when PID 1, the control
 * connection to the host, then the agent's event loop. As PID 1 it must
 * never exit: every fatal path ends in guest_poweroff(). */
#include <config.h>
#include "init.h"
#include "utils.h"

#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>

struct init_options init_opts;

void
init_log (const char *fmt, ...)
{
  char buf[2048];
  va_list ap;
  int n;

  n = snprintf (buf, sizeof buf, "runvm-init: ");
  va_start (ap, fmt);
  vsnprintf (buf + n, sizeof buf - n - 1, fmt, ap);
  va_end (ap);
  n = strlen (buf);
  buf[n++] = '\n';
  if (write (2, buf, n) < 0)
    return;
}

/* Development aid: with runvm_init_selftest=PROGRAM on the kernel command
 * line, the guest runs PROGRAM after bring-up instead of talking to a host
 * (the host-mode tests, built static, run inside a real guest kernel). */
static __attribute__ ((noreturn)) void
run_selftest (const char *program)
{
  cleanup_error runvm_error_t err = NULL;
  cleanup_free char *dir = strdup (program);
  int status = 0;
  pid_t pid, r;

  /* The program lives in the initramfs, which bring-up left. */
  if (strchr (dir + 1, '/'))
    *strchr (dir + 1, '/') = '\0';
  if (guest_expose_initramfs (dir, &err) < 0)
    init_log ("selftest: %s", err->msg);
  pid = fork ();
  if (pid == 0)
    {
      execl (program, program, NULL);
      init_log ("selftest %s: %s", program, strerror (errno));
      _exit (127);
    }
  while ((r = wait (&status)) != pid)
    if (r < 0 && errno != EINTR)
      break;
  init_log ("selftest %s: status %d", program,
            WIFEXITED (status) ? WEXITSTATUS (status) : 128 + WTERMSIG (status));
  guest_poweroff (0);
}

static void
usage (FILE *f)
{
  fprintf (f, "usage: runvm-init [--host-mode DIR] [--verbose]\n"
              "  PID 1 of a runvm guest. --host-mode runs on the host for tests: no guest\n"
              "  bring-up or power-off; vsock port P is the unix socket DIR/vsock.sock_P.\n"
              "  --verbose (or runvm_init_verbose=1 on the kernel command line) traces\n"
              "  every protocol message on the console.\n");
}

int
main (int argc, char **argv)
{
  static const struct option longopts[] = {
    { "host-mode", required_argument, NULL, 'H' },
    { "verbose", no_argument, NULL, 'v' },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
  };
  cleanup_error runvm_error_t err = NULL;
  int c, fd;

  /* The kernel passes unknown command line words to init; ignore them
   * (getopt would stop at them anyway) and read only our options. */
  while ((c = getopt_long (argc, argv, "+vh", longopts, NULL)) != -1)
    switch (c)
      {
      case 'H':
        init_opts.host_dir = optarg;
        break;
      case 'v':
        init_opts.verbose = true;
        break;
      case 'h':
        usage (stdout);
        return 0;
      default:
        if (getpid () != 1)
          {
            usage (stderr);
            return 2;
          }
      }

  /* The kernel hands `name=value` words of its command line to init as
   * environment: runvm_init_verbose=1 turns on the protocol trace. */
  if (getenv ("runvm_init_verbose") || getenv ("RUNVM_INIT_VERBOSE"))
    init_opts.verbose = true;
  signal (SIGPIPE, SIG_IGN);
  if (init_opts.host_dir == NULL)
    {
      if (getpid () != 1)
        {
          fprintf (stderr, "runvm-init: not PID 1; use --host-mode DIR to run on the host\n");
          return 2;
        }
      if (guest_bringup (&err) < 0)
        {
          cleanup_free char *msg = runvm_error_string (err);
          init_log ("guest bring-up failed: %s", msg);
          guest_poweroff (1);
        }
    }
  else
    /* Orphans of the container come back to us, as they would to PID 1. */
    prctl (PR_SET_CHILD_SUBREAPER, 1);

  if (init_opts.host_dir == NULL && getenv ("runvm_init_selftest"))
    run_selftest (getenv ("runvm_init_selftest"));

  fd = transport_connect (RUNVM_PORT_CONTROL, &err);
  if (fd < 0)
    {
      cleanup_free char *msg = runvm_error_string (err);
      init_log ("cannot reach the host: %s", msg);
      guest_poweroff (1);
    }
  guest_poweroff (agent_run (fd));
}
