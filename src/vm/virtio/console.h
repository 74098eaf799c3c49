/* virtio-console (virtio 1.2, 5.3): one port, no MULTIPORT. The guest's
 * output (hvc0) goes to the same console log as the serial port; input is
 * not wired (the container's stdio goes over vsock). With console=hvc0 the
 * kernel and init write through a ring instead of one VM exit per byte. */
#ifndef RUNVM_VIRTIO_CONSOLE_H
#define RUNVM_VIRTIO_CONSOLE_H

#include "error.h"

struct vm;
struct virtio_device;
struct virtio_console;

/* Output goes where the serial console's does: vm->console
 * (capped-log.h). */
int virtio_console_create (struct vm *vm, runvm_error_t *err);

/* For unit tests: the device on a virtio_device built by hand, writing to
 * out_fd (dup'ed; -1 discards). */
int virtio_console_attach (struct virtio_device *d, int out_fd, struct virtio_console **out, runvm_error_t *err);
void virtio_console_release (void *console);

#endif
