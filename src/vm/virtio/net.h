/* virtio-net (virtio 1.2, 5.1) on a tap device: one RX/TX queue pair, no
 * control queue. Offered: MAC, STATUS (link always up), MRG_RXBUF, and the
 * checksum/TSO offloads (CSUM, GUEST_CSUM, GUEST_TSO4/6, HOST_TSO4/6); the
 * tap is told (TUNSETOFFLOAD) exactly what the driver accepted. Runs on the
 * event loop thread. */
#ifndef RUNVM_VIRTIO_NET_H
#define RUNVM_VIRTIO_NET_H

#include <stdbool.h>
#include <stdint.h>

#include "error.h"

struct vm;
struct virtio_device;
struct virtio_net;

#define VIRTIO_NET_QUEUE_SIZE 256
#define VIRTIO_NET_HDR_SIZE 12 /* virtio_net_hdr_v1: VERSION_1 always has num_buffers */
/* The largest frame with GSO (64 KiB IP packet + Ethernet header), as the
 * spec sizes receive buffers (5.1.6.3.1). */
#define VIRTIO_NET_MAX_GSO_FRAME 65550

struct virtio_net_stats
{
  uint64_t rx_packets, rx_dropped, tx_packets, tx_dropped;
};

/* Opens (or creates) the tap `tap_name` and creates the device with `mac`
 * (all zeroes: a random locally administered address). */
int virtio_net_create (struct vm *vm, const char *tap_name, const uint8_t mac[6], runvm_error_t *err);

/* For unit tests: runs the device on a virtio_device built by hand, over
 * any packet fd (a SOCK_SEQPACKET socketpair stands in for the tap: one
 * read or write per frame, vnet header first). No event loop: the test
 * calls virtio_net_poll_rx() when `fd` is readable. The device takes fd.
 * Free with virtio_net_release(). */
int virtio_net_attach (struct virtio_device *d, int fd, const uint8_t mac[6], struct virtio_net **out,
                       runvm_error_t *err);
void virtio_net_poll_rx (struct virtio_net *n);
/* Whether the device is watching the tap for frames (false while the guest
 * has given no receive buffers). */
bool virtio_net_rx_polling (const struct virtio_net *n);
void virtio_net_get_stats (const struct virtio_net *n, struct virtio_net_stats *out);
void virtio_net_release (void *net);

#endif
