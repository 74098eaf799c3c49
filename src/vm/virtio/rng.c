/* virtio-rng: fills the guest's buffers from getrandom(), so the guest's
 * entropy pool is ready early (a stuck getrandom() would stall boot). */
#include <config.h>
#include "rng.h"
#include "virtio.h"
#include "../vm.h"
#include "utils.h"

#include <sys/random.h>
#include <linux/virtio_ids.h>

/* Fills the chain's device-writable buffers in order, at most
 * VIRTIO_RNG_MAX_REQUEST bytes, and returns how many: the used length says
 * the first N bytes are written, so a short getrandom() ends the request. */
static uint32_t
rng_fill (const struct virtq_chain *chain)
{
  uint32_t written = 0;
  unsigned i;

  for (i = chain->n_out; i < chain->n_out + chain->n_in && written < VIRTIO_RNG_MAX_REQUEST; i++)
    {
      size_t want = chain->iov[i].iov_len;
      ssize_t n;

      if (want > VIRTIO_RNG_MAX_REQUEST - written)
        want = VIRTIO_RNG_MAX_REQUEST - written;
      n = getrandom (chain->iov[i].iov_base, want, 0);
      if (n <= 0)
        break;
      written += (uint32_t) n;
      if ((size_t) n < want)
        break;
    }
  return written;
}

static void
rng_queue_notify (struct virtio_device *d, unsigned q)
{
  struct virtq_chain chain;
  bool used = false;

  if (q != 0)
    return;
  while (virtq_pop_chain (&d->vq[0], &chain) == 1)
    {
      virtq_push_used (&d->vq[0], chain.head, rng_fill (&chain));
      used = true;
    }
  if (used)
    virtio_signal_used (d, 0);
}

static const struct virtio_device_ops rng_ops = {
  .name = "rng",
  .device_id = VIRTIO_ID_RNG,
  .num_queues = 1,
  .queue_max_size = 64,
  .queue_notify = rng_queue_notify,
};

int
virtio_rng_create (struct vm *vm, runvm_error_t *err)
{
  return virtio_mmio_create (vm, &rng_ops, NULL, NULL, err);
}

void
virtio_rng_attach (struct virtio_device *d)
{
  d->ops = &rng_ops;
  d->priv = NULL;
}
