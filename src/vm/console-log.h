/* Where the guest's console output goes (the serial port and
 * virtio-console share it): an fd the caller gave (a pipe, a terminal:
 * written as is), or a log file in the container's state dir, which the
 * guest must not be able to grow without bound (the state dir is usually
 * on a tmpfs, /run). Once the file would pass `max` bytes it becomes
 * FILE.1, replacing the previous FILE.1, and FILE starts empty: the two
 * hold at most 2 * max bytes, the latest output. Writes are best effort
 * (a full disk must not stop the guest) and thread-safe. */
#ifndef RUNVM_CONSOLE_LOG_H
#define RUNVM_CONSOLE_LOG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "error.h"

/* The monitor's cap for a console log file: a boot with `quiet` writes a
 * few hundred bytes, a verbose one some 50 KiB. */
#define CONSOLE_LOG_MAX (1u << 20)

struct console_log;

/* fd >= 0: write to a dup of it, no cap. Else path != NULL: append to that
 * file, rotated at max bytes (0: no cap). Else: discard. */
int console_log_open (int fd, const char *path, uint64_t max, struct console_log **out, runvm_error_t *err);
void console_log_write (struct console_log *l, const void *buf, size_t len);
void console_log_writev (struct console_log *l, const struct iovec *iov, unsigned cnt);
void console_log_close (struct console_log *l);

#endif
