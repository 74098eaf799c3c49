/* The connection multiplexer's state, shared by its two halves:
 * vsock-conn.c (the connection state machine) and vsock-port.c (port
 * overrides, setup, reset, drain and teardown). Not for other users. */
#ifndef RUNVM_VSOCK_CONN_INTERNAL_H
#define RUNVM_VSOCK_CONN_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "vsock-conn.h"

#define HASH_BUCKETS 256
/* Replies not tied to a live connection (RST to unknown ports). */
#define CTRL_QUEUE_LEN 128

enum conn_state
{
  CONN_CONNECTING,  /* nonblocking connect() in progress */
  CONN_ESTABLISHED, /* RESPONSE queued or sent */
  CONN_CLOSING,     /* host side closed, RST queued; freed once it is sent */
};

struct vsock_conn;
struct port_override; /* vsock-port.c */

/* One registered host fd. A unix socket is both rfd and wfd: one watch. */
struct fd_watch
{
  struct vsock_conn *c;
  int fd;
  bool registered;
  bool pollable; /* false for regular files: always ready, epoll refuses them */
  bool is_socket;
  uint32_t armed; /* events armed with EPOLLONESHOT, 0 once fired */
};

struct vsock_conn
{
  struct vsock_mux *m;
  struct vsock_conn *hash_next;
  struct vsock_conn *rx_prev, *rx_next;
  bool in_rxq;
  uint32_t host_port, guest_port;
  enum conn_state state;

  int rfd, wfd; /* -1: none (no data to the guest / discard guest data) */
  struct fd_watch rw, ww;
  bool shared_fd; /* rfd == wfd: only `rw` is registered */

  /* guest -> host */
  uint8_t *buf; /* ring of VSOCK_CONN_BUF_SIZE, allocated on first need */
  uint32_t buf_head, buf_len;
  uint32_t g2h_rcvd;     /* bytes received from the guest */
  uint32_t g2h_fwd;      /* of those, written to the host (our fwd_cnt) */
  uint32_t g2h_fwd_told; /* fwd_cnt last sent to the guest */
  bool wfd_shut;         /* host write side shut after the guest's SHUTDOWN(SEND) */
  bool host_wr_dead;     /* writing to the host failed: guest data is dropped */

  /* host -> guest */
  uint32_t h2g_sent; /* bytes sent to the guest */
  uint32_t peer_buf_alloc, peer_fwd_cnt;
  bool host_eof;

  bool peer_shut_send, peer_shut_rcv; /* the guest's SHUTDOWN flags */
  uint32_t shut_sent;                 /* SHUTDOWN flags we told the guest */

  /* packets owed to the guest, produced in this order */
  bool need_response, need_rst, need_credit_update, need_credit_request;
  uint32_t need_shut;
  bool want_data;        /* the host fd is (probably) readable */
  bool credit_requested; /* a CREDIT_REQUEST is outstanding */
};

struct ctrl_reply
{
  uint64_t src_cid;
  uint32_t src_port, dst_port;
};

struct vsock_mux
{
  uint64_t guest_cid;
  char *uds_base;
  const struct vsock_mux_ops *ops;
  void *ctx;

  struct vsock_conn *hash[HASH_BUCKETS];
  unsigned n_conns;
  struct vsock_conn *rx_head, *rx_tail;

  struct ctrl_reply ctrl[CTRL_QUEUE_LEN];
  unsigned ctrl_head, ctrl_len;

  pthread_mutex_t override_lock; /* set_port_fds may come from another thread */
  struct port_override *overrides;
};

/* vsock-conn.c */
/* Writes buffered guest data to the host (nonblocking). */
void vsock_conn_flush (struct vsock_conn *c);
/* Unlinks the connection, closes its host fds and frees it. */
void vsock_conn_destroy (struct vsock_conn *c);

/* vsock-port.c */
/* Takes the one-shot fds registered for `port`, if any. */
bool vsock_override_take (struct vsock_mux *m, uint32_t port, int *rfd, int *wfd);

#endif
