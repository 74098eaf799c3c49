/* Fuzz target: virtio-net (net.c) with hostile TX chains and RX buffers,
 * any negotiated feature set, and a frame waiting on the "tap" side (a
 * SOCK_SEQPACKET socketpair, as in the unit test). */
#include <config.h>
#include "fuzz.h"
#include "vm/virtio/net.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  static const uint8_t mac[6] = { 0x02, 0, 0, 0, 0, 1 };
  static uint8_t frame[70000], sink[70000];
  static struct virtio_device d;
  struct fuzz_in in = { data, size }, rxh, txh;
  struct virtio_net *n = NULL;
  runvm_error_t err = NULL;
  struct guest_mem mem;
  uint64_t features;
  uint32_t frame_len;
  uint8_t ops;
  int sv[2];

  features = fuzz_take (&in, 8);
  frame_len = (uint32_t) fuzz_take (&in, 3) % sizeof frame;
  ops = (uint8_t) fuzz_take (&in, 1);
  rxh = fuzz_split (&in, 12);
  txh = fuzz_split (&in, 12);
  /* The frame's bytes are the RAM's too: what the guest controls, the
   * outside world may as well. */
  memset (frame, 0, frame_len);
  memcpy (frame, in.p, in.n < frame_len ? in.n : frame_len);
  fuzz_ram (&in, &mem);
  fuzz_device_init (&d, &mem);
  if (!fuzz_queue (&rxh, &d.vq[0], &mem) || !fuzz_queue (&txh, &d.vq[1], &mem))
    return 0;
  if (socketpair (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
    abort ();
  fcntl (sv[0], F_SETFL, O_NONBLOCK);
  fcntl (sv[1], F_SETFL, O_NONBLOCK);
  if (virtio_net_attach (&d, sv[0], mac, &n, &err) < 0)
    abort ();
  d.driver_features = (features & d.ops->features) | (1ULL << VIRTIO_F_VERSION_1);
  if (d.ops->activate (&d) == 0)
    {
      if (ops & 1)
        (void) write (sv[1], frame, frame_len);
      d.ops->queue_notify (&d, 1);
      d.ops->queue_notify (&d, 0);
      if (ops & 2)
        (void) write (sv[1], frame, frame_len);
      d.ops->queue_notify (&d, 0);
      while (read (sv[1], sink, sizeof sink) > 0)
        ;
      if (ops & 4)
        d.ops->reset (&d);
    }
  virtio_net_release (n);
  close (sv[1]);
  pthread_mutex_destroy (&d.lock);
  return 0;
}
