/* The virtio devices a VM gets, in the order they appear to the guest
 * (and so their MMIO slots and IRQs). Each device lives in its own file. */
#include <config.h>
#include "vm.h"
#include "virtio/virtio.h"
#include "utils.h"
#include "virtio/fs.h"
#include "virtio/vsock.h"
#include "virtio/blk.h"
#include "virtio/net.h"
#include "virtio/console.h"
#include "virtio/rng.h"

int vm_create_virtio_devices (struct vm *vm, runvm_error_t *err);

int
vm_create_virtio_devices (struct vm *vm, runvm_error_t *err)
{
  unsigned i;

  if (vm->cfg.rng && virtio_rng_create (vm, err) < 0)
    return -1;
  if (vm->cfg.vsock_uds && virtio_vsock_create (vm, vm->cfg.guest_cid, vm->cfg.vsock_uds, &vm->vsock, err) < 0)
    return -1;
  for (i = 0; i < vm->cfg.n_shares; i++)
    if (virtio_fs_create (vm, vm->cfg.shares[i].tag, vm->cfg.shares[i].path, vm->cfg.shares[i].readonly, NULL, err) < 0)
      return runvm_error_wrap (err, "sharing `%s`", vm->cfg.shares[i].path);
  for (i = 0; i < vm->cfg.n_blocks; i++)
    if (virtio_blk_create (vm, vm->cfg.blocks[i].path, vm->cfg.blocks[i].readonly, err) < 0)
      return -1;
  if (vm->cfg.has_net && virtio_net_create (vm, vm->cfg.net.tap_name, vm->cfg.net.mac, err) < 0)
    return -1;
  if (vm->cfg.virtio_console && virtio_console_create (vm, err) < 0)
    return -1;
  return 0;
}
