/* virtio-vsock implemented in the monitor (no vhost), Firecracker "hybrid
 * vsock" style: the guest connects to the host (CID 2) and each port maps to
 * a unix socket or to fds the monitor registered. The connection logic lives
 * in vsock-conn.c; this is the virtqueue glue. */
#ifndef RUNVM_VSOCK_H
#define RUNVM_VSOCK_H

#include <stdint.h>

#include "error.h"
#include "vsock-conn.h"

struct vm;
struct virtio_device;
struct virtio_vsock;

/* Creates the device (virtio-mmio, VIRTIO_ID_VSOCK, queues rx/tx/event,
 * config space = guest_cid as le64) and registers its release with the VM.
 * Guest connections to host port P are connected to the unix socket
 * "<uds_base>_P" (nonblocking connect), unless a port override is
 * registered; uds_base may be NULL (overrides only). */
int virtio_vsock_create (struct vm *vm, uint64_t guest_cid, const char *uds_base, struct virtio_vsock **out,
                         runvm_error_t *err);

/* One-shot override: the next guest connection to `port` uses these fds
 * instead of a unix socket. Data from the guest is written to wfd (-1 =
 * discard), data read from rfd (-1 = none) is sent to the guest. EOF on rfd
 * -> the device sends SHUTDOWN(SEND) to the guest; guest SHUTDOWN(SEND) or
 * close -> wfd is closed. The device takes the fds in every case (closes
 * them on error too) and sets O_NONBLOCK on them, so pass fds whose open
 * file description is not shared with something that expects blocking I/O.
 * Thread-safe. Used for container stdio. */
int virtio_vsock_set_port_fds (struct virtio_vsock *v, uint32_t port, int rfd, int wfd, runvm_error_t *err);

/* Called once vm_run() has returned (vCPUs and event loop stopped), before
 * vm_destroy(): takes the packets still in the TX queue, then writes the
 * guest data buffered for host fds until all of it is written or its
 * readers are gone, waiting as long as a reader keeps taking data and at
 * most timeout_ms without progress. Returns 0, or -1 (errno ETIMEDOUT)
 * when it gave up with data left. Container output must not be lost. */
int virtio_vsock_drain (struct virtio_vsock *v, int timeout_ms);

/* Called by the VM teardown once the vCPUs and the event loop have stopped:
 * takes the packets still in the TX queue, flushes buffered guest data to
 * the host (bounded wait), closes everything. */
void virtio_vsock_release (void *v);

/* For unit tests: runs the device on a virtio_device built by hand (fake
 * guest memory, queues set up directly) and watches host fds through `ops`
 * instead of the VM's event loop (ops->rx_ready is ignored). Sets d->ops
 * and d->priv. Free with virtio_vsock_release(). */
int virtio_vsock_attach (struct virtio_device *d, uint64_t guest_cid, const char *uds_base,
                         const struct vsock_mux_ops *ops, void *ops_ctx, struct virtio_vsock **out,
                         runvm_error_t *err);

#endif
