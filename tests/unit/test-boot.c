/* Boot-parameter construction: e820 map, zero page fields, MP table
 * checksums, the bzImage header checks, and loading kernels and initramfs
 * from files into guest RAM. */
#include <config.h>
#include <elf.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
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

/* Writes LEN bytes to a new temporary file; returns its path (static). */
static const char *
temp_file (const void *data, size_t len)
{
  static char path[64];
  int fd;

  snprintf (path, sizeof path, "/tmp/runvm-test-boot.XXXXXX");
  fd = mkstemp (path);
  if (fd < 0 || write (fd, data, len) != (ssize_t) len)
    abort ();
  close (fd);
  return path;
}

/* An ELF vmlinux: two PT_LOAD segments, the second with a bss part; the
 * program headers at PHOFF. Returns the file length. */
static size_t
make_elf (uint8_t *img, size_t cap, uint64_t phoff)
{
  Elf64_Ehdr *eh = (Elf64_Ehdr *) img;
  Elf64_Phdr ph[2];

  memset (img, 0, cap);
  memcpy (eh->e_ident, ELFMAG, SELFMAG);
  eh->e_ident[EI_CLASS] = ELFCLASS64;
  eh->e_machine = EM_X86_64;
  eh->e_entry = 0xffffffff81000000ULL + 0x200000;
  eh->e_phoff = phoff;
  eh->e_phentsize = sizeof (Elf64_Phdr);
  eh->e_phnum = 2;
  memset (ph, 0, sizeof ph);
  ph[0] = (Elf64_Phdr){ .p_type = PT_LOAD, .p_offset = 0x1000, .p_paddr = 0x200000, .p_filesz = 0x3000, .p_memsz = 0x3000 };
  ph[1] = (Elf64_Phdr){ .p_type = PT_LOAD, .p_offset = 0x4000, .p_paddr = 0x300000, .p_filesz = 0x1000, .p_memsz = 0x5000 };
  if (phoff + sizeof ph <= cap)
    memcpy (img + phoff, ph, sizeof ph);
  memset (img + 0x1000, 0xa1, 0x3000);
  memset (img + 0x4000, 0xb2, 0x1000);
  return 0x5000;
}

static void
test_loading (uint8_t *ram, size_t ram_len, struct guest_mem *mem)
{
  static uint8_t img[80 * 1024];
  struct boot_info info;
  runvm_error_t err = NULL;
  size_t len, i;
  const char *path;
  int ok;

  memset (ram, 0x55, ram_len);
  len = make_elf (img, sizeof img, sizeof (Elf64_Ehdr));
  path = temp_file (img, len);
  memset (&info, 0, sizeof info);
  ok = boot_load_kernel (mem, path, &info, &err) == 0;
  TAP_OK (ok && ram[0x200000] == 0xa1 && ram[0x202fff] == 0xa1 && ram[0x300000] == 0xb2 && ram[0x300fff] == 0xb2,
          "ELF segments read to their physical addresses");
  for (i = 0x301000; i < 0x305000 && ram[i] == 0; i++)
    ;
  TAP_OK (ok && i == 0x305000 && ram[0x305000] == 0x55, "ELF bss zeroed, and nothing past it");
  TAP_OK (ok && info.kernel_end == 0x305000 && info.entry == 0x1200000, "ELF kernel end and 64-bit entry");
  runvm_error_release (&err);
  unlink (path);

  /* Truncated: the second segment lies past the end of the file. */
  path = temp_file (img, 0x4800);
  TAP_OK (boot_load_kernel (mem, path, &info, &err) < 0 && strstr (err->msg, "out of file bounds"),
          "ELF segment beyond the file refused");
  runvm_error_release (&err);
  unlink (path);

  /* Program headers beyond the first 8 KiB read as the header. */
  make_elf (img, sizeof img, 9 * 1024);
  path = temp_file (img, sizeof img);
  TAP_OK (boot_load_kernel (mem, path, &info, &err) < 0 && strstr (err->msg, "program headers"),
          "ELF program headers out of reach refused");
  runvm_error_release (&err);
  unlink (path);

  /* A segment that does not fit guest RAM. */
  make_elf (img, sizeof img, sizeof (Elf64_Ehdr));
  ((Elf64_Phdr *) (img + sizeof (Elf64_Ehdr)))[1].p_paddr = ram_len - 0x1000;
  path = temp_file (img, 0x5000);
  TAP_OK (boot_load_kernel (mem, path, &info, &err) < 0 && strstr (err->msg, "does not fit"),
          "ELF segment past the end of RAM refused");
  runvm_error_release (&err);
  unlink (path);

  /* bzImage: everything after the setup sectors goes to 1 MiB. */
  memset (ram, 0x55, ram_len);
  make_bzimage (img, 16 * 1024, 0x020f, 1);
  memset (img + 5 * 512, 0xc3, 16 * 1024 - 5 * 512);
  path = temp_file (img, 16 * 1024);
  ok = boot_load_kernel (mem, path, &info, &err) == 0;
  TAP_OK (ok && ram[BOOT_HIMEM_START] == 0xc3 && ram[BOOT_HIMEM_START + 16 * 1024 - 5 * 512 - 1] == 0xc3
              && ram[BOOT_HIMEM_START + 16 * 1024 - 5 * 512] == 0x55
              && info.kernel_end == BOOT_HIMEM_START + 16 * 1024 - 5 * 512,
          "bzImage payload read to 1 MiB");
  runvm_error_release (&err);
  unlink (path);

  /* The initramfs goes page-aligned to the top of low RAM. */
  memset (img, 0xd4, 10000);
  path = temp_file (img, 10000);
  ok = boot_load_initrd (mem, path, &info, &err) == 0;
  TAP_OK (ok && info.initrd_addr == ((ram_len - 10000) & ~0xfffULL) && info.initrd_size == 10000
              && ram[info.initrd_addr] == 0xd4 && ram[info.initrd_addr + 9999] == 0xd4,
          "initramfs at the top of RAM, page aligned");
  runvm_error_release (&err);
  unlink (path);
  {
    static uint8_t big[8 << 20];
    path = temp_file (big, sizeof big);
    TAP_OK (boot_load_initrd (mem, path, &info, &err) < 0 && strstr (err->msg, "does not fit"),
            "initramfs larger than RAM refused");
    runvm_error_release (&err);
    unlink (path);
  }
  TAP_OK (boot_load_kernel (mem, "/nonexistent/vmlinux", &info, &err) < 0 && strstr (err->msg, "/nonexistent/vmlinux"),
          "missing kernel named in the error");
  runvm_error_release (&err);
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
  test_loading (ram, sizeof ram, &mem);
  return tap_done ();
}
