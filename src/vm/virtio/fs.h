/* virtio-fs device (virtio 1.2, 5.11) backed by virtiofsd over vhost-user.
 * We provide the virtio-mmio transport and the config space (tag, number of
 * request queues); virtiofsd maps guest RAM and serves the queues, kicked
 * and interrupting through the KVM ioeventfds/irqfd directly. */
#ifndef RUNVM_VIRTIO_FS_H
#define RUNVM_VIRTIO_FS_H

#include <stdbool.h>
#include <sys/types.h>

#include "error.h"

#define VIRTIO_ID_FS 26
#define VIRTIO_FS_TAG_MAX 36
/* Queue 0 is the high-priority queue, 1.. the request queues; virtiofsd
 * (C, QEMU 7.2) serves exactly one request queue. */
#define VIRTIO_FS_NUM_REQUEST_QUEUES 1
#define VIRTIO_FS_NUM_QUEUES (1 + VIRTIO_FS_NUM_REQUEST_QUEUES)

struct vm;
struct virtio_fs;

/* Starts virtiofsd sharing `dir` (binary: vm->cfg.virtiofsd_path, socket
 * and log in vm->cfg.state_dir), negotiates with it, sends the guest memory
 * table and creates the virtio-mmio device. The device is registered with
 * vm_add_device(), so vm_destroy() releases it; *out (may be NULL) is for
 * the accessors below. Call from the thread that outlives the VM. */
int virtio_fs_create (struct vm *vm, const char *tag, const char *dir, bool readonly, struct virtio_fs **out,
                      runvm_error_t *err);
/* Closes the vhost-user connection, stops and reaps virtiofsd, frees fs. */
void virtio_fs_release (void *fs);

pid_t virtio_fs_backend_pid (const struct virtio_fs *fs);
/* Called (on a private thread) if virtiofsd exits while the VM still uses
 * it; the guest's file accesses on that share then fail or hang, so the
 * monitor will usually end the VM (vm_request_stop is safe there). Must not
 * call virtio_fs_release. */
void virtio_fs_set_backend_died_cb (struct virtio_fs *fs, void (*cb) (void *opaque, const char *tag, int wait_status),
                                    void *opaque);

#endif
