/* Typed accessors over libyajl trees for the config.json parser: each
 * checks the member's type and reports errors with its JSON path
 * ("process.args: expected an array of strings"). Internal to src/oci-spec. */
#ifndef RUNVM_OCI_SPEC_JSON_H
#define RUNVM_OCI_SPEC_JSON_H

#include <stdbool.h>
#include <stdint.h>
#include <yajl/yajl_tree.h>

#include "error.h"
#include "spec.h"

/* Calls FN for each element of an array of objects, with its path. */
typedef int (*element_fn) (yajl_val elem, const char *path, void *items, size_t i, runvm_error_t *err);

char *spec_join_path (const char *where, const char *key);
char *spec_index_path (const char *where, size_t i);
char *spec_xstrdup (const char *s);
void *spec_xcalloc (size_t n, size_t size);
yajl_val spec_member (yajl_val obj, const char *key);
yajl_val spec_present (yajl_val obj, const char *key);
int spec_missing (const char *where, const char *key, runvm_error_t *err);
int spec_type_error (const char *where, const char *key, const char *what, runvm_error_t *err);
int spec_get_string (yajl_val obj, const char *where, const char *key, bool required, char **out, runvm_error_t *err);
int spec_get_bool (yajl_val obj, const char *where, const char *key, bool *out, runvm_error_t *err);
int spec_number_to_u64 (yajl_val v, uint64_t max, uint64_t *out);
int spec_get_u64 (yajl_val obj, const char *where, const char *key, bool required, uint64_t max, bool *has, uint64_t *out, runvm_error_t *err);
int spec_get_i64 (yajl_val obj, const char *where, const char *key, int64_t min, int64_t max, bool *has, int64_t *out, runvm_error_t *err);
int spec_get_string_array (yajl_val obj, const char *where, const char *key, bool required, char ***out, size_t *n, runvm_error_t *err);
void spec_free_strv (char **v);
int spec_get_object (yajl_val obj, const char *where, const char *key, yajl_val *node, runvm_error_t *err);
int spec_get_array (yajl_val obj, const char *where, const char *key, yajl_val *node, runvm_error_t *err);
int spec_get_object_array (yajl_val obj, const char *where, const char *key, size_t elem_size, element_fn fn, void **items, size_t *n, runvm_error_t *err);
int spec_get_kv_object (yajl_val obj, const char *where, const char *key, oci_kv **out, size_t *n, runvm_error_t *err);

#endif
