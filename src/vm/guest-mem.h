/* Guest RAM: one unlinked shared-memory file (on a private huge=always
 * tmpfs when we may mount one, else a memfd), mapped shared and 2 MiB
 * aligned (virtiofsd maps the same fd through vhost-user). Guest-physical
 * layout (docs/vm.md):
 *   [0, min(size, 3 GiB))      RAM (low)
 *   [3 GiB, 4 GiB)             MMIO hole: virtio-mmio at 0xd0000000, IOAPIC, LAPIC
 *   [4 GiB, 4 GiB + rest)      RAM (high), when size > 3 GiB
 * Every guest address is translated with guest_mem_slice(), which checks the
 * whole range lies in one RAM region; the guest is hostile. */
#ifndef RUNVM_GUEST_MEM_H
#define RUNVM_GUEST_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define GUEST_MMIO_HOLE_START 0xc0000000ULL
#define GUEST_HIGH_RAM_START 0x100000000ULL

struct guest_mem_region
{
  uint64_t gpa;
  uint64_t size;
  uint8_t *host;
  uint64_t memfd_offset;
};

struct guest_mem
{
  int memfd;
  uint8_t *base; /* the whole mapping, memfd offset 0 */
  uint64_t size; /* total RAM bytes */
  unsigned n_regions;
  struct guest_mem_region regions[2];
};

int guest_mem_init (struct guest_mem *m, uint64_t size, runvm_error_t *err);
void guest_mem_release (struct guest_mem *m);
/* Builds regions over an existing buffer (unit tests use plain malloc'ed memory). */
void guest_mem_init_from_buffer (struct guest_mem *m, uint8_t *buf, uint64_t size);
/* Host pointer for [gpa, gpa+len) or NULL when any byte lies outside RAM or
 * the range crosses a region boundary. len 0 is allowed (returns a pointer
 * when gpa is inside RAM). */
void *guest_mem_slice (const struct guest_mem *m, uint64_t gpa, uint64_t len);
bool guest_mem_read (const struct guest_mem *m, uint64_t gpa, void *dst, uint64_t len);
bool guest_mem_write (const struct guest_mem *m, uint64_t gpa, const void *src, uint64_t len);
/* End of low RAM (first byte after it). */
uint64_t guest_mem_low_end (const struct guest_mem *m);

#endif
