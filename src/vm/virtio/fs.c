/* virtio-fs glue: the config space is ours, the queues are virtiofsd's.
 * At DRIVER_OK the rings are handed to the backend over vhost-user; at
 * reset they are taken back (GET_VRING_BASE stops them). */
#include <config.h>
#include "fs.h"
#include "virtio.h"
#include "../vm.h"
#include "../vhost-user.h"
#include "../virtiofsd.h"
#include "utils.h"

#include <string.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#define VIRTIO_FS_QUEUE_SIZE 1024
#define VIRTIO_FS_CONFIG_SIZE (VIRTIO_FS_TAG_MAX + 4)
/* How long virtiofsd gets to exit by itself once its socket is closed. */
#define VIRTIO_FS_STOP_GRACE_MS 1000

/* Ring features virtiofsd's virtqueue code handles; the transport adds
 * VIRTIO_F_VERSION_1. */
#define VIRTIO_FS_RING_FEATURES ((1ULL << VIRTIO_RING_F_INDIRECT_DESC) | (1ULL << VIRTIO_RING_F_EVENT_IDX))

struct virtio_fs
{
  struct vm *vm;
  char tag[VIRTIO_FS_TAG_MAX + 1];
  uint8_t config[VIRTIO_FS_CONFIG_SIZE];
  struct virtiofsd *daemon;
  struct vhost_user vu;
  bool vu_open;
  struct virtio_device *dev;
  bool started[VIRTIO_FS_NUM_QUEUES];

  pthread_mutex_t cb_lock;
  void (*died_cb) (void *opaque, const char *tag, int wait_status);
  void *died_opaque;
};

static void
log_error (struct virtio_fs *fs, const char *what, runvm_error_t *err)
{
  cleanup_free char *msg = runvm_error_string (*err);
  cleanup_free char *state = virtiofsd_describe (fs->daemon);

  fprintf (stderr, "runvm: virtio-fs '%s': %s: %s (virtiofsd %s)\n", fs->tag, what, msg ? msg : "error",
           state ? state : "");
  runvm_error_release (err);
}

static void
config_read (struct virtio_device *d, uint32_t offset, void *data, uint32_t len)
{
  struct virtio_fs *fs = d->priv;

  if (offset >= sizeof fs->config)
    return;
  if (len > sizeof fs->config - offset)
    len = sizeof fs->config - offset;
  memcpy (data, fs->config + offset, len);
}

static int
activate (struct virtio_device *d)
{
  struct virtio_fs *fs = d->priv;
  runvm_error_t err = NULL;
  unsigned q;

  if (vhost_user_set_features (&fs->vu, d->driver_features, &err) < 0)
    {
      log_error (fs, "activating", &err);
      return -1;
    }
  for (q = 0; q < VIRTIO_FS_NUM_QUEUES; q++)
    {
      const struct virtq *vq = &d->vq[q];
      uint64_t n = vq->size;
      struct vhost_user_vring r;

      if (!vq->ready)
        continue;
      /* The transport validated the layout (virtq_setup); the backend gets
       * host addresses, so translate them once more right here. */
      r = (struct vhost_user_vring){
        .size = vq->size,
        .desc = guest_mem_slice (d->mem, vq->desc_gpa, 16 * n),
        .avail = guest_mem_slice (d->mem, vq->avail_gpa, 6 + 2 * n),
        .used = guest_mem_slice (d->mem, vq->used_gpa, 6 + 8 * n),
        .base = 0,
        .kick_fd = d->kick_eventfd[q],
        .call_fd = d->irq_eventfd,
      };
      if (n == 0 || r.desc == NULL || r.avail == NULL || r.used == NULL)
        {
          fprintf (stderr, "runvm: virtio-fs '%s': queue %u lies outside guest RAM\n", fs->tag, q);
          return -1;
        }
      if (vhost_user_vring_start (&fs->vu, q, &r, &err) < 0)
        {
          log_error (fs, "starting a queue", &err);
          return -1;
        }
      fs->started[q] = true;
    }
  return 0;
}

static void
reset (struct virtio_device *d)
{
  struct virtio_fs *fs = d->priv;
  runvm_error_t err = NULL;
  unsigned q;

  for (q = 0; q < VIRTIO_FS_NUM_QUEUES; q++)
    {
      if (!fs->started[q])
        continue;
      fs->started[q] = false;
      if (vhost_user_vring_stop (&fs->vu, q, NULL, &err) < 0)
        log_error (fs, "stopping a queue", &err);
    }
}

static const struct virtio_device_ops virtio_fs_ops = {
  .name = "fs",
  .device_id = VIRTIO_ID_FS,
  .num_queues = VIRTIO_FS_NUM_QUEUES,
  .queue_max_size = VIRTIO_FS_QUEUE_SIZE,
  .features = VIRTIO_FS_RING_FEATURES,
  .config_read = config_read,
  .config_write = NULL, /* the config space is read-only */
  .activate = activate,
  .reset = reset,
  .queue_notify = NULL,
  .external_kick = true,
};

static void
backend_died (void *opaque, pid_t pid, int wait_status)
{
  struct virtio_fs *fs = opaque;
  cleanup_free char *state = virtiofsd_describe (fs->daemon);
  void (*cb) (void *, const char *, int);
  void *cb_opaque;

  fprintf (stderr, "runvm: virtio-fs '%s': virtiofsd (pid %d) %s; file access on this share will fail\n", fs->tag,
           (int) pid, state ? state : "exited");
  pthread_mutex_lock (&fs->cb_lock);
  cb = fs->died_cb;
  cb_opaque = fs->died_opaque;
  pthread_mutex_unlock (&fs->cb_lock);
  if (cb)
    cb (cb_opaque, fs->tag, wait_status);
}

void
virtio_fs_release (void *opaque)
{
  struct virtio_fs *fs = opaque;

  if (fs == NULL)
    return;
  /* Closing the socket first lets virtiofsd finish on its own. */
  if (fs->vu_open)
    vhost_user_close (&fs->vu);
  if (fs->daemon)
    virtiofsd_stop (fs->daemon, VIRTIO_FS_STOP_GRACE_MS);
  pthread_mutex_destroy (&fs->cb_lock);
  free (fs);
}

/* Says what became of virtiofsd in front of a connection error: a dead
 * backend explains "connection closed" better than the socket does. */
static int
explain (struct virtio_fs *fs, runvm_error_t *err)
{
  cleanup_free char *state = NULL;

  virtiofsd_wait_exit (fs->daemon, 200, NULL);
  state = virtiofsd_describe (fs->daemon);
  return runvm_error_wrap (err, "virtio-fs '%s': virtiofsd %s", fs->tag, state ? state : "failed");
}

static int
negotiate (struct virtio_fs *fs, runvm_error_t *err)
{
  uint64_t needed = VIRTIO_FS_RING_FEATURES | (1ULL << VIRTIO_F_VERSION_1);
  uint64_t queues;

  if (vhost_user_handshake (&fs->vu, err) < 0)
    return -1;
  if ((fs->vu.backend_features & needed) != needed)
    return runvm_make_error (err, ENOTSUP, "vhost-user: the backend lacks virtio features 0x%llx",
                             (unsigned long long) (needed & ~fs->vu.backend_features));
  if (fs->vu.protocol_features & (1ULL << VHOST_USER_PROTOCOL_F_MQ))
    {
      if (vhost_user_get_queue_num (&fs->vu, &queues, err) < 0)
        return -1;
      if (queues < VIRTIO_FS_NUM_QUEUES)
        return runvm_make_error (err, ENOTSUP, "vhost-user: the backend serves %llu queues, virtio-fs needs %d",
                                 (unsigned long long) queues, VIRTIO_FS_NUM_QUEUES);
    }
  return vhost_user_set_mem_table (&fs->vu, &fs->vm->mem, err);
}

int
virtio_fs_create (struct vm *vm, const char *tag, const char *dir, bool readonly, struct virtio_fs **out,
                  runvm_error_t *err)
{
  struct virtio_fs *fs;
  struct virtiofsd_config cfg = { 0 };
  uint32_t nrq = VIRTIO_FS_NUM_REQUEST_QUEUES; /* little-endian host: le32 as is */
  int sock = -1;

  if (tag == NULL || tag[0] == '\0' || strlen (tag) > VIRTIO_FS_TAG_MAX)
    return runvm_make_error (err, EINVAL, "virtio-fs: the tag '%s' must have 1 to %d bytes", tag ? tag : "",
                             VIRTIO_FS_TAG_MAX);
  fs = calloc (1, sizeof *fs);
  if (fs == NULL)
    return runvm_make_error (err, ENOMEM, "virtio-fs");
  pthread_mutex_init (&fs->cb_lock, NULL);
  fs->vm = vm;
  snprintf (fs->tag, sizeof fs->tag, "%s", tag);
  /* tag: UTF-8, NUL-padded, not NUL-terminated when it fills all 36 bytes. */
  memcpy (fs->config, tag, strlen (tag));
  memcpy (fs->config + VIRTIO_FS_TAG_MAX, &nrq, sizeof nrq);

  cfg.binary = vm->cfg.virtiofsd_path;
  cfg.tag = tag;
  cfg.source = dir;
  cfg.state_dir = vm->cfg.state_dir;
  cfg.readonly = readonly;
  if (virtiofsd_start (&cfg, &fs->daemon, &sock, err) < 0)
    {
      virtio_fs_release (fs);
      return runvm_error_wrap (err, "virtio-fs '%s'", tag);
    }
  vhost_user_init (&fs->vu, sock, "vhost-user", 0);
  fs->vu_open = true;

  if (negotiate (fs, err) < 0)
    {
      explain (fs, err);
      virtio_fs_release (fs);
      return -1;
    }
  if (virtio_mmio_create (vm, &virtio_fs_ops, fs, &fs->dev, err) < 0)
    {
      virtio_fs_release (fs);
      return runvm_error_wrap (err, "virtio-fs '%s'", tag);
    }
  /* virtiofsd writes the irqfd itself, so the transport never learns which
   * interrupt cause to report: always say "used buffer". */
  fs->dev->always_report_vring = true;
  virtiofsd_set_died_cb (fs->daemon, backend_died, fs);
  vm_add_device (vm, fs, virtio_fs_release);
  if (out)
    *out = fs;
  return 0;
}

pid_t
virtio_fs_backend_pid (const struct virtio_fs *fs)
{
  return virtiofsd_pid (fs->daemon);
}

void
virtio_fs_set_backend_died_cb (struct virtio_fs *fs, void (*cb) (void *opaque, const char *tag, int wait_status),
                               void *opaque)
{
  pthread_mutex_lock (&fs->cb_lock);
  fs->died_cb = cb;
  fs->died_opaque = opaque;
  pthread_mutex_unlock (&fs->cb_lock);
}
