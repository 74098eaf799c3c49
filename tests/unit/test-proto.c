/* Unit tests for the control-protocol framing: round trips, EOF, truncated
 * and oversized frames, non-object messages. */
#include <config.h>
#include <string.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

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

  /* text from the guest, made safe to print on the host */
  {
    char out[64];
    TAP_OK (strcmp (text_sanitize (out, sizeof out, "exec: no such file", false), "exec: no such file") == 0,
            "guest text: plain ASCII unchanged");
    TAP_OK (strcmp (text_sanitize (out, sizeof out, "\x1b[2J\x1b]0;owned\x07x", false), "?[2J?]0;owned?x") == 0,
            "guest text: escape sequences and BEL become '?'");
    TAP_OK (strcmp (text_sanitize (out, sizeof out, "a\nb\tc\rd", false), "a?b?c?d") == 0,
            "guest text: newline, tab and CR become '?' for a log line");
    TAP_OK (strcmp (text_sanitize (out, sizeof out, "a\nb\tc\rd", true), "a\nb\tc?d") == 0,
            "guest text: newline and tab kept for a terminal message, CR still not");
    TAP_OK (strcmp (text_sanitize (out, sizeof out, "h\xc3\xa9llo \xe2\x9c\x93 \xf0\x9f\x90\xb3", false),
                    "h\xc3\xa9llo \xe2\x9c\x93 \xf0\x9f\x90\xb3") == 0,
            "guest text: valid UTF-8 unchanged");
    TAP_OK (strcmp (text_sanitize (out, sizeof out, "\xc2\x9b" "31m\x7f", false), "?31m?") == 0,
            "guest text: C1 CSI (U+009B) and DEL become '?'");
    TAP_OK (strcmp (text_sanitize (out, sizeof out, "\xff\xc0\xaf\xed\xa0\x80\xe2\x9c", false), "????????") == 0,
            "guest text: invalid, overlong, surrogate and truncated UTF-8 become '?' per byte");
    TAP_OK (strcmp (text_sanitize (out, 6, "a\xc3\xa9\xe2\x9c\x93", false), "a\xc3\xa9") == 0,
            "guest text: cut at a character boundary, NUL within the buffer");
    TAP_OK (strcmp (text_sanitize (out, 1, "abc", false), "") == 0, "guest text: a 1-byte buffer holds the NUL only");
  }

  /* The rate limit on log lines the guest causes: a burst, then a steady
   * rate, and a count of what was dropped. */
  {
    struct ratelimit rl = { .burst = 100, .per_sec = 10 };
    unsigned dropped = 99, ok = 0, i;
    int64_t t = 5000;

    for (i = 0; i < 1000; i++)
      ok += ratelimit_allow (&rl, t, &dropped);
    TAP_OK (ok == 100, "ratelimit: a burst of 100 of 1000 lines at once (%u)", ok);
    TAP_OK (!ratelimit_allow (&rl, t + 99, &dropped), "ratelimit: nothing 99 ms later");
    ok = ratelimit_allow (&rl, t + 100, &dropped);
    TAP_OK (ok && dropped == 901, "ratelimit: a line 100 ms later, reporting 901 dropped (%u)", dropped);
    TAP_OK (ratelimit_allow (&rl, t + 1000, &dropped) && dropped == 0, "ratelimit: nothing dropped since");
    for (ok = 0, i = 0; i < 1000; i++)
      ok += ratelimit_allow (&rl, t + 1000, &dropped);
    TAP_OK (ok == 8, "ratelimit: 900 ms refill 9 lines, one used: 8 more (%u)", ok);
    for (ok = 0, i = 0; i < 100000; i++)
      ok += ratelimit_allow (&rl, t + 2000 + i, &dropped);
    TAP_OK (ok >= 1000 && ok <= 1110, "ratelimit: 100 s of a line every ms: 10 a second plus the burst (%u)", ok);
    TAP_OK (ratelimit_allow (&rl, INT64_MAX, &dropped) && rl.millitokens == 99000,
            "ratelimit: a huge gap refills to the burst, no overflow");
  }

  /* Nesting depth: yajl_tree_free recurses once per level, so deep JSON
   * is refused before it is parsed. */
  {
    const size_t deep = 1u << 20; /* 2 MiB of brackets: overflows an 8 MiB stack when freed */
    char *j = malloc (2 * deep + 64), errbuf[128] = "";
    yajl_val t;
    size_t n;

    TAP_OK (json_depth ("{\"a\":[1,{\"b\":[]}],\"c\":{}}", 100, NULL) == 4, "depth: objects and arrays counted");
    TAP_OK (json_depth ("[\"[[[\\\"[[\", \"]\"]", 100, NULL) == 1, "depth: brackets and escaped quotes in strings do not count");
    TAP_OK (json_depth ("/* \" */ [[ // \"\n [ ] ] ]", 100, NULL) == 3,
            "depth: a quote in a comment does not hide the brackets after it");
    TAP_OK (json_depth ("]]]][[", 100, NULL) == 2, "depth: stray closers do not lower it below zero");
    TAP_OK (json_depth ("[[[\"unterminated [[[", 100, NULL) == 3, "depth: counting stops where yajl stops (open string)");
    TAP_OK (json_depth ("[[[[[[", 3, NULL) == 4, "depth: stops counting past the bound");
    {
      bool c1 = true, c2 = false, c3 = false, c4 = true;
      json_depth ("{\"a\":\"/* not a comment */ // nor this\",\"b\":1}", 100, &c1);
      json_depth ("[1, /* c */ 2]", 100, &c2);
      json_depth ("[1, // c\n 2]", 100, &c3);
      json_depth ("[1, 2] / 3", 100, &c4);
      TAP_OK (!c1 && c2 && c3 && !c4, "comment: /* */ and // are seen, not inside strings, a lone / is not one");
    }
    {
      char cbuf[128] = "";
      yajl_val ct = json_parse ("{\"ociVersion\": /* hi */ \"1.0.2\"}", cbuf, sizeof cbuf);
      TAP_OK (ct == NULL && strstr (cbuf, "comments are not enabled"), "json_parse: a comment is refused, as runc does (%s)",
              cbuf);
      yajl_tree_free (ct);
      ct = json_parse ("{\"path\": \"/usr//bin/*x*/\"}", cbuf, sizeof cbuf);
      TAP_OK (ct != NULL, "json_parse: slashes and stars inside strings are fine");
      yajl_tree_free (ct);
    }

    memset (j, '[', RUNVM_JSON_MAX_DEPTH);
    memset (j + RUNVM_JSON_MAX_DEPTH, ']', RUNVM_JSON_MAX_DEPTH);
    j[2 * RUNVM_JSON_MAX_DEPTH] = '\0';
    t = json_parse (j, errbuf, sizeof errbuf);
    TAP_OK (t != NULL && YAJL_IS_ARRAY (t), "json_parse: %d levels parse", RUNVM_JSON_MAX_DEPTH);
    yajl_tree_free (t);
    memset (j, '[', RUNVM_JSON_MAX_DEPTH + 1);
    memset (j + RUNVM_JSON_MAX_DEPTH + 1, ']', RUNVM_JSON_MAX_DEPTH + 1);
    j[2 * RUNVM_JSON_MAX_DEPTH + 2] = '\0';
    TAP_OK (json_parse (j, errbuf, sizeof errbuf) == NULL && strstr (errbuf, "nested deeper than 10000 levels"),
            "json_parse: %d levels are refused (%s)", RUNVM_JSON_MAX_DEPTH + 1, errbuf);

    /* A hostile peer's frame: a million levels, complete and incomplete
     * (a parse error frees the half-built tree, recursively too). */
    n = (size_t) sprintf (j, "{\"type\":\"exit\",\"x\":");
    memset (j + n, '[', deep);
    memset (j + n + deep, ']', deep);
    strcpy (j + n + 2 * deep, "}");
    pair (sv);
    if (fork () == 0)
      {
        close (sv[1]);
        proto_send (sv[0], j, strlen (j), NULL);
        j[n + deep + 5] = '\0'; /* the same, cut short */
        proto_send (sv[0], j, strlen (j), NULL);
        _exit (0);
      }
    close (sv[0]);
    tree = NULL;
    TAP_OK (proto_recv_tree (sv[1], &tree, &type, &err) < 0 && err && strstr (err->msg, "nested deeper"),
            "a frame nested a million levels deep is refused, not freed recursively");
    runvm_error_release (&err);
    TAP_OK (proto_recv_tree (sv[1], &tree, &type, &err) < 0 && err && strstr (err->msg, "nested deeper"),
            "so is the same frame cut short (invalid JSON)");
    runvm_error_release (&err);
    close (sv[1]);
    wait (NULL);
    free (j);
  }
  return tap_done ();
}
