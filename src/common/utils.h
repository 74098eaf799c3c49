/* Small helpers used everywhere: GCC cleanup attributes so resources are
 * released on every return path, and ownership moves with steal_pointer(). */
#ifndef RUNVM_UTILS_H
#define RUNVM_UTILS_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/types.h>

#include "error.h"

static inline void
cleanup_freep (void *p)
{
  void **pp = (void **) p;
  free (*pp);
}
static inline void
cleanup_closep (int *fd)
{
  if (*fd >= 0)
    {
      int saved = errno;
      close (*fd);
      errno = saved;
    }
}
static inline void
cleanup_filep (FILE **f)
{
  if (*f)
    fclose (*f);
}
static inline void
cleanup_errorp (runvm_error_t *err)
{
  runvm_error_release (err);
}

#define cleanup_free __attribute__ ((cleanup (cleanup_freep)))
#define cleanup_close __attribute__ ((cleanup (cleanup_closep)))
#define cleanup_file __attribute__ ((cleanup (cleanup_filep)))
#define cleanup_error __attribute__ ((cleanup (cleanup_errorp)))

static inline void *
steal_pointer_impl (void *pp)
{
  void **p = (void **) pp;
  void *r = *p;
  *p = NULL;
  return r;
}
#define steal_pointer(pp) ((__typeof__ (*(pp))) steal_pointer_impl (pp))

static inline int
steal_fd (int *fd)
{
  int r = *fd;
  *fd = -1;
  return r;
}

#define ARRAY_SIZE(a) (sizeof (a) / sizeof ((a)[0]))

/* An errno or signal text in Go's words, as runc prints them: glibc's
 * with a lower-case first letter ("no such file or directory", "killed"). */
void go_words (const char *text, char *buf, size_t size);

/* Reads/writes the whole buffer, retrying on EINTR and short transfers.
 * Return 0 on success, -1 with errno set (read_all: EPIPE-free short EOF
 * returns the number of bytes actually read via *got if non-NULL). */
int read_all (int fd, void *buf, size_t len, size_t *got);
int write_all (int fd, const void *buf, size_t len);
/* Reads a whole file into a NUL-terminated buffer. */
int read_file (const char *path, char **out, size_t *len, runvm_error_t *err);
/* Writes a file atomically: PATH.tmp then rename(). */
int write_file_atomic (const char *path, const void *data, size_t len, runvm_error_t *err);
/* mkdir -p */
int mkdir_p (const char *path, mode_t mode, runvm_error_t *err);
/* rm -rf of a directory tree that runvm created (no symlink following). */
int remove_tree (const char *path, runvm_error_t *err);
/* CLOCK_MONOTONIC in milliseconds (timeouts and deadlines). */
int64_t monotonic_ms (void);
/* Process start time (field 22 of /proc/PID/stat), 0 if unknown. */
unsigned long long process_start_time (pid_t pid);
/* The last cap - 1 bytes (at most) of a file into buf, NUL-terminated;
 * their length, or -1 when the file cannot be read or is empty. */
ssize_t file_tail (const char *path, char *buf, size_t cap);
/* A malloc'ed copy of the last non-empty line of text (which loses its
 * trailing newlines); NULL when there is none. */
char *text_last_line (char *text);
/* The last non-empty line of a text file (within its last KiB), malloc'ed;
 * NULL when there is none. */
char *file_last_line (const char *path);
/* A token bucket for log lines a peer can cause at will (one per message
 * it sends): `burst` lines at once, then `per_sec` lines a second. Start it
 * zeroed but for burst and per_sec. ratelimit_allow says whether a line may
 * go out now; when it may, *dropped is how many were refused since the
 * last line that went out. */
struct ratelimit
{
  unsigned burst, per_sec;
  bool started;
  int64_t last_ms;
  uint64_t millitokens; /* 1000 per line */
  unsigned dropped;
};
bool ratelimit_allow (struct ratelimit *r, int64_t now_ms, unsigned *dropped);
/* Copies text that came from the guest into dst (at most cap - 1 bytes,
 * NUL-terminated, cut at a character boundary) so that it can be printed
 * on a host terminal or written to a log: control characters (C0, DEL, C1)
 * and bytes that are not valid UTF-8 become '?', so a guest cannot move
 * the cursor, change colours or forge log lines. keep_lines keeps newlines
 * and tabs (for a multi-line message on a terminal). Returns dst. */
char *text_sanitize (char *dst, size_t cap, const char *src, bool keep_lines);

#endif
