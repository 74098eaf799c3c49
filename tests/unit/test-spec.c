/* Unit tests for src/oci-spec: a complete config.json, then each kind of
 * malformed or incomplete document with the exact message a user sees. */
#include <config.h>
#include "tap.h"
#include "oci-spec/spec.h"
#include "utils.h"

#include <string.h>

static const char *
fixture (const char *name)
{
  static char path[4096];
  const char *top = getenv ("top_srcdir");
  snprintf (path, sizeof path, "%s/tests/unit/fixtures/%s", top ? top : ".", name);
  return path;
}

static void
test_good (void)
{
  cleanup_error runvm_error_t err = NULL;
  cleanup_oci_spec oci_spec *s = NULL;
  oci_process *p;
  oci_linux *l;

  TAP_OK (oci_spec_parse_file (fixture ("config-good.json"), &s, &err) == 0, "good config parses (%s)",
          err ? err->msg : "ok");
  if (s == NULL)
    return;
  TAP_OK (strcmp (s->oci_version, "1.2.0") == 0, "ociVersion");
  TAP_OK (strcmp (s->root_path, "rootfs") == 0 && s->root_readonly, "root");
  TAP_OK (strcmp (s->hostname, "box") == 0 && strcmp (s->domainname, "example.org") == 0, "hostname/domainname");
  p = s->process;
  TAP_OK (p && p->terminal && p->has_console_size && p->console_height == 24 && p->console_width == 80,
          "terminal and consoleSize");
  TAP_OK (p->uid == 1000 && p->gid == 1001 && p->has_umask && p->umask == 022, "user uid/gid/umask");
  TAP_OK (p->n_additional_gids == 3 && p->additional_gids[2] == 4294967295u, "additionalGids");
  TAP_OK (p->n_args == 3 && strcmp (p->args[2], "echo hi") == 0 && p->args[3] == NULL, "args NULL-terminated");
  TAP_OK (strcmp (oci_env_get (p->env, "PATH"), "/sbin") == 0 && oci_env_get (p->env, "NOPE") == NULL,
          "env lookup (last wins)");
  TAP_OK (strcmp (p->cwd, "/work") == 0, "cwd");
  TAP_OK (p->capabilities && p->capabilities->n_bounding == 2 && p->capabilities->n_effective == 1
              && p->capabilities->inheritable == NULL && p->capabilities->ambient && p->capabilities->n_ambient == 0,
          "capabilities: absent differs from empty");
  TAP_OK (p->n_rlimits == 2 && p->rlimits[0].soft == 512 && p->rlimits[1].hard == UINT64_MAX, "rlimits (uint64)");
  TAP_OK (p->no_new_privileges && p->has_oom_score_adj && p->oom_score_adj == -500, "noNewPrivileges, oomScoreAdj");
  TAP_OK (strcmp (p->apparmor_profile, "unconfined") == 0 && p->selinux_label, "apparmor, selinux");
  TAP_OK (s->n_mounts == 3 && strcmp (s->mounts[1].options[3], "size=65536k") == 0
              && s->mounts[0].options[0] == NULL && strcmp (s->mounts[2].type, "bind") == 0,
          "mounts");
  TAP_OK (s->hooks && s->hooks->prestart.len == 1 && s->hooks->prestart.items[0].has_timeout
              && s->hooks->prestart.items[0].timeout == 5 && s->hooks->poststop.len == 1
              && s->hooks->poststop.items[0].args == NULL && s->hooks->poststart.len == 0,
          "hooks");
  TAP_OK (s->n_annotations == 3 && strcmp (s->annotations[0].key, "z.last") == 0
              && strcmp (oci_spec_annotation (s, "run.oci.runvm.vcpus"), "2") == 0,
          "annotations keep document order");
  l = s->linux_;
  TAP_OK (l && l->n_namespaces == 3 && oci_spec_namespace (s, "network")
              && strcmp (oci_spec_namespace (s, "network")->path, "/var/run/netns/x") == 0
              && oci_spec_namespace (s, "uts") == NULL,
          "namespaces");
  TAP_OK (l->n_uid_mappings == 1 && l->uid_mappings[0].host_id == 100000, "uidMappings");
  TAP_OK (l->n_devices == 1 && l->devices[0].major == 10 && l->devices[0].has_file_mode
              && l->devices[0].file_mode == 0666,
          "devices");
  TAP_OK (l->resources && l->resources->memory_limit == 536870912 && l->resources->memory_swap == -1
              && l->resources->cpu_quota == 50000 && l->resources->cpu_period == 100000
              && strcmp (l->resources->cpu_cpus, "0-1") == 0 && l->resources->pids_limit == 100,
          "resources");
  TAP_OK (strcmp (l->cgroups_path, "/machine/box") == 0 && l->n_sysctl == 2, "cgroupsPath, sysctl");
  TAP_OK (l->seccomp && strcmp (l->seccomp->default_action, "SCMP_ACT_ERRNO") == 0
              && l->seccomp->has_default_errno_ret && l->seccomp->default_errno_ret == 38
              && l->seccomp->n_architectures == 2 && l->seccomp->n_syscalls == 3,
          "seccomp");
  TAP_OK (l->seccomp->syscalls[1].n_args == 2 && l->seccomp->syscalls[1].args[1].index == 5
              && l->seccomp->syscalls[1].args[1].value == UINT64_MAX && l->seccomp->syscalls[2].has_errno_ret
              && l->seccomp->syscalls[2].errno_ret == 1 && !l->seccomp->syscalls[0].has_errno_ret,
          "seccomp syscalls and args");
  TAP_OK (l->n_masked_paths == 2 && l->n_readonly_paths == 1 && strcmp (l->rootfs_propagation, "rslave") == 0,
          "masked/readonly paths, propagation");
  TAP_OK (s->vm && strcmp (s->vm->kernel_path, "/boot/vmlinux") == 0 && s->vm->n_kernel_parameters == 1
              && s->vm->has_vcpus && s->vm->vcpus == 4 && s->vm->memory_mib == 2048,
          "vm");
  TAP_OK (s->raw && s->tree && YAJL_IS_OBJECT (s->tree) && strstr (s->raw, "futureField"),
          "raw document and tree kept");
}

static void
test_minimal (void)
{
  cleanup_error runvm_error_t err = NULL;
  cleanup_oci_spec oci_spec *s = NULL;

  TAP_OK (oci_spec_parse_string ("{\"ociVersion\":\"1.0.0\",\"process\":{\"args\":[\"true\"]}}", &s, &err) == 0,
          "minimal config parses");
  TAP_OK (s && s->process && s->process->cwd == NULL && s->process->env && s->process->env[0] == NULL
              && s->process->uid == 0 && s->process->capabilities == NULL && s->linux_ == NULL && s->hooks == NULL,
          "defaults for absent members");
}

static void
test_no_oci_version (void)
{
  cleanup_error runvm_error_t err = NULL;
  cleanup_oci_spec oci_spec *s = NULL;

  /* runc 1.1.5 runs a config.json without ociVersion. */
  TAP_OK (oci_spec_parse_string ("{\"process\":{\"args\":[\"true\"],\"cwd\":\"/\"}}", &s, &err) == 0,
          "a config without ociVersion parses, as runc's does");
  TAP_OK (s && s->oci_version == NULL && s->process && strcmp (s->process->args[0], "true") == 0,
          "... with no version and the rest read");
}

static void
expect_error (const char *json, const char *msg)
{
  cleanup_error runvm_error_t err = NULL;
  oci_spec *s = NULL;
  int r = oci_spec_parse_string (json, &s, &err);

  TAP_OK (r < 0 && s == NULL && err && strcmp (err->msg, msg) == 0, "error \"%s\" (got \"%s\")", msg,
          err ? err->msg : "success");
  oci_spec_free (s);
}

#define V "\"ociVersion\":\"1.0.0\""

static void
test_errors (void)
{
  expect_error ("{", "invalid JSON: parse error: premature EOF");
  /* runc (Go's encoding/json) refuses comments; yajl_tree_parse alone
   * would take them. */
  expect_error ("{" V " /* a comment */}",
                "invalid JSON: parse error: probable comment found in input text, comments are not enabled");
  {
    /* An unknown member nested past Go's (and runc's) limit. */
    static char deep[2 * 10001 + 64];
    int n = sprintf (deep, "{" V ",\"x\":");
    memset (deep + n, '[', 10001);
    memset (deep + n + 10001, ']', 10001);
    strcpy (deep + n + 2 * 10001, "}");
    expect_error (deep, "invalid JSON: nested deeper than 10000 levels");
  }
  expect_error ("[1]", "expected a JSON object");
  expect_error ("{\"ociVersion\":1}", "ociVersion: expected a string");
  expect_error ("{" V ",\"process\":{\"args\":\"ls\"}}", "process.args: expected an array of strings");
  expect_error ("{" V ",\"process\":{\"args\":[\"ls\",1]}}", "process.args: expected an array of strings");
  expect_error ("{" V ",\"process\":[]}", "process: expected an object");
  expect_error ("{" V ",\"process\":{\"args\":[\"x\"],\"terminal\":\"yes\"}}",
                "process.terminal: expected a boolean");
  expect_error ("{" V ",\"process\":{\"args\":[\"x\"],\"user\":{\"uid\":-1}}}",
                "process.user.uid: expected an unsigned 32-bit integer");
  expect_error ("{" V ",\"process\":{\"args\":[\"x\"],\"user\":{\"uid\":4294967296}}}",
                "process.user.uid: expected an unsigned 32-bit integer");
  expect_error ("{" V ",\"process\":{\"args\":[\"x\"],\"user\":{\"additionalGids\":[\"a\"]}}}",
                "process.user.additionalGids: expected an array of unsigned 32-bit integers");
  expect_error ("{" V ",\"process\":{\"args\":[\"x\"],\"rlimits\":[{\"type\":\"RLIMIT_NOFILE\",\"hard\":1}]}}",
                "process.rlimits[0].soft: missing required field");
  expect_error ("{" V ",\"process\":{\"args\":[\"x\"],\"rlimits\":{}}}", "process.rlimits: expected an array");
  expect_error ("{" V ",\"process\":{\"args\":[\"x\"],\"rlimits\":[1]}}", "process.rlimits[0]: expected an object");
  expect_error ("{" V ",\"process\":{\"args\":[\"x\"],\"oomScoreAdj\":5000}}",
                "process.oomScoreAdj: expected an integer between -1000 and 1000");
  expect_error ("{" V ",\"process\":{\"args\":[\"x\"],\"capabilities\":{\"bounding\":[1]}}}",
                "process.capabilities.bounding: expected an array of strings");
  expect_error ("{" V ",\"process\":{\"args\":[\"x\"],\"consoleSize\":{\"height\":1}}}",
                "process.consoleSize.width: missing required field");
  expect_error ("{" V ",\"root\":{}}", "root.path: missing required field");
  expect_error ("{" V ",\"root\":{\"path\":\"r\",\"readonly\":1}}", "root.readonly: expected a boolean");
  expect_error ("{" V ",\"mounts\":[{\"destination\":\"/a\"},{\"type\":\"tmpfs\"}]}",
                "mounts[1].destination: missing required field");
  expect_error ("{" V ",\"mounts\":[{\"destination\":\"/a\",\"options\":\"ro\"}]}",
                "mounts[0].options: expected an array of strings");
  expect_error ("{" V ",\"hooks\":{\"poststart\":[{\"args\":[]}]}}", "hooks.poststart[0].path: missing required field");
  expect_error ("{" V ",\"hooks\":{\"prestart\":[{\"path\":\"/x\",\"timeout\":0}]}}",
                "hooks.prestart[0].timeout: expected a positive integer");
  expect_error ("{" V ",\"annotations\":{\"a\":1}}", "annotations.a: expected a string");
  expect_error ("{" V ",\"linux\":{\"namespaces\":[{\"type\":\"bogus\"}]}}",
                "linux.namespaces[0].type: unknown namespace type `bogus`");
  expect_error ("{" V ",\"linux\":{\"namespaces\":[{}]}}", "linux.namespaces[0].type: missing required field");
  expect_error ("{" V ",\"linux\":{\"devices\":[{\"path\":\"/dev/x\",\"type\":\"q\"}]}}",
                "linux.devices[0].type: unknown device type `q`");
  expect_error ("{" V ",\"linux\":{\"uidMappings\":[{\"containerID\":0,\"hostID\":0}]}}",
                "linux.uidMappings[0].size: missing required field");
  expect_error ("{" V ",\"linux\":{\"resources\":{\"memory\":{\"limit\":\"1G\"}}}}",
                "linux.resources.memory.limit: expected an integer");
  expect_error ("{" V ",\"linux\":{\"sysctl\":{\"a\":true}}}", "linux.sysctl.a: expected a string");
  expect_error ("{" V ",\"linux\":{\"seccomp\":{}}}", "linux.seccomp.defaultAction: missing required field");
  expect_error ("{" V ",\"linux\":{\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"x\"]}]}}}",
                "linux.seccomp.syscalls[0].action: missing required field");
  expect_error ("{" V ",\"linux\":{\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"x\"],"
                "\"action\":\"SCMP_ACT_ALLOW\",\"args\":[{\"index\":6,\"value\":1,\"op\":\"SCMP_CMP_EQ\"}]}]}}}",
                "linux.seccomp.syscalls[0].args[0].index: expected an integer between 0 and 5");
  expect_error ("{" V ",\"linux\":{\"maskedPaths\":\"/proc\"}}", "linux.maskedPaths: expected an array of strings");
  expect_error ("{" V ",\"vm\":{\"kernel\":{}}}", "vm.kernel.path: missing required field");
  expect_error ("{" V ",\"vm\":{\"hwConfig\":{\"vcpus\":1.5}}}", "vm.hwConfig.vcpus: expected an unsigned 32-bit integer");
}

static void
test_file_errors (void)
{
  cleanup_error runvm_error_t err = NULL;
  oci_spec *s = NULL;
  cleanup_free char *msg = NULL;
  char dir[] = "/tmp/test-spec-XXXXXX", path[128];
  FILE *f;
  int r;

  TAP_OK (oci_spec_parse_file ("/nonexistent/config.json", &s, &err) < 0 && err, "missing file fails");
  msg = runvm_error_string (err);
  TAP_OK (strcmp (msg, "loading config.json: open `/nonexistent/config.json`: No such file or directory") == 0,
          "missing file message (%s)", msg);
  runvm_error_release (&err);

  if (mkdtemp (dir) == NULL)
    return;
  snprintf (path, sizeof path, "%s/config.json", dir);
  f = fopen (path, "w");
  fputs ("{\"ociVersion\":\"1.0.0\",\"process\":{\"args\":\"sh\"}}", f);
  fclose (f);
  r = oci_spec_parse_file (path, &s, &err);
  TAP_OK (r < 0 && strcmp (err->msg, "loading config.json: process.args: expected an array of strings") == 0,
          "file errors are prefixed with the file name (%s)", err ? err->msg : "");
  unlink (path);
  rmdir (dir);
}

static void
test_exec_process (void)
{
  cleanup_error runvm_error_t err = NULL;
  cleanup_oci_process oci_process *p = NULL;
  yajl_val tree = yajl_tree_parse ("{\"args\":[\"ls\",\"-l\"],\"env\":[\"A=b\"],\"terminal\":false}", NULL, 0);

  TAP_OK (oci_process_parse (tree, "process", &p, &err) == 0 && p->n_args == 2 && strcmp (p->env[0], "A=b") == 0,
          "exec process object parses");
  yajl_tree_free (tree);
  tree = yajl_tree_parse ("{\"args\":\"ls\"}", NULL, 0);
  TAP_OK (oci_process_parse (tree, "process", &p, &err) < 0 && strcmp (err->msg, "process.args: expected an array of strings") == 0,
          "exec process with args of the wrong type");
  yajl_tree_free (tree);
}

/* runc's validateProcessSpec (and its rlimit check), in its order and
 * words: the process JSON, the message expected (NULL: valid). */
static void
expect_invalid (const char *json, const char *msg)
{
  cleanup_error runvm_error_t err = NULL;
  cleanup_oci_process oci_process *p = NULL;
  yajl_val tree = yajl_tree_parse (json, NULL, 0);
  int r = tree ? oci_process_parse (tree, "process", &p, &err) : -1;

  if (r == 0)
    r = oci_process_validate (p, &err);
  yajl_tree_free (tree);
  if (msg == NULL)
    TAP_OK (r == 0, "valid: %s (%s)", json, err ? err->msg : "ok");
  else
    TAP_OK (r < 0 && err && strcmp (err->msg, msg) == 0, "%s: \"%s\" (got \"%s\")", json, msg, err ? err->msg : "valid");
}

static void
test_validate (void)
{
  expect_invalid ("{}", "Cwd property must not be empty");
  expect_invalid ("{\"args\":[\"x\"]}", "Cwd property must not be empty");
  expect_invalid ("{\"args\":[\"x\"],\"cwd\":\"\"}", "Cwd property must not be empty");
  expect_invalid ("{\"args\":[\"x\"],\"cwd\":\"rel\"}", "Cwd must be an absolute path");
  expect_invalid ("{\"cwd\":\"/\"}", "args must not be empty");
  expect_invalid ("{\"args\":[],\"cwd\":\"/\"}", "args must not be empty");
  expect_invalid ("{\"args\":[\"x\"],\"cwd\":\"/\",\"rlimits\":[{\"type\":\"RLIMIT_NOFILE\",\"hard\":2,\"soft\":1},"
                  "{\"type\":\"RLIMIT_BOGUS\",\"hard\":1,\"soft\":1}]}",
                  "wrong rlimit value: RLIMIT_BOGUS");
  expect_invalid ("{\"args\":[\"x\"],\"cwd\":\"/tmp\",\"rlimits\":[{\"type\":\"RLIMIT_NOFILE\",\"hard\":2,\"soft\":1}]}",
                  NULL);
}

int
main (void)
{
  test_good ();
  test_minimal ();
  test_no_oci_version ();
  test_errors ();
  test_validate ();
  test_file_errors ();
  test_exec_process ();
  return tap_done ();
}
