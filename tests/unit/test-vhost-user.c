/* vhost-user front-end and virtiofsd supervision against the real
 * virtiofsd: handshake, memory table over two RAM regions, FUSE requests
 * driven through vrings built by hand, read-only shares, timeouts, unclean
 * deaths, reaping, and death together with a SIGKILLed parent. */
#include <config.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <linux/fuse.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#include "utils.h"
#include "vm/guest-mem.h"
#include "vm/vhost-user.h"
#include "vm/virtiofsd.h"
#include "tap.h"
#include "vm/capped-log.h"

#define QSIZE 16
#define REPLY_CAP 0x4000

static char tmp[64];
static char share[128], state[128];

struct test_vq
{
  unsigned index;
  uint64_t base_gpa;
  struct vring_desc *desc;
  struct vring_avail *avail;
  struct vring_used *used;
  uint8_t *req, *reply;
  uint64_t req_gpa, reply_gpa;
  uint16_t avail_idx, used_seen;
  int kick, call;
};

static int64_t
now_ms (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
write_script (const char *name, const char *body, char *path, size_t len)
{
  FILE *f;

  snprintf (path, len, "%s/%s", tmp, name);
  f = fopen (path, "w");
  if (f == NULL)
    abort ();
  fputs (body, f);
  fclose (f);
  chmod (path, 0755);
}

/* Lays out queue `index` at base_gpa: desc, avail, used, request, reply. */
static bool
vq_init (struct test_vq *t, struct guest_mem *mem, unsigned index, uint64_t base_gpa)
{
  memset (t, 0, sizeof *t);
  t->index = index;
  t->base_gpa = base_gpa;
  t->desc = guest_mem_slice (mem, base_gpa, 16 * QSIZE);
  t->avail = guest_mem_slice (mem, base_gpa + 0x1000, 6 + 2 * QSIZE);
  t->used = guest_mem_slice (mem, base_gpa + 0x2000, 6 + 8 * QSIZE);
  t->req_gpa = base_gpa + 0x4000;
  t->reply_gpa = base_gpa + 0x8000;
  t->req = guest_mem_slice (mem, t->req_gpa, 0x4000);
  t->reply = guest_mem_slice (mem, t->reply_gpa, REPLY_CAP);
  if (t->desc == NULL || t->avail == NULL || t->used == NULL || t->req == NULL || t->reply == NULL)
    return false;
  /* Earlier sessions may have used the same memory. */
  memset (t->desc, 0, 0x3000);
  t->kick = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
  t->call = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
  return t->kick >= 0 && t->call >= 0;
}

static void
vq_close (struct test_vq *t)
{
  close (t->kick);
  close (t->call);
}

static int
vq_start (struct vhost_user *vu, struct test_vq *t, runvm_error_t *err)
{
  struct vhost_user_vring r = { .size = QSIZE, .desc = t->desc, .avail = t->avail, .used = t->used,
                                .base = 0, .kick_fd = t->kick, .call_fd = t->call };
  return vhost_user_vring_start (vu, t->index, &r, err);
}

/* Sends one FUSE request as a two-descriptor chain, kicks, waits for the
 * used ring. Returns the reply length, -1 on timeout. */
static int
fuse_call (struct test_vq *t, const void *req, size_t req_len, void *reply, size_t reply_cap)
{
  uint64_t v = 1;
  int64_t deadline = now_ms () + 5000;
  uint16_t used_idx;
  struct vring_used_elem e;

  memcpy (t->req, req, req_len);
  memset (t->reply, 0xa5, REPLY_CAP);
  t->desc[0] = (struct vring_desc){ .addr = t->req_gpa, .len = (uint32_t) req_len, .flags = VRING_DESC_F_NEXT,
                                    .next = 1 };
  t->desc[1] = (struct vring_desc){ .addr = t->reply_gpa, .len = REPLY_CAP, .flags = VRING_DESC_F_WRITE };
  t->avail->ring[t->avail_idx % QSIZE] = 0;
  t->avail_idx++;
  __atomic_store_n (&t->avail->idx, t->avail_idx, __ATOMIC_RELEASE);
  if (write (t->kick, &v, sizeof v) != sizeof v)
    return -1;

  for (;;)
    {
      struct pollfd p = { .fd = t->call, .events = POLLIN };
      used_idx = __atomic_load_n (&t->used->idx, __ATOMIC_ACQUIRE);
      if (used_idx != t->used_seen)
        break;
      if (now_ms () > deadline)
        return -1;
      if (poll (&p, 1, 100) > 0 && read (t->call, &v, sizeof v) < 0)
        {
        }
    }
  e = t->used->ring[t->used_seen % QSIZE];
  t->used_seen++;
  if (e.id != 0 || e.len > REPLY_CAP)
    return -1;
  memcpy (reply, t->reply, e.len < reply_cap ? e.len : reply_cap);
  return (int) e.len;
}

static void
fuse_header (struct fuse_in_header *h, uint32_t len, uint32_t opcode, uint64_t unique, uint64_t nodeid)
{
  memset (h, 0, sizeof *h);
  h->len = len;
  h->opcode = opcode;
  h->unique = unique;
  h->nodeid = nodeid;
}

static bool
fuse_init (struct test_vq *t, uint64_t unique)
{
  struct
  {
    struct fuse_in_header h;
    struct fuse_init_in i;
  } req;
  struct
  {
    struct fuse_out_header h;
    struct fuse_init_out o;
  } rep;
  int n;

  memset (&req, 0, sizeof req);
  fuse_header (&req.h, sizeof req, FUSE_INIT, unique, 0);
  req.i.major = FUSE_KERNEL_VERSION;
  req.i.minor = FUSE_KERNEL_MINOR_VERSION;
  req.i.max_readahead = 0x20000;
  memset (&rep, 0, sizeof rep);
  n = fuse_call (t, &req, sizeof req, &rep, sizeof rep);
  TAP_OK (n >= (int) sizeof (struct fuse_out_header), "FUSE_INIT answered through the used ring (%d bytes)", n);
  TAP_OK (n >= 0 && rep.h.unique == unique && rep.h.error == 0 && rep.h.len == (uint32_t) n,
          "FUSE_INIT reply: unique %llu, error %d, len %u", (unsigned long long) rep.h.unique, rep.h.error, rep.h.len);
  TAP_OK (rep.o.major == FUSE_KERNEL_VERSION && rep.o.minor > 0, "FUSE_INIT negotiated protocol %u.%u", rep.o.major,
          rep.o.minor);
  return n > 0 && rep.h.error == 0;
}

/* A name-carrying request (LOOKUP, MKDIR): header, optional body, name. */
static int
fuse_named (struct test_vq *t, uint32_t opcode, uint64_t unique, const void *body, size_t body_len, const char *name,
            void *reply, size_t reply_cap)
{
  uint8_t buf[512];
  struct fuse_in_header h;
  size_t len = sizeof h + body_len + strlen (name) + 1;

  fuse_header (&h, (uint32_t) len, opcode, unique, FUSE_ROOT_ID);
  memcpy (buf, &h, sizeof h);
  memcpy (buf + sizeof h, body, body_len);
  memcpy (buf + sizeof h + body_len, name, strlen (name) + 1);
  return fuse_call (t, buf, len, reply, reply_cap);
}

static int
mkdir_request (struct test_vq *t, uint64_t unique, const char *name)
{
  struct fuse_mkdir_in in = { .mode = 0755, .umask = 022 };
  struct
  {
    struct fuse_out_header h;
    struct fuse_entry_out e;
  } rep;
  int n;

  memset (&rep, 0, sizeof rep);
  n = fuse_named (t, FUSE_MKDIR, unique, &in, sizeof in, name, &rep, sizeof rep);
  if (n < (int) sizeof rep.h || rep.h.unique != unique)
    return 1; /* not a FUSE error: no proper reply */
  return rep.h.error;
}

/* Starts virtiofsd on `share` and takes the connection through handshake,
 * SET_FEATURES and SET_MEM_TABLE. */
static int
start_backend (struct guest_mem *mem, bool readonly, const char *sandbox, struct virtiofsd **d, struct vhost_user *vu,
               runvm_error_t *err)
{
  struct virtiofsd_config cfg = { .tag = "test", .source = share, .state_dir = state, .readonly = readonly,
                                  .sandbox = sandbox };
  int sock;

  if (virtiofsd_start (&cfg, d, &sock, err) < 0)
    return -1;
  vhost_user_init (vu, sock, "vhost-user", 3000);
  if (vhost_user_handshake (vu, err) < 0 || vhost_user_set_features (vu, 1ULL << VIRTIO_F_VERSION_1, err) < 0
      || vhost_user_set_mem_table (vu, mem, err) < 0)
    return -1;
  return 0;
}

static void
report (runvm_error_t *err)
{
  if (*err)
    {
      char *s = runvm_error_string (*err);
      printf ("# error: %s\n", s);
      free (s);
      runvm_error_release (err);
    }
}

static bool
pid_gone (pid_t pid)
{
  return kill (pid, 0) < 0 && errno == ESRCH;
}

/* A parent killed with SIGKILL takes virtiofsd with it: the real one, and
 * one that ignores its socket (so only PR_SET_PDEATHSIG can end it). Runs
 * first, while this process has no other threads (it forks). */
static void
test_parent_sigkill (void)
{
  char fake[256];
  int pfd[2];
  pid_t child, vpid[2] = { -1, -1 };
  int64_t deadline;
  bool all_reaped = false;

  write_script ("deaf-virtiofsd", "#!/bin/sh\nexec sleep 30\n", fake, sizeof fake);
  /* We adopt the orphans, so "no virtiofsd left" is checked exactly. */
  prctl (PR_SET_CHILD_SUBREAPER, 1);
  if (pipe (pfd) < 0)
    abort ();
  child = fork ();
  if (child == 0)
    {
      struct virtiofsd_config cfg = { .binary = fake, .tag = "deaf", .source = share, .state_dir = state };
      struct guest_mem mem;
      struct virtiofsd *d, *deaf;
      struct vhost_user vu;
      runvm_error_t err = NULL;
      int sock;

      close (pfd[0]);
      if (guest_mem_init (&mem, 16 << 20, &err) < 0 || start_backend (&mem, false, NULL, &d, &vu, &err) < 0
          || virtiofsd_start (&cfg, &deaf, &sock, &err) < 0)
        _exit (1);
      vpid[0] = virtiofsd_pid (d);
      vpid[1] = virtiofsd_pid (deaf);
      if (write (pfd[1], vpid, sizeof vpid) != sizeof vpid)
        _exit (1);
      for (;;)
        pause ();
    }
  close (pfd[1]);
  if (read (pfd[0], vpid, sizeof vpid) != sizeof vpid)
    vpid[0] = vpid[1] = -1;
  close (pfd[0]);
  TAP_OK (vpid[0] > 0 && !pid_gone (vpid[0]) && vpid[1] > 0 && !pid_gone (vpid[1]),
          "a child started virtiofsd (pid %d) and a deaf backend (pid %d)", (int) vpid[0], (int) vpid[1]);
  kill (child, SIGKILL);
  waitpid (child, NULL, 0);

  deadline = now_ms () + 5000;
  while (now_ms () < deadline)
    {
      pid_t r = waitpid (-1, NULL, WNOHANG);
      if (r < 0 && errno == ECHILD)
        {
          all_reaped = true;
          break;
        }
      if (r == 0)
        usleep (10000);
    }
  TAP_OK (all_reaped && vpid[0] > 0 && pid_gone (vpid[0]) && pid_gone (vpid[1]),
          "SIGKILL of their parent leaves no backend behind");
  prctl (PR_SET_CHILD_SUBREAPER, 0);
}

static void
died_cb (void *opaque, pid_t pid, int wait_status)
{
  int *out = opaque;
  __atomic_store_n (out, wait_status, __ATOMIC_SEQ_CST);
}

static void
test_full_session (struct guest_mem *mem, const char *sandbox)
{
  struct virtiofsd *d = NULL;
  struct vhost_user vu;
  runvm_error_t err = NULL;
  struct test_vq hiprio, request;
  struct
  {
    struct fuse_out_header h;
    struct fuse_entry_out e;
  } rep;
  struct stat st;
  char path[256];
  uint16_t base = 0;
  pid_t pid;
  int64_t t0;
  int n, r;

  r = start_backend (mem, false, sandbox, &d, &vu, &err);
  report (&err);
  TAP_OK (r == 0, "sandbox=%s: handshake, SET_FEATURES, SET_MEM_TABLE with %u regions", sandbox, mem->n_regions);
  if (r < 0)
    {
      if (d)
        {
          vhost_user_close (&vu);
          virtiofsd_stop (d, 1000);
        }
      return;
    }
  TAP_OK (vu.backend_features & (1ULL << VIRTIO_F_VERSION_1), "backend offers VIRTIO_F_VERSION_1");
  TAP_OK (vu.protocol_features & (1ULL << VHOST_USER_PROTOCOL_F_REPLY_ACK), "REPLY_ACK negotiated");

  /* hiprio in low RAM, the request queue in high RAM (above 4 GiB, memfd
   * offset 3 GiB): the memory table's offsets must be right for it to work. */
  if (!vq_init (&hiprio, mem, 0, 0x100000) || !vq_init (&request, mem, 1, GUEST_HIGH_RAM_START + 0x100000))
    abort ();
  r = vq_start (&vu, &hiprio, &err);
  report (&err);
  TAP_OK (r == 0, "hiprio vring started");
  r = vq_start (&vu, &request, &err);
  report (&err);
  TAP_OK (r == 0, "request vring started (in high RAM)");

  if (fuse_init (&request, 1))
    {
      memset (&rep, 0, sizeof rep);
      n = fuse_named (&request, FUSE_LOOKUP, 2, NULL, 0, "hello.txt", &rep, sizeof rep);
      TAP_OK (n == (int) sizeof rep && rep.h.unique == 2 && rep.h.error == 0, "FUSE_LOOKUP hello.txt: error %d",
              rep.h.error);
      TAP_OK (rep.e.nodeid > 1 && rep.e.attr.size == 12 && S_ISREG (rep.e.attr.mode),
              "lookup sees a regular file of 12 bytes (size %llu)", (unsigned long long) rep.e.attr.size);
      memset (&rep, 0, sizeof rep);
      n = fuse_named (&request, FUSE_LOOKUP, 3, NULL, 0, "missing", &rep, sizeof rep);
      TAP_OK (n >= (int) sizeof rep.h && rep.h.error == -ENOENT, "FUSE_LOOKUP of a missing name: ENOENT");
      r = mkdir_request (&request, 4, "made-by-guest");
      snprintf (path, sizeof path, "%s/made-by-guest", share);
      TAP_OK (r == 0 && stat (path, &st) == 0 && S_ISDIR (st.st_mode), "FUSE_MKDIR on a writable share (error %d)",
              r);
      rmdir (path);
    }

  r = vhost_user_vring_stop (&vu, 1, &base, &err);
  report (&err);
  TAP_OK (r == 0 && base == request.avail_idx, "GET_VRING_BASE stops the request ring at %u (sent %u)", base,
          request.avail_idx);
  r = vhost_user_vring_stop (&vu, 0, &base, &err);
  report (&err);
  TAP_OK (r == 0 && base == 0, "GET_VRING_BASE stops the idle hiprio ring");

  pid = virtiofsd_pid (d);
  t0 = now_ms ();
  vhost_user_close (&vu);
  virtiofsd_stop (d, 1000);
  TAP_OK (pid_gone (pid) && now_ms () - t0 < 1500, "closing the socket ends virtiofsd, reaped in %lld ms",
          (long long) (now_ms () - t0));
  vq_close (&hiprio);
  vq_close (&request);
}

static void
test_readonly (struct guest_mem *mem, const char *sandbox)
{
  struct virtiofsd *d = NULL;
  struct vhost_user vu;
  runvm_error_t err = NULL;
  struct test_vq hiprio, request;
  char path[256];
  struct stat st;
  int r;

  r = start_backend (mem, true, sandbox, &d, &vu, &err);
  report (&err);
  TAP_OK (r == 0, "read-only share, sandbox=%s: virtiofsd up", sandbox);
  if (r == 0 && vq_init (&hiprio, mem, 0, 0x200000) && vq_init (&request, mem, 1, 0x300000)
      && vq_start (&vu, &hiprio, &err) == 0 && vq_start (&vu, &request, &err) == 0 && fuse_init (&request, 1))
    {
      r = mkdir_request (&request, 2, "ro-dir");
      snprintf (path, sizeof path, "%s/ro-dir", share);
      TAP_OK (r == -EROFS && stat (path, &st) < 0, "FUSE_MKDIR on a read-only share fails with EROFS (%d)", r);
      TAP_OK (mkdir (path, 0755) == 0, "the host's own view of the directory stays writable");
      rmdir (path);
      vq_close (&hiprio);
      vq_close (&request);
    }
  report (&err);
  if (d)
    {
      vhost_user_close (&vu);
      virtiofsd_stop (d, 1000);
    }
}

static void
test_no_answer (void)
{
  char fake[256];
  struct virtiofsd_config cfg = { .binary = fake, .tag = "mute", .source = share, .state_dir = state };
  struct virtiofsd *d = NULL;
  struct vhost_user vu;
  runvm_error_t err = NULL;
  cleanup_free char *msg = NULL;
  int sock = -1, r;
  int64_t t0;
  pid_t pid;

  write_script ("mute-virtiofsd", "#!/bin/sh\nexec sleep 30\n", fake, sizeof fake);
  r = virtiofsd_start (&cfg, &d, &sock, &err);
  report (&err);
  TAP_OK (r == 0, "a backend that never answers starts");
  if (r < 0)
    return;
  pid = virtiofsd_pid (d);
  vhost_user_init (&vu, sock, "vhost-user", 300);
  t0 = now_ms ();
  r = vhost_user_handshake (&vu, &err);
  msg = err ? runvm_error_string (err) : NULL;
  TAP_OK (r < 0 && err && err->status == ETIMEDOUT && now_ms () - t0 < 2000 && strstr (msg, "no reply within 300 ms"),
          "handshake times out with a clear error: %s", msg ? msg : "(none)");
  runvm_error_release (&err);
  r = vhost_user_sync (&vu, &err);
  TAP_OK (r < 0 && err && strstr (err->msg, "unusable"), "a timed-out connection refuses further requests");
  runvm_error_release (&err);
  vhost_user_close (&vu);
  t0 = now_ms ();
  virtiofsd_stop (d, 100);
  TAP_OK (pid_gone (pid) && now_ms () - t0 < 2000, "a hung backend is terminated and reaped");
}

static void
test_early_exit (void)
{
  char fake[256];
  struct virtiofsd_config cfg = { .binary = fake, .tag = "early", .source = share, .state_dir = state };
  struct virtiofsd *d = NULL;
  struct vhost_user vu;
  runvm_error_t err = NULL;
  cleanup_free char *state_msg = NULL;
  int sock = -1, r, status = 0;

  write_script ("bad-virtiofsd", "#!/bin/sh\necho 'fake: unknown option' >&2\nexit 3\n", fake, sizeof fake);
  r = virtiofsd_start (&cfg, &d, &sock, &err);
  report (&err);
  if (r < 0)
    return;
  vhost_user_init (&vu, sock, "vhost-user", 3000);
  r = vhost_user_handshake (&vu, &err);
  TAP_OK (r < 0 && err && strstr (err->msg, "closed the connection"), "a backend that exits: %s",
          err ? err->msg : "(none)");
  runvm_error_release (&err);
  TAP_OK (virtiofsd_wait_exit (d, 2000, &status) && WIFEXITED (status) && WEXITSTATUS (status) == 3,
          "its exit status is collected");
  state_msg = virtiofsd_describe (d);
  TAP_OK (state_msg && strstr (state_msg, "exited with status 3") && strstr (state_msg, "fake: unknown option"),
          "described with its log: %s", state_msg ? state_msg : "(null)");
  vhost_user_close (&vu);
  virtiofsd_stop (d, 100);
}

/* virtiofsd's stderr is the guest's to fill (an error line per malformed
 * request): it is capped like the console, and a process that keeps it
 * open after virtiofsd exits does not hold up the watcher. */
static void
test_log_capped (void)
{
  char fake[256], path[512];
  struct virtiofsd_config cfg = { .binary = fake, .tag = "chatty", .source = share, .state_dir = state };
  struct virtiofsd *d = NULL;
  runvm_error_t err = NULL;
  cleanup_free char *state_msg = NULL;
  struct stat sb, sb1;
  int sock = -1, r, status = 0;
  int64_t t0;

  /* 640 KiB of error lines, then a last word and a child that keeps stderr. */
  write_script ("chatty-virtiofsd",
                "#!/bin/sh\n"
                "i=0; while [ $i -lt 10240 ]; do\n"
                "  echo 'fv_queue_worker: elem 7 too short for out_header ..............' >&2; i=$((i+1)); done\n"
                "echo 'last word' >&2\n"
                "sleep 30 &\n"
                "echo $! >\"$0.child\"\n"
                "exit 5\n",
                fake, sizeof fake);
  t0 = now_ms ();
  r = virtiofsd_start (&cfg, &d, &sock, &err);
  report (&err);
  if (r < 0)
    return;
  r = virtiofsd_wait_exit (d, 20000, &status);
  t0 = now_ms () - t0;
  TAP_OK (r && WIFEXITED (status) && WEXITSTATUS (status) == 5 && t0 < 15000,
          "a virtiofsd that writes 640 KiB to stderr exits and is reaped (%lld ms), though a child of it keeps "
          "stderr open for 30 s",
          (long long) t0);
  snprintf (path, sizeof path, "%s/virtiofsd-chatty.log", state);
  if (stat (path, &sb) < 0)
    sb.st_size = -1;
  snprintf (path, sizeof path, "%s/virtiofsd-chatty.log.1", state);
  if (stat (path, &sb1) < 0)
    sb1.st_size = -1;
  TAP_OK (sb.st_size >= 0 && sb.st_size <= VIRTIOFSD_LOG_MAX, "its log is at most %u bytes (%lld)", VIRTIOFSD_LOG_MAX,
          (long long) sb.st_size);
  TAP_OK (sb1.st_size >= 0 && sb1.st_size <= VIRTIOFSD_LOG_MAX && sb.st_size + sb1.st_size > VIRTIOFSD_LOG_MAX,
          "rotated to .1 (%lld bytes): the latest output kept, the rest dropped", (long long) sb1.st_size);
  state_msg = virtiofsd_describe (d);
  TAP_OK (state_msg && strstr (state_msg, "exited with status 5") && strstr (state_msg, "last word"),
          "described with the log's last line: %s", state_msg ? state_msg : "(null)");
  if (sock >= 0)
    close (sock);
  virtiofsd_stop (d, 100);
  {
    /* The script's own child, which held its stderr. */
    FILE *f;
    int child = 0;
    snprintf (path, sizeof path, "%s.child", fake);
    if ((f = fopen (path, "r")) != NULL)
      {
        if (fscanf (f, "%d", &child) == 1 && child > 0)
          kill (child, SIGKILL);
        fclose (f);
      }
  }
}

static void
test_bad_binaries (void)
{
  char fake[256];
  struct virtiofsd_config cfg = { .binary = "/nonexistent/virtiofsd", .tag = "x", .source = share,
                                  .state_dir = state };
  struct virtiofsd *d = NULL;
  runvm_error_t err = NULL;
  int sock = -1, r;

  r = virtiofsd_start (&cfg, &d, &sock, &err);
  TAP_OK (r < 0 && err && err->status == ENOENT && strstr (err->msg, "/nonexistent/virtiofsd"),
          "a missing binary is named in the error");
  runvm_error_release (&err);

  write_script ("noninterp", "#!/nonexistent/interpreter\n", fake, sizeof fake);
  cfg.binary = fake;
  r = virtiofsd_start (&cfg, &d, &sock, &err);
  TAP_OK (r < 0 && err && err->status == ENOENT && strstr (err->msg, "executing"),
          "an exec failure in the child is reported: %s", err ? err->msg : "(none)");
  runvm_error_release (&err);

  cfg.binary = NULL;
  cfg.tag = "a/b";
  r = virtiofsd_start (&cfg, &d, &sock, &err);
  TAP_OK (r < 0 && err && err->status == EINVAL, "a tag with '/' is refused");
  runvm_error_release (&err);
}

static void
test_killed (struct guest_mem *mem)
{
  struct virtiofsd *d = NULL;
  struct vhost_user vu;
  runvm_error_t err = NULL;
  int died = 0x7fffffff;
  int64_t t0;
  pid_t pid;
  int r;

  r = start_backend (mem, false, "chroot", &d, &vu, &err);
  report (&err);
  TAP_OK (r == 0, "virtiofsd up before being killed");
  if (r < 0)
    return;
  virtiofsd_set_died_cb (d, died_cb, &died);
  pid = virtiofsd_pid (d);
  kill (pid, SIGKILL);
  TAP_OK (virtiofsd_wait_exit (d, 2000, NULL), "the watcher notices the death");
  t0 = now_ms ();
  while (__atomic_load_n (&died, __ATOMIC_SEQ_CST) == 0x7fffffff && now_ms () - t0 < 2000)
    usleep (1000);
  r = __atomic_load_n (&died, __ATOMIC_SEQ_CST);
  TAP_OK (r != 0x7fffffff && WIFSIGNALED (r) && WTERMSIG (r) == SIGKILL, "the died callback gets the wait status");
  t0 = now_ms ();
  r = vhost_user_sync (&vu, &err);
  TAP_OK (r < 0 && err && strstr (err->msg, "closed the connection") && now_ms () - t0 < 1000,
          "a request to a dead backend fails at once: %s", err ? err->msg : "(none)");
  runvm_error_release (&err);
  vhost_user_close (&vu);
  t0 = now_ms ();
  virtiofsd_stop (d, 1000);
  TAP_OK (pid_gone (pid) && now_ms () - t0 < 500, "release after a kill reaps without waiting");
}

static void
cleanup_tmp (void)
{
  runvm_error_t err = NULL;
  remove_tree (tmp, &err);
  runvm_error_release (&err);
}

int
main (void)
{
  struct guest_mem mem;
  runvm_error_t err = NULL;
  char path[256];
  FILE *f;

  if (geteuid () != 0 || access (VIRTIOFSD_PATH, X_OK) < 0)
    {
      printf ("1..0 # SKIP needs root and %s\n", VIRTIOFSD_PATH);
      return 0;
    }
  signal (SIGPIPE, SIG_DFL); /* prove MSG_NOSIGNAL: a dead backend must not kill us */
  snprintf (tmp, sizeof tmp, "/tmp/runvm-vhost-user-XXXXXX");
  if (mkdtemp (tmp) == NULL)
    abort ();
  atexit (cleanup_tmp);
  snprintf (share, sizeof share, "%s/share", tmp);
  snprintf (state, sizeof state, "%s/state", tmp);
  if (mkdir (share, 0755) < 0 || mkdir (state, 0700) < 0)
    abort ();
  snprintf (path, sizeof path, "%s/hello.txt", share);
  f = fopen (path, "w");
  if (f == NULL)
    abort ();
  fputs ("hello world\n", f);
  fclose (f);

  test_parent_sigkill ();

  /* 3 GiB + 16 MiB: two regions, the second at 4 GiB, memfd offset 3 GiB
   * (sparse: nothing is allocated until touched). */
  if (guest_mem_init (&mem, GUEST_MMIO_HOLE_START + (16 << 20), &err) < 0)
    {
      report (&err);
      abort ();
    }
  test_full_session (&mem, "namespace");
  test_full_session (&mem, "chroot");
  test_readonly (&mem, "chroot");
  test_readonly (&mem, "namespace");
  test_no_answer ();
  test_early_exit ();
  test_log_capped ();
  test_bad_binaries ();
  test_killed (&mem);
  guest_mem_release (&mem);
  return tap_done ();
}
