/* The virtio devices a VM gets, in the order they appear to the guest
 * (and so their MMIO slots and IRQs). Each device lives in its own file. */
#include <config.h>
#include "vm.h"
#include "virtio/virtio.h"
#include "utils.h"

int virtio_rng_create (struct vm *vm, runvm_error_t *err);

int vm_create_virtio_devices (struct vm *vm, runvm_error_t *err);

int
vm_create_virtio_devices (struct vm *vm, runvm_error_t *err)
{
  if (vm->cfg.rng && virtio_rng_create (vm, err) < 0)
    return -1;
  return 0;
}
