/* virtio-console device: transmit queue -> console log (see console.h).
 * Runs on the event loop thread; the receive queue's buffers are kept by
 * the device and never filled. */
#include <config.h>
#include "console.h"
#include "virtio.h"
#include "../vm.h"
#include "utils.h"
#include "../capped-log.h"

#include <string.h>
#include <linux/virtio_ids.h>

enum
{
  CONSOLE_QUEUE_RX = 0,
  CONSOLE_QUEUE_TX = 1,
  CONSOLE_NUM_QUEUES = 2,
};

#define CONSOLE_QUEUE_SIZE 64

struct virtio_console
{
  struct virtio_device *dev;
  struct capped_log *log; /* the VM's; its own for virtio_console_attach */
  bool own_log;
  pthread_mutex_t lock; /* reset waits for a transmit in progress */
  bool active;
  struct virtq_chain chain;
};

static void
console_queue_notify (struct virtio_device *d, unsigned q)
{
  struct virtio_console *c = d->priv;
  bool used = false;

  if (q != CONSOLE_QUEUE_TX)
    return; /* receive buffers: kept, there is no input */
  pthread_mutex_lock (&c->lock);
  while (c->active && virtq_pop_chain (&d->vq[CONSOLE_QUEUE_TX], &c->chain) == 1)
    {
      /* Only the device-readable part is output; nothing is written back. */
      capped_log_writev (c->log, c->chain.iov, c->chain.n_out);
      virtq_push_used (&d->vq[CONSOLE_QUEUE_TX], c->chain.head, 0);
      used = true;
    }
  pthread_mutex_unlock (&c->lock);
  if (used)
    virtio_signal_used (d, CONSOLE_QUEUE_TX);
}

static int
console_activate (struct virtio_device *d)
{
  struct virtio_console *c = d->priv;

  pthread_mutex_lock (&c->lock);
  c->active = true;
  pthread_mutex_unlock (&c->lock);
  return 0;
}

static void
console_reset (struct virtio_device *d)
{
  struct virtio_console *c = d->priv;

  pthread_mutex_lock (&c->lock);
  c->active = false;
  pthread_mutex_unlock (&c->lock);
}

static const struct virtio_device_ops console_ops = {
  .name = "console",
  .device_id = VIRTIO_ID_CONSOLE,
  .num_queues = CONSOLE_NUM_QUEUES,
  .queue_max_size = CONSOLE_QUEUE_SIZE,
  .features = 0, /* no SIZE, no MULTIPORT, no EMERG_WRITE: config space unused */
  .activate = console_activate,
  .reset = console_reset,
  .queue_notify = console_queue_notify,
};

void
virtio_console_release (void *opaque)
{
  struct virtio_console *c = opaque;

  if (c == NULL)
    return;
  if (c->own_log)
    capped_log_close (c->log);
  if (c->dev && c->dev->priv == c)
    c->dev->priv = NULL;
  pthread_mutex_destroy (&c->lock);
  free (c);
}

int
virtio_console_create (struct vm *vm, runvm_error_t *err)
{
  struct virtio_console *c = calloc (1, sizeof *c);

  if (c == NULL)
    return runvm_make_error (err, ENOMEM, "virtio-console");
  pthread_mutex_init (&c->lock, NULL);
  c->log = vm->console;
  if (virtio_mmio_create (vm, &console_ops, c, &c->dev, err) < 0)
    {
      virtio_console_release (c);
      return runvm_error_wrap (err, "virtio-console");
    }
  vm_add_device (vm, c, virtio_console_release);
  return 0;
}

int
virtio_console_attach (struct virtio_device *d, int out_fd, struct virtio_console **out, runvm_error_t *err)
{
  struct virtio_console *c = calloc (1, sizeof *c);

  if (c == NULL)
    return runvm_make_error (err, ENOMEM, "virtio-console");
  pthread_mutex_init (&c->lock, NULL);
  if (capped_log_open (out_fd, NULL, 0, false, &c->log, err) < 0)
    {
      virtio_console_release (c);
      return -1;
    }
  c->own_log = true;
  c->dev = d;
  d->ops = &console_ops;
  d->priv = c;
  *out = c;
  return 0;
}
