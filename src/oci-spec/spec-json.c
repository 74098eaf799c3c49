/* Typed accessors over libyajl trees with path-carrying errors (see
 * spec-json.h). */
#include <config.h>
#include "spec-json.h"
#include "utils.h"

#include <inttypes.h>
#include <limits.h>
#include <string.h>

char *
spec_join_path (const char *where, const char *key)
{
  char *p = NULL;
  if (where == NULL || *where == '\0')
    return strdup (key);
  if (asprintf (&p, "%s.%s", where, key) < 0)
    abort ();
  return p;
}

char *
spec_index_path (const char *where, size_t i)
{
  char *p = NULL;
  if (asprintf (&p, "%s[%zu]", where, i) < 0)
    abort ();
  return p;
}

char *
spec_xstrdup (const char *s)
{
  char *r;
  if (s == NULL)
    return NULL;
  r = strdup (s);
  if (r == NULL)
    abort ();
  return r;
}

void *
spec_xcalloc (size_t n, size_t size)
{
  void *p = calloc (n ? n : 1, size);
  if (p == NULL)
    abort ();
  return p;
}

yajl_val
spec_member (yajl_val obj, const char *key)
{
  size_t i;
  if (!YAJL_IS_OBJECT (obj))
    return NULL;
  for (i = 0; i < obj->u.object.len; i++)
    if (strcmp (obj->u.object.keys[i], key) == 0)
      return obj->u.object.values[i];
  return NULL;
}

/* A member that is absent or JSON null counts as missing. */
yajl_val
spec_present (yajl_val obj, const char *key)
{
  yajl_val v = spec_member (obj, key);
  return YAJL_IS_NULL (v) ? NULL : v;
}

int
spec_missing (const char *where, const char *key, runvm_error_t *err)
{
  cleanup_free char *p = spec_join_path (where, key);
  return runvm_make_error (err, 0, "%s: missing required field", p);
}

int
spec_type_error (const char *where, const char *key, const char *what, runvm_error_t *err)
{
  cleanup_free char *p = key ? spec_join_path (where, key) : spec_xstrdup (where);
  return runvm_make_error (err, 0, "%s: expected %s", p, what);
}

int
spec_get_string (yajl_val obj, const char *where, const char *key, bool required, char **out, runvm_error_t *err)
{
  yajl_val v = spec_present (obj, key);
  if (v == NULL)
    return required ? spec_missing (where, key, err) : 0;
  if (!YAJL_IS_STRING (v))
    return spec_type_error (where, key, "a string", err);
  free (*out);
  *out = spec_xstrdup (v->u.string);
  return 0;
}

int
spec_get_bool (yajl_val obj, const char *where, const char *key, bool *out, runvm_error_t *err)
{
  yajl_val v = spec_present (obj, key);
  if (v == NULL)
    return 0;
  if (!YAJL_IS_TRUE (v) && !YAJL_IS_FALSE (v))
    return spec_type_error (where, key, "a boolean", err);
  *out = YAJL_IS_TRUE (v);
  return 0;
}

/* Unsigned values are read from the number's text so that the whole uint64
 * range (seccomp argument values, RLIM_INFINITY) survives. */
int
spec_number_to_u64 (yajl_val v, uint64_t max, uint64_t *out)
{
  const char *r;
  char *end = NULL;
  unsigned long long n;

  if (!YAJL_IS_NUMBER (v) || v->u.number.r == NULL)
    return -1;
  r = v->u.number.r;
  if (*r == '-' || *r == '+' || strpbrk (r, ".eE"))
    return -1;
  errno = 0;
  n = strtoull (r, &end, 10);
  if (errno || end == r || *end != '\0' || n > max)
    return -1;
  *out = n;
  return 0;
}

int
spec_get_u64 (yajl_val obj, const char *where, const char *key, bool required, uint64_t max, bool *has, uint64_t *out,
         runvm_error_t *err)
{
  yajl_val v = spec_present (obj, key);
  if (v == NULL)
    return required ? spec_missing (where, key, err) : 0;
  if (spec_number_to_u64 (v, max, out) < 0)
    {
      if (max == UINT32_MAX)
        return spec_type_error (where, key, "an unsigned 32-bit integer", err);
      return spec_type_error (where, key, "a non-negative integer", err);
    }
  if (has)
    *has = true;
  return 0;
}

int
spec_get_i64 (yajl_val obj, const char *where, const char *key, int64_t min, int64_t max, bool *has, int64_t *out,
         runvm_error_t *err)
{
  yajl_val v = spec_present (obj, key);
  if (v == NULL)
    return 0;
  if (!YAJL_IS_INTEGER (v) || YAJL_GET_INTEGER (v) < min || YAJL_GET_INTEGER (v) > max)
    {
      if (min == INT_MIN && max == INT_MAX)
        return spec_type_error (where, key, "a 32-bit integer", err);
      return spec_type_error (where, key, "an integer", err);
    }
  *out = YAJL_GET_INTEGER (v);
  if (has)
    *has = true;
  return 0;
}

int
spec_get_string_array (yajl_val obj, const char *where, const char *key, bool required, char ***out, size_t *n,
                  runvm_error_t *err)
{
  yajl_val v = spec_present (obj, key);
  char **arr;
  size_t i;

  if (v == NULL)
    return required ? spec_missing (where, key, err) : 0;
  if (!YAJL_IS_ARRAY (v))
    return spec_type_error (where, key, "an array of strings", err);
  for (i = 0; i < v->u.array.len; i++)
    if (!YAJL_IS_STRING (v->u.array.values[i]))
      return spec_type_error (where, key, "an array of strings", err);
  arr = spec_xcalloc (v->u.array.len + 1, sizeof (char *));
  for (i = 0; i < v->u.array.len; i++)
    arr[i] = spec_xstrdup (v->u.array.values[i]->u.string);
  *out = arr;
  *n = v->u.array.len;
  return 0;
}

void
spec_free_strv (char **v)
{
  char **p;
  if (v == NULL)
    return;
  for (p = v; *p; p++)
    free (*p);
  free (v);
}

/* Resolves an optional object member; returns 0 with *node NULL if absent. */
int
spec_get_object (yajl_val obj, const char *where, const char *key, yajl_val *node, runvm_error_t *err)
{
  yajl_val v = spec_present (obj, key);
  *node = NULL;
  if (v == NULL)
    return 0;
  if (!YAJL_IS_OBJECT (v))
    return spec_type_error (where, key, "an object", err);
  *node = v;
  return 0;
}

int
spec_get_array (yajl_val obj, const char *where, const char *key, yajl_val *node, runvm_error_t *err)
{
  yajl_val v = spec_present (obj, key);
  *node = NULL;
  if (v == NULL)
    return 0;
  if (!YAJL_IS_ARRAY (v))
    return spec_type_error (where, key, "an array", err);
  *node = v;
  return 0;
}

int
spec_get_object_array (yajl_val obj, const char *where, const char *key, size_t elem_size, element_fn fn, void **items,
                  size_t *n, runvm_error_t *err)
{
  cleanup_free char *path = spec_join_path (where, key);
  yajl_val arr;
  size_t i;
  int r;

  r = spec_get_array (obj, where, key, &arr, err);
  if (r < 0 || arr == NULL)
    return r;
  *items = spec_xcalloc (arr->u.array.len, elem_size);
  *n = arr->u.array.len;
  for (i = 0; i < arr->u.array.len; i++)
    {
      cleanup_free char *p = spec_index_path (path, i);
      yajl_val e = arr->u.array.values[i];
      if (!YAJL_IS_OBJECT (e))
        return spec_type_error (p, NULL, "an object", err);
      r = fn (e, p, *items, i, err);
      if (r < 0)
        return r;
    }
  return 0;
}

int
spec_get_kv_object (yajl_val obj, const char *where, const char *key, oci_kv **out, size_t *n, runvm_error_t *err)
{
  cleanup_free char *path = spec_join_path (where, key);
  yajl_val v;
  size_t i;
  int r;

  r = spec_get_object (obj, where, key, &v, err);
  if (r < 0 || v == NULL)
    return r;
  for (i = 0; i < v->u.object.len; i++)
    if (!YAJL_IS_STRING (v->u.object.values[i]))
      return spec_type_error (path, v->u.object.keys[i], "a string", err);
  *out = spec_xcalloc (v->u.object.len, sizeof (oci_kv));
  *n = v->u.object.len;
  for (i = 0; i < v->u.object.len; i++)
    {
      (*out)[i].key = spec_xstrdup (v->u.object.keys[i]);
      (*out)[i].value = spec_xstrdup (v->u.object.values[i]->u.string);
    }
  return 0;
}

