/* Helpers for files and processes shared by the host and guest programs. */
#include <config.h>
#include "utils.h"

#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

int
read_all (int fd, void *buf, size_t len, size_t *got)
{
  size_t done = 0;

  while (done < len)
    {
      ssize_t r = read (fd, (char *) buf + done, len - done);
      if (r < 0 && errno == EINTR)
        continue;
      if (r < 0)
        return -1;
      if (r == 0)
        break;
      done += r;
    }
  if (got)
    *got = done;
  if (done < len && got == NULL)
    {
      errno = EPIPE;
      return -1;
    }
  return 0;
}

int
write_all (int fd, const void *buf, size_t len)
{
  size_t done = 0;

  while (done < len)
    {
      ssize_t r = write (fd, (const char *) buf + done, len - done);
      if (r < 0 && errno == EINTR)
        continue;
      if (r < 0)
        return -1;
      done += r;
    }
  return 0;
}

int
read_file (const char *path, char **out, size_t *len, runvm_error_t *err)
{
  cleanup_close int fd = open (path, O_RDONLY | O_CLOEXEC);
  cleanup_free char *buf = NULL;
  size_t used = 0, alloc = 0;

  if (fd < 0)
    return runvm_make_error (err, errno, "open `%s`", path);
  for (;;)
    {
      ssize_t r;
      if (used + 4096 + 1 > alloc)
        {
          char *n;
          alloc = alloc ? alloc * 2 : 8192;
          n = realloc (buf, alloc);
          if (n == NULL)
            return runvm_make_error (err, ENOMEM, "read `%s`", path);
          buf = n;
        }
      r = read (fd, buf + used, alloc - used - 1);
      if (r < 0 && errno == EINTR)
        continue;
      if (r < 0)
        return runvm_make_error (err, errno, "read `%s`", path);
      if (r == 0)
        break;
      used += r;
    }
  if (buf == NULL)
    buf = calloc (1, 1);
  buf[used] = '\0';
  if (len)
    *len = used;
  *out = steal_pointer (&buf);
  return 0;
}

int
write_file_atomic (const char *path, const void *data, size_t len, runvm_error_t *err)
{
  cleanup_free char *tmp = NULL;
  cleanup_close int fd = -1;

  if (asprintf (&tmp, "%s.tmp", path) < 0)
    return runvm_make_error (err, ENOMEM, "asprintf");
  fd = open (tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0)
    return runvm_make_error (err, errno, "open `%s`", tmp);
  if (write_all (fd, data, len) < 0)
    {
      int saved = errno;
      unlink (tmp);
      return runvm_make_error (err, saved, "write `%s`", tmp);
    }
  if (rename (tmp, path) < 0)
    {
      int saved = errno;
      unlink (tmp);
      return runvm_make_error (err, saved, "rename `%s`", tmp);
    }
  return 0;
}

int
mkdir_p (const char *path, mode_t mode, runvm_error_t *err)
{
  cleanup_free char *copy = strdup (path);
  char *p;

  if (copy == NULL)
    return runvm_make_error (err, ENOMEM, "strdup");
  for (p = copy + 1; *p; p++)
    {
      if (*p != '/')
        continue;
      *p = '\0';
      if (mkdir (copy, mode) < 0 && errno != EEXIST)
        return runvm_make_error (err, errno, "mkdir `%s`", copy);
      *p = '/';
    }
  if (mkdir (copy, mode) < 0 && errno != EEXIST)
    return runvm_make_error (err, errno, "mkdir `%s`", copy);
  return 0;
}

static int
remove_tree_at (int parentfd, const char *name, runvm_error_t *err)
{
  int fd;
  DIR *dir;
  struct dirent *de;

  if (unlinkat (parentfd, name, 0) == 0 || errno == ENOENT)
    return 0;
  if (errno != EISDIR && errno != EPERM)
    return runvm_make_error (err, errno, "unlink `%s`", name);
  fd = openat (parentfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return runvm_make_error (err, errno, "open `%s`", name);
  dir = fdopendir (fd);
  if (dir == NULL)
    {
      close (fd);
      return runvm_make_error (err, errno, "fdopendir `%s`", name);
    }
  while ((de = readdir (dir)))
    {
      if (strcmp (de->d_name, ".") == 0 || strcmp (de->d_name, "..") == 0)
        continue;
      if (remove_tree_at (dirfd (dir), de->d_name, err) < 0)
        {
          closedir (dir);
          return -1;
        }
    }
  closedir (dir);
  if (unlinkat (parentfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
    return runvm_make_error (err, errno, "rmdir `%s`", name);
  return 0;
}

int
remove_tree (const char *path, runvm_error_t *err)
{
  return remove_tree_at (AT_FDCWD, path, err);
}

unsigned long long
process_start_time (pid_t pid)
{
  char path[64], buf[1024];
  cleanup_close int fd = -1;
  ssize_t r;
  char *p;
  int field;

  snprintf (path, sizeof path, "/proc/%d/stat", (int) pid);
  fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return 0;
  r = read (fd, buf, sizeof buf - 1);
  if (r <= 0)
    return 0;
  buf[r] = '\0';
  /* The command name may contain spaces and parentheses: skip past the last ')'. */
  p = strrchr (buf, ')');
  if (p == NULL)
    return 0;
  p++;
  for (field = 3; field < 22 && p; field++)
    p = strchr (p + 1, ' ');
  if (p == NULL)
    return 0;
  return strtoull (p + 1, NULL, 10);
}

int64_t
monotonic_ms (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Length of the valid UTF-8 sequence at s (1-4), or 0 when it is not one
 * (overlong forms, surrogates and code points past U+10FFFF included). */
static size_t
utf8_len (const unsigned char *s, uint32_t *cp)
{
  size_t n, i;
  uint32_t c;

  if (s[0] < 0x80)
    n = 1;
  else if (s[0] >= 0xc2 && s[0] <= 0xdf)
    n = 2;
  else if (s[0] >= 0xe0 && s[0] <= 0xef)
    n = 3;
  else if (s[0] >= 0xf0 && s[0] <= 0xf4)
    n = 4;
  else
    return 0;
  c = s[0] & (0xff >> (n == 1 ? 0 : n + 1)); /* the lead byte's payload bits */
  for (i = 1; i < n; i++)
    {
      if ((s[i] & 0xc0) != 0x80)
        return 0;
      c = (c << 6) | (s[i] & 0x3f);
    }
  if ((n == 3 && c < 0x800) || (n == 4 && (c < 0x10000 || c > 0x10ffff)) || (c >= 0xd800 && c <= 0xdfff))
    return 0;
  *cp = c;
  return n;
}

ssize_t
file_tail (const char *path, char *buf, size_t cap)
{
  cleanup_close int fd = open (path, O_RDONLY | O_CLOEXEC);
  off_t size;
  ssize_t n;

  if (fd < 0 || cap < 2 || (size = lseek (fd, 0, SEEK_END)) <= 0)
    return -1;
  n = pread (fd, buf, cap - 1, size > (off_t) cap - 1 ? size - (off_t) (cap - 1) : 0);
  if (n <= 0)
    return -1;
  buf[n] = '\0';
  return n;
}

char *
text_last_line (char *text)
{
  char *end = text + strlen (text), *start;

  while (end > text && (end[-1] == '\n' || end[-1] == '\r' || end[-1] == ' '))
    *--end = '\0';
  if (end == text)
    return NULL;
  start = strrchr (text, '\n');
  return strdup (start ? start + 1 : text);
}

char *
file_last_line (const char *path)
{
  char buf[1024];

  return file_tail (path, buf, sizeof buf) > 0 ? text_last_line (buf) : NULL;
}

bool
ratelimit_allow (struct ratelimit *r, int64_t now_ms, unsigned *dropped)
{
  uint64_t cap = (uint64_t) r->burst * 1000;

  if (!r->started)
    {
      r->started = true;
      r->millitokens = cap;
      r->last_ms = now_ms;
    }
  if (now_ms > r->last_ms)
    {
      uint64_t add = (uint64_t) (now_ms - r->last_ms) * r->per_sec; /* per_sec/1000 lines a ms */
      r->millitokens = add >= cap - r->millitokens ? cap : r->millitokens + add;
      r->last_ms = now_ms;
    }
  if (r->millitokens < 1000)
    {
      r->dropped++;
      return false;
    }
  r->millitokens -= 1000;
  *dropped = r->dropped;
  r->dropped = 0;
  return true;
}

char *
text_sanitize (char *dst, size_t cap, const char *src, bool keep_lines)
{
  const unsigned char *s = (const unsigned char *) src;
  size_t o = 0;

  if (cap == 0)
    return dst;
  while (*s)
    {
      uint32_t cp = 0;
      size_t n = utf8_len (s, &cp);
      bool ok = n > 0 && (cp >= 0x20 || (keep_lines && (cp == '\n' || cp == '\t'))) && cp != 0x7f
                && !(cp >= 0x80 && cp <= 0x9f);

      if (!ok)
        n = n ? n : 1;
      if (o + (ok ? n : 1) > cap - 1)
        break;
      if (ok)
        {
          memcpy (dst + o, s, n);
          o += n;
        }
      else
        dst[o++] = '?';
      s += n;
    }
  dst[o] = '\0';
  return dst;
}

void
go_words (const char *text, char *buf, size_t size)
{
  snprintf (buf, size, "%s", text);
  buf[0] = (char) tolower ((unsigned char) buf[0]);
}
