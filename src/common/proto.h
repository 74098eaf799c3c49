/* Framing of the host <-> guest control protocol (docs/protocol.md):
 * a 4-byte big-endian length followed by one UTF-8 JSON object. */
#ifndef RUNVM_PROTO_H
#define RUNVM_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <yajl/yajl_tree.h>

#include "error.h"

#define RUNVM_PROTO_VERSION 1
#define RUNVM_PROTO_MAX_MESSAGE (4u << 20)

/* vsock ports the guest connects to on the host (CID 2). */
#define RUNVM_PORT_CONTROL 1024
#define RUNVM_PORT_STDIN 1025
#define RUNVM_PORT_STDOUT 1026
#define RUNVM_PORT_STDERR 1027
#define RUNVM_PORT_TTY 1028
#define RUNVM_PORT_EXEC_BASE 2048 /* each exec gets 4 ports from here */

int proto_send (int fd, const char *json, size_t len, runvm_error_t *err);
/* Returns 1 with *json set (NUL-terminated, caller frees), 0 on clean EOF
 * before a frame starts, -1 on error (including a truncated frame). */
int proto_recv (int fd, char **json, size_t *len, runvm_error_t *err);
/* proto_recv + yajl_tree_parse; also checks the value is an object with a
 * string "type". Returns 1, 0 (EOF) or -1 like proto_recv. */
int proto_recv_tree (int fd, yajl_val *tree, const char **type, runvm_error_t *err);

/* JSON nested deeper than this is refused before yajl sees it; Go's
 * encoding/json, which runc reads config.json with, stops at the same
 * depth. */
#define RUNVM_JSON_MAX_DEPTH 10000

/* yajl_tree_parse that first refuses documents nested deeper than
 * RUNVM_JSON_MAX_DEPTH (errbuf then says so). yajl parses any depth, but
 * yajl_tree_free recurses once per level: a 4 MiB frame of '[' from a
 * hostile guest would overflow the stack of the thread that frees it, on
 * a parse error too (the half-built tree is freed). It also refuses
 * comments, which yajl_tree_parse would allow: JSON has none, and runc
 * (Go's encoding/json) refuses a config.json with one. Every JSON runvm
 * and runvm-init parse goes through here. */
yajl_val json_parse (const char *json, char *errbuf, size_t errlen);
/* The deepest nesting of arrays and objects in json, counted as yajl's
 * lexer sees it (not inside strings or comments); stops counting, and
 * returns a value > max, as soon as it passes max. *comment (when not
 * NULL) says whether a comment started before it stopped. */
unsigned json_depth (const char *json, unsigned max, bool *comment);

/* Small accessors over yajl trees: NULL/default when absent or wrong type. */
const char *proto_get_string (yajl_val obj, const char *key);
int proto_get_int (yajl_val obj, const char *key, long long *out);
int proto_get_bool (yajl_val obj, const char *key, int dflt);
yajl_val proto_get (yajl_val obj, const char *key);

#endif
