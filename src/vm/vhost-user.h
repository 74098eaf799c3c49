/* vhost-user frontend (QEMU docs/interop/vhost-user.rst): the control
 * channel to an out-of-process virtio backend such as virtiofsd. The
 * backend maps guest RAM from our memfd and serves the virtqueues itself;
 * we only tell it where the rings are and hand it the KVM kick/call fds.
 *
 * Every request is bounded by a timeout and every reply is checked: a
 * backend that dies or stops answering yields a clear error, never a hang.
 * After any failure the connection is marked broken and refuses further
 * requests (the byte stream can no longer be trusted to be in step). */
#ifndef RUNVM_VHOST_USER_H
#define RUNVM_VHOST_USER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "guest-mem.h"

/* Requests (front-end -> back-end) we use. */
enum vhost_user_request
{
  VHOST_USER_GET_FEATURES = 1,
  VHOST_USER_SET_FEATURES = 2,
  VHOST_USER_SET_OWNER = 3,
  VHOST_USER_SET_MEM_TABLE = 5,
  VHOST_USER_SET_VRING_NUM = 8,
  VHOST_USER_SET_VRING_ADDR = 9,
  VHOST_USER_SET_VRING_BASE = 10,
  VHOST_USER_GET_VRING_BASE = 11,
  VHOST_USER_SET_VRING_KICK = 12,
  VHOST_USER_SET_VRING_CALL = 13,
  VHOST_USER_GET_PROTOCOL_FEATURES = 15,
  VHOST_USER_SET_PROTOCOL_FEATURES = 16,
  VHOST_USER_GET_QUEUE_NUM = 17,
  VHOST_USER_SET_VRING_ENABLE = 18,
};

/* Feature bit (in GET/SET_FEATURES) that says protocol features exist. */
#define VHOST_USER_F_PROTOCOL_FEATURES 30

/* Protocol feature bits we know; we only ever ack what we implement. */
#define VHOST_USER_PROTOCOL_F_MQ 0
#define VHOST_USER_PROTOCOL_F_REPLY_ACK 3

/* Most memory regions one SET_MEM_TABLE may carry. */
#define VHOST_USER_MAX_MEM_REGIONS 8

/* Per request. Generous: the first request also waits for the backend to
 * start (virtiofsd sets up its sandbox first), which under an emulated KVM
 * host with other VMs booting has taken seconds. A backend that dies closes
 * the socket, which fails at once; only a wedged one waits this long. */
#define VHOST_USER_DEFAULT_TIMEOUT_MS 30000

struct vhost_user
{
  int fd;
  int timeout_ms;   /* per request, send through reply */
  bool broken;      /* an earlier request failed mid-stream */
  char name[64];    /* for messages: "virtiofsd for 'rootfs'" */
  uint64_t backend_features;  /* GET_FEATURES reply */
  uint64_t protocol_features; /* negotiated: offered & what we implement */
  pthread_mutex_t lock;       /* one request/reply exchange at a time */
};

/* Where one split virtqueue lives, in our (the front-end's) address space,
 * and the eventfds the backend uses for it. */
struct vhost_user_vring
{
  uint16_t size;
  void *desc, *avail, *used; /* host pointers into guest RAM */
  uint16_t base;             /* first avail index the backend processes */
  int kick_fd;               /* guest -> backend (KVM ioeventfd) */
  int call_fd;               /* backend -> guest (KVM irqfd) */
};

/* Takes ownership of fd (a connected AF_UNIX stream socket); made
 * non-blocking. timeout_ms <= 0 selects the default. */
void vhost_user_init (struct vhost_user *vu, int fd, const char *name, int timeout_ms);
void vhost_user_close (struct vhost_user *vu);

/* SET_OWNER, GET_FEATURES and, when offered, protocol-feature negotiation
 * (we ack REPLY_ACK only, which makes every later setter acknowledged). */
int vhost_user_handshake (struct vhost_user *vu, runvm_error_t *err);
/* GET_QUEUE_NUM: only valid when PROTOCOL_F_MQ was offered. */
int vhost_user_get_queue_num (struct vhost_user *vu, uint64_t *num, runvm_error_t *err);
/* SET_FEATURES: the virtio features the driver accepted (masked to what the
 * backend offered); VHOST_USER_F_PROTOCOL_FEATURES is added when negotiated. */
int vhost_user_set_features (struct vhost_user *vu, uint64_t virtio_features, runvm_error_t *err);
/* SET_MEM_TABLE: one region per guest RAM region, each with the memfd and
 * its offset in it; userspace_addr is our mapping, so ring addresses can be
 * given as host pointers. */
int vhost_user_set_mem_table (struct vhost_user *vu, const struct guest_mem *mem, runvm_error_t *err);
/* SET_VRING_NUM, _BASE, _ADDR, _CALL, _KICK, then _ENABLE 1 when protocol
 * features were negotiated (rings start disabled then). */
int vhost_user_vring_start (struct vhost_user *vu, unsigned index, const struct vhost_user_vring *vring,
                            runvm_error_t *err);
/* SET_VRING_ENABLE 0 (when negotiated) and GET_VRING_BASE, which stops the
 * ring in the backend. *base (may be NULL) gets the next avail index. */
int vhost_user_vring_stop (struct vhost_user *vu, unsigned index, uint16_t *base, runvm_error_t *err);
/* A round trip (GET_FEATURES) proving the backend processed everything sent
 * so far: the only way to confirm setters when REPLY_ACK is missing. */
int vhost_user_sync (struct vhost_user *vu, runvm_error_t *err);

const char *vhost_user_request_name (uint32_t request);

#endif
