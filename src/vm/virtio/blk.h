/* virtio-blk (virtio 1.2, 5.2) on a raw image file or a host block device.
 * One request queue served by an I/O thread of its own, so a slow disk
 * (fdatasync on a loaded host) never stalls the event loop that carries
 * the container's stdio. */
#ifndef RUNVM_VIRTIO_BLK_H
#define RUNVM_VIRTIO_BLK_H

#include <stdbool.h>
#include <stdint.h>

#include "error.h"

struct vm;
struct virtio_device;
struct virtio_blk;

#define VIRTIO_BLK_SECTOR_SIZE 512
#define VIRTIO_BLK_QUEUE_SIZE 256
/* Data segments per request (config seg_max): header and status take two
 * more descriptors, and a chain is at most VIRTQ_MAX_CHAIN long. */
#define VIRTIO_BLK_SEG_MAX 126
/* Largest single data segment (config size_max). */
#define VIRTIO_BLK_SIZE_MAX (1u << 20)

/* Opens `path` (O_RDONLY when readonly), locks it against a second writer
 * (flock: shared when read-only, exclusive otherwise), creates the device
 * and registers its release with the VM. The capacity is the file size
 * rounded down to whole sectors. */
int virtio_blk_create (struct vm *vm, const char *path, bool readonly, runvm_error_t *err);

/* For unit tests: runs the device on a virtio_device built by hand (fake
 * guest memory). No I/O thread: ops->queue_notify serves the queue inline.
 * Sets d->ops and d->priv. Free with virtio_blk_release(). */
int virtio_blk_attach (struct virtio_device *d, const char *path, bool readonly, struct virtio_blk **out,
                       runvm_error_t *err);
void virtio_blk_release (void *blk);
uint64_t virtio_blk_capacity (const struct virtio_blk *blk);

#endif
