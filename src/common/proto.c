/* Length-prefixed JSON messages on a stream (vsock in the guest, unix
 * sockets on the host). A frame larger than RUNVM_PROTO_MAX_MESSAGE is an
 * error so a hostile peer cannot make us allocate without bound. */
#include <config.h>
#include "proto.h"
#include "utils.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

int
proto_send (int fd, const char *json, size_t len, runvm_error_t *err)
{
  uint32_t be;

  if (len > RUNVM_PROTO_MAX_MESSAGE)
    return runvm_make_error (err, 0, "message of %zu bytes is too large", len);
  be = htonl ((uint32_t) len);
  if (write_all (fd, &be, sizeof be) < 0 || write_all (fd, json, len) < 0)
    return runvm_make_error (err, errno, "send message");
  return 0;
}

int
proto_recv (int fd, char **json, size_t *len, runvm_error_t *err)
{
  uint32_t be, n;
  size_t got = 0;
  cleanup_free char *buf = NULL;

  if (read_all (fd, &be, sizeof be, &got) < 0)
    return runvm_make_error (err, errno, "receive message");
  if (got == 0)
    return 0;
  if (got < sizeof be)
    return runvm_make_error (err, 0, "receive message: truncated header");
  n = ntohl (be);
  if (n > RUNVM_PROTO_MAX_MESSAGE)
    return runvm_make_error (err, 0, "receive message: frame of %u bytes is too large", n);
  buf = malloc ((size_t) n + 1);
  if (buf == NULL)
    return runvm_make_error (err, ENOMEM, "receive message");
  if (read_all (fd, buf, n, &got) < 0)
    return runvm_make_error (err, errno, "receive message");
  if (got < n)
    return runvm_make_error (err, 0, "receive message: truncated body (%zu of %u bytes)", got, n);
  buf[n] = '\0';
  if (len)
    *len = n;
  *json = steal_pointer (&buf);
  return 1;
}

unsigned
json_depth (const char *s, unsigned max, bool *comment)
{
  unsigned depth = 0, deepest = 0;
  const char *e;

  if (comment)
    *comment = false;
  for (; *s; s++)
    switch (*s)
      {
      case '"':
        /* A string, to the next quote that is not escaped. Unterminated:
         * yajl stops there too. */
        for (s++; *s != '"'; s++)
          if (*s == '\\' && s[1] != '\0')
            s++;
          else if (*s == '\0')
            return deepest;
        break;
      case '/':
        /* yajl_tree_parse allows comments; a quote or bracket in one is not
         * JSON. Unterminated: yajl stops there too. */
        if (comment && (s[1] == '*' || s[1] == '/'))
          *comment = true;
        if (s[1] == '*' && (e = strstr (s + 2, "*/")) != NULL)
          s = e + 1;
        else if (s[1] == '/' && (e = strchr (s + 2, '\n')) != NULL)
          s = e;
        else if (s[1] == '*' || s[1] == '/')
          return deepest;
        break;
      case '[':
      case '{':
        if (++depth > deepest && (deepest = depth) > max)
          return deepest;
        break;
      case ']':
      case '}':
        if (depth > 0)
          depth--;
        break;
      default:
        break;
      }
  return deepest;
}

yajl_val
json_parse (const char *json, char *errbuf, size_t errlen)
{
  bool comment;

  if (json_depth (json, RUNVM_JSON_MAX_DEPTH, &comment) > RUNVM_JSON_MAX_DEPTH)
    {
      if (errbuf && errlen)
        snprintf (errbuf, errlen, "nested deeper than %d levels", RUNVM_JSON_MAX_DEPTH);
      return NULL;
    }
  if (comment)
    {
      /* yajl's own words for a comment when comments are off */
      if (errbuf && errlen)
        snprintf (errbuf, errlen, "parse error: probable comment found in input text, comments are not enabled");
      return NULL;
    }
  return yajl_tree_parse (json, errbuf, errlen);
}

int
proto_recv_tree (int fd, yajl_val *tree, const char **type, runvm_error_t *err)
{
  cleanup_free char *json = NULL;
  char errbuf[256] = "";
  yajl_val t;
  int r;

  r = proto_recv (fd, &json, NULL, err);
  if (r <= 0)
    return r;
  t = json_parse (json, errbuf, sizeof errbuf);
  if (t == NULL)
    return runvm_make_error (err, 0, "receive message: invalid JSON: %s", errbuf);
  if (!YAJL_IS_OBJECT (t) || proto_get_string (t, "type") == NULL)
    {
      yajl_tree_free (t);
      return runvm_make_error (err, 0, "receive message: not an object with a string `type`");
    }
  *tree = t;
  if (type)
    *type = proto_get_string (t, "type");
  return 1;
}

yajl_val
proto_get (yajl_val obj, const char *key)
{
  size_t i;

  if (obj == NULL || !YAJL_IS_OBJECT (obj))
    return NULL;
  for (i = 0; i < obj->u.object.len; i++)
    if (strcmp (obj->u.object.keys[i], key) == 0)
      return obj->u.object.values[i];
  return NULL;
}

const char *
proto_get_string (yajl_val obj, const char *key)
{
  yajl_val v = proto_get (obj, key);
  return YAJL_IS_STRING (v) ? v->u.string : NULL;
}

int
proto_get_int (yajl_val obj, const char *key, long long *out)
{
  yajl_val v = proto_get (obj, key);
  if (!YAJL_IS_INTEGER (v))
    return -1;
  *out = YAJL_GET_INTEGER (v);
  return 0;
}

int
proto_get_bool (yajl_val obj, const char *key, int dflt)
{
  yajl_val v = proto_get (obj, key);
  if (YAJL_IS_TRUE (v))
    return 1;
  if (YAJL_IS_FALSE (v))
    return 0;
  return dflt;
}
