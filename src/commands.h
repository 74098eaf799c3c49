/* The runc-compatible commands, one per file. */
#ifndef RUNVM_COMMANDS_H
#define RUNVM_COMMANDS_H

#include <stdbool.h>

#include "lifecycle.h"
#include "runvm.h"

int parse_create_flags (int argc, char **argv, struct create_options *o, bool *detach, bool *keep, runvm_error_t *err);
/* Exactly one positional argument (the container id) after flags. */
int require_id (int argc, char **argv, int first, runvm_error_t *err);

int cmd_create (struct runvm_global *g, int argc, char **argv, runvm_error_t *err);
int cmd_start (struct runvm_global *g, int argc, char **argv, runvm_error_t *err);
int cmd_state (struct runvm_global *g, int argc, char **argv, runvm_error_t *err);
int cmd_kill (struct runvm_global *g, int argc, char **argv, runvm_error_t *err);
int cmd_delete (struct runvm_global *g, int argc, char **argv, runvm_error_t *err);
int cmd_run (struct runvm_global *g, int argc, char **argv, runvm_error_t *err);
int cmd_list (struct runvm_global *g, int argc, char **argv, runvm_error_t *err);
int cmd_exec (struct runvm_global *g, int argc, char **argv, runvm_error_t *err);
int cmd_pause (struct runvm_global *g, int argc, char **argv, runvm_error_t *err);
int cmd_resume (struct runvm_global *g, int argc, char **argv, runvm_error_t *err);
int cmd_ps (struct runvm_global *g, int argc, char **argv, runvm_error_t *err);
int cmd_events (struct runvm_global *g, int argc, char **argv, runvm_error_t *err);
int cmd_update (struct runvm_global *g, int argc, char **argv, runvm_error_t *err);
int cmd_spec (struct runvm_global *g, int argc, char **argv, runvm_error_t *err);
int cmd_features (struct runvm_global *g, int argc, char **argv, runvm_error_t *err);
int cmd_checkpoint (struct runvm_global *g, int argc, char **argv, runvm_error_t *err);
int cmd_restore (struct runvm_global *g, int argc, char **argv, runvm_error_t *err);
int cmd_check (struct runvm_global *g, int argc, char **argv, runvm_error_t *err);
int cmd_vm (struct runvm_global *g, int argc, char **argv, runvm_error_t *err);

#endif
