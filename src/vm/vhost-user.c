/* vhost-user front-end: message framing over the AF_UNIX control socket,
 * fds passed with SCM_RIGHTS, every exchange bounded by a deadline. The
 * backend is another process we do not trust to stay alive or in step. */
#include <config.h>
#include "vhost-user.h"
#include "utils.h"

#include <fcntl.h>
#include <poll.h>
#include <stddef.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <linux/virtio_config.h>

#define VHOST_USER_VERSION 0x1u
#define VHOST_USER_VERSION_MASK 0x3u
#define VHOST_USER_REPLY_MASK (1u << 2)
#define VHOST_USER_NEED_REPLY_MASK (1u << 3)
#define VHOST_USER_VRING_IDX_MASK 0xffu

struct vhost_user_header
{
  uint32_t request;
  uint32_t flags;
  uint32_t size; /* payload bytes that follow */
};

struct vhost_user_vring_state
{
  uint32_t index;
  uint32_t num;
};

struct vhost_user_vring_addr
{
  uint32_t index;
  uint32_t flags;
  uint64_t desc_user_addr;
  uint64_t used_user_addr;
  uint64_t avail_user_addr;
  uint64_t log_guest_addr;
};

struct vhost_user_memory_region
{
  uint64_t guest_phys_addr;
  uint64_t memory_size;
  uint64_t userspace_addr;
  uint64_t mmap_offset;
};

struct vhost_user_memory
{
  uint32_t nregions;
  uint32_t padding;
  struct vhost_user_memory_region regions[VHOST_USER_MAX_MEM_REGIONS];
};

union vhost_user_payload
{
  uint64_t u64;
  struct vhost_user_vring_state state;
  struct vhost_user_vring_addr addr;
  struct vhost_user_memory memory;
};

_Static_assert (sizeof (struct vhost_user_header) == 12, "vhost-user header is 12 bytes");
_Static_assert (sizeof (struct vhost_user_vring_addr) == 40, "vring address payload is 40 bytes");
_Static_assert (sizeof (struct vhost_user_memory_region) == 32, "memory region is 32 bytes");

const char *
vhost_user_request_name (uint32_t request)
{
  switch (request)
    {
    case VHOST_USER_GET_FEATURES:
      return "GET_FEATURES";
    case VHOST_USER_SET_FEATURES:
      return "SET_FEATURES";
    case VHOST_USER_SET_OWNER:
      return "SET_OWNER";
    case VHOST_USER_SET_MEM_TABLE:
      return "SET_MEM_TABLE";
    case VHOST_USER_SET_VRING_NUM:
      return "SET_VRING_NUM";
    case VHOST_USER_SET_VRING_ADDR:
      return "SET_VRING_ADDR";
    case VHOST_USER_SET_VRING_BASE:
      return "SET_VRING_BASE";
    case VHOST_USER_GET_VRING_BASE:
      return "GET_VRING_BASE";
    case VHOST_USER_SET_VRING_KICK:
      return "SET_VRING_KICK";
    case VHOST_USER_SET_VRING_CALL:
      return "SET_VRING_CALL";
    case VHOST_USER_GET_PROTOCOL_FEATURES:
      return "GET_PROTOCOL_FEATURES";
    case VHOST_USER_SET_PROTOCOL_FEATURES:
      return "SET_PROTOCOL_FEATURES";
    case VHOST_USER_GET_QUEUE_NUM:
      return "GET_QUEUE_NUM";
    case VHOST_USER_SET_VRING_ENABLE:
      return "SET_VRING_ENABLE";
    default:
      return "UNKNOWN";
    }
}


/* Waits until fd is ready for `events` or the deadline passes.
 * Returns 1 when ready (or in error/hangup: the next I/O call reports it),
 * 0 on timeout, -1 with errno on poll failure. */
static int
wait_ready (int fd, short events, int64_t deadline)
{
  for (;;)
    {
      struct pollfd p = { .fd = fd, .events = events };
      int64_t left = deadline - monotonic_ms ();
      int r;

      if (left <= 0)
        return 0;
      r = poll (&p, 1, left > 60000 ? 60000 : (int) left);
      if (r > 0)
        return 1;
      if (r < 0 && errno != EINTR)
        return -1;
    }
}

static int
fail (struct vhost_user *vu, runvm_error_t *err, int errno_, uint32_t request, const char *what)
{
  vu->broken = true;
  return runvm_make_error (err, errno_, "%s: %s: %s", vu->name, vhost_user_request_name (request), what);
}

static int
send_message (struct vhost_user *vu, uint32_t request, const void *buf, size_t len, const int *fds, unsigned n_fds,
              int64_t deadline, runvm_error_t *err)
{
  size_t done = 0;

  while (done < len)
    {
      char control[CMSG_SPACE (VHOST_USER_MAX_MEM_REGIONS * sizeof (int))];
      struct iovec iov = { .iov_base = (char *) buf + done, .iov_len = len - done };
      struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
      ssize_t n;
      int r;

      /* The fds travel with the first byte; never resend them. */
      if (done == 0 && n_fds > 0)
        {
          struct cmsghdr *c;

          memset (control, 0, sizeof control);
          msg.msg_control = control;
          msg.msg_controllen = CMSG_SPACE (n_fds * sizeof (int));
          c = CMSG_FIRSTHDR (&msg);
          c->cmsg_level = SOL_SOCKET;
          c->cmsg_type = SCM_RIGHTS;
          c->cmsg_len = CMSG_LEN (n_fds * sizeof (int));
          memcpy (CMSG_DATA (c), fds, n_fds * sizeof (int));
        }
      /* MSG_NOSIGNAL: a dead backend must give EPIPE, not kill the monitor. */
      n = sendmsg (vu->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0)
        {
          done += (size_t) n;
          continue;
        }
      if (n == 0)
        return fail (vu, err, EPIPE, request, "send made no progress");
      if (errno == EINTR)
        continue;
      if (errno != EAGAIN)
        return fail (vu, err, errno,
                     request, errno == EPIPE || errno == ECONNRESET ? "the backend closed the connection" : "send");
      r = wait_ready (vu->fd, POLLOUT, deadline);
      if (r == 0)
        return fail (vu, err, ETIMEDOUT, request, "the backend is not reading its socket");
      if (r < 0)
        return fail (vu, err, errno, request, "poll");
    }
  return 0;
}

static int
recv_exact (struct vhost_user *vu, uint32_t request, void *buf, size_t len, int64_t deadline, runvm_error_t *err)
{
  size_t done = 0;

  while (done < len)
    {
      char control[CMSG_SPACE (VHOST_USER_MAX_MEM_REGIONS * sizeof (int))];
      struct iovec iov = { .iov_base = (char *) buf + done, .iov_len = len - done };
      struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control,
                            .msg_controllen = sizeof control };
      struct cmsghdr *c;
      ssize_t n;
      int r;

      n = recvmsg (vu->fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
      if (n >= 0)
        {
          /* None of our requests is answered with fds: drop any we got. */
          for (c = CMSG_FIRSTHDR (&msg); c != NULL; c = CMSG_NXTHDR (&msg, c))
            if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
              {
                size_t i, n_fds = (c->cmsg_len - CMSG_LEN (0)) / sizeof (int);
                for (i = 0; i < n_fds; i++)
                  {
                    int fd;
                    memcpy (&fd, CMSG_DATA (c) + i * sizeof (int), sizeof fd);
                    close (fd);
                  }
              }
        }
      if (n > 0)
        {
          done += (size_t) n;
          continue;
        }
      if (n == 0)
        return fail (vu, err, 0, request, "the backend closed the connection");
      if (errno == EINTR)
        continue;
      if (errno != EAGAIN)
        return fail (vu, err, errno, request,
                     errno == ECONNRESET ? "the backend closed the connection" : "receive");
      r = wait_ready (vu->fd, POLLIN, deadline);
      if (r == 0)
        {
          char what[64];
          snprintf (what, sizeof what, "no reply within %d ms", vu->timeout_ms);
          return fail (vu, err, ETIMEDOUT, request, what);
        }
      if (r < 0)
        return fail (vu, err, errno, request, "poll");
    }
  return 0;
}

/* One request and, when `reply` is given or `ack` is set, its reply.
 * reply_size is the exact payload size the reply must have. */
static int
exchange (struct vhost_user *vu, uint32_t request, const void *payload, uint32_t size, const int *fds,
          unsigned n_fds, bool ack, void *reply, uint32_t reply_size, runvm_error_t *err)
{
  struct
  {
    struct vhost_user_header h;
    union vhost_user_payload p;
  } __attribute__ ((packed)) msg;
  struct vhost_user_header rh;
  union vhost_user_payload rp;
  int64_t deadline;
  int ret = -1;

  if (size > sizeof msg.p || n_fds > VHOST_USER_MAX_MEM_REGIONS)
    return runvm_make_error (err, EINVAL, "%s: %s: message too large", vu->name, vhost_user_request_name (request));

  pthread_mutex_lock (&vu->lock);
  if (vu->fd < 0 || vu->broken)
    {
      runvm_make_error (err, EPIPE, "%s: %s: the connection is unusable after an earlier failure", vu->name,
                        vhost_user_request_name (request));
      goto out;
    }

  memset (&msg, 0, sizeof msg);
  msg.h.request = request;
  msg.h.flags = VHOST_USER_VERSION | (ack ? VHOST_USER_NEED_REPLY_MASK : 0);
  msg.h.size = size;
  if (size)
    memcpy (&msg.p, payload, size);

  deadline = monotonic_ms () + vu->timeout_ms;
  if (send_message (vu, request, &msg, sizeof msg.h + size, fds, n_fds, deadline, err) < 0)
    goto out;
  if (reply == NULL && !ack)
    {
      ret = 0;
      goto out;
    }

  if (recv_exact (vu, request, &rh, sizeof rh, deadline, err) < 0)
    goto out;
  if (rh.request != request || !(rh.flags & VHOST_USER_REPLY_MASK)
      || (rh.flags & VHOST_USER_VERSION_MASK) != VHOST_USER_VERSION || rh.size > sizeof rp)
    {
      char what[128];
      snprintf (what, sizeof what, "malformed reply (request %u, flags 0x%x, size %u)", rh.request, rh.flags,
                rh.size);
      fail (vu, err, EPROTO, request, what);
      goto out;
    }
  if (rh.size && recv_exact (vu, request, &rp, rh.size, deadline, err) < 0)
    goto out;

  if (reply == NULL)
    {
      /* REPLY_ACK: a u64, zero for success. The stream is still in step when
       * the backend refuses, so the connection stays usable. */
      if (rh.size != sizeof (uint64_t))
        {
          fail (vu, err, EPROTO, request, "malformed acknowledgement");
          goto out;
        }
      if (rp.u64 != 0)
        {
          runvm_make_error (err, EIO, "%s: %s: refused by the backend (status %llu)", vu->name,
                            vhost_user_request_name (request), (unsigned long long) rp.u64);
          goto out;
        }
      ret = 0;
      goto out;
    }
  if (rh.size != reply_size)
    {
      char what[96];
      snprintf (what, sizeof what, "reply has %u bytes, expected %u", rh.size, reply_size);
      fail (vu, err, EPROTO, request, what);
      goto out;
    }
  memcpy (reply, &rp, reply_size);
  ret = 0;
out:
  pthread_mutex_unlock (&vu->lock);
  return ret;
}

static bool
has_protocol_feature (const struct vhost_user *vu, unsigned bit)
{
  return (vu->protocol_features >> bit) & 1;
}

static bool
protocol_features_negotiated (const struct vhost_user *vu)
{
  return (vu->backend_features >> VHOST_USER_F_PROTOCOL_FEATURES) & 1;
}

/* A setter: acknowledged with REPLY_ACK when negotiated. */
static int
set_request (struct vhost_user *vu, uint32_t request, const void *payload, uint32_t size, const int *fds,
             unsigned n_fds, runvm_error_t *err)
{
  return exchange (vu, request, payload, size, fds, n_fds, has_protocol_feature (vu, VHOST_USER_PROTOCOL_F_REPLY_ACK),
                   NULL, 0, err);
}

static int
get_u64 (struct vhost_user *vu, uint32_t request, uint64_t *out, runvm_error_t *err)
{
  return exchange (vu, request, NULL, 0, NULL, 0, false, out, sizeof *out, err);
}

/* Without REPLY_ACK, a round trip is the only proof that the setters sent
 * before it were accepted (a backend that dislikes one usually hangs up). */
static int
confirm (struct vhost_user *vu, runvm_error_t *err)
{
  if (has_protocol_feature (vu, VHOST_USER_PROTOCOL_F_REPLY_ACK))
    return 0;
  return vhost_user_sync (vu, err);
}

void
vhost_user_init (struct vhost_user *vu, int fd, const char *name, int timeout_ms)
{
  int fl;

  memset (vu, 0, sizeof *vu);
  vu->fd = fd;
  vu->timeout_ms = timeout_ms > 0 ? timeout_ms : VHOST_USER_DEFAULT_TIMEOUT_MS;
  snprintf (vu->name, sizeof vu->name, "%s", name ? name : "vhost-user backend");
  pthread_mutex_init (&vu->lock, NULL);
  fl = fcntl (fd, F_GETFL);
  if (fl >= 0)
    fcntl (fd, F_SETFL, fl | O_NONBLOCK);
  fcntl (fd, F_SETFD, FD_CLOEXEC);
}

void
vhost_user_close (struct vhost_user *vu)
{
  if (vu->fd >= 0)
    close (vu->fd);
  vu->fd = -1;
  vu->broken = true;
  pthread_mutex_destroy (&vu->lock);
}

int
vhost_user_handshake (struct vhost_user *vu, runvm_error_t *err)
{
  uint64_t offered = 0, wanted;

  if (exchange (vu, VHOST_USER_SET_OWNER, NULL, 0, NULL, 0, false, NULL, 0, err) < 0)
    return -1;
  if (get_u64 (vu, VHOST_USER_GET_FEATURES, &vu->backend_features, err) < 0)
    return -1;
  if (!protocol_features_negotiated (vu))
    return 0;
  if (get_u64 (vu, VHOST_USER_GET_PROTOCOL_FEATURES, &offered, err) < 0)
    return -1;
  wanted = offered & ((1ULL << VHOST_USER_PROTOCOL_F_REPLY_ACK) | (1ULL << VHOST_USER_PROTOCOL_F_MQ));
  /* REPLY_ACK takes effect after this message, so it is not acked itself. */
  if (exchange (vu, VHOST_USER_SET_PROTOCOL_FEATURES, &wanted, sizeof wanted, NULL, 0, false, NULL, 0, err) < 0)
    return -1;
  vu->protocol_features = wanted;
  return 0;
}

int
vhost_user_get_queue_num (struct vhost_user *vu, uint64_t *num, runvm_error_t *err)
{
  if (!has_protocol_feature (vu, VHOST_USER_PROTOCOL_F_MQ))
    return runvm_make_error (err, ENOTSUP, "%s: GET_QUEUE_NUM: the backend does not offer PROTOCOL_F_MQ", vu->name);
  return get_u64 (vu, VHOST_USER_GET_QUEUE_NUM, num, err);
}

int
vhost_user_set_features (struct vhost_user *vu, uint64_t virtio_features, runvm_error_t *err)
{
  uint64_t f = virtio_features & vu->backend_features & ~(1ULL << VHOST_USER_F_PROTOCOL_FEATURES);

  if (protocol_features_negotiated (vu))
    f |= 1ULL << VHOST_USER_F_PROTOCOL_FEATURES;
  if (set_request (vu, VHOST_USER_SET_FEATURES, &f, sizeof f, NULL, 0, err) < 0)
    return -1;
  return confirm (vu, err);
}

int
vhost_user_set_mem_table (struct vhost_user *vu, const struct guest_mem *mem, runvm_error_t *err)
{
  struct vhost_user_memory m;
  int fds[VHOST_USER_MAX_MEM_REGIONS];
  unsigned i;

  if (mem->memfd < 0)
    return runvm_make_error (err, EINVAL, "%s: SET_MEM_TABLE: guest RAM is not backed by a memfd", vu->name);
  if (mem->n_regions == 0 || mem->n_regions > VHOST_USER_MAX_MEM_REGIONS)
    return runvm_make_error (err, EINVAL, "%s: SET_MEM_TABLE: %u memory regions", vu->name, mem->n_regions);
  memset (&m, 0, sizeof m);
  m.nregions = mem->n_regions;
  for (i = 0; i < mem->n_regions; i++)
    {
      const struct guest_mem_region *r = &mem->regions[i];

      m.regions[i].guest_phys_addr = r->gpa;
      m.regions[i].memory_size = r->size;
      m.regions[i].userspace_addr = (uint64_t) (uintptr_t) r->host;
      m.regions[i].mmap_offset = r->memfd_offset;
      /* The backend consumes (and closes) one fd per region. */
      fds[i] = mem->memfd;
    }
  if (set_request (vu, VHOST_USER_SET_MEM_TABLE, &m,
                   (uint32_t) (offsetof (struct vhost_user_memory, regions)
                               + mem->n_regions * sizeof (struct vhost_user_memory_region)),
                   fds, mem->n_regions, err)
      < 0)
    return -1;
  return confirm (vu, err);
}

static int
vring_state (struct vhost_user *vu, uint32_t request, unsigned index, uint32_t num, runvm_error_t *err)
{
  struct vhost_user_vring_state s = { .index = index, .num = num };
  return set_request (vu, request, &s, sizeof s, NULL, 0, err);
}

static int
vring_fd (struct vhost_user *vu, uint32_t request, unsigned index, int fd, runvm_error_t *err)
{
  uint64_t v = index & VHOST_USER_VRING_IDX_MASK;
  return set_request (vu, request, &v, sizeof v, &fd, 1, err);
}

int
vhost_user_vring_start (struct vhost_user *vu, unsigned index, const struct vhost_user_vring *vring,
                        runvm_error_t *err)
{
  struct vhost_user_vring_addr addr = { 0 };

  if (index > VHOST_USER_VRING_IDX_MASK || vring->size == 0 || vring->desc == NULL || vring->avail == NULL
      || vring->used == NULL || vring->kick_fd < 0 || vring->call_fd < 0)
    return runvm_make_error (err, EINVAL, "%s: vring %u: invalid ring description", vu->name, index);

  addr.index = index;
  addr.desc_user_addr = (uint64_t) (uintptr_t) vring->desc;
  addr.avail_user_addr = (uint64_t) (uintptr_t) vring->avail;
  addr.used_user_addr = (uint64_t) (uintptr_t) vring->used;

  /* QEMU's order: size and base before the addresses (the backend reads the
   * used index when it gets them); call before kick, because the kick fd
   * starts the ring and a started ring may want to signal at once. */
  if (vring_state (vu, VHOST_USER_SET_VRING_NUM, index, vring->size, err) < 0
      || vring_state (vu, VHOST_USER_SET_VRING_BASE, index, vring->base, err) < 0
      || set_request (vu, VHOST_USER_SET_VRING_ADDR, &addr, sizeof addr, NULL, 0, err) < 0
      || vring_fd (vu, VHOST_USER_SET_VRING_CALL, index, vring->call_fd, err) < 0
      || vring_fd (vu, VHOST_USER_SET_VRING_KICK, index, vring->kick_fd, err) < 0)
    return -1;
  /* With protocol features negotiated rings start disabled. */
  if (protocol_features_negotiated (vu) && vring_state (vu, VHOST_USER_SET_VRING_ENABLE, index, 1, err) < 0)
    return -1;
  return confirm (vu, err);
}

int
vhost_user_vring_stop (struct vhost_user *vu, unsigned index, uint16_t *base, runvm_error_t *err)
{
  struct vhost_user_vring_state s = { .index = index, .num = 0 }, r = { 0 };

  if (protocol_features_negotiated (vu) && vring_state (vu, VHOST_USER_SET_VRING_ENABLE, index, 0, err) < 0)
    return -1;
  if (exchange (vu, VHOST_USER_GET_VRING_BASE, &s, sizeof s, NULL, 0, false, &r, sizeof r, err) < 0)
    return -1;
  if (r.index != index)
    return fail (vu, err, EPROTO, VHOST_USER_GET_VRING_BASE, "reply is for another ring");
  if (base)
    *base = (uint16_t) r.num;
  return 0;
}

int
vhost_user_sync (struct vhost_user *vu, runvm_error_t *err)
{
  uint64_t f;
  return get_u64 (vu, VHOST_USER_GET_FEATURES, &f, err);
}
