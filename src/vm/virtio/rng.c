/* virtio-rng: fills the guest's buffers from getrandom(), so the guest's
 * entropy pool is ready early (a stuck getrandom() would stall boot). */
#include <config.h>
#include "virtio.h"
#include "../vm.h"
#include "utils.h"

#include <sys/random.h>
#include <linux/virtio_ids.h>

static void
rng_queue_notify (struct virtio_device *d, unsigned q)
{
  struct virtq_chain chain;
  bool used = false;
  int r;

  if (q != 0)
    return;
  while ((r = virtq_pop_chain (&d->vq[0], &chain)) == 1)
    {
      uint32_t written = 0;
      unsigned i;
      for (i = chain.n_out; i < chain.n_out + chain.n_in; i++)
        {
          ssize_t n = getrandom (chain.iov[i].iov_base, chain.iov[i].iov_len, 0);
          if (n > 0)
            written += (uint32_t) n;
        }
      virtq_push_used (&d->vq[0], chain.head, written);
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

int virtio_rng_create (struct vm *vm, runvm_error_t *err);

int
virtio_rng_create (struct vm *vm, runvm_error_t *err)
{
  return virtio_mmio_create (vm, &rng_ops, NULL, NULL, err);
}
