/* Unit tests for the control-protocol framing: round trips, EOF, truncated
 * and oversized frames, non-object messages. */
#include <config.h>
#include <string.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <stdint.h>

#include "proto.h"
#include "utils.h"
#include "tap.h"

static void
pair (int sv[2])
{
  if (socketpair (AF_UNIX, SOCK_STREAM, 0, sv) < 0)
    abort ();
}

int
main (void)
{
  int sv[2];
  runvm_error_t err = NULL;
  char *json = NULL;
  size_t len = 0;
  yajl_val tree = NULL;
  const char *type = NULL;
  long long v = 0;
  uint32_t be;

  pair (sv);
  TAP_OK (proto_send (sv[0], "{\"type\":\"hello\",\"version\":1}", 28, &err) == 0, "send a frame");
  TAP_OK (proto_recv_tree (sv[1], &tree, &type, &err) == 1, "receive it");
  TAP_OK (type && strcmp (type, "hello") == 0, "type is hello");
  TAP_OK (proto_get_int (tree, "version", &v) == 0 && v == 1, "version is 1");
  TAP_OK (proto_get_string (tree, "missing") == NULL, "absent key is NULL");
  yajl_tree_free (tree);
  close (sv[0]);
  TAP_OK (proto_recv (sv[1], &json, &len, &err) == 0, "clean EOF returns 0");
  close (sv[1]);

  pair (sv);
  be = htonl (100);
  write_all (sv[0], &be, 4);
  write_all (sv[0], "{\"type\"", 7);
  close (sv[0]);
  TAP_OK (proto_recv (sv[1], &json, &len, &err) < 0 && err && strstr (err->msg, "truncated"), "truncated body is an error");
  runvm_error_release (&err);
  close (sv[1]);

  pair (sv);
  be = htonl (RUNVM_PROTO_MAX_MESSAGE + 1);
  write_all (sv[0], &be, 4);
  TAP_OK (proto_recv (sv[1], &json, &len, &err) < 0 && err && strstr (err->msg, "too large"), "oversized frame is refused");
  runvm_error_release (&err);
  close (sv[0]);
  close (sv[1]);

  pair (sv);
  proto_send (sv[0], "[1,2]", 5, NULL);
  proto_send (sv[0], "{\"type\":", 8, NULL);
  TAP_OK (proto_recv_tree (sv[1], &tree, &type, &err) < 0, "array message is refused");
  runvm_error_release (&err);
  TAP_OK (proto_recv_tree (sv[1], &tree, &type, &err) < 0 && err && strstr (err->msg, "invalid JSON"), "malformed JSON is refused");
  runvm_error_release (&err);
  close (sv[0]);
  close (sv[1]);

  TAP_OK (proto_send (-1, "x", RUNVM_PROTO_MAX_MESSAGE + 1, &err) < 0, "sending an oversized frame fails");
  runvm_error_release (&err);
  return tap_done ();
}
