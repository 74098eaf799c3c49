/* config.json -> oci_spec. Every member is type-checked and errors carry
 * the JSON path of the offending value, so a user sees
 * "loading config.json: process.args: expected an array of strings".
 * Members runvm does not know are ignored, as runc ignores them. */
#include <config.h>
#include "spec.h"
#include "spec-json.h"
#include "proto.h"
#include "utils.h"

#include <inttypes.h>
#include <limits.h>
#include <string.h>
#include <sys/resource.h>

/* ---- process ---- */

int
oci_rlimit_resource (const char *name)
{
  static const struct
  {
    const char *name;
    int resource;
  } names[] = {
    { "RLIMIT_AS", RLIMIT_AS },
    { "RLIMIT_CORE", RLIMIT_CORE },
    { "RLIMIT_CPU", RLIMIT_CPU },
    { "RLIMIT_DATA", RLIMIT_DATA },
    { "RLIMIT_FSIZE", RLIMIT_FSIZE },
    { "RLIMIT_LOCKS", RLIMIT_LOCKS },
    { "RLIMIT_MEMLOCK", RLIMIT_MEMLOCK },
    { "RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE },
    { "RLIMIT_NICE", RLIMIT_NICE },
    { "RLIMIT_NOFILE", RLIMIT_NOFILE },
    { "RLIMIT_NPROC", RLIMIT_NPROC },
    { "RLIMIT_RSS", RLIMIT_RSS },
    { "RLIMIT_RTPRIO", RLIMIT_RTPRIO },
    { "RLIMIT_RTTIME", RLIMIT_RTTIME },
    { "RLIMIT_SIGPENDING", RLIMIT_SIGPENDING },
    { "RLIMIT_STACK", RLIMIT_STACK },
  };
  size_t i;

  for (i = 0; i < ARRAY_SIZE (names); i++)
    if (strcmp (name, names[i].name) == 0)
      return names[i].resource;
  return -1;
}

int
oci_process_validate (const oci_process *p, runvm_error_t *err)
{
  size_t i;

  if (p->cwd == NULL || p->cwd[0] == '\0')
    return runvm_make_error (err, 0, "Cwd property must not be empty");
  if (p->cwd[0] != '/')
    return runvm_make_error (err, 0, "Cwd must be an absolute path");
  if (p->n_args == 0)
    return runvm_make_error (err, 0, "args must not be empty");
  for (i = 0; i < p->n_rlimits; i++)
    if (oci_rlimit_resource (p->rlimits[i].type) < 0)
      return runvm_make_error (err, 0, "wrong rlimit value: %s", p->rlimits[i].type);
  return 0;
}

static int
parse_rlimit (yajl_val e, const char *p, void *items, size_t i, runvm_error_t *err)
{
  oci_rlimit *rl = &((oci_rlimit *) items)[i];
  if (spec_get_string (e, p, "type", true, &rl->type, err) < 0
      || spec_get_u64 (e, p, "hard", true, UINT64_MAX, NULL, &rl->hard, err) < 0
      || spec_get_u64 (e, p, "soft", true, UINT64_MAX, NULL, &rl->soft, err) < 0)
    return -1;
  return 0;
}

static int
parse_capabilities (yajl_val node, const char *where, oci_capabilities *c, runvm_error_t *err)
{
  if (spec_get_string_array (node, where, "bounding", false, &c->bounding, &c->n_bounding, err) < 0
      || spec_get_string_array (node, where, "effective", false, &c->effective, &c->n_effective, err) < 0
      || spec_get_string_array (node, where, "inheritable", false, &c->inheritable, &c->n_inheritable, err) < 0
      || spec_get_string_array (node, where, "permitted", false, &c->permitted, &c->n_permitted, err) < 0
      || spec_get_string_array (node, where, "ambient", false, &c->ambient, &c->n_ambient, err) < 0)
    return -1;
  return 0;
}

static int
parse_user (yajl_val node, const char *where, oci_process *p, runvm_error_t *err)
{
  cleanup_free char *gids_path = spec_join_path (where, "additionalGids");
  uint64_t v = 0;
  bool has = false;
  yajl_val gids;
  size_t i;

  if (spec_get_u64 (node, where, "uid", false, UINT32_MAX, NULL, &v, err) < 0)
    return -1;
  p->uid = (uid_t) v;
  v = 0;
  if (spec_get_u64 (node, where, "gid", false, UINT32_MAX, NULL, &v, err) < 0)
    return -1;
  p->gid = (gid_t) v;
  v = 0;
  if (spec_get_u64 (node, where, "umask", false, 07777, &has, &v, err) < 0)
    return -1;
  p->has_umask = has;
  p->umask = (mode_t) v;
  if (spec_get_array (node, where, "additionalGids", &gids, err) < 0)
    return -1;
  if (gids)
    {
      p->additional_gids = spec_xcalloc (gids->u.array.len, sizeof (gid_t));
      p->n_additional_gids = gids->u.array.len;
      for (i = 0; i < gids->u.array.len; i++)
        {
          uint64_t g;
          if (spec_number_to_u64 (gids->u.array.values[i], UINT32_MAX, &g) < 0)
            return spec_type_error (gids_path, NULL, "an array of unsigned 32-bit integers", err);
          p->additional_gids[i] = (gid_t) g;
        }
    }
  return 0;
}

int
oci_process_parse (yajl_val node, const char *where, oci_process **out, runvm_error_t *err)
{
  cleanup_oci_process oci_process *p = spec_xcalloc (1, sizeof *p);
  yajl_val sub;
  uint64_t v;
  int64_t adj = 0;

  if (!YAJL_IS_OBJECT (node))
    return spec_type_error (where, NULL, "an object", err);
  if (spec_get_bool (node, where, "terminal", &p->terminal, err) < 0)
    return -1;
  if (spec_get_object (node, where, "consoleSize", &sub, err) < 0)
    return -1;
  if (sub)
    {
      cleanup_free char *cp = spec_join_path (where, "consoleSize");
      v = 0;
      if (spec_get_u64 (sub, cp, "height", true, UINT16_MAX, NULL, &v, err) < 0)
        return -1;
      p->console_height = (unsigned) v;
      if (spec_get_u64 (sub, cp, "width", true, UINT16_MAX, NULL, &v, err) < 0)
        return -1;
      p->console_width = (unsigned) v;
      p->has_console_size = true;
    }
  if (spec_get_object (node, where, "user", &sub, err) < 0)
    return -1;
  if (sub)
    {
      cleanup_free char *up = spec_join_path (where, "user");
      if (parse_user (sub, up, p, err) < 0)
        return -1;
    }
  /* args and cwd may be absent here: oci_process_validate says what runc
   * says of that. */
  if (spec_get_string_array (node, where, "args", false, &p->args, &p->n_args, err) < 0
      || spec_get_string_array (node, where, "env", false, &p->env, &p->n_env, err) < 0
      || spec_get_string (node, where, "cwd", false, &p->cwd, err) < 0)
    return -1;
  if (p->env == NULL)
    p->env = spec_xcalloc (1, sizeof (char *));
  if (spec_get_object (node, where, "capabilities", &sub, err) < 0)
    return -1;
  if (sub)
    {
      cleanup_free char *cp = spec_join_path (where, "capabilities");
      p->capabilities = spec_xcalloc (1, sizeof *p->capabilities);
      if (parse_capabilities (sub, cp, p->capabilities, err) < 0)
        return -1;
    }
  if (spec_get_object_array (node, where, "rlimits", sizeof (oci_rlimit), parse_rlimit, (void **) &p->rlimits,
                        &p->n_rlimits, err)
      < 0)
    return -1;
  if (spec_get_bool (node, where, "noNewPrivileges", &p->no_new_privileges, err) < 0)
    return -1;
  if (spec_get_i64 (node, where, "oomScoreAdj", -1000, 1000, &p->has_oom_score_adj, &adj, err) < 0)
    {
      runvm_error_release (err);
      return spec_type_error (where, "oomScoreAdj", "an integer between -1000 and 1000", err);
    }
  p->oom_score_adj = (int) adj;
  if (spec_get_string (node, where, "apparmorProfile", false, &p->apparmor_profile, err) < 0
      || spec_get_string (node, where, "selinuxLabel", false, &p->selinux_label, err) < 0)
    return -1;
  *out = steal_pointer (&p);
  return 0;
}

static void
free_capabilities (oci_capabilities *c)
{
  if (c == NULL)
    return;
  spec_free_strv (c->bounding);
  spec_free_strv (c->effective);
  spec_free_strv (c->inheritable);
  spec_free_strv (c->permitted);
  spec_free_strv (c->ambient);
  free (c);
}

void
oci_process_free (oci_process *p)
{
  size_t i;
  if (p == NULL)
    return;
  free (p->additional_gids);
  spec_free_strv (p->args);
  spec_free_strv (p->env);
  free (p->cwd);
  free_capabilities (p->capabilities);
  for (i = 0; i < p->n_rlimits; i++)
    free (p->rlimits[i].type);
  free (p->rlimits);
  free (p->apparmor_profile);
  free (p->selinux_label);
  free (p);
}

/* ---- mounts, hooks ---- */

static int
parse_mount (yajl_val e, const char *p, void *items, size_t i, runvm_error_t *err)
{
  oci_mount *m = &((oci_mount *) items)[i];
  if (spec_get_string (e, p, "destination", true, &m->destination, err) < 0
      || spec_get_string (e, p, "source", false, &m->source, err) < 0
      || spec_get_string (e, p, "type", false, &m->type, err) < 0
      || spec_get_string_array (e, p, "options", false, &m->options, &m->n_options, err) < 0)
    return -1;
  if (m->options == NULL)
    m->options = spec_xcalloc (1, sizeof (char *));
  return 0;
}

static int
parse_hook (yajl_val e, const char *p, void *items, size_t i, runvm_error_t *err)
{
  oci_hook *h = &((oci_hook *) items)[i];
  int64_t t = 0;
  if (spec_get_string (e, p, "path", true, &h->path, err) < 0
      || spec_get_string_array (e, p, "args", false, &h->args, &h->n_args, err) < 0
      || spec_get_string_array (e, p, "env", false, &h->env, &h->n_env, err) < 0)
    return -1;
  if (spec_get_i64 (e, p, "timeout", 1, INT_MAX, &h->has_timeout, &t, err) < 0)
    {
      runvm_error_release (err);
      return spec_type_error (p, "timeout", "a positive integer", err);
    }
  h->timeout = (int) t;
  return 0;
}

static int
parse_hooks (yajl_val node, const char *where, oci_hooks *h, runvm_error_t *err)
{
  static const struct
  {
    const char *name;
    size_t offset;
  } kinds[] = {
    { "prestart", offsetof (oci_hooks, prestart) },
    { "createRuntime", offsetof (oci_hooks, create_runtime) },
    { "createContainer", offsetof (oci_hooks, create_container) },
    { "startContainer", offsetof (oci_hooks, start_container) },
    { "poststart", offsetof (oci_hooks, poststart) },
    { "poststop", offsetof (oci_hooks, poststop) },
  };
  size_t k;

  for (k = 0; k < ARRAY_SIZE (kinds); k++)
    {
      oci_hook_list *l = (oci_hook_list *) ((char *) h + kinds[k].offset);
      if (spec_get_object_array (node, where, kinds[k].name, sizeof (oci_hook), parse_hook, (void **) &l->items, &l->len,
                            err)
          < 0)
        return -1;
    }
  return 0;
}

static void
free_hook_list (oci_hook_list *l)
{
  size_t i;
  for (i = 0; i < l->len; i++)
    {
      free (l->items[i].path);
      spec_free_strv (l->items[i].args);
      spec_free_strv (l->items[i].env);
    }
  free (l->items);
}

/* ---- linux ---- */

static int
parse_namespace (yajl_val e, const char *p, void *items, size_t i, runvm_error_t *err)
{
  static const char *const known[] = { "pid", "network", "mount", "ipc", "uts", "user", "cgroup", "time" };
  oci_namespace *ns = &((oci_namespace *) items)[i];
  size_t k;

  if (spec_get_string (e, p, "type", true, &ns->type, err) < 0 || spec_get_string (e, p, "path", false, &ns->path, err) < 0)
    return -1;
  for (k = 0; k < ARRAY_SIZE (known); k++)
    if (strcmp (ns->type, known[k]) == 0)
      return 0;
  return runvm_make_error (err, 0, "%s.type: unknown namespace type `%s`", p, ns->type);
}

static int
parse_id_mapping (yajl_val e, const char *p, void *items, size_t i, runvm_error_t *err)
{
  oci_id_mapping *m = &((oci_id_mapping *) items)[i];
  uint64_t c = 0, h = 0, s = 0;
  if (spec_get_u64 (e, p, "containerID", true, UINT32_MAX, NULL, &c, err) < 0
      || spec_get_u64 (e, p, "hostID", true, UINT32_MAX, NULL, &h, err) < 0
      || spec_get_u64 (e, p, "size", true, UINT32_MAX, NULL, &s, err) < 0)
    return -1;
  m->container_id = (uint32_t) c;
  m->host_id = (uint32_t) h;
  m->size = (uint32_t) s;
  return 0;
}

static int
parse_device (yajl_val e, const char *p, void *items, size_t i, runvm_error_t *err)
{
  oci_device *d = &((oci_device *) items)[i];
  uint64_t v = 0;

  if (spec_get_string (e, p, "type", true, &d->type, err) < 0 || spec_get_string (e, p, "path", true, &d->path, err) < 0
      || spec_get_i64 (e, p, "major", INT64_MIN, INT64_MAX, NULL, &d->major, err) < 0
      || spec_get_i64 (e, p, "minor", INT64_MIN, INT64_MAX, NULL, &d->minor, err) < 0)
    return -1;
  if (strcmp (d->type, "c") && strcmp (d->type, "b") && strcmp (d->type, "u") && strcmp (d->type, "p"))
    return runvm_make_error (err, 0, "%s.type: unknown device type `%s`", p, d->type);
  if (spec_get_u64 (e, p, "fileMode", false, 07777, &d->has_file_mode, &v, err) < 0)
    return -1;
  d->file_mode = (mode_t) v;
  if (spec_get_u64 (e, p, "uid", false, UINT32_MAX, &d->has_uid, &v, err) < 0)
    return -1;
  d->uid = (uid_t) v;
  if (spec_get_u64 (e, p, "gid", false, UINT32_MAX, &d->has_gid, &v, err) < 0)
    return -1;
  d->gid = (gid_t) v;
  return 0;
}

static int
parse_resources (yajl_val node, const char *where, oci_resources *r, runvm_error_t *err)
{
  yajl_val sub;

  if (spec_get_object (node, where, "memory", &sub, err) < 0)
    return -1;
  if (sub)
    {
      cleanup_free char *p = spec_join_path (where, "memory");
      if (spec_get_i64 (sub, p, "limit", INT64_MIN, INT64_MAX, &r->has_memory_limit, &r->memory_limit, err) < 0
          || spec_get_i64 (sub, p, "reservation", INT64_MIN, INT64_MAX, &r->has_memory_reservation,
                      &r->memory_reservation, err)
                 < 0
          || spec_get_i64 (sub, p, "swap", INT64_MIN, INT64_MAX, &r->has_memory_swap, &r->memory_swap, err) < 0)
        return -1;
    }
  if (spec_get_object (node, where, "cpu", &sub, err) < 0)
    return -1;
  if (sub)
    {
      cleanup_free char *p = spec_join_path (where, "cpu");
      if (spec_get_u64 (sub, p, "shares", false, UINT64_MAX, &r->has_cpu_shares, &r->cpu_shares, err) < 0
          || spec_get_i64 (sub, p, "quota", INT64_MIN, INT64_MAX, &r->has_cpu_quota, &r->cpu_quota, err) < 0
          || spec_get_u64 (sub, p, "period", false, UINT64_MAX, &r->has_cpu_period, &r->cpu_period, err) < 0
          || spec_get_string (sub, p, "cpus", false, &r->cpu_cpus, err) < 0
          || spec_get_string (sub, p, "mems", false, &r->cpu_mems, err) < 0)
        return -1;
    }
  if (spec_get_object (node, where, "pids", &sub, err) < 0)
    return -1;
  if (sub)
    {
      cleanup_free char *p = spec_join_path (where, "pids");
      if (spec_get_i64 (sub, p, "limit", INT64_MIN, INT64_MAX, &r->has_pids_limit, &r->pids_limit, err) < 0)
        return -1;
    }
  return 0;
}

static int
parse_seccomp_arg (yajl_val e, const char *p, void *items, size_t i, runvm_error_t *err)
{
  oci_seccomp_arg *a = &((oci_seccomp_arg *) items)[i];
  uint64_t idx = 0;
  if (spec_get_u64 (e, p, "index", true, 5, NULL, &idx, err) < 0)
    {
      runvm_error_release (err);
      if (spec_present (e, "index") == NULL)
        return spec_missing (p, "index", err);
      return spec_type_error (p, "index", "an integer between 0 and 5", err);
    }
  a->index = (unsigned) idx;
  if (spec_get_u64 (e, p, "value", true, UINT64_MAX, NULL, &a->value, err) < 0
      || spec_get_u64 (e, p, "valueTwo", false, UINT64_MAX, NULL, &a->value_two, err) < 0
      || spec_get_string (e, p, "op", true, &a->op, err) < 0)
    return -1;
  return 0;
}

static int
parse_seccomp_syscall (yajl_val e, const char *p, void *items, size_t i, runvm_error_t *err)
{
  oci_seccomp_syscall *s = &((oci_seccomp_syscall *) items)[i];
  uint64_t v = 0;
  if (spec_get_string_array (e, p, "names", true, &s->names, &s->n_names, err) < 0
      || spec_get_string (e, p, "action", true, &s->action, err) < 0
      || spec_get_u64 (e, p, "errnoRet", false, UINT32_MAX, &s->has_errno_ret, &v, err) < 0)
    return -1;
  s->errno_ret = (unsigned) v;
  return spec_get_object_array (e, p, "args", sizeof (oci_seccomp_arg), parse_seccomp_arg, (void **) &s->args,
                           &s->n_args, err);
}

static int
parse_seccomp (yajl_val node, const char *where, oci_seccomp *s, runvm_error_t *err)
{
  uint64_t v = 0;
  if (spec_get_string (node, where, "defaultAction", true, &s->default_action, err) < 0
      || spec_get_u64 (node, where, "defaultErrnoRet", false, UINT32_MAX, &s->has_default_errno_ret, &v, err) < 0)
    return -1;
  s->default_errno_ret = (unsigned) v;
  if (spec_get_string_array (node, where, "architectures", false, &s->architectures, &s->n_architectures, err) < 0
      || spec_get_string_array (node, where, "flags", false, &s->flags, &s->n_flags, err) < 0)
    return -1;
  return spec_get_object_array (node, where, "syscalls", sizeof (oci_seccomp_syscall), parse_seccomp_syscall,
                           (void **) &s->syscalls, &s->n_syscalls, err);
}

static void
free_seccomp (oci_seccomp *s)
{
  size_t i, j;
  if (s == NULL)
    return;
  free (s->default_action);
  spec_free_strv (s->architectures);
  spec_free_strv (s->flags);
  for (i = 0; i < s->n_syscalls; i++)
    {
      spec_free_strv (s->syscalls[i].names);
      free (s->syscalls[i].action);
      for (j = 0; j < s->syscalls[i].n_args; j++)
        free (s->syscalls[i].args[j].op);
      free (s->syscalls[i].args);
    }
  free (s->syscalls);
  free (s);
}

static int
parse_linux (yajl_val node, const char *where, oci_linux *l, runvm_error_t *err)
{
  yajl_val sub;

  if (spec_get_object_array (node, where, "namespaces", sizeof (oci_namespace), parse_namespace,
                        (void **) &l->namespaces, &l->n_namespaces, err)
          < 0
      || spec_get_object_array (node, where, "uidMappings", sizeof (oci_id_mapping), parse_id_mapping,
                           (void **) &l->uid_mappings, &l->n_uid_mappings, err)
             < 0
      || spec_get_object_array (node, where, "gidMappings", sizeof (oci_id_mapping), parse_id_mapping,
                           (void **) &l->gid_mappings, &l->n_gid_mappings, err)
             < 0
      || spec_get_object_array (node, where, "devices", sizeof (oci_device), parse_device, (void **) &l->devices,
                           &l->n_devices, err)
             < 0)
    return -1;
  if (spec_get_object (node, where, "resources", &sub, err) < 0)
    return -1;
  if (sub)
    {
      cleanup_free char *p = spec_join_path (where, "resources");
      l->resources = spec_xcalloc (1, sizeof *l->resources);
      if (parse_resources (sub, p, l->resources, err) < 0)
        return -1;
    }
  if (spec_get_string (node, where, "cgroupsPath", false, &l->cgroups_path, err) < 0
      || spec_get_kv_object (node, where, "sysctl", &l->sysctl, &l->n_sysctl, err) < 0)
    return -1;
  if (spec_get_object (node, where, "seccomp", &sub, err) < 0)
    return -1;
  if (sub)
    {
      cleanup_free char *p = spec_join_path (where, "seccomp");
      l->seccomp = spec_xcalloc (1, sizeof *l->seccomp);
      if (parse_seccomp (sub, p, l->seccomp, err) < 0)
        return -1;
    }
  if (spec_get_string_array (node, where, "maskedPaths", false, &l->masked_paths, &l->n_masked_paths, err) < 0
      || spec_get_string_array (node, where, "readonlyPaths", false, &l->readonly_paths, &l->n_readonly_paths, err) < 0
      || spec_get_string (node, where, "mountLabel", false, &l->mount_label, err) < 0
      || spec_get_string (node, where, "rootfsPropagation", false, &l->rootfs_propagation, err) < 0)
    return -1;
  return 0;
}

static void
free_linux (oci_linux *l)
{
  size_t i;
  if (l == NULL)
    return;
  for (i = 0; i < l->n_namespaces; i++)
    {
      free (l->namespaces[i].type);
      free (l->namespaces[i].path);
    }
  free (l->namespaces);
  free (l->uid_mappings);
  free (l->gid_mappings);
  for (i = 0; i < l->n_devices; i++)
    {
      free (l->devices[i].type);
      free (l->devices[i].path);
    }
  free (l->devices);
  if (l->resources)
    {
      free (l->resources->cpu_cpus);
      free (l->resources->cpu_mems);
      free (l->resources);
    }
  free (l->cgroups_path);
  for (i = 0; i < l->n_sysctl; i++)
    {
      free (l->sysctl[i].key);
      free (l->sysctl[i].value);
    }
  free (l->sysctl);
  free_seccomp (l->seccomp);
  spec_free_strv (l->masked_paths);
  spec_free_strv (l->readonly_paths);
  free (l->mount_label);
  free (l->rootfs_propagation);
  free (l);
}

/* ---- vm ---- */

static int
parse_vm (yajl_val node, const char *where, oci_vm *vm, runvm_error_t *err)
{
  yajl_val sub;
  uint64_t v = 0;

  if (spec_get_object (node, where, "kernel", &sub, err) < 0)
    return -1;
  if (sub)
    {
      cleanup_free char *p = spec_join_path (where, "kernel");
      if (spec_get_string (sub, p, "path", true, &vm->kernel_path, err) < 0
          || spec_get_string_array (sub, p, "parameters", false, &vm->kernel_parameters, &vm->n_kernel_parameters, err)
                 < 0
          || spec_get_string (sub, p, "initrd", false, &vm->kernel_initrd, err) < 0)
        return -1;
    }
  if (spec_get_object (node, where, "hwConfig", &sub, err) < 0)
    return -1;
  if (sub)
    {
      cleanup_free char *p = spec_join_path (where, "hwConfig");
      if (spec_get_u64 (sub, p, "vcpus", false, UINT32_MAX, &vm->has_vcpus, &v, err) < 0)
        return -1;
      vm->vcpus = (uint32_t) v;
      if (spec_get_u64 (sub, p, "memory", false, UINT64_MAX, &vm->has_memory, &vm->memory_mib, err) < 0)
        return -1;
    }
  return 0;
}

static void
free_vm (oci_vm *vm)
{
  if (vm == NULL)
    return;
  free (vm->kernel_path);
  spec_free_strv (vm->kernel_parameters);
  free (vm->kernel_initrd);
  free (vm);
}

/* ---- the document ---- */

static int
parse_document (yajl_val tree, oci_spec *s, runvm_error_t *err)
{
  yajl_val sub;

  if (!YAJL_IS_OBJECT (tree))
    return runvm_make_error (err, 0, "expected a JSON object");
  /* The spec calls it required; runc (1.1.5) runs a config without it, and
   * so do we. A present one must be a string. */
  if (spec_get_string (tree, "", "ociVersion", false, &s->oci_version, err) < 0)
    return -1;
  if (spec_get_object (tree, "", "root", &sub, err) < 0)
    return -1;
  if (sub)
    {
      if (spec_get_string (sub, "root", "path", true, &s->root_path, err) < 0
          || spec_get_bool (sub, "root", "readonly", &s->root_readonly, err) < 0)
        return -1;
    }
  if (spec_get_string (tree, "", "hostname", false, &s->hostname, err) < 0
      || spec_get_string (tree, "", "domainname", false, &s->domainname, err) < 0)
    return -1;
  sub = spec_present (tree, "process");
  if (sub && oci_process_parse (sub, "process", &s->process, err) < 0)
    return -1;
  if (spec_get_object_array (tree, "", "mounts", sizeof (oci_mount), parse_mount, (void **) &s->mounts, &s->n_mounts,
                        err)
      < 0)
    return -1;
  if (spec_get_object (tree, "", "hooks", &sub, err) < 0)
    return -1;
  if (sub)
    {
      s->hooks = spec_xcalloc (1, sizeof *s->hooks);
      if (parse_hooks (sub, "hooks", s->hooks, err) < 0)
        return -1;
    }
  if (spec_get_kv_object (tree, "", "annotations", &s->annotations, &s->n_annotations, err) < 0)
    return -1;
  if (spec_get_object (tree, "", "linux", &sub, err) < 0)
    return -1;
  if (sub)
    {
      s->linux_ = spec_xcalloc (1, sizeof *s->linux_);
      if (parse_linux (sub, "linux", s->linux_, err) < 0)
        return -1;
    }
  if (spec_get_object (tree, "", "vm", &sub, err) < 0)
    return -1;
  if (sub)
    {
      s->vm = spec_xcalloc (1, sizeof *s->vm);
      if (parse_vm (sub, "vm", s->vm, err) < 0)
        return -1;
    }
  return 0;
}

int
oci_spec_parse_tree (yajl_val tree, oci_spec **out, runvm_error_t *err)
{
  cleanup_oci_spec oci_spec *s = spec_xcalloc (1, sizeof *s);
  if (parse_document (tree, s, err) < 0)
    return -1;
  *out = steal_pointer (&s);
  return 0;
}

int
oci_spec_parse_string (const char *json, oci_spec **out, runvm_error_t *err)
{
  char errbuf[512] = "";
  cleanup_oci_spec oci_spec *s = NULL;
  yajl_val tree;
  char *nl;

  tree = json_parse (json, errbuf, sizeof errbuf);
  if (tree == NULL)
    {
      /* yajl's message spans several lines with a caret diagram; keep the
       * first line. */
      nl = strchr (errbuf, '\n');
      if (nl)
        *nl = '\0';
      return runvm_make_error (err, 0, "invalid JSON: %s", errbuf[0] ? errbuf : "parse error");
    }
  s = spec_xcalloc (1, sizeof *s);
  s->tree = tree;
  s->raw = spec_xstrdup (json);
  s->raw_len = strlen (json);
  if (parse_document (tree, s, err) < 0)
    return -1;
  *out = steal_pointer (&s);
  return 0;
}

int
oci_spec_parse_file (const char *path, oci_spec **out, runvm_error_t *err)
{
  cleanup_free char *data = NULL;
  const char *base = strrchr (path, '/');
  size_t len = 0;

  base = base ? base + 1 : path;
  if (read_file (path, &data, &len, err) < 0)
    return runvm_error_wrap (err, "loading %s", base);
  if (strlen (data) != len)
    return runvm_make_error (err, 0, "loading %s: invalid JSON: NUL byte in file", base);
  if (oci_spec_parse_string (data, out, err) < 0)
    return runvm_error_wrap (err, "loading %s", base);
  return 0;
}

void
oci_spec_free (oci_spec *s)
{
  size_t i;
  if (s == NULL)
    return;
  free (s->oci_version);
  free (s->root_path);
  free (s->hostname);
  free (s->domainname);
  oci_process_free (s->process);
  for (i = 0; i < s->n_mounts; i++)
    {
      free (s->mounts[i].destination);
      free (s->mounts[i].source);
      free (s->mounts[i].type);
      spec_free_strv (s->mounts[i].options);
    }
  free (s->mounts);
  if (s->hooks)
    {
      free_hook_list (&s->hooks->prestart);
      free_hook_list (&s->hooks->create_runtime);
      free_hook_list (&s->hooks->create_container);
      free_hook_list (&s->hooks->start_container);
      free_hook_list (&s->hooks->poststart);
      free_hook_list (&s->hooks->poststop);
      free (s->hooks);
    }
  for (i = 0; i < s->n_annotations; i++)
    {
      free (s->annotations[i].key);
      free (s->annotations[i].value);
    }
  free (s->annotations);
  free_linux (s->linux_);
  free_vm (s->vm);
  free (s->raw);
  if (s->tree)
    yajl_tree_free (s->tree);
  free (s);
}

const char *
oci_spec_annotation (const oci_spec *spec, const char *key)
{
  size_t i;
  for (i = 0; spec && i < spec->n_annotations; i++)
    if (strcmp (spec->annotations[i].key, key) == 0)
      return spec->annotations[i].value;
  return NULL;
}

const oci_namespace *
oci_spec_namespace (const oci_spec *spec, const char *type)
{
  size_t i;
  if (spec == NULL || spec->linux_ == NULL)
    return NULL;
  for (i = 0; i < spec->linux_->n_namespaces; i++)
    if (strcmp (spec->linux_->namespaces[i].type, type) == 0)
      return &spec->linux_->namespaces[i];
  return NULL;
}

const char *
oci_env_get (char **env, const char *name)
{
  size_t n = strlen (name);
  char **e;
  /* The last definition wins, as with execve's consumers (getenv scans in
   * order, but runc de-duplicates keeping the last). */
  const char *found = NULL;
  for (e = env; e && *e; e++)
    if (strncmp (*e, name, n) == 0 && (*e)[n] == '=')
      found = *e + n + 1;
  return found;
}
