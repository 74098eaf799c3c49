/* The OCI runtime-spec config.json as C structures, parsed with libyajl's
 * tree API. Shared by the host CLI and runvm-init. Unknown members are
 * ignored (as runc does); members of the wrong type are errors naming the
 * JSON path ("process.args: expected an array of strings"). */
#ifndef RUNVM_OCI_SPEC_H
#define RUNVM_OCI_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <yajl/yajl_tree.h>

#include "error.h"

/* String arrays are NULL-terminated with their length beside them. */
typedef struct
{
  char *key;
  char *value;
} oci_kv;

typedef struct
{
  char *type; /* "RLIMIT_NOFILE" */
  uint64_t hard, soft;
} oci_rlimit;

typedef struct
{
  /* Each set is NULL when absent (different from present and empty). */
  char **bounding, **effective, **inheritable, **permitted, **ambient;
  size_t n_bounding, n_effective, n_inheritable, n_permitted, n_ambient;
} oci_capabilities;

typedef struct
{
  bool terminal;
  bool has_console_size;
  unsigned console_height, console_width;

  uid_t uid;
  gid_t gid;
  bool has_umask;
  mode_t umask;
  gid_t *additional_gids;
  size_t n_additional_gids;

  char **args;
  size_t n_args;
  char **env;
  size_t n_env;
  char *cwd; /* NULL when absent: oci_process_validate refuses that, as runc does */

  oci_capabilities *capabilities; /* NULL when absent */
  oci_rlimit *rlimits;
  size_t n_rlimits;
  bool no_new_privileges;
  bool has_oom_score_adj;
  int oom_score_adj;
  char *apparmor_profile;
  char *selinux_label;
} oci_process;

typedef struct
{
  char *destination;
  char *source;
  char *type;
  char **options;
  size_t n_options;
} oci_mount;

typedef struct
{
  char *path;
  char **args;
  size_t n_args;
  char **env;
  size_t n_env;
  bool has_timeout;
  int timeout;
} oci_hook;

typedef struct
{
  oci_hook *items;
  size_t len;
} oci_hook_list;

typedef struct
{
  oci_hook_list prestart, create_runtime, create_container, start_container, poststart, poststop;
} oci_hooks;

typedef struct
{
  char *type; /* pid network mount ipc uts user cgroup time */
  char *path;
} oci_namespace;

typedef struct
{
  uint32_t container_id, host_id, size;
} oci_id_mapping;

typedef struct
{
  char *type; /* c b u p */
  char *path;
  int64_t major, minor;
  bool has_file_mode, has_uid, has_gid;
  mode_t file_mode;
  uid_t uid;
  gid_t gid;
} oci_device;

typedef struct
{
  bool has_memory_limit, has_memory_reservation, has_memory_swap;
  int64_t memory_limit, memory_reservation, memory_swap;
  bool has_cpu_shares, has_cpu_quota, has_cpu_period;
  uint64_t cpu_shares;
  int64_t cpu_quota;
  uint64_t cpu_period;
  char *cpu_cpus, *cpu_mems;
  bool has_pids_limit;
  int64_t pids_limit;
} oci_resources;

typedef struct
{
  unsigned index;
  uint64_t value, value_two;
  char *op; /* SCMP_CMP_EQ ... */
} oci_seccomp_arg;

typedef struct
{
  char **names;
  size_t n_names;
  char *action;
  bool has_errno_ret;
  unsigned errno_ret;
  oci_seccomp_arg *args;
  size_t n_args;
} oci_seccomp_syscall;

typedef struct
{
  char *default_action;
  bool has_default_errno_ret;
  unsigned default_errno_ret;
  char **architectures;
  size_t n_architectures;
  char **flags;
  size_t n_flags;
  oci_seccomp_syscall *syscalls;
  size_t n_syscalls;
} oci_seccomp;

typedef struct
{
  oci_namespace *namespaces;
  size_t n_namespaces;
  oci_id_mapping *uid_mappings, *gid_mappings;
  size_t n_uid_mappings, n_gid_mappings;
  oci_device *devices;
  size_t n_devices;
  oci_resources *resources; /* NULL when absent */
  char *cgroups_path;
  oci_kv *sysctl;
  size_t n_sysctl;
  oci_seccomp *seccomp; /* NULL when absent */
  char **masked_paths, **readonly_paths;
  size_t n_masked_paths, n_readonly_paths;
  char *mount_label;
  char *rootfs_propagation;
} oci_linux;

typedef struct
{
  char *kernel_path;
  char **kernel_parameters;
  size_t n_kernel_parameters;
  char *kernel_initrd;
  bool has_vcpus, has_memory;
  uint32_t vcpus;
  /* runtime-spec config-vm.md leaves the unit unstated in the schema
   * (a uint64); runvm reads it as MiB, the unit the VM runtimes that
   * implement hwConfig use. */
  uint64_t memory_mib;
} oci_vm;

typedef struct
{
  char *oci_version;
  char *root_path; /* NULL when no root */
  bool root_readonly;
  char *hostname, *domainname;
  oci_process *process; /* NULL when absent */
  oci_mount *mounts;
  size_t n_mounts;
  oci_hooks *hooks; /* NULL when absent */
  oci_kv *annotations; /* in document order */
  size_t n_annotations;
  oci_linux *linux_; /* NULL when absent */
  oci_vm *vm; /* NULL when absent */

  /* The document itself, kept so the host can forward it verbatim. raw is
   * NULL when parsed from a tree; tree is NULL when borrowed. */
  char *raw;
  size_t raw_len;
  yajl_val tree;
} oci_spec;

/* Each returns 0 or a negative value with *err set. Errors name the JSON
 * path; parse_file prefixes "loading <basename>". */
int oci_spec_parse_file (const char *path, oci_spec **out, runvm_error_t *err);
int oci_spec_parse_string (const char *json, oci_spec **out, runvm_error_t *err);
/* Parses an already parsed tree; the tree stays owned by the caller and
 * must outlive nothing (all strings are copied). */
int oci_spec_parse_tree (yajl_val tree, oci_spec **out, runvm_error_t *err);
void oci_spec_free (oci_spec *spec);

/* The `process` object, as in config.json or `runvm exec --process`.
 * `where` is the JSON path used in messages ("process"). */
int oci_process_parse (yajl_val node, const char *where, oci_process **out, runvm_error_t *err);
void oci_process_free (oci_process *process);
/* What runc checks of a process before it starts anything
 * (validateProcessSpec, and the rlimit names), in its order and words:
 * "Cwd property must not be empty", "Cwd must be an absolute path", "args
 * must not be empty", "wrong rlimit value: NAME". */
int oci_process_validate (const oci_process *process, runvm_error_t *err);
/* The RLIMIT_* resource number NAME stands for, or -1. */
int oci_rlimit_resource (const char *name);

/* Helpers for users of the structures. */
const char *oci_spec_annotation (const oci_spec *spec, const char *key);
const oci_namespace *oci_spec_namespace (const oci_spec *spec, const char *type);
/* Value of NAME in a NULL-terminated "K=V" environment, or NULL. */
const char *oci_env_get (char **env, const char *name);

static inline void
oci_spec_freep (oci_spec **p)
{
  oci_spec_free (*p);
}
static inline void
oci_process_freep (oci_process **p)
{
  oci_process_free (*p);
}
#define cleanup_oci_spec __attribute__ ((cleanup (oci_spec_freep)))
#define cleanup_oci_process __attribute__ ((cleanup (oci_process_freep)))

#endif
