/* virtio-rng (virtio 1.2, 5.4): the guest's entropy source. One queue of
 * device-writable buffers, filled from getrandom(). */
#ifndef RUNVM_VIRTIO_RNG_H
#define RUNVM_VIRTIO_RNG_H

#include "error.h"

struct vm;
struct virtio_device;

/* The most bytes one request gets. The spec lets the device fill less than
 * the guest offers; Linux 6.1 asks for 64 (a cache line) at a time. A chain
 * can offer up to the queue's whole descriptor budget of guest RAM, and the
 * event loop thread that serves the queue also serves every other device. */
#define VIRTIO_RNG_MAX_REQUEST (64u << 10)

int virtio_rng_create (struct vm *vm, runvm_error_t *err);

/* For unit tests: the device on a virtio_device built by hand. */
void virtio_rng_attach (struct virtio_device *d);

#endif
