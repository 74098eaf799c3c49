/* Fuzz target: virtio-vsock (vsock.c, vsock-conn.c) with hostile TX
 * packets: any header fields, lengths, operations and ordering, to a port
 * with a listening unix socket and to ports with none, then the replies
 * the device queues for the guest's RX buffers. */
#include <config.h>
#include "fuzz.h"
#include "vm/virtio/vsock.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

#define GUEST_CID 3
#define LISTEN_PORT 1040

static char dir[64], base[96];
static int listener = -1;

static void
cleanup (void)
{
  char path[128];

  snprintf (path, sizeof path, "%s_%u", base, LISTEN_PORT);
  unlink (path);
  rmdir (dir);
}

static void
setup_once (void)
{
  struct sockaddr_un sa = { .sun_family = AF_UNIX };

  snprintf (dir, sizeof dir, "/tmp/runvm-fuzz-vsock.XXXXXX");
  if (mkdtemp (dir) == NULL)
    abort ();
  snprintf (base, sizeof base, "%s/v", dir);
  snprintf (sa.sun_path, sizeof sa.sun_path, "%s_%u", base, LISTEN_PORT);
  listener = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (listener < 0 || bind (listener, (struct sockaddr *) &sa, sizeof sa) < 0 || listen (listener, 64) < 0)
    abort ();
  atexit (cleanup);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  static struct virtio_device d;
  struct fuzz_in in = { data, size }, rxh, txh;
  struct virtio_vsock *v = NULL;
  runvm_error_t err = NULL;
  struct guest_mem mem;
  uint8_t rounds;
  unsigned i;
  int c;

  if (listener < 0)
    setup_once ();
  rounds = 1 + (uint8_t) fuzz_take (&in, 1) % 4;
  rxh = fuzz_split (&in, 12);
  txh = fuzz_split (&in, 12);
  fuzz_ram (&in, &mem);
  fuzz_device_init (&d, &mem);
  if (!fuzz_queue (&rxh, &d.vq[0], &mem) || !fuzz_queue (&txh, &d.vq[1], &mem))
    return 0;
  if (virtio_vsock_attach (&d, GUEST_CID, base, fuzz_vsock_ops (), NULL, &v, &err) < 0)
    abort ();
  d.driver_features = d.ops->features | (1ULL << VIRTIO_F_VERSION_1);
  if (d.ops->activate == NULL || d.ops->activate (&d) == 0)
    for (i = 0; i < rounds; i++)
      {
        d.ops->queue_notify (&d, 1);
        d.ops->queue_notify (&d, 0);
      }
  while ((c = accept (listener, NULL, NULL)) >= 0)
    close (c);
  virtio_vsock_release (v);
  pthread_mutex_destroy (&d.lock);
  return 0;
}
