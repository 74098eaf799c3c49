/* Opening the tap device behind virtio-net (see tap.h). */
#include <config.h>
#include "tap.h"
#include "utils.h"

#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <net/if.h>
#include <linux/if_tun.h>

/* Brings `name` up unless it already is (a tap someone configured). */
static int
tap_link_up (const char *name, runvm_error_t *err)
{
  cleanup_close int sock = socket (AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  struct ifreq ifr;

  if (sock < 0)
    return runvm_make_error (err, errno, "tap `%s`: socket", name);
  memset (&ifr, 0, sizeof ifr);
  memcpy (ifr.ifr_name, name, strlen (name));
  if (ioctl (sock, SIOCGIFFLAGS, &ifr) < 0)
    return runvm_make_error (err, errno, "tap `%s`: SIOCGIFFLAGS", name);
  if (ifr.ifr_flags & IFF_UP)
    return 0;
  ifr.ifr_flags |= IFF_UP;
  if (ioctl (sock, SIOCSIFFLAGS, &ifr) < 0)
    return runvm_make_error (err, errno, "tap `%s`: bringing the link up", name);
  return 0;
}

int
tap_open (const char *name, int *fd_out, runvm_error_t *err)
{
  cleanup_close int fd = -1;
  struct ifreq ifr;
  int hdr = TAP_VNET_HDR_SIZE, le = 1;

  if (name == NULL || name[0] == '\0' || strlen (name) >= IFNAMSIZ || strchr (name, '/'))
    return runvm_make_error (err, EINVAL, "tap: invalid interface name `%s` (1 to %d bytes)", name ? name : "",
                             IFNAMSIZ - 1);
  fd = open ("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0)
    return runvm_make_error (err, errno, "tap `%s`: open /dev/net/tun", name);
  memset (&ifr, 0, sizeof ifr);
  memcpy (ifr.ifr_name, name, strlen (name));
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
  if (ioctl (fd, TUNSETIFF, &ifr) < 0)
    {
      if (errno == EBUSY)
        return runvm_make_error (err, EBUSY, "tap `%s`: already attached to another process", name);
      if (errno == EINVAL)
        return runvm_make_error (err, EINVAL, "tap `%s`: exists and is not a tap device", name);
      return runvm_make_error (err, errno, "tap `%s`: TUNSETIFF", name);
    }
  if (ioctl (fd, TUNSETVNETHDRSZ, &hdr) < 0)
    return runvm_make_error (err, errno, "tap `%s`: TUNSETVNETHDRSZ", name);
  /* virtio 1.x headers are little-endian whatever the host is; on x86 this
   * is the default, and kernels without cross-endian support refuse it. */
  if (ioctl (fd, TUNSETVNETLE, &le) < 0 && errno != EINVAL)
    return runvm_make_error (err, errno, "tap `%s`: TUNSETVNETLE", name);
  if (tap_set_offload (fd, 0, err) < 0)
    return runvm_error_wrap (err, "tap `%s`", name);
  if (tap_link_up (name, err) < 0)
    return -1;
  *fd_out = steal_fd (&fd);
  return 0;
}

int
tap_set_offload (int fd, unsigned flags, runvm_error_t *err)
{
  if (ioctl (fd, TUNSETOFFLOAD, flags) < 0)
    return runvm_make_error (err, errno, "TUNSETOFFLOAD 0x%x", flags);
  return 0;
}

int
tap_get_mtu (int fd)
{
  struct ifreq ifr;
  cleanup_close int sock = -1;

  memset (&ifr, 0, sizeof ifr);
  if (ioctl (fd, TUNGETIFF, &ifr) < 0)
    return -1;
  sock = socket (AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sock < 0 || ioctl (sock, SIOCGIFMTU, &ifr) < 0)
    return -1;
  return ifr.ifr_mtu;
}
