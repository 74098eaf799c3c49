/* The connection multiplexer behind the virtio-vsock device: maps guest
 * stream connections onto host fds (a unix socket "<base>_PORT" or fds
 * registered for one port), with virtio-vsock credit flow control both ways.
 * It knows nothing of virtqueues: the device feeds it the packets the guest
 * sent and asks it for packets to put in the guest's RX buffers, so the
 * whole state machine is unit-testable without guest memory. */
#ifndef RUNVM_VSOCK_CONN_H
#define RUNVM_VSOCK_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "error.h"
#include "../loop.h"

#define VSOCK_HDR_SIZE 44
#define VSOCK_HOST_CID 2
/* Largest payload we accept from the guest or send to it in one packet
 * (Linux uses 64 KiB as VIRTIO_VSOCK_MAX_PKT_BUF_SIZE). */
#define VSOCK_MAX_PAYLOAD (64 * 1024)
#define VSOCK_MAX_CONNS 1024
/* Guest->host bytes we hold per connection; advertised as our buf_alloc. */
#define VSOCK_CONN_BUF_SIZE (256 * 1024)

/* virtio 1.2, 5.10.6: struct virtio_vsock_hdr, decoded to host order. */
struct vsock_hdr
{
  uint64_t src_cid, dst_cid;
  uint32_t src_port, dst_port;
  uint32_t len;
  uint16_t type, op;
  uint32_t flags;
  uint32_t buf_alloc, fwd_cnt;
};

void vsock_hdr_decode (struct vsock_hdr *h, const uint8_t raw[VSOCK_HDR_SIZE]);
void vsock_hdr_encode (const struct vsock_hdr *h, uint8_t raw[VSOCK_HDR_SIZE]);

/* Fills dst with the part of src that starts `skip` bytes in and is at most
 * `max` bytes long. Returns the number of iovecs written (<= dst_max). */
unsigned vsock_iov_slice (const struct iovec *src, unsigned n, size_t skip, size_t max, struct iovec *dst,
                          unsigned dst_max);

/* How the mux watches host fds (the device maps this onto loop.h; tests
 * onto their own epoll). Registrations use EPOLLONESHOT: the mux re-arms. */
struct vsock_mux_ops
{
  /* Returns < 0 with errno set on failure. */
  int (*watch_add) (void *ctx, int fd, uint32_t events, event_cb cb, void *opaque);
  int (*watch_modify) (void *ctx, int fd, uint32_t events);
  void (*watch_remove) (void *ctx, int fd);
  /* Packets for the guest became pending while handling a host fd event. */
  void (*rx_ready) (void *ctx);
};

struct vsock_mux;

int vsock_mux_new (uint64_t guest_cid, const char *uds_base, const struct vsock_mux_ops *ops, void *ctx,
                   struct vsock_mux **out, runvm_error_t *err);
/* Flushes what can be flushed to the host within a short deadline, closes
 * every fd (connections and unused port overrides) and frees the mux. Does
 * not unregister fds: the event loop may already be gone. */
void vsock_mux_free (struct vsock_mux *m);
/* Once the guest has stopped for good: writes the guest data still held
 * here to the host fds until all of it is written or its readers are gone,
 * or until no reader has taken anything for timeout_ms (< 0: no limit).
 * Blocks in poll(); the event loop must not be running. Returns 0, or -1
 * with errno ETIMEDOUT when it gave up with data left. */
int vsock_mux_drain (struct vsock_mux *m, int timeout_ms);
/* Device reset: drops every connection without telling the guest. */
void vsock_mux_reset (struct vsock_mux *m);
/* See virtio_vsock_set_port_fds(). Thread-safe. */
int vsock_mux_set_port_fds (struct vsock_mux *m, uint32_t port, int rfd, int wfd, runvm_error_t *err);

/* A packet from the guest's TX queue. `payload` holds the bytes after the
 * header; `avail` is how many there are (the chain's size), which the mux
 * checks against h->len. */
void vsock_mux_handle_tx (struct vsock_mux *m, const struct vsock_hdr *h, const struct iovec *payload,
                          unsigned n_payload, size_t avail);
/* Whether packets for the guest are pending. */
bool vsock_mux_has_rx (const struct vsock_mux *m);
/* Produces one packet for the guest: the header in *h (h->len = payload
 * bytes written into iov, at most cap). Returns true when a packet was
 * produced, false when nothing can be sent now. */
bool vsock_mux_fill_rx (struct vsock_mux *m, struct vsock_hdr *h, const struct iovec *iov, unsigned n_iov, size_t cap);
/* True while so many replies are queued that the device should stop taking
 * TX packets until the guest gives RX buffers. */
bool vsock_mux_tx_blocked (const struct vsock_mux *m);

/* Forgets the RSTs queued for unknown ports (the guest is gone for good). */
void vsock_mux_drop_ctrl_replies (struct vsock_mux *m);

/* Introspection for tests and debugging. */
unsigned vsock_mux_conn_count (const struct vsock_mux *m);

#endif
