/* Minimal TAP producer for runvm's unit tests (run by automake's TAP driver). */
#ifndef RUNVM_TAP_H
#define RUNVM_TAP_H

#include <stdarg.h>
#include <stdio.h>

static int tap_count, tap_failed;

static inline void
tap_ok (int cond, const char *fmt, ...)
{
  va_list ap;
  tap_count++;
  if (!cond)
    tap_failed++;
  printf ("%sok %d - ", cond ? "" : "not ", tap_count);
  va_start (ap, fmt);
  vprintf (fmt, ap);
  va_end (ap);
  printf ("\n");
  fflush (stdout);
}

static inline int
tap_done (void)
{
  printf ("1..%d\n", tap_count);
  return tap_failed ? 1 : 0;
}

#define TAP_OK(cond, ...) tap_ok (!!(cond), __VA_ARGS__)

#endif
