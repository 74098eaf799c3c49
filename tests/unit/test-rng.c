/* virtio-rng on fake guest memory: the device fills the device-writable
 * buffers of a request in order and says how many bytes it wrote, leaves
 * device-readable buffers alone, caps one request at VIRTIO_RNG_MAX_REQUEST
 * bytes (the rest of an oversized request stays untouched), and a malformed
 * chain gets nothing. */
#include <config.h>
#include "tap.h"
#include "fake-queue.h"
#include "vm/virtio/rng.h"
#include "vm/virtio/virtio.h"
#include "utils.h"

#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

static struct fake_queue q;

/* Whether len bytes at gpa are all zero (a fresh fq_alloc buffer is). */
static bool
all_zero (uint64_t gpa, size_t len)
{
  const uint8_t *p = fq_host (gpa);
  size_t i;

  for (i = 0; i < len; i++)
    if (p[i])
      return false;
  return true;
}

/* How many of the 256 byte values appear in len bytes at gpa: random data
 * of a few KiB shows nearly all of them, a pattern or zeroes a few. */
static unsigned
distinct_bytes (uint64_t gpa, size_t len)
{
  const uint8_t *p = fq_host (gpa);
  bool seen[256] = { false };
  unsigned n = 0;
  size_t i;

  for (i = 0; i < len; i++)
    if (!seen[p[i]])
      {
        seen[p[i]] = true;
        n++;
      }
  return n;
}

/* Kicks the queue; true when exactly one used element came back for head
 * (its length in *len) and the device signalled the guest. */
static bool
kick_one (struct virtio_device *d, uint16_t head, uint32_t *len)
{
  uint64_t ev = 0;
  uint32_t id;

  d->ops->queue_notify (d, 0);
  if (!fq_get_used (&q, &id, len) || id != head)
    return false;
  if (fq_get_used (&q, &id, &id))
    return false;
  return read (d->irq_eventfd, &ev, sizeof ev) == (ssize_t) sizeof ev && ev > 0;
}

int
main (void)
{
  struct virtio_device dev = { 0 }, *d = &dev;
  uint32_t len = 0, id;
  uint16_t head;
  uint64_t a, b, c, ro;
  unsigned n_a, n_b;
  bool ok;

  fq_ram_init ();
  d->mem = &fq_mem;
  d->irq_eventfd = eventfd (0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (d->irq_eventfd < 0)
    abort ();
  virtio_rng_attach (d);
  fq_setup (d, 0, &q);

  /* Two writable buffers: both filled, in order, and the used length is
   * their sum. */
  a = fq_alloc (1000);
  b = fq_alloc (3000);
  head = fq_add_chain (&q, (struct fq_buf[]) { { a, 1000, true }, { b, 3000, true } }, 2);
  ok = kick_one (d, head, &len);
  TAP_OK (ok, "a request is answered with one used element and an interrupt");
  TAP_OK (len == 4000, "the used length is both buffers' length (%u)", len);
  n_a = distinct_bytes (a, 1000);
  n_b = distinct_bytes (b, 3000);
  TAP_OK (n_a > 200 && n_b > 240, "both buffers hold random bytes (%u and %u distinct values)", n_a, n_b);

  /* The same request again gets other bytes. */
  memcpy (fq_host (fq_alloc (1000)), fq_host (a), 1000);
  c = fq_next_data - ((1000 + 15) & ~15u);
  head = fq_add_chain (&q, (struct fq_buf[]) { { a, 1000, true } }, 1);
  ok = kick_one (d, head, &len);
  TAP_OK (ok && len == 1000, "a second request is answered (%u bytes)", len);
  TAP_OK (memcmp (fq_host (a), fq_host (c), 1000) != 0, "and gets different bytes");

  /* A device-readable buffer before the writable one is not written. */
  ro = fq_alloc (64);
  memset (fq_host (ro), 0x5a, 64);
  a = fq_alloc (256);
  head = fq_add_chain (&q, (struct fq_buf[]) { { ro, 64, false }, { a, 256, true } }, 2);
  ok = kick_one (d, head, &len);
  TAP_OK (ok && len == 256, "readable + writable: the used length counts the writable part (%u)",
          len);
  {
    bool untouched = distinct_bytes (ro, 64) == 1 && *(uint8_t *) fq_host (ro) == 0x5a;
    TAP_OK (untouched, "the device-readable buffer is left as the guest wrote it");
  }

  /* Nothing writable: answered with 0 bytes. */
  ro = fq_alloc (64);
  head = fq_add_chain (&q, (struct fq_buf[]) { { ro, 64, false } }, 1);
  ok = kick_one (d, head, &len);
  TAP_OK (ok && len == 0, "a request with no writable buffer is answered with 0 bytes (%u)", len);
  TAP_OK (all_zero (ro, 64), "and its buffer is not written");

  /* An oversized request: 3 x 40 KiB offered, VIRTIO_RNG_MAX_REQUEST
   * (64 KiB) filled from the front, the rest untouched. */
  a = fq_alloc (40u << 10);
  b = fq_alloc (40u << 10);
  c = fq_alloc (40u << 10);
  head = fq_add_chain (&q, (struct fq_buf[]) { { a, 40u << 10, true }, { b, 40u << 10, true }, { c, 40u << 10, true } },
                       3);
  ok = kick_one (d, head, &len);
  TAP_OK (ok && len == VIRTIO_RNG_MAX_REQUEST,
          "a 120 KiB request gets VIRTIO_RNG_MAX_REQUEST bytes (%u)", len);
  {
    uint32_t in_b = VIRTIO_RNG_MAX_REQUEST - (40u << 10);
    bool filled = distinct_bytes (a, 40u << 10) == 256 && distinct_bytes (b, in_b) == 256;
    bool rest = all_zero (b + in_b, (40u << 10) - in_b) && all_zero (c, 40u << 10);
    TAP_OK (filled, "the first 64 KiB are random");
    TAP_OK (rest, "the bytes past 64 KiB are not written");
  }

  /* A buffer outside guest RAM: the chain is refused, nothing is used and
   * nothing written. */
  a = fq_alloc (128);
  head = fq_add_chain (&q, (struct fq_buf[]) { { a, 128, true }, { FQ_RAM_SIZE - 64, 128, true } }, 2);
  d->ops->queue_notify (d, 0);
  ok = fq_get_used (&q, &id, &len);
  TAP_OK (!ok, "a chain reaching outside guest RAM gets no used element");
  TAP_OK (all_zero (a, 128), "and the device writes none of it");
  (void) head;

  close (d->irq_eventfd);
  return tap_done ();
}
