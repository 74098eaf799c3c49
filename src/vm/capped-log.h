/* Output the guest decides the amount of: the guest's console (the serial
 * port and virtio-console share one) and what virtiofsd says about the
 * guest's requests. It goes to an fd the caller gave (a pipe, a terminal:
 * written as is), or to a log file in the state dir, which the guest must
 * not be able to grow without bound (the state dir is usually on a tmpfs,
 * /run). Once the file would pass `max` bytes it becomes FILE.1, replacing
 * the previous FILE.1, and FILE starts empty: the two hold at most
 * 2 * max bytes, the latest output. Writes are best effort (a full disk
 * must not stop the guest) and thread-safe. */
#ifndef RUNVM_CAPPED_LOG_H
#define RUNVM_CAPPED_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "error.h"

/* The monitor's cap for a console log file: a boot with `quiet` writes a
 * few hundred bytes, a verbose one some 50 KiB. */
#define CONSOLE_LOG_MAX (1u << 20)
/* ... and for a virtiofsd's log (its stderr): errors, a line each. */
#define VIRTIOFSD_LOG_MAX (256u << 10)

struct capped_log;

/* fd >= 0: write to a dup of it, no cap. Else path != NULL: append to that
 * file (emptied first when truncate), rotated at max bytes (0: no cap).
 * Else: discard. */
int capped_log_open (int fd, const char *path, uint64_t max, bool truncate, struct capped_log **out,
                     runvm_error_t *err);
void capped_log_write (struct capped_log *l, const void *buf, size_t len);
void capped_log_writev (struct capped_log *l, const struct iovec *iov, unsigned cnt);
void capped_log_close (struct capped_log *l);

#endif
