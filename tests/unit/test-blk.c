/* virtio-blk on fake guest memory and a temporary image file: reads and
 * writes land where they should, and every malformed request (short header,
 * no status byte, partial sectors, out-of-range or overflowing sectors,
 * data in the wrong direction, writes to a read-only disk) fails without
 * touching the image or guest memory it should not. */
#include <config.h>
#include "tap.h"
#include "fake-queue.h"
#include "vm/virtio/blk.h"
#include "vm/virtio/virtio.h"
#include "utils.h"

#include <endian.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>

#define DISK_SECTORS 128
#define DISK_TAIL 100 /* a partial sector at the end: not addressable */

static char image[64];
static struct fake_queue q;

static uint8_t
pattern (uint64_t byte)
{
  return (uint8_t) (byte * 7 + (byte >> 9));
}

static void
make_image (void)
{
  static uint8_t buf[DISK_SECTORS * 512 + DISK_TAIL];
  cleanup_close int fd = -1;
  size_t i;

  for (i = 0; i < sizeof buf; i++)
    buf[i] = pattern (i);
  fd = open (image, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0 || write_all (fd, buf, sizeof buf) < 0)
    abort ();
}

static void
read_image (uint64_t off, void *dst, size_t len)
{
  cleanup_close int fd = open (image, O_RDONLY);
  if (fd < 0 || pread (fd, dst, len, (off_t) off) != (ssize_t) len)
    abort ();
}

static struct virtio_device *
dev_new (bool readonly, struct virtio_blk **out)
{
  struct virtio_device *d = calloc (1, sizeof *d);
  runvm_error_t err = NULL;

  if (d == NULL)
    abort ();
  fq_ram_init ();
  d->mem = &fq_mem;
  d->irq_eventfd = eventfd (0, EFD_NONBLOCK | EFD_CLOEXEC);
  fq_setup (d, 0, &q);
  if (virtio_blk_attach (d, image, readonly, out, &err) < 0)
    {
      cleanup_free char *msg = runvm_error_string (err);
      fprintf (stderr, "attach: %s\n", msg);
      abort ();
    }
  return d;
}

static void
dev_free (struct virtio_device *d, struct virtio_blk *b)
{
  virtio_blk_release (b);
  close (d->irq_eventfd);
  free (d);
}

static uint64_t
header (uint32_t type, uint64_t sector)
{
  uint64_t gpa = fq_alloc (16);
  uint32_t t = htole32 (type);
  uint64_t s = htole64 (sector);

  memcpy (fq_host (gpa), &t, 4);
  memcpy (fq_host (gpa) + 8, &s, 8);
  return gpa;
}

/* Kicks the queue and returns the used length of the one request expected. */
static bool
kick_and_collect (struct virtio_device *d, uint16_t head, uint32_t *len)
{
  uint32_t id;

  d->ops->queue_notify (d, 0);
  if (!fq_get_used (&q, &id, len) || id != head)
    return false;
  return true;
}

/* A read of `sectors` sectors into `nseg` equal data buffers; returns the
 * status the device wrote (0xff when untouched) and fills *data_gpa. */
static uint8_t
do_read (struct virtio_device *d, uint64_t sector, uint32_t bytes, unsigned nseg, uint64_t *data_gpa,
         uint32_t *used_len)
{
  struct fq_buf bufs[8];
  uint64_t data = fq_alloc (bytes), status = fq_alloc (1);
  unsigned i;
  uint16_t head;

  *(uint8_t *) fq_host (status) = 0xff;
  bufs[0] = (struct fq_buf){ header (VIRTIO_BLK_T_IN, sector), 16, false };
  for (i = 0; i < nseg; i++)
    bufs[1 + i] = (struct fq_buf){ data + i * (bytes / nseg), bytes / nseg, true };
  bufs[1 + nseg] = (struct fq_buf){ status, 1, true };
  head = fq_add_chain (&q, bufs, nseg + 2);
  if (!kick_and_collect (d, head, used_len))
    return 0xfe;
  *data_gpa = data;
  return *(uint8_t *) fq_host (status);
}

static uint8_t
do_simple (struct virtio_device *d, uint32_t type, uint64_t sector, const struct fq_buf *data, unsigned ndata,
           uint32_t *used_len)
{
  struct fq_buf bufs[8];
  uint64_t status = fq_alloc (1);
  unsigned i;
  uint16_t head;

  *(uint8_t *) fq_host (status) = 0xff;
  bufs[0] = (struct fq_buf){ header (type, sector), 16, false };
  for (i = 0; i < ndata; i++)
    bufs[1 + i] = data[i];
  bufs[1 + ndata] = (struct fq_buf){ status, 1, true };
  head = fq_add_chain (&q, bufs, ndata + 2);
  if (!kick_and_collect (d, head, used_len))
    return 0xfe;
  return *(uint8_t *) fq_host (status);
}

static bool
guest_matches_image (uint64_t gpa, uint64_t sector, size_t len)
{
  size_t i;
  for (i = 0; i < len; i++)
    if (((uint8_t *) fq_host (gpa))[i] != pattern (sector * 512 + i))
      return false;
  return true;
}

static bool
image_untouched (void)
{
  static uint8_t buf[DISK_SECTORS * 512 + DISK_TAIL];
  size_t i;

  read_image (0, buf, sizeof buf);
  for (i = 0; i < sizeof buf; i++)
    if (buf[i] != pattern (i))
      return false;
  return true;
}

static void
test_config (void)
{
  struct virtio_blk *b;
  struct virtio_device *d = dev_new (false, &b);
  uint64_t cap = 0;
  uint32_t seg_max = 0, size_max = 0, blk_size = 0;

  TAP_OK (virtio_blk_capacity (b) == DISK_SECTORS, "capacity is the size in whole sectors (partial tail dropped)");
  d->ops->config_read (d, 0, &cap, 8);
  d->ops->config_read (d, 8, &size_max, 4);
  d->ops->config_read (d, 12, &seg_max, 4);
  d->ops->config_read (d, 20, &blk_size, 4);
  TAP_OK (le64toh (cap) == DISK_SECTORS, "config: capacity");
  TAP_OK (le32toh (seg_max) == VIRTIO_BLK_SEG_MAX && le32toh (seg_max) + 2 <= VIRTQ_MAX_CHAIN,
          "config: seg_max fits a chain with header and status");
  TAP_OK (le32toh (size_max) == VIRTIO_BLK_SIZE_MAX && le32toh (blk_size) == 512, "config: size_max, blk_size");
  cap = 0x1122334455667788ULL;
  d->ops->config_read (d, 4096, &cap, 8);
  TAP_OK (cap == 0x1122334455667788ULL, "config read past the end leaves the buffer alone");
  TAP_OK ((d->ops->features >> VIRTIO_BLK_F_FLUSH) & 1, "read-write disk offers FLUSH");
  TAP_OK (!((d->ops->features >> VIRTIO_BLK_F_RO) & 1), "read-write disk does not offer RO");
  dev_free (d, b);
}

static void
test_io (void)
{
  struct virtio_blk *b;
  struct virtio_device *d = dev_new (false, &b);
  uint64_t data = 0, wdata;
  uint32_t len = 0;
  uint8_t st, buf[1024];
  struct fq_buf seg[3];
  size_t i;

  /* requests before DRIVER_OK wait for activation */
  st = do_read (d, 2, 1024, 2, &data, &len);
  TAP_OK (st == 0xfe, "no request is served before the device is activated");
  d->ops->activate (d);
  {
    uint32_t id;
    TAP_OK (fq_get_used (&q, &id, &len) && len == 1025, "activation serves the request queued before it");
  }

  st = do_read (d, 2, 1024, 2, &data, &len);
  TAP_OK (st == VIRTIO_BLK_S_OK && len == 1025, "read of 2 sectors in 2 segments: OK, used length data+status");
  TAP_OK (guest_matches_image (data, 2, 1024), "read data matches the image");

  st = do_read (d, DISK_SECTORS - 1, 512, 1, &data, &len);
  TAP_OK (st == VIRTIO_BLK_S_OK && guest_matches_image (data, DISK_SECTORS - 1, 512), "last whole sector reads");

  /* write 1024 bytes to sector 5 from 3 uneven segments */
  wdata = fq_alloc (1024);
  for (i = 0; i < 1024; i++)
    ((uint8_t *) fq_host (wdata))[i] = (uint8_t) (0xa5 ^ i);
  seg[0] = (struct fq_buf){ wdata, 100, false };
  seg[1] = (struct fq_buf){ wdata + 100, 412, false };
  seg[2] = (struct fq_buf){ wdata + 512, 512, false };
  st = do_simple (d, VIRTIO_BLK_T_OUT, 5, seg, 3, &len);
  read_image (5 * 512, buf, sizeof buf);
  TAP_OK (st == VIRTIO_BLK_S_OK && len == 1, "write of 2 sectors in 3 segments: OK, used length 1");
  TAP_OK (memcmp (buf, fq_host (wdata), 1024) == 0, "written data is in the image");

  st = do_simple (d, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, &len);
  TAP_OK (st == VIRTIO_BLK_S_OK, "flush: OK");

  {
    uint64_t idbuf = fq_alloc (VIRTIO_BLK_ID_BYTES);
    struct fq_buf idseg = { idbuf, VIRTIO_BLK_ID_BYTES, true };
    const char *base = strrchr (image, '/') + 1;
    char want[VIRTIO_BLK_ID_BYTES] = { 0 };

    memcpy (want, base, strnlen (base, sizeof want));
    st = do_simple (d, VIRTIO_BLK_T_GET_ID, 0, &idseg, 1, &len);
    TAP_OK (st == VIRTIO_BLK_S_OK && memcmp (fq_host (idbuf), want, sizeof want) == 0,
            "GET_ID returns the image's name, NUL-padded to 20 bytes");
  }
  dev_free (d, b);
}

static void
test_malformed (void)
{
  struct virtio_blk *b;
  struct virtio_device *d = dev_new (false, &b);
  uint64_t data = 0, g, status;
  uint32_t len = 0, id;
  uint8_t st;
  struct fq_buf bufs[4], seg;
  uint16_t head;

  make_image ();
  d->ops->activate (d);

  st = do_read (d, DISK_SECTORS - 1, 1024, 1, &data, &len);
  TAP_OK (st == VIRTIO_BLK_S_IOERR && len == 1, "read crossing the end of the disk: IOERR");
  TAP_OK (((uint8_t *) fq_host (data))[0] == 0, "  and the guest buffer is untouched");
  st = do_read (d, DISK_SECTORS, 512, 1, &data, &len);
  TAP_OK (st == VIRTIO_BLK_S_IOERR, "read at the capacity: IOERR");
  st = do_read (d, UINT64_MAX, 512, 1, &data, &len);
  TAP_OK (st == VIRTIO_BLK_S_IOERR, "read at sector 2^64-1 (offset overflow): IOERR");
  st = do_read (d, UINT64_MAX / 512 + 1, 512, 1, &data, &len);
  TAP_OK (st == VIRTIO_BLK_S_IOERR, "read at a sector whose byte offset wraps: IOERR");
  st = do_read (d, 0, 500, 1, &data, &len);
  TAP_OK (st == VIRTIO_BLK_S_IOERR, "read of a partial sector: IOERR");

  g = fq_alloc (512);
  seg = (struct fq_buf){ g, 300, false };
  st = do_simple (d, VIRTIO_BLK_T_OUT, 0, &seg, 1, &len);
  TAP_OK (st == VIRTIO_BLK_S_IOERR && image_untouched (), "write of a partial sector: IOERR, image untouched");
  seg = (struct fq_buf){ g, 512, false };
  st = do_simple (d, VIRTIO_BLK_T_OUT, DISK_SECTORS, &seg, 1, &len);
  TAP_OK (st == VIRTIO_BLK_S_IOERR && image_untouched (), "write past the end: IOERR, image untouched");

  /* IN with readable data after the header: wrong direction */
  seg = (struct fq_buf){ g, 512, false };
  st = do_simple (d, VIRTIO_BLK_T_IN, 0, &seg, 1, &len);
  TAP_OK (st == VIRTIO_BLK_S_IOERR, "read whose data buffer is device-readable: IOERR");

  /* header shorter than 16 bytes */
  status = fq_alloc (1);
  *(uint8_t *) fq_host (status) = 0xff;
  bufs[0] = (struct fq_buf){ header (VIRTIO_BLK_T_IN, 0), 8, false };
  bufs[1] = (struct fq_buf){ fq_alloc (512), 512, true };
  bufs[2] = (struct fq_buf){ status, 1, true };
  head = fq_add_chain (&q, bufs, 3);
  TAP_OK (kick_and_collect (d, head, &len) && *(uint8_t *) fq_host (status) == VIRTIO_BLK_S_IOERR,
          "8-byte header: IOERR");

  /* header split over two descriptors is fine */
  g = header (VIRTIO_BLK_T_IN, 3);
  data = fq_alloc (512);
  *(uint8_t *) fq_host (status) = 0xff;
  bufs[0] = (struct fq_buf){ g, 5, false };
  bufs[1] = (struct fq_buf){ g + 5, 11, false };
  bufs[2] = (struct fq_buf){ data, 512, true };
  bufs[3] = (struct fq_buf){ status, 1, true };
  head = fq_add_chain (&q, bufs, 4);
  TAP_OK (kick_and_collect (d, head, &len) && *(uint8_t *) fq_host (status) == VIRTIO_BLK_S_OK
              && guest_matches_image (data, 3, 512),
          "header split over two descriptors: served");

  /* no writable byte at all: nothing to report the status in */
  bufs[0] = (struct fq_buf){ header (VIRTIO_BLK_T_OUT, 0), 16, false };
  bufs[1] = (struct fq_buf){ fq_alloc (512), 512, false };
  head = fq_add_chain (&q, bufs, 2);
  TAP_OK (kick_and_collect (d, head, &len) && len == 0 && image_untouched (),
          "request without a status byte: returned unused, image untouched");

  /* only zero-length descriptors: the chain has no buffers left at all
   * (found by tests/fuzz/fuzz-blk, regressions/blk/empty-chain) */
  bufs[0] = (struct fq_buf){ header (VIRTIO_BLK_T_IN, 0), 0, false };
  bufs[1] = (struct fq_buf){ status, 0, true };
  *(uint8_t *) fq_host (status) = 0xff;
  head = fq_add_chain (&q, bufs, 2);
  TAP_OK (kick_and_collect (d, head, &len) && len == 0 && *(uint8_t *) fq_host (status) == 0xff
              && image_untouched (),
          "request of zero-length descriptors only: returned unused, nothing written");

  st = do_simple (d, VIRTIO_BLK_T_DISCARD, 0, NULL, 0, &len);
  TAP_OK (st == VIRTIO_BLK_S_UNSUPP, "DISCARD (not offered): UNSUPP");
  st = do_simple (d, 0x7fff, 0, NULL, 0, &len);
  TAP_OK (st == VIRTIO_BLK_S_UNSUPP, "unknown request type: UNSUPP");

  /* a batch: three reads published before one kick */
  {
    uint64_t st3[3], d3[3];
    unsigned i, got = 0;
    for (i = 0; i < 3; i++)
      {
        st3[i] = fq_alloc (1);
        d3[i] = fq_alloc (512);
        bufs[0] = (struct fq_buf){ header (VIRTIO_BLK_T_IN, 10 + i), 16, false };
        bufs[1] = (struct fq_buf){ d3[i], 512, true };
        bufs[2] = (struct fq_buf){ st3[i], 1, true };
        fq_add_chain (&q, bufs, 3);
      }
    d->ops->queue_notify (d, 0);
    while (fq_get_used (&q, &id, &len))
      got++;
    for (i = 0; i < 3; i++)
      if (*(uint8_t *) fq_host (st3[i]) != VIRTIO_BLK_S_OK || !guest_matches_image (d3[i], 10 + i, 512))
        got = 0;
    TAP_OK (got == 3, "three requests in one kick are all served");
  }

  /* hostile descriptor: data outside guest RAM breaks the queue, no access */
  bufs[0] = (struct fq_buf){ header (VIRTIO_BLK_T_IN, 0), 16, false };
  bufs[1] = (struct fq_buf){ FQ_RAM_SIZE - 256, 512, true };
  bufs[2] = (struct fq_buf){ status, 1, true };
  fq_add_chain (&q, bufs, 3);
  d->ops->queue_notify (d, 0);
  TAP_OK (d->vq[0].broken && !fq_get_used (&q, &id, &len), "data buffer past guest RAM: queue broken, no I/O");

  /* reset then kick: nothing served */
  d->ops->reset (d);
  fq_setup (d, 0, &q);
  do_read (d, 0, 512, 1, &data, &len);
  TAP_OK (!fq_get_used (&q, &id, &len), "after reset, kicks are ignored until the next activation");
  dev_free (d, b);
}

static void
test_readonly (void)
{
  struct virtio_blk *b, *b2 = NULL;
  struct virtio_device *d = dev_new (true, &b);
  runvm_error_t err = NULL;
  uint64_t data = 0, g;
  uint32_t len = 0;
  uint8_t st;
  struct fq_buf seg;

  make_image ();
  TAP_OK ((d->ops->features >> VIRTIO_BLK_F_RO) & 1, "read-only disk offers VIRTIO_BLK_F_RO");
  d->ops->activate (d);
  g = fq_alloc (512);
  memset (fq_host (g), 0x5a, 512);
  seg = (struct fq_buf){ g, 512, false };
  st = do_simple (d, VIRTIO_BLK_T_OUT, 1, &seg, 1, &len);
  TAP_OK (st == VIRTIO_BLK_S_IOERR && image_untouched (), "write to a read-only disk: IOERR, image untouched");
  st = do_read (d, 1, 512, 1, &data, &len);
  TAP_OK (st == VIRTIO_BLK_S_OK && guest_matches_image (data, 1, 512), "read from a read-only disk works");
  st = do_simple (d, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, &len);
  TAP_OK (st == VIRTIO_BLK_S_OK, "flush on a read-only disk: OK (nothing to flush)");

  {
    struct virtio_device d2 = { 0 };
    TAP_OK (virtio_blk_attach (&d2, image, true, &b2, &err) == 0, "a second reader may share the image");
    virtio_blk_release (b2);
    runvm_error_release (&err);
    TAP_OK (virtio_blk_attach (&d2, image, false, &b2, &err) < 0 && err && strstr (err->msg, "in use"),
            "a writer is refused while a reader holds the image");
    runvm_error_release (&err);
  }
  dev_free (d, b);
  {
    struct virtio_device d2 = { 0 }, d3 = { 0 };
    struct virtio_blk *b3 = NULL;
    TAP_OK (virtio_blk_attach (&d2, image, false, &b2, &err) == 0, "writer attaches once the reader is gone");
    TAP_OK (virtio_blk_attach (&d3, image, false, &b3, &err) < 0, "a second writer is refused");
    runvm_error_release (&err);
    virtio_blk_release (b2);
  }
  TAP_OK (virtio_blk_attach (&(struct virtio_device){ 0 }, "/nonexistent/disk.img", false, &b2, &err) < 0,
          "a missing image is an error");
  runvm_error_release (&err);
  TAP_OK (virtio_blk_attach (&(struct virtio_device){ 0 }, "/dev/null", true, &b2, &err) < 0,
          "a character device is refused");
  runvm_error_release (&err);
}

int
main (void)
{
  char dir[] = "/tmp/runvm-test-blk.XXXXXX";

  if (mkdtemp (dir) == NULL)
    abort ();
  snprintf (image, sizeof image, "%s/disk.img", dir);
  make_image ();
  test_config ();
  test_io ();
  test_malformed ();
  test_readonly ();
  unlink (image);
  rmdir (dir);
  return tap_done ();
}
