/* Output the guest decides the amount of: a caller's fd, or a capped,
 * rotated log file (see capped-log.h). */
#include <config.h>
#include "capped-log.h"
#include "utils.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct capped_log
{
  pthread_mutex_t lock;
  int fd;
  char *path; /* NULL: not a file of ours, never rotated */
  uint64_t size, max;
};

int
capped_log_open (int fd, const char *path, uint64_t max, bool truncate, struct capped_log **out, runvm_error_t *err)
{
  struct capped_log *l = calloc (1, sizeof *l);
  struct stat sb;
  int saved;

  if (l == NULL)
    return runvm_make_error (err, ENOMEM, "log");
  pthread_mutex_init (&l->lock, NULL);
  l->fd = -1;
  if (fd >= 0)
    {
      l->fd = fcntl (fd, F_DUPFD_CLOEXEC, 3);
      if (l->fd < 0)
        {
          saved = errno;
          capped_log_close (l);
          return runvm_make_error (err, saved, "dup log fd");
        }
    }
  else if (path)
    {
      l->max = max;
      l->path = strdup (path);
      l->fd = open (path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | (truncate ? O_TRUNC : 0), 0600);
      if (l->path == NULL || l->fd < 0)
        {
          saved = l->fd < 0 ? errno : ENOMEM;
          capped_log_close (l);
          return runvm_make_error (err, saved, "open `%s`", path);
        }
      if (fstat (l->fd, &sb) == 0)
        l->size = (uint64_t) sb.st_size;
    }
  *out = l;
  return 0;
}

/* FILE -> FILE.1, and a fresh FILE. Where the rename cannot be done, the
 * file is emptied instead: the cap holds either way. */
static void
rotate (struct capped_log *l)
{
  char old[4096];
  int fd;

  if (snprintf (old, sizeof old, "%s.1", l->path) < (int) sizeof old && rename (l->path, old) == 0
      && (fd = open (l->path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600)) >= 0)
    {
      close (l->fd);
      l->fd = fd;
    }
  else if (ftruncate (l->fd, 0) < 0)
    {
      /* Cannot bound it: stop writing rather than grow without end. */
      close (l->fd);
      l->fd = -1;
    }
  l->size = 0;
}

void
capped_log_write (struct capped_log *l, const void *buf, size_t len)
{
  const char *p = buf;

  if (l == NULL)
    return;
  pthread_mutex_lock (&l->lock);
  while (len > 0 && l->fd >= 0)
    {
      size_t n = len;
      if (l->path && l->max)
        {
          if (l->size >= l->max || n > l->max - l->size)
            {
              if (l->size > 0)
                {
                  rotate (l);
                  continue;
                }
              n = (size_t) l->max; /* one write larger than the cap */
            }
        }
      if (write_all (l->fd, p, n) < 0)
        break; /* best effort */
      l->size += n;
      p += n;
      len -= n;
    }
  pthread_mutex_unlock (&l->lock);
}

void
capped_log_writev (struct capped_log *l, const struct iovec *iov, unsigned cnt)
{
  unsigned i;

  for (i = 0; i < cnt; i++)
    capped_log_write (l, iov[i].iov_base, iov[i].iov_len);
}

void
capped_log_close (struct capped_log *l)
{
  if (l == NULL)
    return;
  if (l->fd >= 0)
    close (l->fd);
  free (l->path);
  pthread_mutex_destroy (&l->lock);
  free (l);
}
