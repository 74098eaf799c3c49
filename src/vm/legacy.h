/* Legacy PC devices the guest kernel expects: the 8250 UART (its console)
 * and the keyboard controller's reset line (how `reboot=k` ends the VM). */
#ifndef RUNVM_LEGACY_H
#define RUNVM_LEGACY_H

#include "error.h"

struct vm;

#define SERIAL_COM1_BASE 0x3f8
#define SERIAL_COM1_IRQ 4

/* The guest's serial output goes to vm->console (capped-log.h), a line at
 * a time. */
int serial_create (struct vm *vm, runvm_error_t *err);
int i8042_create (struct vm *vm, runvm_error_t *err);

#endif
