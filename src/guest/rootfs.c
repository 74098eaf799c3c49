/* The container's filesystem view, built in its own mount namespace: the
 * OCI mounts in order (virtio-fs shares behind bind mounts), /dev like
 * runc's, linux.devices, masked and read-only paths, sysctl, hostname,
 * then pivot_root into the rootfs. Every path from config.json is
 * resolved inside the rootfs, symlinks included, so it cannot escape. */
#include <config.h>
#include "init.h"
#include "utils.h"

#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>

char *
rootfs_resolve (const char *root, const char *path)
{
  char cur[PATH_MAX] = "", *rest, *out = NULL;
  size_t restlen;
  int links = 0;

  if (asprintf (&rest, "%s", path) < 0)
    abort ();
  restlen = strlen (rest);
  while (restlen > 0)
    {
      char comp[NAME_MAX + 1], full[PATH_MAX * 2], target[PATH_MAX];
      size_t n = strcspn (rest, "/");
      struct stat st;
      ssize_t tl;

      if (n > NAME_MAX)
        n = NAME_MAX;
      memcpy (comp, rest, n);
      comp[n] = '\0';
      memmove (rest, rest + n + (rest[n] == '/'), restlen - n - (rest[n] == '/') + 1);
      restlen = strlen (rest);
      if (comp[0] == '\0' || strcmp (comp, ".") == 0)
        continue;
      if (strcmp (comp, "..") == 0)
        {
          char *slash = strrchr (cur, '/');
          if (slash)
            *slash = '\0';
          continue;
        }
      snprintf (full, sizeof full, "%s%s/%s", root, cur, comp);
      if (lstat (full, &st) == 0 && S_ISLNK (st.st_mode) && links++ < 255
          && (tl = readlink (full, target, sizeof target - 1)) > 0)
        {
          char *joined = NULL;
          target[tl] = '\0';
          if (target[0] == '/')
            cur[0] = '\0';
          if (asprintf (&joined, "%s/%s", target, rest) < 0)
            abort ();
          free (rest);
          rest = joined;
          restlen = strlen (rest);
          continue;
        }
      if (strlen (cur) + n + 2 < sizeof cur)
        {
          strcat (cur, "/");
          strcat (cur, comp);
        }
    }
  free (rest);
  if (asprintf (&out, "%s%s", root, cur[0] ? cur : "") < 0)
    abort ();
  return out;
}

struct mount_options
{
  unsigned long flags, clear, propagation[4];
  size_t n_propagation;
  char *data;
  bool bind;
};

static void
parse_options (const oci_mount *m, struct mount_options *o)
{
  static const struct
  {
    const char *name;
    bool clear;
    unsigned long flag;
  } flags[] = {
    { "async", true, MS_SYNCHRONOUS },  { "atime", true, MS_NOATIME },      { "bind", false, MS_BIND },
    { "defaults", false, 0 },           { "dev", true, MS_NODEV },          { "diratime", true, MS_NODIRATIME },
    { "dirsync", false, MS_DIRSYNC },   { "exec", true, MS_NOEXEC },        { "mand", false, MS_MANDLOCK },
    { "noatime", false, MS_NOATIME },   { "nodev", false, MS_NODEV },       { "nodiratime", false, MS_NODIRATIME },
    { "noexec", false, MS_NOEXEC },     { "nomand", true, MS_MANDLOCK },    { "norelatime", true, MS_RELATIME },
    { "nostrictatime", true, MS_STRICTATIME }, { "nosuid", false, MS_NOSUID }, { "rbind", false, MS_BIND | MS_REC },
    { "relatime", false, MS_RELATIME }, { "remount", false, MS_REMOUNT },   { "ro", false, MS_RDONLY },
    { "rro", false, MS_RDONLY },        { "rw", true, MS_RDONLY },          { "rrw", true, MS_RDONLY },
    { "strictatime", false, MS_STRICTATIME }, { "suid", true, MS_NOSUID }, { "sync", false, MS_SYNCHRONOUS },
  };
  static const struct
  {
    const char *name;
    unsigned long flag;
  } propagation[] = {
    { "private", MS_PRIVATE },       { "rprivate", MS_PRIVATE | MS_REC }, { "shared", MS_SHARED },
    { "rshared", MS_SHARED | MS_REC }, { "slave", MS_SLAVE },           { "rslave", MS_SLAVE | MS_REC },
    { "unbindable", MS_UNBINDABLE }, { "runbindable", MS_UNBINDABLE | MS_REC },
  };
  /* Options of other runtimes' extensions that are not mount data. */
  static const char *const ignored[] = { "tmpcopyup", "notmpcopyup", "idmap", "ridmap", "copy-symlink",
                                         "nocopyup", "z", "Z", "U" };
  size_t i, k, datalen = 0;

  memset (o, 0, sizeof *o);
  o->data = calloc (1, 1);
  for (i = 0; i < m->n_options; i++)
    {
      const char *opt = m->options[i];
      bool done = false;
      for (k = 0; !done && k < ARRAY_SIZE (flags); k++)
        if (strcmp (opt, flags[k].name) == 0)
          {
            if (flags[k].clear)
              o->flags &= ~flags[k].flag;
            else
              o->flags |= flags[k].flag;
            done = true;
          }
      for (k = 0; !done && k < ARRAY_SIZE (propagation); k++)
        if (strcmp (opt, propagation[k].name) == 0)
          {
            if (o->n_propagation < ARRAY_SIZE (o->propagation))
              o->propagation[o->n_propagation++] = propagation[k].flag;
            done = true;
          }
      for (k = 0; !done && k < ARRAY_SIZE (ignored); k++)
        if (strcmp (opt, ignored[k]) == 0)
          done = true;
      if (!done)
        {
          size_t len = strlen (opt);
          o->data = realloc (o->data, datalen + len + 2);
          if (datalen)
            o->data[datalen++] = ',';
          memcpy (o->data + datalen, opt, len + 1);
          datalen += len;
        }
    }
  o->bind = (o->flags & MS_BIND) || (m->type && strcmp (m->type, "bind") == 0);
}

/* Flags the kernel refuses to drop on a bind remount, kept from statvfs. */
static unsigned long
locked_flags (const char *path)
{
  struct statvfs sv;
  unsigned long f = 0;
  if (statvfs (path, &sv) < 0)
    return 0;
  if (sv.f_flag & ST_NOSUID)
    f |= MS_NOSUID;
  if (sv.f_flag & ST_NODEV)
    f |= MS_NODEV;
  if (sv.f_flag & ST_NOEXEC)
    f |= MS_NOEXEC;
  return f;
}

static int
create_file (const char *path, runvm_error_t *err)
{
  cleanup_free char *dir = strdup (path);
  int fd;

  if (mkdir_p (dirname (dir), 0755, err) < 0)
    return -1;
  fd = open (path, O_CREAT | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0 && errno != EISDIR && errno != EEXIST)
    return runvm_make_error (err, errno, "create `%s`", path);
  if (fd >= 0)
    close (fd);
  return 0;
}

static const struct share *
share_for_mount (const struct container_config *cfg, size_t index)
{
  size_t i;
  for (i = 0; i < cfg->n_shares; i++)
    if (cfg->shares[i].mount_index == (int) index)
      return &cfg->shares[i];
  return NULL;
}

static int
mount_one (const struct container_config *cfg, size_t index, runvm_error_t *err)
{
  const oci_mount *m = &cfg->spec->mounts[index];
  const struct share *sh = share_for_mount (cfg, index);
  cleanup_free char *dest = rootfs_resolve (cfg->rootfs, m->destination);
  cleanup_free char *src = NULL;
  const char *type = m->type ? m->type : "";
  struct mount_options o;
  size_t i;
  int r = 0;

  parse_options (m, &o);
  if (o.bind)
    {
      struct stat st;
      if (sh && sh->path)
        {
          if (asprintf (&src, "%s%s%s", sh->path, sh->file ? "/" : "", sh->file ? sh->file : "") < 0)
            abort ();
        }
      else
        src = strdup (m->source ? m->source : "");
      if (stat (src, &st) < 0)
        r = runvm_make_error (err, errno, "stat bind source `%s`", src);
      else if (S_ISDIR (st.st_mode))
        r = mkdir_p (dest, 0755, err);
      else
        r = create_file (dest, err);
      if (r == 0 && mount (src, dest, NULL, o.flags & (MS_BIND | MS_REC), NULL) < 0)
        r = runvm_make_error (err, errno, "bind mount");
      if (r == 0 && (o.flags & ~(MS_BIND | MS_REC | MS_REMOUNT)))
        if (mount (NULL, dest, NULL, MS_BIND | MS_REMOUNT | (o.flags & ~MS_REC) | locked_flags (dest), NULL) < 0)
          r = runvm_make_error (err, errno, "remount with its options");
    }
  else
    {
      if (strcmp (type, "cgroup") == 0)
        type = "cgroup2"; /* the guest has the unified hierarchy only */
      src = strdup (m->source ? m->source : type);
      r = mkdir_p (dest, 0755, err);
      if (r == 0 && mount (src, dest, type, o.flags, o.data[0] ? o.data : NULL) < 0)
        r = runvm_make_error (err, errno, "mount");
    }
  for (i = 0; r == 0 && i < o.n_propagation; i++)
    if (mount (NULL, dest, NULL, o.propagation[i], NULL) < 0)
      r = runvm_make_error (err, errno, "set mount propagation");
  free (o.data);
  if (r < 0)
    return runvm_error_wrap (err, "error mounting \"%s\" to rootfs at \"%s\"", m->source ? m->source : type,
                             m->destination);
  return 0;
}

static int
make_device (const char *rootfs, const char *path, mode_t type, unsigned major_, unsigned minor_, mode_t mode,
             uid_t uid, gid_t gid, runvm_error_t *err)
{
  cleanup_free char *dest = rootfs_resolve (rootfs, path);
  cleanup_free char *dir = strdup (dest);

  if (mkdir_p (dirname (dir), 0755, err) < 0)
    return -1;
  unlink (dest);
  if (mknod (dest, type | (mode & 07777), makedev (major_, minor_)) < 0)
    {
      /* Without CAP_MKNOD (a host-mode test in a container), bind the
       * guest's node, as runc does in user namespaces. */
      if (errno != EPERM || create_file (dest, err) < 0 || mount (path, dest, NULL, MS_BIND, NULL) < 0)
        return runvm_make_error (err, errno, "create device `%s`", path);
      return 0;
    }
  if (chmod (dest, mode & 07777) < 0 || chown (dest, uid, gid) < 0)
    return runvm_make_error (err, errno, "set owner and mode of `%s`", path);
  return 0;
}

static bool
dev_is_tmpfs (const oci_spec *spec)
{
  size_t i;
  bool r = false;
  for (i = 0; i < spec->n_mounts; i++)
    if (strcmp (spec->mounts[i].destination, "/dev") == 0 || strcmp (spec->mounts[i].destination, "/dev/") == 0)
      r = spec->mounts[i].type && strcmp (spec->mounts[i].type, "bind") != 0;
  return r;
}

static int
setup_dev (const struct container_config *cfg, runvm_error_t *err)
{
  static const struct
  {
    const char *path;
    unsigned major_, minor_;
  } defaults[] = { { "/dev/null", 1, 3 },    { "/dev/zero", 1, 5 },    { "/dev/full", 1, 7 },
                   { "/dev/random", 1, 8 },  { "/dev/urandom", 1, 9 }, { "/dev/tty", 5, 0 } };
  static const struct
  {
    const char *target, *link;
  } links[] = { { "/proc/self/fd", "/dev/fd" },
                { "/proc/self/fd/0", "/dev/stdin" },
                { "/proc/self/fd/1", "/dev/stdout" },
                { "/proc/self/fd/2", "/dev/stderr" },
                { "pts/ptmx", "/dev/ptmx" } };
  const oci_linux *l = cfg->spec->linux_;
  size_t i;

  if (dev_is_tmpfs (cfg->spec))
    {
      for (i = 0; i < ARRAY_SIZE (defaults); i++)
        if (make_device (cfg->rootfs, defaults[i].path, S_IFCHR, defaults[i].major_, defaults[i].minor_, 0666, 0, 0,
                         err)
            < 0)
          return -1;
      for (i = 0; i < ARRAY_SIZE (links); i++)
        {
          cleanup_free char *p = rootfs_resolve (cfg->rootfs, links[i].link);
          unlink (p);
          if (symlink (links[i].target, p) < 0)
            return runvm_make_error (err, errno, "symlink `%s`", links[i].link);
        }
    }
  for (i = 0; l && i < l->n_devices; i++)
    {
      const oci_device *d = &l->devices[i];
      mode_t type = d->type[0] == 'b' ? S_IFBLK : d->type[0] == 'p' ? S_IFIFO : S_IFCHR;
      if (make_device (cfg->rootfs, d->path, type, (unsigned) d->major, (unsigned) d->minor,
                       d->has_file_mode ? d->file_mode : 0666, d->has_uid ? d->uid : 0, d->has_gid ? d->gid : 0,
                       err)
          < 0)
        return -1;
    }
  return 0;
}

static int
mask_paths (const struct container_config *cfg, runvm_error_t *err)
{
  const oci_linux *l = cfg->spec->linux_;
  size_t i;

  for (i = 0; l && i < l->n_masked_paths; i++)
    {
      cleanup_free char *p = rootfs_resolve (cfg->rootfs, l->masked_paths[i]);
      struct stat st;
      int r;
      if (stat (p, &st) < 0)
        continue;
      if (S_ISDIR (st.st_mode))
        r = mount ("tmpfs", p, "tmpfs", MS_RDONLY, "size=0k");
      else
        r = mount ("/dev/null", p, NULL, MS_BIND, NULL);
      if (r < 0)
        return runvm_make_error (err, errno, "mask `%s`", l->masked_paths[i]);
    }
  for (i = 0; l && i < l->n_readonly_paths; i++)
    {
      cleanup_free char *p = rootfs_resolve (cfg->rootfs, l->readonly_paths[i]);
      struct stat st;
      if (stat (p, &st) < 0)
        continue;
      if (mount (p, p, NULL, MS_BIND | MS_REC, NULL) < 0
          || mount (NULL, p, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | locked_flags (p), NULL) < 0)
        return runvm_make_error (err, errno, "make `%s` read-only", l->readonly_paths[i]);
    }
  return 0;
}

static bool
sysctl_allowed (const oci_spec *spec, const char *key)
{
  static const char *const ipc[] = { "kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem",
                                     "kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced" };
  const oci_namespace *net = oci_spec_namespace (spec, "network");
  size_t i;

  /* In the guest every sysctl is the container's own: the VM is its. */
  if (!init_opts.host_dir)
    return true;
  for (i = 0; i < ARRAY_SIZE (ipc); i++)
    if (strcmp (key, ipc[i]) == 0)
      return oci_spec_namespace (spec, "ipc") != NULL;
  if (strncmp (key, "fs.mqueue.", 10) == 0)
    return oci_spec_namespace (spec, "ipc") != NULL;
  if (strncmp (key, "net.", 4) == 0)
    return net && net->path == NULL;
  if (strcmp (key, "kernel.hostname") == 0 || strcmp (key, "kernel.domainname") == 0)
    return oci_spec_namespace (spec, "uts") != NULL;
  return false;
}

static int
apply_sysctl (const oci_spec *spec, runvm_error_t *err)
{
  size_t i;
  for (i = 0; spec->linux_ && i < spec->linux_->n_sysctl; i++)
    {
      const oci_kv *kv = &spec->linux_->sysctl[i];
      cleanup_free char *path = NULL;
      cleanup_close int fd = -1;
      char *c;

      if (!sysctl_allowed (spec, kv->key))
        return runvm_make_error (err, 0, "sysctl \"%s\" is not in a separate kernel namespace", kv->key);
      if (strstr (kv->key, "..") || asprintf (&path, "/proc/sys/%s", kv->key) < 0)
        return runvm_make_error (err, 0, "sysctl \"%s\": invalid name", kv->key);
      for (c = path + 10; *c; c++)
        if (*c == '.')
          *c = '/';
      fd = open (path, O_WRONLY | O_CLOEXEC);
      if (fd < 0 || write (fd, kv->value, strlen (kv->value)) < 0)
        return runvm_make_error (err, errno, "set sysctl \"%s\"", kv->key);
    }
  return 0;
}

int
rootfs_prepare (const struct container_config *cfg, runvm_error_t *err)
{
  const oci_spec *spec = cfg->spec;
  bool own_uts = oci_spec_namespace (spec, "uts") != NULL || !init_opts.host_dir;
  size_t i;

  if (mount (NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
    return runvm_make_error (err, errno, "make / private");
  /* The rootfs must be a mount point of its own for pivot_root. */
  if (mount (cfg->rootfs, cfg->rootfs, NULL, MS_BIND | MS_REC, NULL) < 0)
    return runvm_make_error (err, errno, "bind mount the rootfs `%s`", cfg->rootfs);
  for (i = 0; i < spec->n_mounts; i++)
    if (mount_one (cfg, i, err) < 0)
      return -1;
  if (setup_dev (cfg, err) < 0 || mask_paths (cfg, err) < 0 || apply_sysctl (spec, err) < 0)
    return -1;
  if (spec->hostname && own_uts && sethostname (spec->hostname, strlen (spec->hostname)) < 0)
    return runvm_make_error (err, errno, "sethostname");
  if (spec->domainname && own_uts && setdomainname (spec->domainname, strlen (spec->domainname)) < 0)
    return runvm_make_error (err, errno, "setdomainname");
  return 0;
}

static unsigned long
propagation_flags (const char *name)
{
  if (name == NULL)
    return 0;
  if (strcmp (name, "shared") == 0)
    return MS_SHARED;
  if (strcmp (name, "rshared") == 0)
    return MS_SHARED | MS_REC;
  if (strcmp (name, "slave") == 0)
    return MS_SLAVE;
  if (strcmp (name, "rslave") == 0)
    return MS_SLAVE | MS_REC;
  if (strcmp (name, "private") == 0)
    return MS_PRIVATE;
  if (strcmp (name, "rprivate") == 0)
    return MS_PRIVATE | MS_REC;
  if (strcmp (name, "unbindable") == 0)
    return MS_UNBINDABLE;
  if (strcmp (name, "runbindable") == 0)
    return MS_UNBINDABLE | MS_REC;
  return 0;
}

int
rootfs_enter (const struct container_config *cfg, runvm_error_t *err)
{
  const oci_spec *spec = cfg->spec;
  cleanup_close int oldroot = open ("/", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
  cleanup_close int newroot = open (cfg->rootfs, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
  unsigned long prop;

  if (oldroot < 0 || newroot < 0)
    return runvm_make_error (err, errno, "open the roots");
  if (fchdir (newroot) < 0)
    return runvm_make_error (err, errno, "chdir to the rootfs");
  /* pivot_root(".", "."): the old root ends up stacked under the new one
   * and is detached right away; no directory is needed for it. */
  if (syscall (SYS_pivot_root, ".", ".") < 0)
    return runvm_make_error (err, errno, "pivot_root");
  if (fchdir (oldroot) < 0)
    return runvm_make_error (err, errno, "chdir to the old root");
  if (mount (NULL, ".", NULL, MS_SLAVE | MS_REC, NULL) < 0)
    return runvm_make_error (err, errno, "make the old root a slave");
  if (umount2 (".", MNT_DETACH) < 0)
    return runvm_make_error (err, errno, "detach the old root");
  if (chdir ("/") < 0)
    return runvm_make_error (err, errno, "chdir /");
  /* runc creates a missing cwd inside the new root, before making it
   * read-only; a failure is reported by the chdir that follows. */
  if (spec->process && spec->process->cwd && spec->process->cwd[0] == '/')
    {
      runvm_error_t ignored = NULL;
      mkdir_p (spec->process->cwd, 0755, &ignored);
      runvm_error_release (&ignored);
    }
  if (spec->root_readonly && mount (NULL, "/", NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | locked_flags ("/"), NULL) < 0)
    return runvm_make_error (err, errno, "make the rootfs read-only");
  prop = propagation_flags (spec->linux_ ? spec->linux_->rootfs_propagation : NULL);
  if (prop && mount (NULL, "/", NULL, prop, NULL) < 0)
    return runvm_make_error (err, errno, "set rootfs propagation");
  return 0;
}
