/* vCPU state at reset: CPUID filtered from what KVM supports, the MSRs a
 * Linux guest needs (MTRRdefType with write-back default: without it guest
 * memory runs uncached), LAPIC LINT0/LINT1 wiring, and the long-mode
 * registers of the 64-bit boot protocol (BSP only). */
#include <config.h>
#include "vm.h"
#include "boot.h"
#include "utils.h"

#include <string.h>
#include <sys/ioctl.h>
#include <linux/kvm.h>

#define MSR_IA32_SYSENTER_CS 0x174
#define MSR_IA32_SYSENTER_ESP 0x175
#define MSR_IA32_SYSENTER_EIP 0x176
#define MSR_STAR 0xc0000081
#define MSR_LSTAR 0xc0000082
#define MSR_CSTAR 0xc0000083
#define MSR_SYSCALL_MASK 0xc0000084
#define MSR_KERNEL_GS_BASE 0xc0000102
#define MSR_IA32_TSC 0x10
#define MSR_IA32_MISC_ENABLE 0x1a0
#define MSR_MTRR_DEF_TYPE 0x2ff

#define X86_CR0_PE 0x1
#define X86_CR0_ET 0x10
#define X86_CR0_NE 0x20
#define X86_CR0_PG 0x80000000
#define X86_CR4_PAE 0x20
#define EFER_LME 0x100
#define EFER_LMA 0x400

static struct kvm_cpuid2 *
supported_cpuid (int kvm_fd, runvm_error_t *err)
{
  unsigned n = 128;

  for (;;)
    {
      struct kvm_cpuid2 *c = calloc (1, sizeof *c + n * sizeof (struct kvm_cpuid_entry2));
      if (c == NULL)
        {
          runvm_make_error (err, ENOMEM, "cpuid");
          return NULL;
        }
      c->nent = n;
      if (ioctl (kvm_fd, KVM_GET_SUPPORTED_CPUID, c) == 0)
        return c;
      free (c);
      if (errno != E2BIG || n >= 4096)
        {
          runvm_make_error (err, errno, "KVM_GET_SUPPORTED_CPUID");
          return NULL;
        }
      n *= 2;
    }
}

/* Each vCPU gets its own copy of KVM's supported set (its APIC ids differ);
 * the set itself is asked for once per VM: in the emulated test host every
 * KVM ioctl costs milliseconds. vcpu_setup runs on one thread. */
static int
setup_cpuid (struct vm_vcpu *cpu, runvm_error_t *err)
{
  struct vm *vm = cpu->vm;
  cleanup_free struct kvm_cpuid2 *c = NULL;
  size_t size;
  unsigned i;

  if (vm->supported_cpuid == NULL && (vm->supported_cpuid = supported_cpuid (vm->kvm_fd, err)) == NULL)
    return -1;
  size = sizeof *c + vm->supported_cpuid->nent * sizeof (struct kvm_cpuid_entry2);
  c = malloc (size);
  if (c == NULL)
    return runvm_make_error (err, ENOMEM, "cpuid");
  memcpy (c, vm->supported_cpuid, size);
  for (i = 0; i < c->nent; i++)
    {
      struct kvm_cpuid_entry2 *e = &c->entries[i];
      switch (e->function)
        {
        case 1:
          /* Initial APIC id, logical processor count, and "running on a hypervisor". */
          e->ebx = (e->ebx & 0x0000ffff) | (cpu->index << 24) | ((cpu->vm->n_vcpus & 0xff) << 16);
          e->ecx |= 1u << 31;
          /* TSC-deadline timer: without it Linux calibrates the LAPIC
           * timer against the PIT for 100 ms of every boot. */
          if (cpu->vm->tsc_deadline)
            e->ecx |= 1u << 24;
          if (cpu->vm->n_vcpus > 1)
            e->edx |= 1u << 28; /* HTT: the count above is valid */
          break;
        case 0xb:
        case 0x1f:
          e->edx = cpu->index; /* x2APIC id */
          break;
        case 6:
          e->ecx &= ~(1u << 3); /* no energy-perf bias MSR */
          break;
        default:
          break;
        }
    }
  if (ioctl (cpu->fd, KVM_SET_CPUID2, c) < 0)
    return runvm_make_error (err, errno, "vCPU %u: KVM_SET_CPUID2", cpu->index);
  return 0;
}

static int
setup_msrs (struct vm_vcpu *cpu, runvm_error_t *err)
{
  static const struct
  {
    uint32_t index;
    uint64_t value;
  } init[] = {
    { MSR_IA32_SYSENTER_CS, 0 }, { MSR_IA32_SYSENTER_ESP, 0 }, { MSR_IA32_SYSENTER_EIP, 0 },
    { MSR_STAR, 0 },             { MSR_CSTAR, 0 },             { MSR_KERNEL_GS_BASE, 0 },
    { MSR_SYSCALL_MASK, 0 },     { MSR_LSTAR, 0 },             { MSR_IA32_TSC, 0 },
    { MSR_IA32_MISC_ENABLE, 1 }, /* fast strings */
    { MSR_MTRR_DEF_TYPE, (1u << 11) | 6 }, /* MTRRs enabled, default type write-back */
  };
  struct
  {
    struct kvm_msrs hdr;
    struct kvm_msr_entry e[ARRAY_SIZE (init)];
  } msrs;
  unsigned i;
  int r;

  memset (&msrs, 0, sizeof msrs);
  msrs.hdr.nmsrs = ARRAY_SIZE (init);
  for (i = 0; i < ARRAY_SIZE (init); i++)
    {
      msrs.e[i].index = init[i].index;
      msrs.e[i].data = init[i].value;
    }
  r = ioctl (cpu->fd, KVM_SET_MSRS, &msrs);
  if (r < 0)
    return runvm_make_error (err, errno, "vCPU %u: KVM_SET_MSRS", cpu->index);
  if (r != (int) ARRAY_SIZE (init))
    return runvm_make_error (err, 0, "vCPU %u: KVM_SET_MSRS set %d of %zu MSRs (MSR %#x refused)", cpu->index, r,
                             ARRAY_SIZE (init), init[r].index);
  return 0;
}

static int
setup_lapic (struct vm_vcpu *cpu, runvm_error_t *err)
{
  struct kvm_lapic_state lapic;
  uint32_t v;

  if (ioctl (cpu->fd, KVM_GET_LAPIC, &lapic) < 0)
    return runvm_make_error (err, errno, "vCPU %u: KVM_GET_LAPIC", cpu->index);
  /* LINT0 = ExtINT (the PIC), LINT1 = NMI, as firmware would leave them. */
  memcpy (&v, &lapic.regs[0x350], 4);
  v = (v & ~0x700u) | (7u << 8);
  memcpy (&lapic.regs[0x350], &v, 4);
  memcpy (&v, &lapic.regs[0x360], 4);
  v = (v & ~0x700u) | (4u << 8);
  memcpy (&lapic.regs[0x360], &v, 4);
  if (ioctl (cpu->fd, KVM_SET_LAPIC, &lapic) < 0)
    return runvm_make_error (err, errno, "vCPU %u: KVM_SET_LAPIC", cpu->index);
  return 0;
}

static void
segment (struct kvm_segment *s, uint16_t selector, uint8_t type, bool code)
{
  memset (s, 0, sizeof *s);
  s->base = 0;
  s->limit = 0xffffffff;
  s->selector = selector;
  s->type = type;
  s->present = 1;
  s->dpl = 0;
  s->db = code ? 0 : 1;
  s->s = 1;
  s->l = code ? 1 : 0;
  s->g = 1;
}

static int
setup_boot_regs (struct vm_vcpu *cpu, runvm_error_t *err)
{
  struct kvm_sregs sregs;
  struct kvm_regs regs;
  struct kvm_fpu fpu;

  if (ioctl (cpu->fd, KVM_GET_SREGS, &sregs) < 0)
    return runvm_make_error (err, errno, "KVM_GET_SREGS");
  segment (&sregs.cs, BOOT_CODE_SELECTOR, 0xb, true);
  segment (&sregs.ds, BOOT_DATA_SELECTOR, 0x3, false);
  sregs.es = sregs.fs = sregs.gs = sregs.ss = sregs.ds;
  segment (&sregs.tr, BOOT_TSS_SELECTOR, 0xb, false);
  sregs.tr.s = 0;
  sregs.tr.l = 0;
  sregs.tr.db = 0;
  sregs.gdt.base = BOOT_GDT_ADDR;
  sregs.gdt.limit = 5 * 8 - 1;
  sregs.idt.base = 0;
  sregs.idt.limit = 0;
  sregs.cr0 = X86_CR0_PE | X86_CR0_ET | X86_CR0_NE | X86_CR0_PG;
  sregs.cr3 = BOOT_PML4_ADDR;
  sregs.cr4 = X86_CR4_PAE;
  sregs.efer = EFER_LME | EFER_LMA;
  if (ioctl (cpu->fd, KVM_SET_SREGS, &sregs) < 0)
    return runvm_make_error (err, errno, "KVM_SET_SREGS");

  memset (&regs, 0, sizeof regs);
  regs.rflags = 2;
  regs.rip = cpu->vm->boot_entry;
  regs.rsi = BOOT_ZERO_PAGE_ADDR;
  regs.rsp = regs.rbp = BOOT_STACK_ADDR;
  if (ioctl (cpu->fd, KVM_SET_REGS, &regs) < 0)
    return runvm_make_error (err, errno, "KVM_SET_REGS");

  memset (&fpu, 0, sizeof fpu);
  fpu.fcw = 0x37f;
  fpu.mxcsr = 0x1f80;
  if (ioctl (cpu->fd, KVM_SET_FPU, &fpu) < 0)
    return runvm_make_error (err, errno, "KVM_SET_FPU");
  return 0;
}

int vcpu_setup (struct vm_vcpu *cpu, runvm_error_t *err);

int
vcpu_setup (struct vm_vcpu *cpu, runvm_error_t *err)
{
  if (setup_cpuid (cpu, err) < 0 || setup_msrs (cpu, err) < 0 || setup_lapic (cpu, err) < 0)
    return -1;
  /* Application processors wait for INIT/SIPI from the BSP in the in-kernel LAPIC. */
  if (cpu->index == 0 && setup_boot_regs (cpu, err) < 0)
    return -1;
  return 0;
}
