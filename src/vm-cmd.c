/* `runvm vm`: boots a kernel with runvm's monitor and nothing else. Used by
 * the monitor's end-to-end tests and bench/boot; not part of runc's CLI.
 * Exit status: 0 guest powered off, 250 triple fault, 251 KVM error,
 * 252 guest halted, 137 stopped by a signal; 1 setup error. */
#include <config.h>

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "runvm.h"
#include "utils.h"
#include "vm.h"

static struct vm *running_vm;

/* A whole decimal number from 1 to MAX, digits only ("" "4x" "-1" "0x10"
 * and out-of-range values are refused). */
static bool
parse_count (const char *s, unsigned long long max, unsigned long long *out)
{
  char *end;

  if (*s < '0' || *s > '9')
    return false;
  errno = 0;
  *out = strtoull (s, &end, 10);
  return errno == 0 && *end == '\0' && *out >= 1 && *out <= max;
}

static void
on_signal (int sig)
{
  if (running_vm)
    vm_request_stop (running_vm, VM_END_KILLED);
}

int
vm_end_exit_status (enum vm_end_reason r)
{
  switch (r)
    {
    case VM_END_POWEROFF:
      return 0;
    case VM_END_SHUTDOWN:
      return 250;
    case VM_END_INTERNAL:
      return 251;
    case VM_END_HALTED:
      return 252;
    case VM_END_KILLED:
      return 137;
    default:
      return 1;
    }
}

/* Its options are GNU-style (getopt_long); cmd_vm parses them itself. */
const struct cli_command cli_vm = {
  .name = "vm",
  .usage = "boot a kernel in runvm's monitor (debugging, benchmarks)",
};

int
cmd_vm (struct runvm_global *g, int argc, char **argv, runvm_error_t *err)
{
  static const struct option opts[] = {
    { "kernel", required_argument, NULL, 'k' }, { "initrd", required_argument, NULL, 'i' },
    { "cpus", required_argument, NULL, 'c' },   { "mem", required_argument, NULL, 'm' },
    { "console", required_argument, NULL, 'o' }, { "append", required_argument, NULL, 'a' },
    { "vsock", required_argument, NULL, 'v' },  { "share", required_argument, NULL, 's' },
    { "rng", no_argument, NULL, 'r' },          { "timing", no_argument, NULL, 't' },
    { "virtiofsd", required_argument, NULL, 'f' }, { "state-dir", required_argument, NULL, 'd' },
    { "blk", required_argument, NULL, 'b' },    { "tap", required_argument, NULL, 'n' },
    { "mac", required_argument, NULL, 'M' },    { "console-virtio", no_argument, NULL, 'C' },
    { "console-max", required_argument, NULL, 'X' },
    { NULL, 0, NULL, 0 },
  };
  struct vm_config cfg = { .vcpus = 1, .mem_bytes = 256ULL << 20, .console_fd = -1, .guest_cid = 3,
                           .virtiofsd_path = VIRTIOFSD_PATH, .state_dir = "/tmp" };
  struct vm *vm = NULL;
  enum vm_end_reason why;
  struct sigaction sa;
  bool timing = false;
  unsigned long long n;
  struct timespec start_rt;
  int c;

  /* For --timing: when this process got here, next to the caller's clock. */
  clock_gettime (CLOCK_REALTIME, &start_rt);

  optind = 1;
  while ((c = getopt_long (argc, argv, "", opts, NULL)) != -1)
    switch (c)
      {
      case 'k':
        cfg.kernel_path = optarg;
        break;
      case 'i':
        cfg.initrd_path = optarg;
        break;
      case 'c':
        if (!parse_count (optarg, VM_MAX_VCPUS, &n))
          return runvm_make_error (err, 0, "vm: --cpus expects a number of vCPUs from 1 to %d, not '%s'", VM_MAX_VCPUS,
                                   optarg);
        cfg.vcpus = (unsigned) n;
        break;
      case 'm':
        if (!parse_count (optarg, 1ULL << 20, &n))
          return runvm_make_error (err, 0, "vm: --mem expects a size in MiB, not '%s'", optarg);
        cfg.mem_bytes = n << 20;
        break;
      case 'o':
        if (strcmp (optarg, "-") == 0)
          cfg.console_fd = 1;
        else
          cfg.console_log = optarg;
        break;
      case 'a':
        cfg.cmdline = optarg;
        break;
      case 'X':
        if (!parse_count (optarg, ULLONG_MAX, &n))
          return runvm_make_error (err, 0, "--console-max expects a number of bytes above 0");
        cfg.console_log_max = n;
        break;
      case 'v':
        cfg.vsock_uds = optarg;
        break;
      case 's':
        {
          char *eq = strchr (optarg, '=');
          if (eq == NULL || cfg.n_shares >= VM_MAX_SHARES)
            return runvm_make_error (err, 0, "--share expects TAG=DIR");
          *eq = '\0';
          cfg.shares[cfg.n_shares].tag = optarg;
          cfg.shares[cfg.n_shares++].path = eq + 1;
        }
        break;
      case 'r':
        cfg.rng = true;
        break;
      case 't':
        timing = true;
        break;
      case 'f':
        cfg.virtiofsd_path = optarg;
        break;
      case 'd':
        cfg.state_dir = optarg;
        break;
      case 'b':
        {
          /* --blk PATH[,ro] */
          size_t l = strlen (optarg);
          if (cfg.n_blocks >= VM_MAX_BLOCKS)
            return runvm_make_error (err, 0, "vm: at most %d --blk disks", VM_MAX_BLOCKS);
          cfg.blocks[cfg.n_blocks].readonly = l > 3 && strcmp (optarg + l - 3, ",ro") == 0;
          if (cfg.blocks[cfg.n_blocks].readonly)
            optarg[l - 3] = '\0';
          cfg.blocks[cfg.n_blocks++].path = optarg;
        }
        break;
      case 'n':
        cfg.has_net = true;
        cfg.net.tap_name = optarg;
        break;
      case 'M':
        {
          unsigned m[6], k;
          char extra;
          if (sscanf (optarg, "%x:%x:%x:%x:%x:%x%c", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5], &extra) != 6)
            return runvm_make_error (err, 0, "vm: --mac expects xx:xx:xx:xx:xx:xx");
          for (k = 0; k < 6; k++)
            {
              if (m[k] > 0xff)
                return runvm_make_error (err, 0, "vm: --mac expects xx:xx:xx:xx:xx:xx");
              cfg.net.mac[k] = (uint8_t) m[k];
            }
          if (cfg.net.mac[0] & 1)
            return runvm_make_error (err, 0, "vm: --mac %s is a multicast address", optarg);
        }
        break;
      case 'C':
        cfg.virtio_console = true;
        break;
      default:
        return runvm_make_error (err, 0, "vm: unknown option");
      }
  if (cfg.kernel_path == NULL)
    return runvm_make_error (err, 0, "vm: --kernel is required");
  if (vm_create (&vm, &cfg, err) < 0)
    return -1;
  running_vm = vm;
  memset (&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigaction (SIGTERM, &sa, NULL);
  sigaction (SIGINT, &sa, NULL);
  why = vm_run (vm);
  if (timing)
    {
      unsigned i;
      fprintf (stderr, "runvm vm: setup %.3f ms before the first KVM_RUN (",
               (vm->setup_done_ns - vm->create_start_ns) / 1e6);
      for (i = 0; i < VM_N_PHASES; i++)
        fprintf (stderr, "%s%s %.1f", i ? ", " : "", vm_phase_names[i], vm->phase_ns[i] / 1e6);
      fprintf (stderr, " ms)\n");
      if (vm->setup_done_ns)
        {
          struct timespec rt, mono;
          double first;
          clock_gettime (CLOCK_REALTIME, &rt);
          clock_gettime (CLOCK_MONOTONIC, &mono);
          first = rt.tv_sec + rt.tv_nsec / 1e9
                  - ((uint64_t) mono.tv_sec * 1000000000ULL + mono.tv_nsec - vm->setup_done_ns) / 1e9;
          fprintf (stderr, "runvm vm: CLOCK_REALTIME %.6f at the start of 'runvm vm', %.6f at the first KVM_RUN\n",
                   start_rt.tv_sec + start_rt.tv_nsec / 1e9, first);
        }
    }
  if (why != VM_END_POWEROFF)
    fprintf (stderr, "runvm vm: %s%s%s\n", vm_end_reason_string (why), vm->end_detail[0] ? ": " : "",
             vm->end_detail);
  running_vm = NULL;
  vm_destroy (vm);
  exit (vm_end_exit_status (why));
}
