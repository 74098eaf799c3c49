/* Boot-parameter construction: e820 map, zero page fields, MP table
 * checksums, and the bzImage header checks. */
#include <config.h>
#include <string.h>
#include <asm/bootparam.h>

#include "boot.h"
#include "tap.h"

static uint8_t
sum (const uint8_t *p, size_t n)
{
  uint8_t s = 0;
  while (n--)
    s += *p++;
  return s;
}

static void
make_bzimage (uint8_t *img, size_t len, uint16_t version, uint16_t xloadflags)
{
  struct setup_header h;
  memset (img, 0, len);
  memset (&h, 0, sizeof h);
  h.setup_sects = 4;
  h.boot_flag = 0xAA55;
  h.header = 0x53726448;
  h.version = version;
  h.loadflags = LOADED_HIGH;
  h.xloadflags = xloadflags;
  memcpy (img + 0x1f1, &h, sizeof h);
  img[0x201] = 0x6a; /* header length byte */
}

int
main (void)
{
  static uint8_t ram[8 << 20];
  struct guest_mem mem;
  struct e820_range e[8];
  struct boot_info info;
  runvm_error_t err = NULL;
  static uint8_t img[64 * 1024];
  uint8_t mp[4096];
  size_t payload;
  unsigned n;
  int len;

  guest_mem_init_from_buffer (&mem, ram, sizeof ram);
  n = boot_build_e820 (&mem, e, 8);
  TAP_OK (n == 3, "e820 has 3 entries for 8 MiB");
  TAP_OK (e[0].addr == 0 && e[0].size == BOOT_EBDA_START && e[0].type == E820_RAM, "base memory below the EBDA");
  TAP_OK (e[1].type == E820_RESERVED && e[1].addr + e[1].size == 0x100000, "EBDA..1 MiB reserved");
  TAP_OK (e[2].addr == 0x100000 && e[2].addr + e[2].size == sizeof ram, "RAM from 1 MiB to the end");

  {
    /* A 4 GiB guest has low RAM up to the MMIO hole and the rest above 4 GiB. */
    struct guest_mem big = { 0 };
    guest_mem_init_from_buffer (&big, ram, 4ULL << 30);
    n = boot_build_e820 (&big, e, 8);
    TAP_OK (n == 4 && e[2].addr + e[2].size == GUEST_MMIO_HOLE_START && e[3].addr == GUEST_HIGH_RAM_START
                && e[3].size == (4ULL << 30) - GUEST_MMIO_HOLE_START,
            "large guest: e820 splits around the MMIO hole");
    TAP_OK (guest_mem_slice (&big, GUEST_MMIO_HOLE_START, 1) == NULL, "MMIO hole is not RAM");
  }

  memset (&info, 0, sizeof info);
  info.initrd_addr = 0x600000;
  info.initrd_size = 0x1000;
  TAP_OK (boot_write_tables (&mem, &info, "console=ttyS0", &err) == 0, "zero page written");
  {
    struct boot_params *zp = (struct boot_params *) (ram + BOOT_ZERO_PAGE_ADDR);
    uint64_t *pml4 = (uint64_t *) (ram + BOOT_PML4_ADDR);
    uint64_t *pd = (uint64_t *) (ram + BOOT_PD_ADDR);
    TAP_OK (zp->hdr.boot_flag == 0xAA55 && zp->hdr.header == 0x53726448 && zp->hdr.type_of_loader == 0xff,
            "zero page header signature and loader type");
    TAP_OK (zp->hdr.cmd_line_ptr == BOOT_CMDLINE_ADDR && strcmp ((char *) ram + BOOT_CMDLINE_ADDR, "console=ttyS0") == 0,
            "command line in place");
    TAP_OK (zp->hdr.ramdisk_image == 0x600000 && zp->hdr.ramdisk_size == 0x1000, "initramfs location");
    TAP_OK (zp->e820_entries == 3, "e820 copied into the zero page");
    TAP_OK ((pml4[0] & ~0xfffULL) == BOOT_PDPT_ADDR && pd[1] == ((1ULL << 21) | 0x83), "identity page tables");
  }
  {
    char longline[BOOT_CMDLINE_MAX + 10];
    memset (longline, 'a', sizeof longline - 1);
    longline[sizeof longline - 1] = '\0';
    TAP_OK (boot_write_tables (&mem, &info, longline, &err) < 0, "too long command line is refused");
    runvm_error_release (&err);
  }

  len = boot_build_mptable (mp, sizeof mp, BOOT_MPTABLE_ADDR, 4);
  TAP_OK (len > 0 && memcmp (mp, "_MP_", 4) == 0 && sum (mp, 16) == 0, "MP floating pointer checksum");
  {
    uint16_t tlen;
    uint16_t count;
    memcpy (&tlen, mp + 16 + 4, 2);
    memcpy (&count, mp + 16 + 34, 2);
    TAP_OK (memcmp (mp + 16, "PCMP", 4) == 0 && sum (mp + 16, tlen) == 0, "MP config table checksum");
    TAP_OK (count == 4 + 1 + 1 + BOOT_IOAPIC_PINS + 2, "MP table lists 4 CPUs, bus, IOAPIC and interrupts");
    TAP_OK (mp[16 + 44] == 0 && mp[16 + 44 + 3] == 3 && mp[16 + 44 + 20 + 1] == 1, "CPU 0 is the BSP, CPU 1 has APIC id 1");
  }
  TAP_OK (boot_build_mptable (mp, sizeof mp, BOOT_MPTABLE_ADDR, 0) < 0, "MP table with no CPU refused");
  TAP_OK (boot_build_mptable (mp, 64, BOOT_MPTABLE_ADDR, 4) < 0, "MP table larger than buffer refused");
  TAP_OK (boot_write_mptable (&mem, 64, &err) == 0, "MP table for 64 vCPUs fits");

  make_bzimage (img, sizeof img, 0x020f, 1);
  TAP_OK (boot_check_bzimage (img, sizeof img, &info, &payload, &err) == 0 && payload == 5 * 512
              && info.entry == BOOT_HIMEM_START + 0x200,
          "bzImage with a 64-bit entry accepted");
  make_bzimage (img, sizeof img, 0x020b, 1);
  TAP_OK (boot_check_bzimage (img, sizeof img, &info, &payload, &err) < 0 && strstr (err->msg, "too old"),
          "bzImage protocol 2.11 refused");
  runvm_error_release (&err);
  make_bzimage (img, sizeof img, 0x020f, 0);
  TAP_OK (boot_check_bzimage (img, sizeof img, &info, &payload, &err) < 0 && strstr (err->msg, "64-bit"),
          "bzImage without XLF_KERNEL_64 refused");
  runvm_error_release (&err);
  make_bzimage (img, sizeof img, 0x020f, 1);
  img[0x202] = 'X';
  TAP_OK (boot_check_bzimage (img, sizeof img, &info, &payload, &err) < 0 && strstr (err->msg, "HdrS"),
          "image without HdrS refused");
  runvm_error_release (&err);
  TAP_OK (boot_check_bzimage (img, 100, &info, &payload, &err) < 0, "truncated image refused");
  runvm_error_release (&err);
  make_bzimage (img, 2048, 0x020f, 1);
  img[0x1f1] = 200; /* setup_sects beyond the file */
  TAP_OK (boot_check_bzimage (img, 2048, &info, &payload, &err) < 0, "setup larger than file refused");
  runvm_error_release (&err);
  return tap_done ();
}
