/* The runc-compatible commands, one per file. */
#ifndef RUNVM_COMMANDS_H
#define RUNVM_COMMANDS_H

#include <stdbool.h>

#include "lifecycle.h"
#include "runvm.h"

/* The flags create and run share, from A (parsed by cli_create/cli_run). */
void create_options_from (const struct cli_args *a, struct create_options *o);

/* Each command's flags and argument count, runc's (cli.h). */
extern const struct cli_command cli_create, cli_start, cli_run, cli_state, cli_kill, cli_delete, cli_list, cli_exec,
    cli_ps, cli_pause, cli_resume, cli_events, cli_update, cli_spec, cli_features, cli_checkpoint, cli_restore,
    cli_check, cli_vm;

int cmd_create (struct runvm_global *g, struct cli_args *a, runvm_error_t *err);
int cmd_start (struct runvm_global *g, struct cli_args *a, runvm_error_t *err);
int cmd_state (struct runvm_global *g, struct cli_args *a, runvm_error_t *err);
int cmd_kill (struct runvm_global *g, struct cli_args *a, runvm_error_t *err);
int cmd_delete (struct runvm_global *g, struct cli_args *a, runvm_error_t *err);
int cmd_run (struct runvm_global *g, struct cli_args *a, runvm_error_t *err);
int cmd_list (struct runvm_global *g, struct cli_args *a, runvm_error_t *err);
int cmd_exec (struct runvm_global *g, struct cli_args *a, runvm_error_t *err);
int cmd_pause (struct runvm_global *g, struct cli_args *a, runvm_error_t *err);
int cmd_resume (struct runvm_global *g, struct cli_args *a, runvm_error_t *err);
int cmd_ps (struct runvm_global *g, struct cli_args *a, runvm_error_t *err);
int cmd_events (struct runvm_global *g, struct cli_args *a, runvm_error_t *err);
int cmd_update (struct runvm_global *g, struct cli_args *a, runvm_error_t *err);
int cmd_spec (struct runvm_global *g, struct cli_args *a, runvm_error_t *err);
int cmd_features (struct runvm_global *g, struct cli_args *a, runvm_error_t *err);
int cmd_checkpoint (struct runvm_global *g, struct cli_args *a, runvm_error_t *err);
int cmd_restore (struct runvm_global *g, struct cli_args *a, runvm_error_t *err);
int cmd_check (struct runvm_global *g, struct cli_args *a, runvm_error_t *err);
int cmd_vm (struct runvm_global *g, int argc, char **argv, runvm_error_t *err);

#endif
