/* Direct 64-bit boot: the monitor loads the kernel (ELF vmlinux, or a
 * bzImage with a 64-bit entry point), writes the zero page, command line,
 * e820 map, MP table, GDT and identity page tables, and points the BSP at
 * the kernel's 64-bit entry. No firmware runs.
 *
 * Low memory layout (guest-physical):
 *   0x00500  GDT            0x07000  zero page (boot_params)
 *   0x09000  PML4           0x0a000  PDPT        0x0b000-0x0efff  4 PDs (4 GiB, 2 MiB pages)
 *   0x20000  command line   0x9fc00  MP table (last KiB of base memory)
 *   kernel at its ELF physical addresses (bzImage: 0x100000), initramfs at
 *   the top of low RAM below 2 GiB. */
#ifndef RUNVM_BOOT_H
#define RUNVM_BOOT_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "guest-mem.h"

#define BOOT_GDT_ADDR 0x500
#define BOOT_ZERO_PAGE_ADDR 0x7000
#define BOOT_PML4_ADDR 0x9000
#define BOOT_PDPT_ADDR 0xa000
#define BOOT_PD_ADDR 0xb000
#define BOOT_CMDLINE_ADDR 0x20000
#define BOOT_CMDLINE_MAX 4096
#define BOOT_MPTABLE_ADDR 0x9fc00
#define BOOT_EBDA_START 0x9fc00
#define BOOT_HIMEM_START 0x100000
#define BOOT_INITRD_ADDR_MAX 0x7fffffffULL
#define BOOT_STACK_ADDR 0x8ff0

#define BOOT_CODE_SELECTOR 0x10
#define BOOT_DATA_SELECTOR 0x18
#define BOOT_TSS_SELECTOR 0x20

struct e820_range
{
  uint64_t addr, size;
  uint32_t type;
};
#define E820_RAM 1
#define E820_RESERVED 2

struct boot_info
{
  uint64_t entry;        /* 64-bit entry point (guest-physical) */
  uint64_t kernel_end;   /* first byte after the loaded kernel */
  uint64_t initrd_addr, initrd_size;
  uint8_t setup_header[0x80]; /* bzImage: header copied to the zero page */
  size_t setup_header_len;
};

/* Fills `out` with the e820 map for this memory; returns the count. */
unsigned boot_build_e820 (const struct guest_mem *m, struct e820_range *out, unsigned max);
/* Checks a bzImage header; fills entry/setup header on success. Pure (unit tested). */
int boot_check_bzimage (const uint8_t *image, size_t len, struct boot_info *info, size_t *payload_offset,
                        runvm_error_t *err);
/* Loads the kernel file into guest memory. */
int boot_load_kernel (const struct guest_mem *m, const char *path, struct boot_info *info, runvm_error_t *err);
int boot_load_initrd (const struct guest_mem *m, const char *path, struct boot_info *info, runvm_error_t *err);
/* Writes zero page, cmdline, e820, GDT, page tables. */
int boot_write_tables (const struct guest_mem *m, const struct boot_info *info, const char *cmdline,
                       runvm_error_t *err);
/* MP table for n vCPUs (pure: writes into buf, returns the size or -1). */
int boot_build_mptable (uint8_t *buf, size_t len, uint64_t table_addr, unsigned ncpus);
int boot_write_mptable (const struct guest_mem *m, unsigned ncpus, runvm_error_t *err);
/* Number of IOAPIC pins the MP table routes (IRQs usable by devices). */
#define BOOT_IOAPIC_PINS 24

#endif
