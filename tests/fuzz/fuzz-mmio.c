/* Fuzz target: the virtio-mmio transport (mmio.c) with a device behind it,
 * driven only through register accesses as a guest driver would, in any
 * order: feature negotiation, queue layout, status changes and resets at
 * any point, config space reads and writes of any size, queue kicks. The
 * kicks land on eventfds (the ioeventfds of a real VM) and are handed to
 * the device the way the event loop does.
 *
 * Input: byte 0 picks the device (blk read-only, blk read-write, vsock,
 * net) and the number of accesses; then 7 bytes per access (kind: bit 0
 * write, bits 1-2 size 1/2/4/8; offset, 2 bytes, below 0x200; value, 4
 * bytes); the rest is guest RAM. */
#include <config.h>
#include "fuzz.h"
#include "vm/virtio/blk.h"
#include "vm/virtio/net.h"
#include "vm/virtio/vsock.h"
#include "utils.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

#define MAX_ACCESSES 96

static char dir[64], image[96], base[96];

static void
cleanup (void)
{
  unlink (image);
  rmdir (dir);
}

static void
setup_once (void)
{
  static uint8_t zeros[8 * 512];
  int fd;

  snprintf (dir, sizeof dir, "/tmp/runvm-fuzz-mmio.XXXXXX");
  if (mkdtemp (dir) == NULL)
    abort ();
  snprintf (image, sizeof image, "%s/disk", dir);
  snprintf (base, sizeof base, "%s/v", dir);
  fd = open (image, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0 || write_all (fd, zeros, sizeof zeros) < 0)
    abort ();
  close (fd);
  atexit (cleanup);
}

/* Hands pending kicks to the device with the checks of the transport's
 * ioeventfd handler (mmio.c, kick_cb): none but that the queue has memory. */
static void
deliver_kicks (struct virtio_device *d)
{
  unsigned i;

  for (i = 0; i < d->ops->num_queues && i < VIRTIO_MAX_QUEUES; i++)
    {
      uint64_t n;
      if (read (d->kick_eventfd[i], &n, sizeof n) == sizeof n && d->vq[i].mem != NULL && d->ops->queue_notify)
        d->ops->queue_notify (d, i);
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  static struct virtio_device d;
  static bool ready;
  struct fuzz_in in = { data, size }, acc;
  runvm_error_t err = NULL;
  struct guest_mem mem;
  void *dev = NULL;
  unsigned kind, n, i;
  int sv[2] = { -1, -1 };

  if (!ready)
    {
      setup_once ();
      ready = true;
    }
  kind = (unsigned) fuzz_take (&in, 1);
  n = (kind >> 2) % (MAX_ACCESSES + 1);
  acc = fuzz_split (&in, 7 * (size_t) n);
  fuzz_ram (&in, &mem);

  fuzz_device_init (&d, &mem);
  for (i = 0; i < VIRTIO_MAX_QUEUES; i++)
    d.kick_eventfd[i] = eventfd (0, EFD_NONBLOCK | EFD_CLOEXEC);
  switch (kind & 3)
    {
    case 0:
    case 1:
      if (virtio_blk_attach (&d, image, (kind & 3) == 0, (struct virtio_blk **) &dev, &err) < 0)
        abort ();
      break;
    case 2:
      if (virtio_vsock_attach (&d, 3, base, fuzz_vsock_ops (), NULL, (struct virtio_vsock **) &dev, &err) < 0)
        abort ();
      break;
    default:
      {
        static const uint8_t mac[6] = { 0x02, 0, 0, 0, 0, 1 };
        if (socketpair (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) < 0
            || virtio_net_attach (&d, sv[0], mac, (struct virtio_net **) &dev, &err) < 0)
          abort ();
        break;
      }
    }

  for (i = 0; i < n; i++)
    {
      uint8_t k = (uint8_t) fuzz_take (&acc, 1);
      uint64_t off = fuzz_take (&acc, 2) % 0x200;
      uint64_t buf = fuzz_take (&acc, 4);
      uint32_t len = 1u << ((k >> 1) & 3);

      virtio_mmio_access (&d, off, &buf, len, k & 1);
      deliver_kicks (&d);
    }

  switch (kind & 3)
    {
    case 0:
    case 1:
      virtio_blk_release (dev);
      break;
    case 2:
      virtio_vsock_release (dev);
      break;
    default:
      virtio_net_release (dev);
      close (sv[1]);
      break;
    }
  for (i = 0; i < VIRTIO_MAX_QUEUES; i++)
    close (d.kick_eventfd[i]);
  pthread_mutex_destroy (&d.lock);
  return 0;
}
