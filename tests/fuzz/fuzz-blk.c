/* Fuzz target: virtio-blk requests (blk.c) from a hostile guest: any
 * header, sector, segment layout and status placement, on a read-only or
 * a writable image. The device must only touch guest RAM inside the chains
 * and the image inside its capacity. */
#include <config.h>
#include "fuzz.h"
#include "vm/virtio/blk.h"
#include "utils.h"

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

#define IMAGE_BYTES (16 * 512 + 100) /* a partial sector at the end */

static char image[64];

static void
make_image (void)
{
  static uint8_t buf[IMAGE_BYTES];
  int fd;

  snprintf (image, sizeof image, "/tmp/runvm-fuzz-blk.XXXXXX");
  fd = mkstemp (image);
  if (fd < 0 || write_all (fd, buf, sizeof buf) < 0)
    abort ();
  close (fd);
}

static void
remove_image (void)
{
  unlink (image);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  static struct virtio_device d;
  static bool ready;
  struct fuzz_in in = { data, size }, hdr;
  struct virtio_blk *b = NULL;
  runvm_error_t err = NULL;
  struct guest_mem mem;
  uint8_t flags;
  unsigned kicks, i;

  if (!ready)
    {
      make_image ();
      atexit (remove_image);
      ready = true;
    }
  flags = (uint8_t) fuzz_take (&in, 1);
  hdr = fuzz_split (&in, 12);
  fuzz_ram (&in, &mem);
  fuzz_device_init (&d, &mem);
  if (!fuzz_queue (&hdr, &d.vq[0], &mem))
    return 0;
  if (virtio_blk_attach (&d, image, flags & 1, &b, &err) < 0)
    abort ();
  d.driver_features = d.ops->features | (1ULL << VIRTIO_F_VERSION_1);
  kicks = 1 + ((flags >> 1) & 3);
  if (d.ops->activate (&d) == 0)
    for (i = 0; i < kicks; i++)
      d.ops->queue_notify (&d, 0);
  if (flags & 0x10)
    d.ops->reset (&d);
  virtio_blk_release (b);
  pthread_mutex_destroy (&d.lock);
  return 0;
}
