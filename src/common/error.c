/* Error values shared by the CLI, the monitor and runvm-init. */
#include <config.h>
#include "error.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
runvm_make_error (runvm_error_t *err, int errno_, const char *fmt, ...)
{
  va_list ap;
  char *msg = NULL;

  if (err == NULL || *err != NULL)
    return errno_ > 0 ? -errno_ : -1;
  va_start (ap, fmt);
  if (vasprintf (&msg, fmt, ap) < 0)
    msg = NULL;
  va_end (ap);
  *err = calloc (1, sizeof (**err));
  if (*err == NULL)
    {
      free (msg);
      abort ();
    }
  (*err)->status = errno_;
  (*err)->msg = msg ? msg : strdup ("out of memory");
  return errno_ > 0 ? -errno_ : -1;
}

int
runvm_error_wrap (runvm_error_t *err, const char *fmt, ...)
{
  va_list ap;
  char *prefix = NULL, *joined = NULL;

  if (err == NULL || *err == NULL)
    return -1;
  va_start (ap, fmt);
  if (vasprintf (&prefix, fmt, ap) < 0)
    prefix = NULL;
  va_end (ap);
  if (prefix && asprintf (&joined, "%s: %s", prefix, (*err)->msg) >= 0)
    {
      free ((*err)->msg);
      (*err)->msg = joined;
    }
  free (prefix);
  return -1;
}

void
runvm_error_release (runvm_error_t *err)
{
  if (err == NULL || *err == NULL)
    return;
  free ((*err)->msg);
  free (*err);
  *err = NULL;
}

char *
runvm_error_string (runvm_error_t err)
{
  char *out = NULL;

  if (err == NULL)
    return strdup ("unknown error");
  if (err->status > 0)
    {
      if (asprintf (&out, "%s: %s", err->msg, strerror (err->status)) < 0)
        return NULL;
      return out;
    }
  return strdup (err->msg);
}
