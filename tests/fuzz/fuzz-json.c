/* Fuzz target: json_depth (src/common/proto.c), the guard in front of every
 * yajl_tree_parse. yajl_tree_free recurses once per nesting level, so the
 * guard must never count less than yajl really nests: the input is run
 * through yajl's own parser, configured as yajl_tree_parse configures it
 * (comments allowed, UTF-8 checked, up to the first NUL), with callbacks
 * that track the depth yajl reaches before it finishes or fails. More than
 * json_depth said is a bug (abort). json_parse refuses comments on the
 * strength of json_depth's scan, so where it saw none, yajl with comments
 * off must end as yajl with them on did (else abort). Then json_parse
 * builds and frees the tree, under the sanitizers. */
#include <config.h>
#include "proto.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_parse.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

struct depth
{
  unsigned now, max;
};

static int
open_level (void *ctx)
{
  struct depth *d = ctx;
  if (++d->now > d->max)
    d->max = d->now;
  return 1;
}

static int
open_map (void *ctx)
{
  return open_level (ctx);
}

static int
close_level (void *ctx)
{
  struct depth *d = ctx;
  d->now--;
  return 1;
}

/* yajl's own parser over s, as yajl_tree_parse sets it up but for
 * comments; the deepest level it reached goes to *d. */
static yajl_status
yajl_run (const char *s, int allow_comments, struct depth *d)
{
  static const yajl_callbacks cb = {
    .yajl_start_map = open_map,
    .yajl_end_map = close_level,
    .yajl_start_array = open_level,
    .yajl_end_array = close_level,
  };
  yajl_handle h = yajl_alloc (&cb, NULL, d);
  yajl_status st;

  yajl_config (h, yajl_allow_comments, allow_comments);
  if ((st = yajl_parse (h, (const unsigned char *) s, strlen (s))) == yajl_status_ok)
    st = yajl_complete_parse (h);
  yajl_free (h);
  return st;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  struct depth d = { 0, 0 }, d0 = { 0, 0 };
  char *s = malloc (size + 1), errbuf[128];
  unsigned guard;
  bool comment;
  yajl_status st;
  yajl_val t;

  if (s == NULL)
    return 0;
  memcpy (s, data, size);
  s[size] = '\0';
  guard = json_depth (s, UINT32_MAX, &comment);
  st = yajl_run (s, 1, &d);
  if (d.max > guard)
    abort (); /* yajl nested deeper than the guard counted */
  /* No comment seen: yajl with comments off must agree with yajl with them
   * on, or the scan missed a comment json_parse lets through. */
  if (!comment && yajl_run (s, 0, &d0) != st)
    abort ();
  t = json_parse (s, errbuf, sizeof errbuf);
  yajl_tree_free (t);
  free (s);
  return 0;
}
