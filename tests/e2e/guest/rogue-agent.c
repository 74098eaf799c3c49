/* /init of a guest whose agent breaks the protocol (tests/e2e/20-guest.sh,
 * "a guest that breaks the protocol"): on the control port it says hello,
 * claims "started" before the host sent start, sends a frame nested a
 * million levels deep, reports "created" (twice), then "exit" with status 3,
 * and never powers off. The monitor must ignore what is out of turn,
 * survive the deep frame, and not call the container stopped while its VM
 * still runs. Built with -DSILENT it says hello and then nothing: create
 * must give up (RUNVM_CREATE_TIMEOUT) and leave nothing behind. With -DDIE
 * it exits at once: the guest kernel panics (PID 1 died) and reboots, and
 * create's error quotes the console's last line. Static. */
#include <linux/vm_sockets.h>
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void
frame (int fd, const char *json, size_t len)
{
  uint32_t be = htonl ((uint32_t) len);
  if (write (fd, &be, sizeof be) != (ssize_t) sizeof be)
    return;
  while (len > 0)
    {
      ssize_t w = write (fd, json, len);
      if (w <= 0)
        return;
      json += w;
      len -= (size_t) w;
    }
}

static void
say (int fd, const char *json)
{
  frame (fd, json, strlen (json));
}

int
main (void)
{
  struct sockaddr_vm sa = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_HOST, .svm_port = 1024 };
  const size_t deep = 1u << 20;
  char *j = malloc (2 * deep + 64);
  int fd, i;

#ifdef DIE
  return 1;
#endif
  fd = socket (AF_VSOCK, SOCK_STREAM, 0);

  for (i = 0; i < 100 && connect (fd, (struct sockaddr *) &sa, sizeof sa) < 0; i++)
    usleep (100000);
  say (fd, "{\"type\":\"hello\",\"version\":1,\"kernel\":\"rogue\"}");
#ifdef SILENT
  for (;;)
    pause ();
#endif
  say (fd, "{\"type\":\"started\"}");
  if (j)
    {
      size_t n = (size_t) strlen (strcpy (j, "{\"type\":\"ps\",\"x\":"));
      memset (j + n, '[', deep);
      memset (j + n + deep, ']', deep);
      strcpy (j + n + 2 * deep, "}");
      frame (fd, j, strlen (j));
    }
  say (fd, "{\"type\":\"created\"}");
  sleep (2);
  say (fd, "{\"type\":\"created\"}");
  say (fd, "{\"type\":\"exit\",\"status\":3}");
  for (;;)
    pause (); /* ignores bye: the VM stays up */
}
