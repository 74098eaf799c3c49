/* runvm error reporting: every function that can fail takes a
 * `runvm_error_t *err`, returns a negative value and fills *err once.
 * Callers that add context wrap it with runvm_error_wrap(). */
#ifndef RUNVM_ERROR_H
#define RUNVM_ERROR_H

#include <stdarg.h>

struct runvm_error_s
{
  int status; /* errno, or 0 when none applies */
  char *msg;
};
typedef struct runvm_error_s *runvm_error_t;

/* Fills *err (if err and *err is empty) and returns -1 (or -errno_ if >0). */
int runvm_make_error (runvm_error_t *err, int errno_, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));
/* Prefixes the existing message: "CONTEXT: old message". Returns -1. */
int runvm_error_wrap (runvm_error_t *err, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));
void runvm_error_release (runvm_error_t *err);
/* Formats "msg: strerror(status)" into a newly allocated string. */
char *runvm_error_string (runvm_error_t err);

#endif
