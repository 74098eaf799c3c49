/* Guest bring-up when runvm-init is PID 1: leave the initramfs for a tmpfs
 * root (so containers can pivot_root later), mount the pseudo filesystems,
 * bring up lo, and reach the host over AF_VSOCK. Also the host-mode
 * transport (unix sockets) used by the tests, and the final power-off. */
#include <config.h>
#include "init.h"
#include "utils.h"

#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <linux/vm_sockets.h>
#include <signal.h>
#include <time.h>

static int
connect_unix (unsigned port, runvm_error_t *err)
{
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  cleanup_close int fd = -1;
  int n;

  n = snprintf (addr.sun_path, sizeof addr.sun_path, "%s/vsock.sock_%u", init_opts.host_dir, port);
  if (n < 0 || (size_t) n >= sizeof addr.sun_path)
    return runvm_make_error (err, ENAMETOOLONG, "host socket path for port %u", port);
  fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return runvm_make_error (err, errno, "socket");
  if (connect (fd, (struct sockaddr *) &addr, sizeof addr) < 0)
    return runvm_make_error (err, errno, "connect to `%s`", addr.sun_path);
  return steal_fd (&fd);
}

static int
connect_vsock (unsigned port, runvm_error_t *err)
{
  struct sockaddr_vm addr = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_HOST, .svm_port = port };
  int attempt, saved = 0;

  /* The control connection can race the vsock device coming up; stdio
   * connections are made when the host already listens. */
  for (attempt = 0; attempt < 50; attempt++)
    {
      cleanup_close int fd = socket (AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
      struct timespec ts = { 0, 100 * 1000 * 1000 };
      if (fd < 0)
        saved = errno;
      else if (connect (fd, (struct sockaddr *) &addr, sizeof addr) == 0)
        return steal_fd (&fd);
      else
        saved = errno;
      if (saved != ENODEV && saved != ECONNRESET && saved != ETIMEDOUT && saved != EAFNOSUPPORT
          && saved != ENETUNREACH && saved != EINTR)
        break;
      nanosleep (&ts, NULL);
    }
  return runvm_make_error (err, saved, "connect to vsock port %u", port);
}

int
transport_connect (unsigned port, runvm_error_t *err)
{
  if (init_opts.host_dir)
    return connect_unix (port, err);
  return connect_vsock (port, err);
}

static int
do_mount (const char *src, const char *target, const char *type, unsigned long flags, const char *data,
          runvm_error_t *err)
{
  if (mkdir (target, 0755) < 0 && errno != EEXIST)
    return runvm_make_error (err, errno, "mkdir `%s`", target);
  if (mount (src, target, type, flags, data) < 0)
    return runvm_make_error (err, errno, "mount %s on `%s`", type ? type : src, target);
  return 0;
}

/* The initramfs (rootfs) can never be pivot_root'ed away from. Moving a
 * tmpfs over / and chrooting into it makes the current root a mount with
 * a parent, so the container's mount namespace can pivot_root later. */
/* The initramfs root, kept open for guest_expose_initramfs(). */
static int initramfs_fd = -1;

static int
leave_initramfs (runvm_error_t *err)
{
  initramfs_fd = open ("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (do_mount ("runvm-root", "/newroot", "tmpfs", MS_NOSUID, "mode=0755", err) < 0)
    return -1;
  if (chdir ("/newroot") < 0)
    return runvm_make_error (err, errno, "chdir /newroot");
  if (mount (".", "/", NULL, MS_MOVE, NULL) < 0)
    return runvm_make_error (err, errno, "move the tmpfs root over /");
  if (chroot (".") < 0 || chdir ("/") < 0)
    return runvm_make_error (err, errno, "chroot into the tmpfs root");
  return 0;
}

static void
open_console (void)
{
  int fd = open ("/dev/console", O_RDWR | O_NOCTTY);
  if (fd < 0)
    return;
  dup2 (fd, 0);
  dup2 (fd, 1);
  dup2 (fd, 2);
  if (fd > 2)
    close (fd);
}

int
set_loopback_up (runvm_error_t *err)
{
  struct ifreq ifr = { 0 };
  cleanup_close int fd = socket (AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

  if (fd < 0)
    return runvm_make_error (err, errno, "socket for lo");
  strcpy (ifr.ifr_name, "lo");
  if (ioctl (fd, SIOCGIFFLAGS, &ifr) < 0)
    return runvm_make_error (err, errno, "get lo flags");
  ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
  if (ioctl (fd, SIOCSIFFLAGS, &ifr) < 0)
    return runvm_make_error (err, errno, "bring up lo");
  return 0;
}

int
guest_bringup (runvm_error_t *err)
{
  static const struct
  {
    const char *src, *target, *type;
    unsigned long flags;
    const char *data;
  } mounts[] = {
    { "proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL },
    { "sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL },
    { "devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620,gid=5" },
    { "shm", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777" },
    { "cgroup2", "/sys/fs/cgroup", "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL },
    { "run", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755" },
    { "tmp", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777" },
  };
  size_t i;

  umask (022);
  if (leave_initramfs (err) < 0)
    return -1;
  if (do_mount ("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755", err) < 0)
    return -1;
  open_console ();
  for (i = 0; i < ARRAY_SIZE (mounts); i++)
    if (do_mount (mounts[i].src, mounts[i].target, mounts[i].type, mounts[i].flags, mounts[i].data, err) < 0)
      return -1;
  if (mkdir ("/rootfs", 0755) < 0 && errno != EEXIST)
    return runvm_make_error (err, errno, "mkdir /rootfs");
  if (symlink ("/proc/self/fd", "/dev/fd") < 0 && errno != EEXIST)
    init_log ("symlink /dev/fd: %s", strerror (errno));
  if (set_loopback_up (err) < 0)
    return -1;
  return 0;
}

int
guest_expose_initramfs (const char *dir, runvm_error_t *err)
{
  char src[PATH_MAX];

  snprintf (src, sizeof src, "/proc/self/fd/%d%s", initramfs_fd, dir);
  if (mkdir_p (dir, 0755, err) < 0)
    return -1;
  if (initramfs_fd < 0 || mount (src, dir, NULL, MS_BIND | MS_REC, NULL) < 0)
    return runvm_make_error (err, errno, "bind the initramfs's `%s`", dir);
  return 0;
}

int
guest_mount_share (const char *tag, const char *target, runvm_error_t *err)
{
  if (mkdir_p (target, 0755, err) < 0)
    return -1;
  if (mount (tag, target, "virtiofs", 0, NULL) < 0)
    return runvm_make_error (err, errno, "mount virtio-fs share `%s` on `%s`", tag, target);
  return 0;
}

void
guest_poweroff (int host_mode_status)
{
  if (init_opts.host_dir)
    exit (host_mode_status);
  kill (-1, SIGKILL);
  sync ();
  /* The kernel runs with reboot=k: the reset goes through the keyboard
   * controller, which the monitor takes as "the VM ended". */
  reboot (RB_AUTOBOOT);
  reboot (RB_POWER_OFF);
  for (;;)
    pause ();
}
