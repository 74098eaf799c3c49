/* runvm features: what this runtime supports, as the OCI features JSON. */
#include <config.h>
#include <stdio.h>
#include <seccomp.h>

#include "commands.h"

const struct cli_command cli_features = {
  .name = "features",
  .usage = "print what this runtime supports, as the OCI features JSON",
  .min_args = 0,
  .max_args = 0,
};

int
cmd_features (struct runvm_global *g, struct cli_args *a, runvm_error_t *err)
{
  printf ("{\n"
          "  \"ociVersionMin\": \"1.0.0\",\n"
          "  \"ociVersionMax\": \"1.0.2\",\n"
          "  \"hooks\": [\"prestart\", \"createRuntime\", \"createContainer\", \"startContainer\", \"poststart\", "
          "\"poststop\"],\n"
          "  \"mountOptions\": [\"ro\", \"rw\", \"nosuid\", \"suid\", \"nodev\", \"dev\", \"noexec\", \"exec\", "
          "\"sync\", \"async\", \"remount\", \"bind\", \"rbind\", \"private\", \"rprivate\", \"shared\", \"rshared\", "
          "\"slave\", \"rslave\", \"relatime\", \"norelatime\", \"strictatime\", \"noatime\", \"nodiratime\"],\n"
          "  \"linux\": {\n"
          "    \"namespaces\": [\"pid\", \"network\", \"ipc\", \"uts\", \"mount\", \"cgroup\"],\n"
          "    \"capabilities\": [\"CAP_CHOWN\", \"CAP_DAC_OVERRIDE\", \"CAP_DAC_READ_SEARCH\", \"CAP_FOWNER\", "
          "\"CAP_FSETID\", \"CAP_KILL\", \"CAP_SETGID\", \"CAP_SETUID\", \"CAP_SETPCAP\", \"CAP_LINUX_IMMUTABLE\", "
          "\"CAP_NET_BIND_SERVICE\", \"CAP_NET_BROADCAST\", \"CAP_NET_ADMIN\", \"CAP_NET_RAW\", \"CAP_IPC_LOCK\", "
          "\"CAP_IPC_OWNER\", \"CAP_SYS_MODULE\", \"CAP_SYS_RAWIO\", \"CAP_SYS_CHROOT\", \"CAP_SYS_PTRACE\", "
          "\"CAP_SYS_PACCT\", \"CAP_SYS_ADMIN\", \"CAP_SYS_BOOT\", \"CAP_SYS_NICE\", \"CAP_SYS_RESOURCE\", "
          "\"CAP_SYS_TIME\", \"CAP_SYS_TTY_CONFIG\", \"CAP_MKNOD\", \"CAP_LEASE\", \"CAP_AUDIT_WRITE\", "
          "\"CAP_AUDIT_CONTROL\", \"CAP_SETFCAP\", \"CAP_MAC_OVERRIDE\", \"CAP_MAC_ADMIN\", \"CAP_SYSLOG\", "
          "\"CAP_WAKE_ALARM\", \"CAP_BLOCK_SUSPEND\", \"CAP_AUDIT_READ\", \"CAP_PERFMON\", \"CAP_BPF\", "
          "\"CAP_CHECKPOINT_RESTORE\"],\n"
          "    \"cgroup\": { \"v1\": false, \"v2\": true, \"systemd\": false, \"systemdUser\": false },\n"
          "    \"seccomp\": {\n"
          "      \"enabled\": true,\n"
          "      \"actions\": [\"SCMP_ACT_ALLOW\", \"SCMP_ACT_ERRNO\", \"SCMP_ACT_KILL\", \"SCMP_ACT_KILL_PROCESS\", "
          "\"SCMP_ACT_KILL_THREAD\", \"SCMP_ACT_LOG\", \"SCMP_ACT_TRACE\", \"SCMP_ACT_TRAP\"],\n"
          "      \"operators\": [\"SCMP_CMP_EQ\", \"SCMP_CMP_GE\", \"SCMP_CMP_GT\", \"SCMP_CMP_LE\", \"SCMP_CMP_LT\", "
          "\"SCMP_CMP_MASKED_EQ\", \"SCMP_CMP_NE\"],\n"
          "      \"archs\": [\"SCMP_ARCH_X86_64\", \"SCMP_ARCH_X86\", \"SCMP_ARCH_X32\"]\n"
          "    },\n"
          "    \"apparmor\": { \"enabled\": false },\n"
          "    \"selinux\": { \"enabled\": false }\n"
          "  },\n"
          "  \"annotations\": {\n"
          "    \"io.github.seccomp.libseccomp.version\": \"%u.%u.%u\",\n"
          "    \"org.opencontainers.runtime-spec.features.vm\": \"true\",\n"
          "    \"run.oci.runvm.version\": \"%s\"\n"
          "  }\n"
          "}\n",
          seccomp_version ()->major, seccomp_version ()->minor, seccomp_version ()->micro, PACKAGE_VERSION);
  return 0;
}
