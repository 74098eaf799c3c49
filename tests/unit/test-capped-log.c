/* Unit tests for the capped log (src/vm/capped-log.c, the guest's console
 * and virtiofsd's stderr): a caller's fd is written as is; a log file is
 * capped and rotated, so a guest that writes without end cannot fill the
 * host's /run. */
#include <config.h>
#include "tap.h"
#include "vm/capped-log.h"
#include "utils.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64], path[128], old[140];

/* The whole file, NUL-terminated; "" when it does not exist. */
static char *
slurp (const char *p)
{
  static char buf[4096];
  int fd = open (p, O_RDONLY);
  ssize_t n = fd < 0 ? 0 : read (fd, buf, sizeof buf - 1);
  if (fd >= 0)
    close (fd);
  buf[n > 0 ? n : 0] = '\0';
  return buf;
}

static void
reset (void)
{
  unlink (path);
  unlink (old);
}

int
main (void)
{
  runvm_error_t err = NULL;
  struct capped_log *l = NULL;
  char all[300];
  int sv[2], i;

  snprintf (dir, sizeof dir, "/tmp/runvm-test-console.XXXXXX");
  if (mkdtemp (dir) == NULL)
    abort ();
  snprintf (path, sizeof path, "%s/console.log", dir);
  snprintf (old, sizeof old, "%s.1", path);
  for (i = 0; i < (int) sizeof all; i++)
    all[i] = (char) ('a' + i % 26);

  /* A caller's fd: everything, no cap, no rotation. */
  if (pipe (sv) < 0)
    abort ();
  TAP_OK (capped_log_open (sv[1], path, 10, false, &l, &err) == 0, "an fd wins over a path");
  capped_log_write (l, all, 50);
  capped_log_close (l);
  close (sv[1]);
  {
    char got[64];
    TAP_OK (read (sv[0], got, sizeof got) == 50 && memcmp (got, all, 50) == 0 && access (path, F_OK) < 0,
            "the fd gets all 50 bytes past a cap of 10; no file is made");
  }
  close (sv[0]);

  /* A file, capped at 100 bytes: 30-byte writes rotate before the 4th. */
  TAP_OK (capped_log_open (-1, path, 100, false, &l, &err) == 0, "open a log file");
  for (i = 0; i < 3; i++)
    capped_log_write (l, all + 30 * i, 30);
  TAP_OK (strlen (slurp (path)) == 90 && access (old, F_OK) < 0, "90 bytes: no rotation yet");
  capped_log_write (l, all + 90, 30);
  TAP_OK (strlen (slurp (old)) == 90 && strncmp (slurp (old), all, 90) == 0, "the 4th write rotated: FILE.1 has the first 90");
  TAP_OK (strlen (slurp (path)) == 30 && strncmp (slurp (path), all + 90, 30) == 0, "FILE has the 4th write");
  for (i = 4; i < 8; i++)
    capped_log_write (l, all + 30 * i, 30);
  TAP_OK (strlen (slurp (old)) == 90 && strncmp (slurp (old), all + 90, 90) == 0,
          "the next rotation replaced FILE.1 (bytes 90-179)");
  TAP_OK (strlen (slurp (path)) == 60 && strncmp (slurp (path), all + 180, 60) == 0, "FILE: bytes 180-239");
  capped_log_close (l);

  /* One write larger than the cap keeps its last part. */
  reset ();
  TAP_OK (capped_log_open (-1, path, 100, false, &l, &err) == 0, "open again");
  capped_log_write (l, all, 250);
  TAP_OK (strlen (slurp (old)) == 100 && strncmp (slurp (old), all + 100, 100) == 0
              && strlen (slurp (path)) == 50 && strncmp (slurp (path), all + 200, 50) == 0,
          "a 250-byte write with a cap of 100: FILE.1 bytes 100-199, FILE 200-249");
  capped_log_close (l);

  /* An existing file counts towards the cap (the monitor appends). */
  reset ();
  {
    int fd = open (path, O_WRONLY | O_CREAT, 0600);
    if (fd < 0 || write (fd, all, 80) != 80)
      abort ();
    close (fd);
  }
  TAP_OK (capped_log_open (-1, path, 100, false, &l, &err) == 0, "open a file that has 80 bytes");
  capped_log_write (l, all + 80, 30);
  TAP_OK (strlen (slurp (old)) == 80 && strlen (slurp (path)) == 30, "30 more rotate it first");
  {
    struct stat sb;
    TAP_OK (stat (path, &sb) == 0 && (sb.st_mode & 0777) == 0600, "the new file is 0600");
  }
  capped_log_close (l);

  /* truncate: an old file starts empty, and the cap counts from zero. */
  TAP_OK (capped_log_open (-1, path, 100, true, &l, &err) == 0, "open with truncate a file that has 30 bytes");
  unlink (old);
  capped_log_write (l, all, 90);
  TAP_OK (strlen (slurp (path)) == 90 && access (old, F_OK) < 0, "it holds only the 90 bytes written, not rotated");
  capped_log_close (l);

  /* Nowhere: writes are dropped. */
  reset ();
  TAP_OK (capped_log_open (-1, NULL, 100, false, &l, &err) == 0, "no fd, no path: discard");
  capped_log_write (l, all, 10);
  capped_log_writev (l, &(struct iovec){ .iov_base = all, .iov_len = 10 }, 1);
  TAP_OK (access (path, F_OK) < 0, "nothing written anywhere");
  capped_log_close (l);
  capped_log_write (NULL, all, 10); /* a VM without a console: no-op */

  {
    char bad[160];
    snprintf (bad, sizeof bad, "%s/missing/console.log", dir);
    int r = capped_log_open (-1, bad, 100, false, &l, &err);
    TAP_OK (r < 0 && err && strstr (err->msg, "open `"), "an unusable path is an error: %s",
            err ? err->msg : "none");
    runvm_error_release (&err);
  }

  reset ();
  rmdir (dir);
  return tap_done ();
}
