/* Kernel loading and the boot-time tables of the 64-bit boot protocol
 * (Documentation/x86/boot.rst). Every write goes through guest_mem_write so
 * a kernel file that does not fit the configured RAM is an error, not a
 * stray write. */
#include <config.h>
#include "boot.h"
#include "utils.h"

#include <elf.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <asm/bootparam.h>


unsigned
boot_build_e820 (const struct guest_mem *m, struct e820_range *out, unsigned max)
{
  unsigned n = 0;
  uint64_t low = guest_mem_low_end (m);

#define ADD(a, s, t)                                                                                                   \
  do                                                                                                                   \
    {                                                                                                                  \
      if (n < max)                                                                                                     \
        out[n++] = (struct e820_range){ (a), (s), (t) };                                                          \
    }                                                                                                                  \
  while (0)
  ADD (0, BOOT_EBDA_START, E820_RAM);
  ADD (BOOT_EBDA_START, 0x100000 - BOOT_EBDA_START, E820_RESERVED);
  if (low > BOOT_HIMEM_START)
    ADD (BOOT_HIMEM_START, low - BOOT_HIMEM_START, E820_RAM);
  if (m->n_regions > 1)
    ADD (m->regions[1].gpa, m->regions[1].size, E820_RAM);
#undef ADD
  return n;
}

int
boot_check_bzimage (const uint8_t *image, size_t len, struct boot_info *info, size_t *payload_offset,
                    runvm_error_t *err)
{
  struct setup_header hdr;
  size_t setup_sects, hdr_end;

  if (len < 0x1f1 + sizeof hdr)
    return runvm_make_error (err, 0, "bzImage: file too small");
  memcpy (&hdr, image + 0x1f1, sizeof hdr);
  if (hdr.boot_flag != 0xAA55 || hdr.header != 0x53726448 /* "HdrS" */)
    return runvm_make_error (err, 0, "not an ELF vmlinux nor a bzImage (no HdrS signature)");
  if (hdr.version < 0x020c)
    return runvm_make_error (err, 0, "bzImage: boot protocol %u.%02u is too old (need 2.12 for 64-bit entry)",
                             hdr.version >> 8, hdr.version & 0xff);
  if (!(hdr.xloadflags & XLF_KERNEL_64))
    return runvm_make_error (err, 0, "bzImage: kernel has no 64-bit entry point (XLF_KERNEL_64)");
  if (!(hdr.loadflags & LOADED_HIGH))
    return runvm_make_error (err, 0, "bzImage: kernel does not load high");
  setup_sects = hdr.setup_sects ? hdr.setup_sects : 4;
  *payload_offset = (setup_sects + 1) * 512;
  if (*payload_offset >= len)
    return runvm_make_error (err, 0, "bzImage: setup size exceeds file size");
  /* The header runs from 0x1f1 to 0x202 + the byte at 0x201. */
  hdr_end = 0x202 + image[0x201];
  if (hdr_end > len || hdr_end - 0x1f1 > sizeof info->setup_header)
    return runvm_make_error (err, 0, "bzImage: bad setup header length");
  info->setup_header_len = hdr_end - 0x1f1;
  memcpy (info->setup_header, image + 0x1f1, info->setup_header_len);
  info->entry = BOOT_HIMEM_START + 0x200;
  info->kernel_end = BOOT_HIMEM_START + (len - *payload_offset);
  return 0;
}

/* Reads exactly LEN bytes at OFF into DST (guest RAM): the kernel copies
 * from its page cache, so loading costs no page fault per page of the file,
 * only one per (huge) page of guest RAM. A file shorter than announced
 * fails with EPIPE (read_all). */
static int
read_at (int fd, uint8_t *dst, size_t len, off_t off)
{
  if (lseek (fd, off, SEEK_SET) != off)
    return -1;
  return read_all (fd, dst, len, NULL);
}

/* HEAD holds the file's first HEAD_LEN bytes (all of it, or BOOT_HEAD_MAX). */
static int
load_elf (const struct guest_mem *m, int fd, const uint8_t *head, size_t head_len, size_t len, struct boot_info *info,
          runvm_error_t *err)
{
  const Elf64_Ehdr *eh = (const Elf64_Ehdr *) head;
  unsigned i;

  if (head_len < sizeof *eh || eh->e_ident[EI_CLASS] != ELFCLASS64 || eh->e_machine != EM_X86_64)
    return runvm_make_error (err, 0, "kernel: not a 64-bit x86 ELF");
  if (eh->e_phoff > head_len || eh->e_phnum > 64 || eh->e_phentsize != sizeof (Elf64_Phdr)
      || head_len - eh->e_phoff < (size_t) eh->e_phnum * sizeof (Elf64_Phdr))
    return runvm_make_error (err, 0, "kernel: bad ELF program headers");
  info->kernel_end = 0;
  for (i = 0; i < eh->e_phnum; i++)
    {
      Elf64_Phdr ph;
      uint8_t *dst;

      memcpy (&ph, head + eh->e_phoff + i * sizeof ph, sizeof ph);
      if (ph.p_type != PT_LOAD)
        continue;
      if (ph.p_offset > len || ph.p_filesz > len - ph.p_offset || ph.p_filesz > ph.p_memsz)
        return runvm_make_error (err, 0, "kernel: ELF segment %u out of file bounds", i);
      if (ph.p_paddr < BOOT_HIMEM_START)
        return runvm_make_error (err, 0, "kernel: ELF segment %u below 1 MiB", i);
      dst = guest_mem_slice (m, ph.p_paddr, ph.p_memsz);
      if (dst == NULL)
        return runvm_make_error (err, 0, "kernel: ELF segment %u (%#llx+%#llx) does not fit guest memory", i,
                                 (unsigned long long) ph.p_paddr, (unsigned long long) ph.p_memsz);
      if (read_at (fd, dst, ph.p_filesz, ph.p_offset) < 0)
        return runvm_make_error (err, errno, "kernel: read ELF segment %u", i);
      memset (dst + ph.p_filesz, 0, ph.p_memsz - ph.p_filesz);
      if (ph.p_paddr + ph.p_memsz > info->kernel_end)
        info->kernel_end = ph.p_paddr + ph.p_memsz;
    }
  if (info->kernel_end == 0)
    return runvm_make_error (err, 0, "kernel: ELF has no loadable segment");
  /* vmlinux's e_entry is startup_64's virtual address for some builds and
   * its physical one for others; the 64-bit entry is at the start of the
   * first segment (phys_startup_64). */
  info->entry = eh->e_entry;
  if (info->entry >= 0xffffffff80000000ULL)
    info->entry -= 0xffffffff80000000ULL;
  info->setup_header_len = 0;
  return 0;
}

/* A heap buffer this size would cost the monitor a (huge) page of RSS. */
#define BOOT_HEAD_MAX (8 * 1024)

static int
open_image (const char *path, int *fd, size_t *len, runvm_error_t *err)
{
  struct stat st;

  *fd = open (path, O_RDONLY | O_CLOEXEC);
  if (*fd < 0)
    return runvm_make_error (err, errno, "open `%s`", path);
  if (fstat (*fd, &st) < 0)
    return runvm_make_error (err, errno, "stat `%s`", path);
  if (!S_ISREG (st.st_mode) || st.st_size == 0)
    return runvm_make_error (err, 0, "`%s` is not a non-empty regular file", path);
  *len = st.st_size;
  return 0;
}

int
boot_load_kernel (const struct guest_mem *m, const char *path, struct boot_info *info, runvm_error_t *err)
{
  cleanup_close int fd = -1;
  uint8_t head[BOOT_HEAD_MAX];
  size_t len, head_len, payload;
  uint8_t *dst;
  int ret;

  if (open_image (path, &fd, &len, err) < 0)
    return runvm_error_wrap (err, "loading kernel");
  /* ELF and program headers, or the bzImage setup header, lie in the first
   * BOOT_HEAD_MAX bytes; the rest is read straight into guest RAM. */
  head_len = len < BOOT_HEAD_MAX ? len : BOOT_HEAD_MAX;
  if (read_at (fd, head, head_len, 0) < 0)
    return runvm_make_error (err, errno, "loading kernel: read `%s`", path);
  if (head_len >= 4 && memcmp (head, ELFMAG, SELFMAG) == 0)
    ret = load_elf (m, fd, head, head_len, len, info, err);
  else
    {
      /* It reads no further than the setup header (below 0x301): head
       * holds that much of any file long enough to pass its checks. */
      ret = boot_check_bzimage (head, len, info, &payload, err);
      if (ret == 0 && (dst = guest_mem_slice (m, BOOT_HIMEM_START, len - payload)) == NULL)
        ret = runvm_make_error (err, 0, "kernel does not fit in guest memory");
      else if (ret == 0 && read_at (fd, dst, len - payload, payload) < 0)
        ret = runvm_make_error (err, errno, "read");
    }
  if (ret < 0)
    return runvm_error_wrap (err, "loading kernel `%s`", path);
  return 0;
}

int
boot_load_initrd (const struct guest_mem *m, const char *path, struct boot_info *info, runvm_error_t *err)
{
  cleanup_close int fd = -1;
  size_t len;
  uint64_t top = guest_mem_low_end (m), addr;
  uint8_t *dst;

  if (open_image (path, &fd, &len, err) < 0)
    return runvm_error_wrap (err, "loading initramfs");
  if (top > BOOT_INITRD_ADDR_MAX + 1)
    top = BOOT_INITRD_ADDR_MAX + 1;
  addr = (top - len) & ~0xfffULL;
  if (len >= top || addr < info->kernel_end || (dst = guest_mem_slice (m, addr, len)) == NULL)
    return runvm_make_error (err, 0, "initramfs `%s` (%zu bytes) does not fit in guest memory", path, len);
  if (read_at (fd, dst, len, 0) < 0)
    return runvm_make_error (err, errno, "loading initramfs: read `%s`", path);
  info->initrd_addr = addr;
  info->initrd_size = len;
  return 0;
}

int
boot_write_tables (const struct guest_mem *m, const struct boot_info *info, const char *cmdline,
                   runvm_error_t *err)
{
  struct boot_params *zp = guest_mem_slice (m, BOOT_ZERO_PAGE_ADDR, sizeof *zp);
  struct e820_range e820[8];
  uint64_t gdt[5] = {
    0,
    0,
    0x00af9b000000ffffULL, /* 0x10: 64-bit code, flat */
    0x00cf93000000ffffULL, /* 0x18: data, flat */
    0x008f8b000000ffffULL, /* 0x20: TSS */
  };
  uint64_t *pml4, *pdpt, *pd;
  size_t cmdlen = strlen (cmdline);
  unsigned i, n;

  if (zp == NULL)
    return runvm_make_error (err, 0, "guest memory too small for the zero page");
  if (cmdlen >= BOOT_CMDLINE_MAX)
    return runvm_make_error (err, 0, "kernel command line too long (%zu bytes)", cmdlen);
  memset (zp, 0, sizeof *zp);
  if (info->setup_header_len)
    memcpy (&zp->hdr, info->setup_header, info->setup_header_len);
  else
    {
      zp->hdr.boot_flag = 0xAA55;
      zp->hdr.header = 0x53726448;
      zp->hdr.version = 0x020f;
      zp->hdr.kernel_alignment = 0x1000000;
    }
  zp->hdr.type_of_loader = 0xff;
  zp->hdr.loadflags |= LOADED_HIGH | KEEP_SEGMENTS;
  zp->hdr.cmd_line_ptr = BOOT_CMDLINE_ADDR;
  zp->hdr.cmdline_size = cmdlen;
  zp->hdr.ramdisk_image = (uint32_t) info->initrd_addr;
  zp->hdr.ramdisk_size = (uint32_t) info->initrd_size;
  n = boot_build_e820 (m, e820, ARRAY_SIZE (e820));
  for (i = 0; i < n; i++)
    {
      zp->e820_table[i].addr = e820[i].addr;
      zp->e820_table[i].size = e820[i].size;
      zp->e820_table[i].type = e820[i].type;
    }
  zp->e820_entries = n;
  if (!guest_mem_write (m, BOOT_CMDLINE_ADDR, cmdline, cmdlen + 1))
    return runvm_make_error (err, 0, "cannot write the command line");
  if (!guest_mem_write (m, BOOT_GDT_ADDR, gdt, sizeof gdt))
    return runvm_make_error (err, 0, "cannot write the GDT");

  /* Identity map of the first 4 GiB with 2 MiB pages. */
  pml4 = guest_mem_slice (m, BOOT_PML4_ADDR, 4096);
  pdpt = guest_mem_slice (m, BOOT_PDPT_ADDR, 4096);
  pd = guest_mem_slice (m, BOOT_PD_ADDR, 4 * 4096);
  if (!pml4 || !pdpt || !pd)
    return runvm_make_error (err, 0, "cannot write page tables");
  memset (pml4, 0, 4096);
  memset (pdpt, 0, 4096);
  pml4[0] = BOOT_PDPT_ADDR | 0x3;
  for (i = 0; i < 4; i++)
    pdpt[i] = (BOOT_PD_ADDR + i * 4096ULL) | 0x3;
  for (i = 0; i < 4 * 512; i++)
    pd[i] = ((uint64_t) i << 21) | 0x83;
  return 0;
}
