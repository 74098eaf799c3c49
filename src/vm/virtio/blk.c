/* virtio-blk device (virtio 1.2, 5.2): raw image, one queue, I/O thread.
 * Every request is validated before any byte moves: the header must be
 * readable, the status byte writable, the data a whole number of sectors
 * inside the disk, and its direction the one the request type implies.
 * Data goes straight between the image and guest RAM with preadv/pwritev
 * on the chain's own iovecs (already range-checked by virtq_pop_chain). */
#include <config.h>
#include "blk.h"
#include "virtio.h"
#include "../vm.h"
#include "utils.h"

#include <endian.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <linux/fs.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_ids.h>

#define BLK_HEADER_SIZE 16 /* le32 type, le32 reserved, le64 sector */

struct virtio_blk
{
  struct virtio_device *dev;
  int fd;
  bool readonly;
  uint64_t capacity; /* sectors */
  char id[VIRTIO_BLK_ID_BYTES];
  struct virtio_blk_config config;

  /* The I/O thread and what it waits for; `lock` also makes reset wait
   * until the thread has stopped touching the queue. */
  bool threaded;
  pthread_t thread;
  pthread_mutex_t lock;
  pthread_cond_t cond;
  bool active, kicked, busy, quit;

  struct virtq_chain chain;
  struct iovec data[VIRTQ_MAX_CHAIN];
};

/* Copies the part [skip, skip + len) of iov[0..n) into out (pointing into the
 * same buffers). Returns the number of entries, or -1 when it does not fit. */
static int
iov_slice (const struct iovec *iov, unsigned n, size_t skip, size_t len, struct iovec *out, unsigned max)
{
  unsigned i, k = 0;

  for (i = 0; i < n && len > 0; i++)
    {
      size_t l = iov[i].iov_len;
      if (skip >= l)
        {
          skip -= l;
          continue;
        }
      if (k == max)
        return -1;
      out[k].iov_base = (uint8_t *) iov[i].iov_base + skip;
      out[k].iov_len = l - skip < len ? l - skip : len;
      len -= out[k].iov_len;
      skip = 0;
      k++;
    }
  return len == 0 ? (int) k : -1;
}

/* preadv/pwritev until done; a short transfer means the image shrank under
 * us (EOF) or the host disk failed. Consumes the iovec array. */
static int
transfer (int fd, struct iovec *iov, int n, off_t off, bool write, size_t *done)
{
  *done = 0;
  while (n > 0)
    {
      ssize_t r = write ? pwritev (fd, iov, n, off) : preadv (fd, iov, n, off);
      if (r < 0 && errno == EINTR)
        continue;
      if (r <= 0)
        return -1;
      *done += (size_t) r;
      off += r;
      while (n > 0 && (size_t) r >= iov->iov_len)
        {
          r -= (ssize_t) iov->iov_len;
          iov++;
          n--;
        }
      if (n > 0)
        {
          iov->iov_base = (uint8_t *) iov->iov_base + r;
          iov->iov_len -= (size_t) r;
        }
    }
  return 0;
}

/* Whether [sector, sector + len bytes) is whole sectors inside the disk. */
static bool
blk_range_ok (const struct virtio_blk *b, uint64_t sector, size_t len)
{
  if (len % VIRTIO_BLK_SECTOR_SIZE)
    return false;
  return sector <= b->capacity && len / VIRTIO_BLK_SECTOR_SIZE <= b->capacity - sector;
}

/* Serves one request whose status byte is writable; returns the status and
 * the number of bytes written into the guest's buffers (status excluded). */
static uint8_t
blk_handle (struct virtio_blk *b, struct virtq_chain *c, size_t *written)
{
  uint8_t hdr[BLK_HEADER_SIZE];
  uint32_t type;
  uint64_t sector;
  size_t len, done;
  int n;

  *written = 0;
  if (c->out_len < BLK_HEADER_SIZE)
    return VIRTIO_BLK_S_IOERR;
  virtq_chain_copy_from_out (c, 0, hdr, sizeof hdr);
  memcpy (&type, hdr, 4);
  memcpy (&sector, hdr + 8, 8);
  type = le32toh (type);
  sector = le64toh (sector);

  switch (type)
    {
    case VIRTIO_BLK_T_IN:
      /* header readable, then data and status writable */
      len = c->in_len - 1;
      if (c->out_len != BLK_HEADER_SIZE || !blk_range_ok (b, sector, len))
        return VIRTIO_BLK_S_IOERR;
      n = iov_slice (c->iov + c->n_out, c->n_in, 0, len, b->data, VIRTQ_MAX_CHAIN);
      if (n < 0)
        return VIRTIO_BLK_S_IOERR;
      if (transfer (b->fd, b->data, n, (off_t) (sector * VIRTIO_BLK_SECTOR_SIZE), false, &done) < 0)
        {
          *written = done;
          return VIRTIO_BLK_S_IOERR;
        }
      *written = len;
      return VIRTIO_BLK_S_OK;

    case VIRTIO_BLK_T_OUT:
      /* header and data readable, status writable */
      len = c->out_len - BLK_HEADER_SIZE;
      if (b->readonly || !blk_range_ok (b, sector, len))
        return VIRTIO_BLK_S_IOERR; /* 5.2.6.2: no data written on a read-only disk */
      n = iov_slice (c->iov, c->n_out, BLK_HEADER_SIZE, len, b->data, VIRTQ_MAX_CHAIN);
      if (n < 0)
        return VIRTIO_BLK_S_IOERR;
      if (transfer (b->fd, b->data, n, (off_t) (sector * VIRTIO_BLK_SECTOR_SIZE), true, &done) < 0)
        return VIRTIO_BLK_S_IOERR;
      return VIRTIO_BLK_S_OK;

    case VIRTIO_BLK_T_FLUSH:
      if (c->out_len != BLK_HEADER_SIZE || c->in_len != 1)
        return VIRTIO_BLK_S_IOERR;
      if (!b->readonly && fdatasync (b->fd) < 0)
        return VIRTIO_BLK_S_IOERR;
      return VIRTIO_BLK_S_OK;

    case VIRTIO_BLK_T_GET_ID:
      /* up to 20 bytes, NUL-padded (not terminated when all 20 are used) */
      len = c->in_len - 1;
      if (c->out_len != BLK_HEADER_SIZE || len == 0)
        return VIRTIO_BLK_S_IOERR;
      if (len > VIRTIO_BLK_ID_BYTES)
        len = VIRTIO_BLK_ID_BYTES;
      *written = virtq_chain_copy_to_in (c, 0, b->id, len);
      return VIRTIO_BLK_S_OK;

    default:
      return VIRTIO_BLK_S_UNSUPP;
    }
}

/* Takes every available request. Runs on the I/O thread (or inline in unit
 * tests) while the device is active. */
static void
blk_serve (struct virtio_blk *b)
{
  struct virtq *q = &b->dev->vq[0];
  struct virtq_chain *c = &b->chain;
  bool used = false;

  while (virtq_pop_chain (q, c) == 1)
    {
      const struct iovec *last;
      size_t written = 0;
      uint8_t status;

      used = true;
      if (c->n_in == 0)
        {
          /* Nowhere to put the status (a chain may even have no buffers
           * left once zero-length descriptors are dropped): the driver
           * cannot learn the outcome, so do nothing and hand it back. */
          virtq_push_used (q, c->head, 0);
          continue;
        }
      last = &c->iov[c->n_out + c->n_in - 1];
      status = blk_handle (b, c, &written);
      /* The status is the chain's last byte (zero-length descriptors are
       * dropped by virtq_pop_chain, so `last` has at least one byte). */
      ((uint8_t *) last->iov_base)[last->iov_len - 1] = status;
      virtq_push_used (q, c->head, (uint32_t) written + 1);
    }
  if (used)
    virtio_signal_used (b->dev, 0);
}

static void *
blk_thread (void *opaque)
{
  struct virtio_blk *b = opaque;

  pthread_mutex_lock (&b->lock);
  for (;;)
    {
      while (!b->quit && !(b->kicked && b->active))
        pthread_cond_wait (&b->cond, &b->lock);
      if (b->quit)
        break;
      b->kicked = false;
      b->busy = true;
      pthread_mutex_unlock (&b->lock);
      blk_serve (b);
      pthread_mutex_lock (&b->lock);
      b->busy = false;
      pthread_cond_broadcast (&b->cond);
    }
  pthread_mutex_unlock (&b->lock);
  return NULL;
}

/* ---- virtio device ops ---- */

static void
blk_queue_notify (struct virtio_device *d, unsigned q)
{
  struct virtio_blk *b = d->priv;

  if (q != 0)
    return;
  pthread_mutex_lock (&b->lock);
  if (b->threaded)
    {
      b->kicked = true;
      pthread_cond_broadcast (&b->cond);
    }
  else if (b->active)
    blk_serve (b);
  pthread_mutex_unlock (&b->lock);
}

static void
blk_config_read (struct virtio_device *d, uint32_t offset, void *data, uint32_t len)
{
  struct virtio_blk *b = d->priv;

  if (offset >= sizeof b->config)
    return;
  if (len > sizeof b->config - offset)
    len = sizeof b->config - offset;
  memcpy (data, (const uint8_t *) &b->config + offset, len);
}

static int
blk_activate (struct virtio_device *d)
{
  struct virtio_blk *b = d->priv;

  pthread_mutex_lock (&b->lock);
  b->active = true;
  b->kicked = true; /* requests queued before DRIVER_OK */
  if (b->threaded)
    pthread_cond_broadcast (&b->cond);
  else
    blk_serve (b);
  pthread_mutex_unlock (&b->lock);
  return 0;
}

static void
blk_reset (struct virtio_device *d)
{
  struct virtio_blk *b = d->priv;

  /* The transport clears the queue right after we return: wait until the
   * I/O thread is done with it. */
  pthread_mutex_lock (&b->lock);
  b->active = false;
  b->kicked = false;
  while (b->busy)
    pthread_cond_wait (&b->cond, &b->lock);
  pthread_mutex_unlock (&b->lock);
}

static const struct virtio_device_ops blk_ops_rw = {
  .name = "blk",
  .device_id = VIRTIO_ID_BLOCK,
  .num_queues = 1,
  .queue_max_size = VIRTIO_BLK_QUEUE_SIZE,
  .features = (1ULL << VIRTIO_BLK_F_SIZE_MAX) | (1ULL << VIRTIO_BLK_F_SEG_MAX) | (1ULL << VIRTIO_BLK_F_BLK_SIZE)
              | (1ULL << VIRTIO_BLK_F_FLUSH),
  .config_read = blk_config_read,
  .activate = blk_activate,
  .reset = blk_reset,
  .queue_notify = blk_queue_notify,
};

static const struct virtio_device_ops blk_ops_ro = {
  .name = "blk",
  .device_id = VIRTIO_ID_BLOCK,
  .num_queues = 1,
  .queue_max_size = VIRTIO_BLK_QUEUE_SIZE,
  .features = (1ULL << VIRTIO_BLK_F_SIZE_MAX) | (1ULL << VIRTIO_BLK_F_SEG_MAX) | (1ULL << VIRTIO_BLK_F_BLK_SIZE)
              | (1ULL << VIRTIO_BLK_F_RO),
  .config_read = blk_config_read,
  .activate = blk_activate,
  .reset = blk_reset,
  .queue_notify = blk_queue_notify,
};

/* ---- lifetime ---- */

void
virtio_blk_release (void *opaque)
{
  struct virtio_blk *b = opaque;

  if (b == NULL)
    return;
  if (b->threaded)
    {
      pthread_mutex_lock (&b->lock);
      b->quit = true;
      pthread_cond_broadcast (&b->cond);
      pthread_mutex_unlock (&b->lock);
      pthread_join (b->thread, NULL);
    }
  if (b->fd >= 0)
    close (b->fd); /* also drops the flock */
  if (b->dev && b->dev->priv == b)
    b->dev->priv = NULL;
  pthread_cond_destroy (&b->cond);
  pthread_mutex_destroy (&b->lock);
  free (b);
}

uint64_t
virtio_blk_capacity (const struct virtio_blk *b)
{
  return b->capacity;
}

static int
blk_open (const char *path, bool readonly, struct virtio_blk **out, runvm_error_t *err)
{
  struct virtio_blk *b;
  const char *base;
  struct stat st;
  uint64_t bytes;

  b = calloc (1, sizeof *b);
  if (b == NULL)
    return runvm_make_error (err, ENOMEM, "virtio-blk");
  pthread_mutex_init (&b->lock, NULL);
  pthread_cond_init (&b->cond, NULL);
  b->readonly = readonly;
  b->fd = open (path, (readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC);
  if (b->fd < 0)
    {
      virtio_blk_release (b);
      return runvm_make_error (err, errno, "virtio-blk: open `%s`", path);
    }
  /* Two VMs writing one image corrupt it; readers may share. */
  if (flock (b->fd, (readonly ? LOCK_SH : LOCK_EX) | LOCK_NB) < 0)
    {
      int saved = errno;
      virtio_blk_release (b);
      if (saved == EWOULDBLOCK)
        return runvm_make_error (err, 0, "virtio-blk: `%s` is in use (locked by another VM or process)", path);
      return runvm_make_error (err, saved, "virtio-blk: lock `%s`", path);
    }
  if (fstat (b->fd, &st) < 0)
    {
      int saved = errno;
      virtio_blk_release (b);
      return runvm_make_error (err, saved, "virtio-blk: stat `%s`", path);
    }
  if (S_ISREG (st.st_mode))
    bytes = (uint64_t) st.st_size;
  else if (S_ISBLK (st.st_mode))
    {
      if (ioctl (b->fd, BLKGETSIZE64, &bytes) < 0)
        {
          int saved = errno;
          virtio_blk_release (b);
          return runvm_make_error (err, saved, "virtio-blk: size of `%s`", path);
        }
    }
  else
    {
      virtio_blk_release (b);
      return runvm_make_error (err, EINVAL, "virtio-blk: `%s` is neither a regular file nor a block device", path);
    }
  /* A partial last sector is not addressable. */
  b->capacity = bytes / VIRTIO_BLK_SECTOR_SIZE;

  base = strrchr (path, '/');
  base = base ? base + 1 : path;
  /* NUL-padded, unterminated when it fills all 20 bytes (as the spec says) */
  memcpy (b->id, base, strnlen (base, sizeof b->id));

  b->config.capacity = htole64 (b->capacity);
  b->config.size_max = htole32 (VIRTIO_BLK_SIZE_MAX);
  b->config.seg_max = htole32 (VIRTIO_BLK_SEG_MAX);
  b->config.blk_size = htole32 (VIRTIO_BLK_SECTOR_SIZE);
  b->config.num_queues = htole16 (1);
  *out = b;
  return 0;
}

int
virtio_blk_create (struct vm *vm, const char *path, bool readonly, runvm_error_t *err)
{
  struct virtio_blk *b = NULL;
  int r;

  if (blk_open (path, readonly, &b, err) < 0)
    return -1;
  if (virtio_mmio_create (vm, readonly ? &blk_ops_ro : &blk_ops_rw, b, &b->dev, err) < 0)
    {
      virtio_blk_release (b);
      return runvm_error_wrap (err, "virtio-blk `%s`", path);
    }
  r = pthread_create (&b->thread, NULL, blk_thread, b);
  if (r != 0)
    {
      b->dev->priv = NULL;
      virtio_blk_release (b);
      return runvm_make_error (err, r, "virtio-blk `%s`: I/O thread", path);
    }
  b->threaded = true;
  vm_add_device (vm, b, virtio_blk_release);
  return 0;
}

int
virtio_blk_attach (struct virtio_device *d, const char *path, bool readonly, struct virtio_blk **out,
                   runvm_error_t *err)
{
  struct virtio_blk *b = NULL;

  if (blk_open (path, readonly, &b, err) < 0)
    return -1;
  b->dev = d;
  d->ops = readonly ? &blk_ops_ro : &blk_ops_rw;
  d->priv = b;
  *out = b;
  return 0;
}
