/* The container's stdio as the vsock device can use it: the device polls
 * its fds and makes them non-blocking, so it gets pipes and sockets of its
 * own. A pipe, FIFO or tty is reopened through /proc/self/fd (a new open
 * file description: making it non-blocking does not change the engine's
 * end); a regular file or /dev/null, which epoll refuses, is bridged by a
 * relay thread through a pipe. */
#include <config.h>
#include "stdio-relay.h"
#include "utils.h"

#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>

struct relay
{
  int from, to;
};

static void *
relay_thread (void *opaque)
{
  struct relay *r = opaque;
  char buf[65536];

  for (;;)
    {
      ssize_t n = read (r->from, buf, sizeof buf);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0 || write_all (r->to, buf, n) < 0)
        break;
    }
  close (r->from);
  close (r->to);
  free (r);
  return NULL;
}

int
stdio_for_device (int fd, bool input, struct stdio_relays *relays, runvm_error_t *err)
{
  struct stat st;
  int p[2];
  struct relay *r;

  if (fstat (fd, &st) < 0)
    return runvm_make_error (err, errno, "stdio fd %d", fd);
  if (S_ISSOCK (st.st_mode))
    {
      int d = fcntl (fd, F_DUPFD_CLOEXEC, 3);
      return d < 0 ? runvm_make_error (err, errno, "dup stdio fd %d", fd) : d;
    }
  if (S_ISFIFO (st.st_mode) || (S_ISCHR (st.st_mode) && isatty (fd)))
    {
      char path[64];
      int d;
      snprintf (path, sizeof path, "/proc/self/fd/%d", fd);
      d = open (path, (input ? O_RDONLY : O_WRONLY) | O_CLOEXEC | O_NOCTTY);
      if (d >= 0)
        return d;
      /* fall through to a relay */
    }
  if (relays && relays->n >= ARRAY_SIZE (relays->threads))
    return runvm_make_error (err, 0, "too many stdio relays");
  if (pipe2 (p, O_CLOEXEC) < 0)
    return runvm_make_error (err, errno, "pipe");
  r = calloc (1, sizeof *r);
  if (r == NULL)
    return runvm_make_error (err, ENOMEM, "relay");
  r->from = input ? fcntl (fd, F_DUPFD_CLOEXEC, 3) : p[0];
  r->to = input ? p[1] : fcntl (fd, F_DUPFD_CLOEXEC, 3);
  {
    pthread_t t;
    if (pthread_create (&t, NULL, relay_thread, r) != 0)
      {
        close (p[0]);
        close (p[1]);
        free (r);
        return runvm_make_error (err, 0, "cannot start a stdio relay thread");
      }
    if (relays)
      relays->threads[relays->n++] = t;
    else
      pthread_detach (t);
  }
  return input ? p[0] : p[1];
}

void
stdio_relays_join (struct stdio_relays *relays)
{
  unsigned i;
  for (i = 0; i < relays->n; i++)
    pthread_join (relays->threads[i], NULL);
  relays->n = 0;
}
