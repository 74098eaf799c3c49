/* vsock-client CID PORT MESSAGE — the guest side of the monitor's vsock
 * test (busybox has no AF_VSOCK client): connects, sends MESSAGE and a
 * newline, prints everything the host answers until it closes. Built
 * static into the test initramfs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <linux/vm_sockets.h>

int
main (int argc, char **argv)
{
  struct sockaddr_vm addr;
  char buf[4096];
  ssize_t n;
  int s;

  if (argc != 4)
    {
      fprintf (stderr, "usage: vsock-client CID PORT MESSAGE\n");
      return 2;
    }
  s = socket (AF_VSOCK, SOCK_STREAM, 0);
  if (s < 0)
    {
      perror ("vsock-client: socket");
      return 1;
    }
  memset (&addr, 0, sizeof addr);
  addr.svm_family = AF_VSOCK;
  addr.svm_cid = (unsigned) strtoul (argv[1], NULL, 10);
  addr.svm_port = (unsigned) strtoul (argv[2], NULL, 10);
  if (connect (s, (struct sockaddr *) &addr, sizeof addr) < 0)
    {
      perror ("vsock-client: connect");
      return 1;
    }
  if (dprintf (s, "%s\n", argv[3]) < 0)
    {
      perror ("vsock-client: write");
      return 1;
    }
  while ((n = read (s, buf, sizeof buf)) > 0)
    if (write (1, buf, (size_t) n) != n)
      return 1;
  if (n < 0)
    {
      perror ("vsock-client: read");
      return 1;
    }
  return 0;
}
