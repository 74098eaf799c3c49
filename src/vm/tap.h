/* Host side of virtio-net: a tap device opened with a virtio-net header
 * (IFF_VNET_HDR, 12 bytes: struct virtio_net_hdr_v1 / mrg_rxbuf layout),
 * so the guest's checksum and segmentation offloads pass through as is. */
#ifndef RUNVM_TAP_H
#define RUNVM_TAP_H

#include <stdbool.h>

#include "error.h"

#define TAP_VNET_HDR_SIZE 12

/* Attaches to the tap `name` in the current network namespace, creating it
 * (not persistent: it goes away with the fd) when it does not exist, and
 * brings the link up. The fd is nonblocking and close-on-exec; the tap
 * starts with no offloads (tap_set_offload). */
int tap_open (const char *name, int *fd_out, runvm_error_t *err);
/* TUNSETOFFLOAD: which offloads the reader (the guest) accepts: TUN_F_*. */
int tap_set_offload (int fd, unsigned flags, runvm_error_t *err);
/* The link's MTU, or -1 (not a network device, e.g. in unit tests). */
int tap_get_mtu (int fd);

#endif
