/* Port-IO and MMIO buses: a sorted table of [base, base+len) ranges. The
 * vCPU loop hands every IO/MMIO exit here and does nothing else. */
#ifndef RUNVM_BUS_H
#define RUNVM_BUS_H

#include <stdbool.h>
#include <stdint.h>

#include "error.h"

typedef void (*bus_access_fn) (void *opaque, uint64_t offset, void *data, uint32_t len, bool is_write);

struct bus;

struct bus *bus_new (void);
void bus_free (struct bus *b);
int bus_register (struct bus *b, uint64_t base, uint64_t len, bus_access_fn fn, void *opaque, runvm_error_t *err);
/* Returns false when no device claims addr (reads then return all ones). */
bool bus_access (struct bus *b, uint64_t addr, void *data, uint32_t len, bool is_write);

#endif
