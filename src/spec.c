/* runvm spec [--bundle DIR]: writes a default config.json that runs in
 * runvm (runc's default, with the VM section runvm honours). */
#include <config.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "utils.h"

static const char default_spec[] =
  "{\n"
  "  \"ociVersion\": \"1.0.2\",\n"
  "  \"process\": {\n"
  "    \"terminal\": true,\n"
  "    \"user\": { \"uid\": 0, \"gid\": 0 },\n"
  "    \"args\": [ \"sh\" ],\n"
  "    \"env\": [ \"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\", \"TERM=xterm\" ],\n"
  "    \"cwd\": \"/\",\n"
  "    \"capabilities\": {\n"
  "      \"bounding\": [ \"CAP_AUDIT_WRITE\", \"CAP_KILL\", \"CAP_NET_BIND_SERVICE\" ],\n"
  "      \"effective\": [ \"CAP_AUDIT_WRITE\", \"CAP_KILL\", \"CAP_NET_BIND_SERVICE\" ],\n"
  "      \"permitted\": [ \"CAP_AUDIT_WRITE\", \"CAP_KILL\", \"CAP_NET_BIND_SERVICE\" ],\n"
  "      \"ambient\": [ \"CAP_AUDIT_WRITE\", \"CAP_KILL\", \"CAP_NET_BIND_SERVICE\" ]\n"
  "    },\n"
  "    \"rlimits\": [ { \"type\": \"RLIMIT_NOFILE\", \"hard\": 1024, \"soft\": 1024 } ],\n"
  "    \"noNewPrivileges\": true\n"
  "  },\n"
  "  \"root\": { \"path\": \"rootfs\", \"readonly\": true },\n"
  "  \"hostname\": \"runvm\",\n"
  "  \"mounts\": [\n"
  "    { \"destination\": \"/proc\", \"type\": \"proc\", \"source\": \"proc\" },\n"
  "    { \"destination\": \"/dev\", \"type\": \"tmpfs\", \"source\": \"tmpfs\", \"options\": [ \"nosuid\", "
  "\"strictatime\", \"mode=755\", \"size=65536k\" ] },\n"
  "    { \"destination\": \"/dev/pts\", \"type\": \"devpts\", \"source\": \"devpts\", \"options\": [ \"nosuid\", "
  "\"noexec\", \"newinstance\", \"ptmxmode=0666\", \"mode=0620\", \"gid=5\" ] },\n"
  "    { \"destination\": \"/dev/shm\", \"type\": \"tmpfs\", \"source\": \"shm\", \"options\": [ \"nosuid\", "
  "\"noexec\", \"nodev\", \"mode=1777\", \"size=65536k\" ] },\n"
  "    { \"destination\": \"/dev/mqueue\", \"type\": \"mqueue\", \"source\": \"mqueue\", \"options\": [ \"nosuid\", "
  "\"noexec\", \"nodev\" ] },\n"
  "    { \"destination\": \"/sys\", \"type\": \"sysfs\", \"source\": \"sysfs\", \"options\": [ \"nosuid\", "
  "\"noexec\", \"nodev\", \"ro\" ] },\n"
  "    { \"destination\": \"/sys/fs/cgroup\", \"type\": \"cgroup\", \"source\": \"cgroup\", \"options\": [ "
  "\"nosuid\", \"noexec\", \"nodev\", \"relatime\", \"ro\" ] }\n"
  "  ],\n"
  "  \"linux\": {\n"
  "    \"resources\": { \"devices\": [ { \"allow\": false, \"access\": \"rwm\" } ] },\n"
  "    \"namespaces\": [ { \"type\": \"pid\" }, { \"type\": \"network\" }, { \"type\": \"ipc\" }, { \"type\": "
  "\"uts\" }, { \"type\": \"mount\" }, { \"type\": \"cgroup\" } ],\n"
  "    \"maskedPaths\": [ \"/proc/acpi\", \"/proc/asound\", \"/proc/kcore\", \"/proc/keys\", \"/proc/latency_stats\", "
  "\"/proc/timer_list\", \"/proc/timer_stats\", \"/proc/sched_debug\", \"/sys/firmware\", \"/proc/scsi\" ],\n"
  "    \"readonlyPaths\": [ \"/proc/bus\", \"/proc/fs\", \"/proc/irq\", \"/proc/sys\", \"/proc/sysrq-trigger\" ]\n"
  "  }\n"
  "}\n";

static const struct cli_flag spec_flags[] = {
  { "bundle, b", CLI_STRING, "the directory to write config.json in (default: the current directory)" },
  { "rootless", CLI_BOOL, "accepted for runc compatibility: the spec is the same (the VM is the boundary)" },
  { NULL },
};

const struct cli_command cli_spec = {
  .name = "spec",
  .usage = "write a default config.json",
  .flags = spec_flags,
  .min_args = 0,
  .max_args = 0,
};

int
cmd_spec (struct runvm_global *g, struct cli_args *a, runvm_error_t *err)
{
  const char *bundle = cli_string (a, "bundle", ".");
  cleanup_close int fd = -1;
  char why[128];

  /* runc changes into the bundle first, and says so when it cannot */
  if (chdir (bundle) < 0)
    {
      go_words (strerror (errno), why, sizeof why);
      return runvm_make_error (err, 0, "chdir %s: %s", bundle, why);
    }
  fd = open ("config.json", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0 && errno == EEXIST)
    return runvm_make_error (err, 0, "File config.json exists. Remove it first");
  if (fd < 0)
    return runvm_make_error (err, errno, "open `%s/config.json`", bundle);
  if (write_all (fd, default_spec, sizeof default_spec - 1) < 0)
    return runvm_make_error (err, errno, "write `%s/config.json`", bundle);
  return 0;
}
