/* The monitor's event loop (loop.c): registrations changed from inside
 * callbacks, removal of an fd whose event is already in the current batch,
 * calls from other threads, stopping; and the virtio-mmio transport running
 * device reset/activation on the loop thread while kicks are served there. */
#include <config.h>
#include "tap.h"
#include "vm/loop.h"
#include "vm/virtio/virtio.h"
#include "vm/guest-mem.h"

#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>

static struct event_loop *
new_loop (void)
{
  struct event_loop *l = NULL;
  runvm_error_t err = NULL;

  if (event_loop_new (&l, &err) < 0)
    abort ();
  return l;
}

static int
new_efd (uint64_t value)
{
  int fd = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);

  if (fd < 0)
    abort ();
  if (value && write (fd, &value, sizeof value) != sizeof value)
    abort ();
  return fd;
}

static void
efd_consume (int fd)
{
  uint64_t v;
  if (read (fd, &v, sizeof v) < 0)
    {
    }
}

/* Runs the loop on its own thread. */
struct runner
{
  struct event_loop *l;
  pthread_t thread;
  int ret;
};

static void *
runner_main (void *opaque)
{
  struct runner *r = opaque;
  r->ret = event_loop_run (r->l);
  return NULL;
}

static void
mark_started (void *opaque)
{
  __atomic_store_n ((bool *) opaque, true, __ATOMIC_SEQ_CST);
}

/* Returns once the loop thread is dispatching (call_wait would otherwise
 * still run functions in the caller). */
static void
runner_start (struct runner *r, struct event_loop *l)
{
  struct timespec ms = { 0, 1000000 };
  bool started = false;

  r->l = l;
  r->ret = -2;
  if (pthread_create (&r->thread, NULL, runner_main, r) != 0)
    abort ();
  event_loop_call (l, mark_started, &started);
  while (!__atomic_load_n (&started, __ATOMIC_SEQ_CST))
    nanosleep (&ms, NULL);
}

static int
runner_join (struct runner *r)
{
  event_loop_stop (r->l);
  pthread_join (r->thread, NULL);
  return r->ret;
}

/* ---- add / modify / remove from callbacks ---- */

struct chain_test
{
  struct event_loop *l;
  int a, b;
  unsigned a_calls, b_in, b_out, b_other;
  int modify_removed, modify_removed_errno;
};

static struct chain_test CT;

static void
chain_b_cb (void *opaque, uint32_t events)
{
  struct chain_test *t = opaque;

  if (events & EPOLLIN)
    {
      t->b_in++;
      efd_consume (t->b);
      /* switch to waiting for "writable", which an eventfd always is */
      event_loop_modify (t->l, t->b, EPOLLOUT);
    }
  else if (events & EPOLLOUT)
    {
      t->b_out++;
      event_loop_remove (t->l, t->b);
      close (t->b);
      event_loop_stop (t->l);
    }
  else
    t->b_other++;
}

static void
chain_a_cb (void *opaque, uint32_t events)
{
  struct chain_test *t = opaque;
  runvm_error_t err = NULL;

  t->a_calls++;
  efd_consume (t->a);
  /* Remove ourselves and close: a second write would not reach us. */
  event_loop_remove (t->l, t->a);
  t->modify_removed = event_loop_modify (t->l, t->a, EPOLLIN);
  t->modify_removed_errno = errno;
  close (t->a);
  t->b = new_efd (1);
  if (event_loop_add (t->l, t->b, EPOLLIN, chain_b_cb, t, &err) < 0)
    abort ();
}

static void
test_callbacks_edit (void)
{
  struct chain_test *t = &CT;
  runvm_error_t err = NULL;
  int ret;

  memset (t, 0, sizeof *t);
  t->l = new_loop ();
  t->a = new_efd (1);
  TAP_OK (event_loop_add (t->l, t->a, EPOLLIN, chain_a_cb, t, &err) == 0, "add an fd");
  TAP_OK (event_loop_add (t->l, t->a, EPOLLIN, chain_a_cb, t, &err) < 0 && err->status == EEXIST,
          "adding the same fd twice -> EEXIST");
  runvm_error_release (&err);
  TAP_OK (event_loop_modify (t->l, 999, EPOLLIN) < 0 && errno == ENOENT, "modify of an unknown fd -> ENOENT");
  event_loop_remove (t->l, 998); /* unknown: a no-op */
  ret = event_loop_run (t->l);
  TAP_OK (ret == 0, "loop ran until a callback stopped it");
  TAP_OK (t->a_calls == 1, "callback A ran once, then removed itself");
  TAP_OK (t->modify_removed < 0 && t->modify_removed_errno == ENOENT, "modify after remove -> ENOENT");
  TAP_OK (t->b_in == 1 && t->b_out == 1 && t->b_other == 0,
          "fd added from a callback fired; modify from its own callback took effect (in %u, out %u)", t->b_in,
          t->b_out);
  event_loop_free (t->l);
}

/* ---- removal of an fd whose event is in the same batch ---- */

struct batch_peer
{
  struct batch_test *t;
  int fd;
  unsigned calls;
  bool dead; /* its owner "freed" it */
};

struct batch_test
{
  struct event_loop *l;
  struct batch_peer p[2];
  struct batch_peer reuse;
  unsigned dead_calls;
  bool reused_same_number;
};

static struct batch_test BT;

static void
reuse_cb (void *opaque, uint32_t events)
{
  struct batch_peer *p = opaque;

  p->calls++;
  efd_consume (p->fd);
  event_loop_stop (p->t->l);
}

static void
batch_cb (void *opaque, uint32_t events)
{
  struct batch_peer *me = opaque, *other;
  struct batch_test *t = me->t;
  runvm_error_t err = NULL;
  int old_fd;

  if (me->dead)
    {
      t->dead_calls++; /* would be a use after free in a real owner */
      return;
    }
  me->calls++;
  efd_consume (me->fd);
  other = me == &t->p[0] ? &t->p[1] : &t->p[0];
  if (other->dead)
    return;
  /* Both fds were readable before the loop started, so the other's event
   * is (with overwhelming likelihood) in this very batch. */
  old_fd = other->fd;
  event_loop_remove (t->l, other->fd);
  close (other->fd);
  other->dead = true;
  /* The fd number is reused at once, by a new registration. */
  t->reuse.fd = new_efd (1);
  t->reused_same_number = t->reuse.fd == old_fd;
  if (event_loop_add (t->l, t->reuse.fd, EPOLLIN, reuse_cb, &t->reuse, &err) < 0)
    abort ();
}

static void
test_remove_pending (void)
{
  struct batch_test *t = &BT;
  runvm_error_t err = NULL;
  unsigned i;

  memset (t, 0, sizeof *t);
  t->l = new_loop ();
  t->reuse.t = t;
  for (i = 0; i < 2; i++)
    {
      t->p[i].t = t;
      t->p[i].fd = new_efd (1);
      if (event_loop_add (t->l, t->p[i].fd, EPOLLIN, batch_cb, &t->p[i], &err) < 0)
        abort ();
    }
  TAP_OK (event_loop_run (t->l) == 0, "loop stopped");
  TAP_OK (t->p[0].calls + t->p[1].calls == 1 && t->dead_calls == 0,
          "an fd removed while its event was pending in the batch: callback not run");
  TAP_OK (t->reused_same_number, "its fd number was reused by a new registration in the same batch");
  TAP_OK (t->reuse.calls == 1, "the new registration got exactly its own event");
  for (i = 0; i < 2; i++)
    if (!t->p[i].dead)
      close (t->p[i].fd);
  close (t->reuse.fd);
  event_loop_free (t->l);
}

/* ---- removed registrations are freed as the loop runs ---- */

struct churn_test
{
  struct event_loop *l;
  int trigger;
  unsigned left;
  size_t heap_start, heap_peak;
};

static struct churn_test CH;

static size_t
heap_in_use (void)
{
  struct mallinfo2 mi = mallinfo2 ();
  return mi.uordblks + mi.hblkhd;
}

static void
churn_noop_cb (void *opaque, uint32_t events)
{
}

static void
churn_cb (void *opaque, uint32_t events)
{
  struct churn_test *t = opaque;
  runvm_error_t err = NULL;
  unsigned i;
  size_t h;

  efd_consume (t->trigger);
  /* A connection's worth of churn: add, modify, remove, close. */
  for (i = 0; i < 16; i++)
    {
      int fd = new_efd (0);
      if (event_loop_add (t->l, fd, EPOLLIN | EPOLLONESHOT, churn_noop_cb, NULL, &err) < 0)
        abort ();
      event_loop_modify (t->l, fd, EPOLLOUT | EPOLLONESHOT);
      event_loop_remove (t->l, fd);
      close (fd);
    }
  h = heap_in_use ();
  if (t->heap_start == 0)
    t->heap_start = h;
  if (h > t->heap_peak)
    t->heap_peak = h;
  if (--t->left == 0)
    event_loop_stop (t->l);
  else
    {
      uint64_t one = 1;
      if (write (t->trigger, &one, sizeof one) < 0)
        abort ();
    }
}

static void
test_dead_entries_freed (void)
{
  struct churn_test *t = &CH;
  runvm_error_t err = NULL;

  memset (t, 0, sizeof *t);
  t->l = new_loop ();
  t->trigger = new_efd (1);
  t->left = 20000;
  if (event_loop_add (t->l, t->trigger, EPOLLIN, churn_cb, t, &err) < 0)
    abort ();
  event_loop_run (t->l);
  TAP_OK (t->heap_peak - t->heap_start < 64 * 1024,
          "320000 registrations added and removed in callbacks: heap grew by %zu bytes",
          t->heap_peak - t->heap_start);
  close (t->trigger);
  event_loop_free (t->l);
}

/* ---- calls from other threads ---- */

struct call_probe
{
  pthread_t ran_on;
  unsigned runs;
  struct event_loop *l;
  bool inner_done;
};

static void
probe_fn (void *opaque)
{
  struct call_probe *p = opaque;
  p->ran_on = pthread_self ();
  p->runs++;
}

static void
inner_fn (void *opaque)
{
  struct call_probe *p = opaque;
  p->inner_done = true;
}

/* call_wait from a loop callback must run inline, not wait for itself. */
static void
nested_fn (void *opaque)
{
  struct call_probe *p = opaque;
  event_loop_call_wait (p->l, inner_fn, p);
  p->ran_on = pthread_self ();
  p->runs++;
}

struct hammer
{
  struct event_loop *l;
  unsigned *counter;
  pthread_t thread;
};

static void
count_fn (void *opaque)
{
  unsigned *n = opaque;
  (*n)++; /* unlocked on purpose: every call runs on the loop thread */
}

static void *
hammer_main (void *opaque)
{
  struct hammer *h = opaque;
  unsigned i;

  for (i = 0; i < 2000; i++)
    {
      if (i % 2)
        event_loop_call_wait (h->l, count_fn, h->counter);
      else
        while (event_loop_call (h->l, count_fn, h->counter) < 0)
          ;
    }
  return NULL;
}

static void
test_calls (void)
{
  struct event_loop *l = new_loop ();
  struct call_probe p = { .l = l };
  struct runner r;
  struct hammer h[4];
  unsigned counter = 0, i;

  probe_fn (&p);
  event_loop_call_wait (l, probe_fn, &p);
  TAP_OK (p.runs == 2 && pthread_equal (p.ran_on, pthread_self ()),
          "call_wait while no thread runs the loop: runs in the caller");

  runner_start (&r, l);
  p.runs = 0;
  TAP_OK (event_loop_call (l, probe_fn, &p) == 0, "call from another thread queued");
  event_loop_call_wait (l, count_fn, &counter); /* calls run in order: probe_fn ran */
  TAP_OK (p.runs == 1 && pthread_equal (p.ran_on, r.thread), "event_loop_call ran on the loop thread");

  p.runs = 0;
  event_loop_call_wait (l, probe_fn, &p);
  TAP_OK (p.runs == 1 && pthread_equal (p.ran_on, r.thread), "call_wait ran fn on the loop thread before returning");

  p.runs = 0;
  event_loop_call_wait (l, nested_fn, &p);
  TAP_OK (p.runs == 1 && p.inner_done && pthread_equal (p.ran_on, r.thread),
          "call_wait from a loop callback runs inline (no deadlock)");

  counter = 0;
  for (i = 0; i < 4; i++)
    {
      h[i].l = l;
      h[i].counter = &counter;
      if (pthread_create (&h[i].thread, NULL, hammer_main, &h[i]) != 0)
        abort ();
    }
  for (i = 0; i < 4; i++)
    pthread_join (h[i].thread, NULL);
  event_loop_call_wait (l, probe_fn, &p); /* after every queued call */
  TAP_OK (counter == 8000, "4 threads x 2000 call/call_wait: all ran once (%u)", counter);

  TAP_OK (runner_join (&r) == 0, "stop from another thread: run returned 0");
  p.runs = 0;
  event_loop_call_wait (l, probe_fn, &p);
  TAP_OK (p.runs == 1 && pthread_equal (p.ran_on, pthread_self ()), "call_wait after the loop stopped runs inline");
  event_loop_free (l);
}

/* ---- stopping ---- */

static void
stop_from_cb (void *opaque)
{
  event_loop_stop (opaque);
}

static void
test_stop (void)
{
  struct event_loop *l = new_loop ();
  struct call_probe p = { 0 };
  struct runner r;

  event_loop_call (l, probe_fn, &p);
  event_loop_stop (l);
  TAP_OK (event_loop_run (l) == 0 && p.runs == 1, "stop before run: run returns at once, queued calls ran");
  TAP_OK (event_loop_run (l) == 0, "stopping is final");
  event_loop_free (l);

  l = new_loop ();
  runner_start (&r, l);
  event_loop_call (l, stop_from_cb, l);
  pthread_join (r.thread, NULL);
  TAP_OK (r.ret == 0, "stop from a loop callback");
  event_loop_call (l, probe_fn, &p); /* never runs: freed with the loop */
  event_loop_free (l);

  l = new_loop ();
  runner_start (&r, l);
  TAP_OK (runner_join (&r) == 0, "stop of an idle loop from another thread");
  event_loop_free (l);
}

/* ---- the transport: reset and activation on the loop thread ---- */

#define MEM_SIZE (1u << 20)
#define QSIZE 8

struct fake_dev
{
  struct virtio_device *d;
  pthread_t loop_thread;
  unsigned resets, activates, notifies, bad_thread, chains;
  bool notify_saw_unset_queue;
  int kick;
};

static struct fake_dev FD;

static int
fake_activate (struct virtio_device *d)
{
  FD.activates++;
  if (!pthread_equal (pthread_self (), FD.loop_thread))
    FD.bad_thread++;
  return 0;
}

static void
fake_reset (struct virtio_device *d)
{
  FD.resets++;
  if (!pthread_equal (pthread_self (), FD.loop_thread))
    FD.bad_thread++;
}

static void
fake_notify (struct virtio_device *d, unsigned q)
{
  struct virtq_chain *c = malloc (sizeof *c);

  FD.notifies++;
  if (d->vq[0].ready && d->vq[0].mem == NULL)
    FD.notify_saw_unset_queue = true;
  while (virtq_pop_chain (&d->vq[0], c) == 1)
    {
      virtq_push_used (&d->vq[0], c->head, 0);
      FD.chains++;
    }
  free (c);
}

static const struct virtio_device_ops fake_ops = {
  .name = "fake",
  .device_id = 99,
  .num_queues = 1,
  .queue_max_size = QSIZE,
  .activate = fake_activate,
  .reset = fake_reset,
  .queue_notify = fake_notify,
};

/* Stands in for the transport's kick handler (which needs KVM). */
static void
fake_kick_cb (void *opaque, uint32_t events)
{
  struct virtio_device *d = opaque;

  efd_consume (FD.kick);
  if (d->vq[0].mem != NULL)
    d->ops->queue_notify (d, 0);
}

static void
reg_write (struct virtio_device *d, uint64_t off, uint32_t v)
{
  virtio_mmio_access (d, off, &v, 4, true);
}

static uint32_t
reg_read (struct virtio_device *d, uint64_t off)
{
  uint32_t v = 0;
  virtio_mmio_access (d, off, &v, 4, false);
  return v;
}

/* What a driver does at probe: features, one queue, DRIVER_OK. */
static void
driver_probe (struct virtio_device *d)
{
  reg_write (d, VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
  reg_write (d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
  reg_write (d, VIRTIO_MMIO_DRIVER_FEATURES, 1); /* VIRTIO_F_VERSION_1 */
  reg_write (d, VIRTIO_MMIO_STATUS,
             VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK);
  reg_write (d, VIRTIO_MMIO_QUEUE_SEL, 0);
  reg_write (d, VIRTIO_MMIO_QUEUE_NUM, QSIZE);
  reg_write (d, VIRTIO_MMIO_QUEUE_DESC_LOW, 0x1000);
  reg_write (d, VIRTIO_MMIO_QUEUE_AVAIL_LOW, 0x2000);
  reg_write (d, VIRTIO_MMIO_QUEUE_USED_LOW, 0x3000);
  reg_write (d, VIRTIO_MMIO_QUEUE_READY, 1);
  reg_write (d, VIRTIO_MMIO_STATUS,
             VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK
                 | VIRTIO_CONFIG_S_DRIVER_OK);
}

struct kicker
{
  int fd;
  bool stop;
  pthread_t thread;
};

static void *
kicker_main (void *opaque)
{
  struct kicker *k = opaque;
  uint64_t one = 1;

  while (!__atomic_load_n (&k->stop, __ATOMIC_SEQ_CST))
    if (write (k->fd, &one, sizeof one) < 0)
      {
      }
  return NULL;
}

static void
test_transport_reset (void)
{
  static struct guest_mem mem;
  uint8_t *ram = calloc (1, MEM_SIZE);
  struct event_loop *l = new_loop ();
  struct virtio_device *d = calloc (1, sizeof *d);
  runvm_error_t err = NULL;
  struct kicker k;
  struct runner r;
  unsigned i, cycles = 3000;
  uint16_t avail = 0;

  guest_mem_init_from_buffer (&mem, ram, MEM_SIZE);
  d->ops = &fake_ops;
  d->mem = &mem;
  d->loop = l;
  d->irq_eventfd = new_efd (0);
  pthread_mutex_init (&d->lock, NULL);
  memset (&FD, 0, sizeof FD);
  FD.d = d;
  FD.kick = new_efd (0);
  if (event_loop_add (l, FD.kick, EPOLLIN, fake_kick_cb, d, &err) < 0)
    abort ();
  runner_start (&r, l);
  FD.loop_thread = r.thread;

  driver_probe (d);
  TAP_OK (reg_read (d, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_DRIVER_OK, "DRIVER_OK accepted");
  TAP_OK (FD.activates == 1 && FD.bad_thread == 0, "activate ran on the loop thread");
  reg_write (d, VIRTIO_MMIO_STATUS, 0);
  TAP_OK (FD.resets == 1 && FD.bad_thread == 0, "reset ran on the loop thread");
  TAP_OK (d->vq[0].mem == NULL && !d->vq[0].ready && reg_read (d, VIRTIO_MMIO_STATUS) == 0,
          "queues wiped before the status write returned");

  /* A vCPU resetting and re-probing while kicks keep arriving: the kick
   * handler must never see a queue half set up or half wiped. */
  k.fd = FD.kick;
  k.stop = false;
  if (pthread_create (&k.thread, NULL, kicker_main, &k) != 0)
    abort ();
  for (i = 0; i < cycles; i++)
    {
      driver_probe (d);
      /* publish one empty chain */
      memset (ram + 0x1000, 0, 16);
      ram[0x1000 + 8] = 1; /* len 1 at gpa 0 */
      memcpy (ram + 0x2000 + 4 + 2 * (avail % QSIZE), &(uint16_t){ 0 }, 2);
      avail++;
      __atomic_store_n ((uint16_t *) (ram + 0x2000 + 2), avail, __ATOMIC_RELEASE);
      reg_write (d, VIRTIO_MMIO_STATUS, 0);
      /* the driver starts its rings afresh after a reset */
      memset (ram + 0x1000, 0, 0x3000);
      avail = 0;
    }
  __atomic_store_n (&k.stop, true, __ATOMIC_SEQ_CST);
  pthread_join (k.thread, NULL);
  TAP_OK (FD.activates == cycles + 1 && FD.resets == cycles + 1 && FD.bad_thread == 0,
          "%u reset/probe cycles under constant kicks: all on the loop thread", cycles);
  TAP_OK (!FD.notify_saw_unset_queue, "queue_notify never saw a ready queue without memory (%u notifies, %u chains)",
          FD.notifies, FD.chains);

  TAP_OK (runner_join (&r) == 0, "loop stopped");
  /* With no loop thread the transport resets inline. */
  FD.loop_thread = pthread_self ();
  driver_probe (d);
  reg_write (d, VIRTIO_MMIO_STATUS, 0);
  TAP_OK (FD.resets == cycles + 2 && FD.bad_thread == 0 && d->vq[0].mem == NULL,
          "loop stopped: reset runs inline in the caller");

  /* Only a reset clears status bits: a driver dropping DRIVER_OK could
   * otherwise lay a queue out again under the running device, without
   * virtq_setup's checks (found by tests/fuzz/fuzz-mmio). */
  driver_probe (d);
  i = FD.activates;
  reg_write (d, VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
  TAP_OK (reg_read (d, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_DRIVER_OK, "clearing DRIVER_OK without a reset is ignored");
  reg_write (d, VIRTIO_MMIO_QUEUE_READY, 0);
  reg_write (d, VIRTIO_MMIO_QUEUE_DESC_LOW, 0x7000000);
  reg_write (d, VIRTIO_MMIO_QUEUE_READY, 1);
  reg_write (d, VIRTIO_MMIO_STATUS,
             VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK
                 | VIRTIO_CONFIG_S_DRIVER_OK);
  TAP_OK (d->vq[0].ready && d->vq[0].desc_gpa == 0x1000 && d->vq[0].mem != NULL && FD.activates == i,
          "... and the running queue keeps its checked layout, no second activation");
  reg_write (d, VIRTIO_MMIO_STATUS, 0);
  reg_write (d, VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
  reg_write (d, VIRTIO_MMIO_QUEUE_NUM, QSIZE);
  reg_write (d, VIRTIO_MMIO_QUEUE_READY, 1);
  reg_write (d, VIRTIO_MMIO_STATUS,
             VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_DRIVER_OK);
  TAP_OK (!(reg_read (d, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_DRIVER_OK) && FD.activates == i,
          "DRIVER_OK before FEATURES_OK does not activate the device");
  reg_write (d, VIRTIO_MMIO_STATUS, 0);

  close (FD.kick);
  close (d->irq_eventfd);
  pthread_mutex_destroy (&d->lock);
  free (d);
  event_loop_free (l);
  free (ram);
}

int
main (void)
{
  test_callbacks_edit ();
  test_remove_pending ();
  test_dead_entries_freed ();
  test_calls ();
  test_stop ();
  test_transport_reset ();
  return tap_done ();
}
