/* runvm check: tells a user, in plain words, what this host has and lacks
 * to run containers in VMs. Exits 1 when something required is missing. */
#include <config.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "commands.h"
#include "container.h"
#include "utils.h"
#include "vm.h"

static int problems;

static void
report (bool ok, bool required, const char *what, const char *detail)
{
  printf ("%-4s %-22s %s\n", ok ? "ok" : required ? "FAIL" : "warn", what, detail);
  if (!ok && required)
    problems++;
}

const struct cli_command cli_check = {
  .name = "check",
  .usage = "check whether this host can run containers with runvm",
  .min_args = 0,
  .max_args = 0,
};

int
cmd_check (struct runvm_global *g, struct cli_args *a, runvm_error_t *err)
{
  runvm_error_t kvm_err = NULL;
  char buf[4200], kernel[4096], initrd[4096];
  const char *p;
  struct stat st;

  problems = 0;
  if (vm_check_kvm (&kvm_err) == 0)
    report (true, true, "KVM", "/dev/kvm is usable and hardware-backed: it can run a normal Linux guest");
  else
    {
      report (false, true, "KVM", kvm_err->msg);
      runvm_error_release (&kvm_err);
    }
  p = getenv ("RUNVM_VIRTIOFSD") ? getenv ("RUNVM_VIRTIOFSD") : VIRTIOFSD_PATH;
  snprintf (buf, sizeof buf, "%s%s", p, access (p, X_OK) == 0 ? "" : " is missing (apt-get install qemu-system-common)");
  report (access (p, X_OK) == 0, true, "virtiofsd", buf);
  p = runvm_default_path ("RUNVM_KERNEL", "vmlinux", kernel, sizeof kernel);
  snprintf (buf, sizeof buf, "%s%s", p, access (p, R_OK) == 0 ? "" : " is missing (make kernel && make install)");
  report (access (p, R_OK) == 0, true, "guest kernel", buf);
  p = runvm_default_path ("RUNVM_INITRD", "runvm-init.cpio", initrd, sizeof initrd);
  snprintf (buf, sizeof buf, "%s%s", p, access (p, R_OK) == 0 ? "" : " is missing (make install)");
  report (access (p, R_OK) == 0, true, "runvm-init", buf);
  report (stat ("/dev/net/tun", &st) == 0, false, "tun",
          stat ("/dev/net/tun", &st) == 0 ? "/dev/net/tun present (container networking)"
                                          : "/dev/net/tun missing: containers get no network (modprobe tun)");
  report (access ("/sys/fs/cgroup/cgroup.controllers", R_OK) == 0, false, "cgroups",
          access ("/sys/fs/cgroup/cgroup.controllers", R_OK) == 0 ? "cgroup v2 unified hierarchy"
                                                                   : "no cgroup v2 at /sys/fs/cgroup");
  snprintf (buf, sizeof buf, "%s (%s)", g->root, access (g->root, W_OK) == 0 ? "writable" : "will be created");
  report (true, false, "state directory", buf);
  if (problems)
    return runvm_make_error (err, 0, "%d problem%s: this host cannot run containers with runvm yet", problems,
                             problems > 1 ? "s" : "");
  printf ("this host can run containers with runvm\n");
  return 0;
}
