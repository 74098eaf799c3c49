/* The VM: /dev/kvm checks, creation in declared phases, the vCPU threads
 * and their run loop, pause/resume and teardown. The run loop only
 * dispatches IO/MMIO exits to the buses and notices the VM's end. */
#include <config.h>
#include "vm.h"
#include "boot.h"
#include "bus.h"
#include "capped-log.h"
#include "legacy.h"
#include "loop.h"
#include "virtio/virtio.h"
#include "utils.h"

#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <linux/kvm.h>

#define VCPU_KICK_SIGNAL (SIGRTMIN + 1)
#define KVM_TSS_ADDR 0xfffbd000
#define KVM_IDENTITY_MAP_ADDR 0xfffbc000

int vcpu_setup (struct vm_vcpu *cpu, runvm_error_t *err);

struct vm_device_entry
{
  void *state;
  void (*release) (void *);
  struct vm_device_entry *next;
};

static uint64_t
now_ns (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (uint64_t) ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

const char *
vm_end_reason_string (enum vm_end_reason r)
{
  switch (r)
    {
    case VM_END_POWEROFF:
      return "guest powered off";
    case VM_END_SHUTDOWN:
      return "guest triple fault (shutdown)";
    case VM_END_INTERNAL:
      return "KVM internal error";
    case VM_END_KILLED:
      return "stopped by the host";
    case VM_END_HALTED:
      return "guest halted";
    default:
      return "running";
    }
}

int
vm_check_kvm (runvm_error_t *err)
{
  cleanup_close int fd = -1;
  struct stat st;
  int version;

  if (stat ("/dev/kvm", &st) < 0)
    return runvm_make_error (err, errno,
                             "/dev/kvm is missing: this host has no KVM (load kvm_intel or kvm_amd, or enable "
                             "nested virtualization)");
  /* PVM (kvm_pvm) emulates guest kernel mode instruction by instruction and
   * cannot run a stock Linux guest: fail now rather than hang in boot. */
  if (access ("/sys/module/kvm_pvm", F_OK) == 0 && getenv ("RUNVM_ALLOW_PVM") == NULL)
    return runvm_make_error (err, 0,
                             "/dev/kvm is provided by PVM (kvm_pvm), which cannot run a normal Linux guest; use a host "
                             "with hardware KVM (or run inside tests/kvm-host)");
  fd = open ("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (fd < 0)
    return runvm_make_error (err, errno, "open /dev/kvm");
  version = ioctl (fd, KVM_GET_API_VERSION, 0);
  if (version != KVM_API_VERSION)
    return runvm_make_error (err, 0, "/dev/kvm: API version %d, expected %d", version, KVM_API_VERSION);
  return 0;
}

void
vm_add_device (struct vm *vm, void *state, void (*release) (void *))
{
  struct vm_device_entry *e = calloc (1, sizeof *e);
  if (e == NULL)
    abort ();
  e->state = state;
  e->release = release;
  e->next = vm->devices;
  vm->devices = e;
}

int
vm_cmdline_append (struct vm *vm, const char *fmt, ...)
{
  size_t used = strlen (vm->cmdline);
  va_list ap;
  int n;

  va_start (ap, fmt);
  n = vsnprintf (vm->cmdline + used, sizeof vm->cmdline - used, fmt, ap);
  va_end (ap);
  if (n < 0 || (size_t) n >= sizeof vm->cmdline - used)
    {
      vm->cmdline[used] = '\0';
      return -1;
    }
  return 0;
}

int
vm_irq_line (struct vm *vm, uint32_t irq, int level)
{
  struct kvm_irq_level l = { .irq = irq, .level = (uint32_t) level };
  return ioctl (vm->vm_fd, KVM_IRQ_LINE, &l);
}

uint32_t
vm_alloc_irq (struct vm *vm)
{
  if (vm->next_irq >= BOOT_IOAPIC_PINS)
    return 0;
  return vm->next_irq++;
}

static void
kick_handler (int sig)
{
  /* Only there so the signal interrupts KVM_RUN with EINTR. */
}

/* ---- phases ---- */

static int
phase_kvm (struct vm *vm, runvm_error_t *err)
{
  int r;

  if (vm_check_kvm (err) < 0)
    return -1;
  vm->kvm_fd = open ("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (vm->kvm_fd < 0)
    return runvm_make_error (err, errno, "open /dev/kvm");
  if (ioctl (vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_IRQFD) <= 0
      || ioctl (vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_IOEVENTFD) <= 0
      || ioctl (vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_IRQCHIP) <= 0
      || ioctl (vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_USER_MEMORY) <= 0)
    return runvm_make_error (err, 0, "/dev/kvm lacks a required capability (irqchip, irqfd, ioeventfd)");
  r = ioctl (vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
  if (r <= 0)
    return runvm_make_error (err, errno, "KVM_GET_VCPU_MMAP_SIZE");
  vm->run_size = (size_t) r;
  /* KVM's LAPIC emulates the TSC-deadline timer whatever the host has, but
   * leaves announcing it to us (cpu.c). */
  vm->tsc_deadline = ioctl (vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_TSC_DEADLINE_TIMER) > 0;
  r = ioctl (vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
  if (r > 0 && vm->cfg.vcpus > (unsigned) r)
    return runvm_make_error (err, 0, "%u vCPUs requested, KVM allows %d", vm->cfg.vcpus, r);
  vm->vm_fd = ioctl (vm->kvm_fd, KVM_CREATE_VM, 0);
  if (vm->vm_fd < 0)
    return runvm_make_error (err, errno, "KVM_CREATE_VM");
  fcntl (vm->vm_fd, F_SETFD, FD_CLOEXEC);
  if (ioctl (vm->vm_fd, KVM_SET_TSS_ADDR, KVM_TSS_ADDR) < 0)
    return runvm_make_error (err, errno, "KVM_SET_TSS_ADDR");
  {
    uint64_t addr = KVM_IDENTITY_MAP_ADDR;
    if (ioctl (vm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &addr) < 0)
      return runvm_make_error (err, errno, "KVM_SET_IDENTITY_MAP_ADDR");
  }
  return 0;
}

static int
phase_memory (struct vm *vm, runvm_error_t *err)
{
  unsigned i;

  if (guest_mem_init (&vm->mem, vm->cfg.mem_bytes, err) < 0)
    return -1;
  for (i = 0; i < vm->mem.n_regions; i++)
    {
      struct kvm_userspace_memory_region r = {
        .slot = i,
        .guest_phys_addr = vm->mem.regions[i].gpa,
        .memory_size = vm->mem.regions[i].size,
        .userspace_addr = (uintptr_t) vm->mem.regions[i].host,
      };
      if (ioctl (vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0)
        return runvm_make_error (err, errno, "KVM_SET_USER_MEMORY_REGION");
    }
  return 0;
}

static int
phase_irqchip (struct vm *vm, runvm_error_t *err)
{
  struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };

  if (ioctl (vm->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0)
    return runvm_make_error (err, errno, "KVM_CREATE_IRQCHIP");
  /* 0-4 belong to the timer, keyboard, cascade and COM ports. */
  vm->next_irq = VIRTIO_MMIO_FIRST_IRQ;
  /* A guest that has the TSC-deadline timer (and ARAT, which KVM always
   * announces) and knows its TSC frequency from kvmclock never uses the
   * 8254 PIT: Linux only writes its "stop" command (apic_needs_pit(),
   * pit_timer_init()). The in-kernel PIT would cost a host kernel thread
   * per VM (kvm-pit) and ~15 ms of setup in the emulated test host, so it
   * is created only for a KVM without the TSC-deadline timer, where Linux
   * needs it to calibrate the LAPIC timer. Without it, port 0x61 (the
   * PIT's speaker gate, and NMI status) falls to the keyboard controller's
   * range, which reads 0: no NMI source. */
  if (vm->tsc_deadline)
    return 0;
  if (ioctl (vm->vm_fd, KVM_CREATE_PIT2, &pit) < 0)
    return runvm_make_error (err, errno, "KVM_CREATE_PIT2");
  {
    /* Discard lost PIT ticks instead of re-injecting them (QEMU's
     * lost_tick_policy=discard): on a slow or overloaded host the backlog
     * keeps the host's kvm-pit thread busy for minutes (seen as a soft
     * lockup under nested emulation). Linux guests use kvmclock and the
     * LAPIC timer, not PIT tick counts, for time. */
    struct kvm_reinject_control reinject = { .pit_reinject = 0 };
    if (ioctl (vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_REINJECT_CONTROL) > 0
        && ioctl (vm->vm_fd, KVM_REINJECT_CONTROL, &reinject) < 0)
      return runvm_make_error (err, errno, "KVM_REINJECT_CONTROL");
  }
  return 0;
}

static int
phase_vcpus (struct vm *vm, runvm_error_t *err)
{
  unsigned i;

  for (i = 0; i < vm->n_vcpus; i++)
    {
      struct vm_vcpu *cpu = &vm->vcpus[i];
      cpu->vm = vm;
      cpu->index = i;
      cpu->fd = ioctl (vm->vm_fd, KVM_CREATE_VCPU, (unsigned long) i);
      if (cpu->fd < 0)
        return runvm_make_error (err, errno, "KVM_CREATE_VCPU %u", i);
      fcntl (cpu->fd, F_SETFD, FD_CLOEXEC);
      cpu->run = mmap (NULL, vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, cpu->fd, 0);
      if (cpu->run == MAP_FAILED)
        {
          cpu->run = NULL;
          return runvm_make_error (err, errno, "mmap vCPU %u", i);
        }
    }
  return 0;
}

static int
phase_legacy (struct vm *vm, runvm_error_t *err)
{
  /* The console log file is capped: the guest writes to it at will. */
  if (capped_log_open (vm->cfg.console_fd, vm->cfg.console_log,
                        vm->cfg.console_log_max ? vm->cfg.console_log_max : CONSOLE_LOG_MAX, false, &vm->console, err)
      < 0)
    return runvm_error_wrap (err, "console log");
  if (serial_create (vm, err) < 0)
    return -1;
  return i8042_create (vm, err);
}

const char *const vm_phase_names[VM_N_PHASES] = {
  "kvm", "memory", "irqchip", "vcpus", "legacy devices", "virtio devices", "boot",
};

typedef int (*vm_phase_fn) (struct vm *vm, runvm_error_t *err);

/* Virtio devices register themselves through this hook so this file does
 * not need to know each one (see devices.c). */
int vm_create_virtio_devices (struct vm *vm, runvm_error_t *err);

static int
phase_boot (struct vm *vm, runvm_error_t *err)
{
  struct boot_info info;
  unsigned i;

  memset (&info, 0, sizeof info);
  if (boot_load_kernel (&vm->mem, vm->cfg.kernel_path, &info, err) < 0)
    return -1;
  if (vm->cfg.initrd_path && boot_load_initrd (&vm->mem, vm->cfg.initrd_path, &info, err) < 0)
    return -1;
  if (vm->cfg.cmdline && *vm->cfg.cmdline)
    vm_cmdline_append (vm, " %s", vm->cfg.cmdline);
  vm->boot_entry = info.entry;
  if (boot_write_tables (&vm->mem, &info, vm->cmdline, err) < 0)
    return -1;
  if (boot_write_mptable (&vm->mem, vm->n_vcpus, err) < 0)
    return -1;
  for (i = 0; i < vm->n_vcpus; i++)
    if (vcpu_setup (&vm->vcpus[i], err) < 0)
      return -1;
  return 0;
}

int
vm_create (struct vm **out, const struct vm_config *cfg, runvm_error_t *err)
{
  static const vm_phase_fn phases[] = {
    phase_kvm, phase_memory, phase_irqchip, phase_vcpus, phase_legacy, vm_create_virtio_devices, phase_boot,
  };
  struct vm *vm = calloc (1, sizeof *vm);
  struct sigaction sa;
  unsigned i;

  if (vm == NULL)
    return runvm_make_error (err, ENOMEM, "vm");
  vm->create_start_ns = now_ns ();
  vm->cfg = *cfg;
  vm->kvm_fd = vm->vm_fd = -1;
  vm->mem.memfd = -1;
  vm->n_vcpus = cfg->vcpus ? cfg->vcpus : 1;
  pthread_mutex_init (&vm->lock, NULL);
  pthread_cond_init (&vm->cond, NULL);
  if (vm->n_vcpus > VM_MAX_VCPUS)
    {
      vm_destroy (vm);
      return runvm_make_error (err, 0, "%u vCPUs requested, at most %d supported", vm->n_vcpus, VM_MAX_VCPUS);
    }
  if (cfg->mem_bytes < (64ULL << 20))
    {
      vm_destroy (vm);
      return runvm_make_error (err, 0, "guest memory of %llu MiB is too small (minimum 64 MiB)",
                               (unsigned long long) (cfg->mem_bytes >> 20));
    }
  /* noreplace-smp: a one-vCPU guest would otherwise rewrite every LOCK
   * prefix of its kernel, one text_poke (and two page-table switches) each:
   * ~15 % of a small guest's boot in the emulated test host. bench/boot
   * gives QEMU's guest this same line: keep the two alike. */
  snprintf (vm->cmdline, sizeof vm->cmdline,
            "console=ttyS0 8250.nr_uarts=1 reboot=k panic=-1 pci=off nomodule i8042.noaux i8042.nomux "
            "i8042.nopnp i8042.dumbkbd tsc=reliable no_timer_check noreplace-smp quiet");
  vm->pio_bus = bus_new ();
  vm->mmio_bus = bus_new ();
  if (vm->pio_bus == NULL || vm->mmio_bus == NULL || event_loop_new (&vm->loop, err) < 0)
    {
      vm_destroy (vm);
      return runvm_make_error (err, ENOMEM, "vm");
    }
  memset (&sa, 0, sizeof sa);
  sa.sa_handler = kick_handler;
  sigaction (VCPU_KICK_SIGNAL, &sa, NULL);

  _Static_assert (ARRAY_SIZE (phases) == VM_N_PHASES, "one name per phase");
  for (i = 0; i < ARRAY_SIZE (phases); i++)
    {
      uint64_t t0 = now_ns ();
      if (phases[i](vm, err) < 0)
        {
          vm_destroy (vm);
          return -1;
        }
      vm->phase_ns[i] = now_ns () - t0;
    }
  *out = vm;
  return 0;
}

/* ---- running ---- */

static void
vm_end (struct vm *vm, enum vm_end_reason why, const char *detail)
{
  pthread_mutex_lock (&vm->lock);
  if (vm->end_reason == VM_END_NONE)
    {
      vm->end_reason = why;
      snprintf (vm->end_detail, sizeof vm->end_detail, "%s", detail ? detail : "");
    }
  pthread_cond_broadcast (&vm->cond);
  pthread_mutex_unlock (&vm->lock);
}

static void
kick_vcpus (struct vm *vm)
{
  unsigned i;

  for (i = 0; i < vm->n_vcpus; i++)
    if (vm->vcpus[i].started)
      {
        __atomic_store_n (&vm->vcpus[i].run->immediate_exit, 1, __ATOMIC_SEQ_CST);
        pthread_kill (vm->vcpus[i].thread, VCPU_KICK_SIGNAL);
      }
}

void
vm_request_stop (struct vm *vm, enum vm_end_reason why)
{
  vm_end (vm, why, NULL);
  kick_vcpus (vm);
}

/* Returns false when the vCPU must stop. Waits while the VM is paused. */
static bool
vcpu_check_state (struct vm_vcpu *cpu)
{
  struct vm *vm = cpu->vm;
  bool keep_going;

  pthread_mutex_lock (&vm->lock);
  if (vm->pause_requested && vm->end_reason == VM_END_NONE)
    {
      vm->vcpus_paused++;
      pthread_cond_broadcast (&vm->cond);
      while (vm->pause_requested && vm->end_reason == VM_END_NONE)
        pthread_cond_wait (&vm->cond, &vm->lock);
      vm->vcpus_paused--;
    }
  keep_going = vm->end_reason == VM_END_NONE;
  cpu->run->immediate_exit = 0;
  pthread_mutex_unlock (&vm->lock);
  return keep_going;
}

static void
vcpu_handle_io (struct vm_vcpu *cpu)
{
  struct kvm_run *run = cpu->run;
  uint8_t *data = (uint8_t *) run + run->io.data_offset;
  uint32_t i;

  /* data_offset/size/count come from KVM, not the guest; still bound them. */
  if (run->io.data_offset + (uint64_t) run->io.size * run->io.count > cpu->vm->run_size)
    return;
  for (i = 0; i < run->io.count; i++, data += run->io.size)
    bus_access (cpu->vm->pio_bus, run->io.port, data, run->io.size, run->io.direction == KVM_EXIT_IO_OUT);
}

static void *
vcpu_thread (void *opaque)
{
  struct vm_vcpu *cpu = opaque;
  struct vm *vm = cpu->vm;
  sigset_t set;
  char detail[160];

  sigemptyset (&set);
  sigaddset (&set, VCPU_KICK_SIGNAL);
  pthread_sigmask (SIG_UNBLOCK, &set, NULL);
  while (vcpu_check_state (cpu))
    {
      struct kvm_run *run = cpu->run;
      if (ioctl (cpu->fd, KVM_RUN, 0) < 0)
        {
          if (errno == EINTR || errno == EAGAIN)
            continue;
          snprintf (detail, sizeof detail, "vCPU %u: KVM_RUN: %s", cpu->index, strerror (errno));
          vm_end (vm, VM_END_INTERNAL, detail);
          break;
        }
      switch (run->exit_reason)
        {
        case KVM_EXIT_IO:
          vcpu_handle_io (cpu);
          break;
        case KVM_EXIT_MMIO:
          bus_access (vm->mmio_bus, run->mmio.phys_addr, run->mmio.data, run->mmio.len > 8 ? 8 : run->mmio.len,
                      run->mmio.is_write);
          break;
        case KVM_EXIT_SHUTDOWN:
          vm_end (vm, VM_END_SHUTDOWN, "triple fault");
          break;
        case KVM_EXIT_SYSTEM_EVENT:
          vm_end (vm, VM_END_POWEROFF, "system event");
          break;
        case KVM_EXIT_HLT:
          vm_end (vm, VM_END_HALTED, "hlt");
          break;
        case KVM_EXIT_INTR:
          break;
        case KVM_EXIT_FAIL_ENTRY:
          snprintf (detail, sizeof detail, "vCPU %u: entry failed, reason %#llx", cpu->index,
                    (unsigned long long) run->fail_entry.hardware_entry_failure_reason);
          vm_end (vm, VM_END_INTERNAL, detail);
          break;
        case KVM_EXIT_INTERNAL_ERROR:
          snprintf (detail, sizeof detail, "vCPU %u: internal error, suberror %u", cpu->index,
                    run->internal.suberror);
          vm_end (vm, VM_END_INTERNAL, detail);
          break;
        default:
          snprintf (detail, sizeof detail, "vCPU %u: unexpected exit reason %u", cpu->index, run->exit_reason);
          vm_end (vm, VM_END_INTERNAL, detail);
          break;
        }
    }
  kick_vcpus (vm);
  return NULL;
}

static void *
loop_thread (void *opaque)
{
  struct vm *vm = opaque;
  event_loop_run (vm->loop);
  return NULL;
}

enum vm_end_reason
vm_run (struct vm *vm)
{
  sigset_t set, old;
  pthread_attr_t attr;
  unsigned i;

  /* 1 MiB stacks: plenty for device emulation, and too small to hold a
   * transparent huge page (where THP is "always", a default 8 MiB stack
   * costs the monitor 2 MiB of RSS). */
  pthread_attr_init (&attr);
  pthread_attr_setstacksize (&attr, 1 << 20);
  /* Threads inherit a mask with the kick signal blocked; vCPU threads
   * unblock it themselves, so the kick never lands elsewhere. */
  sigemptyset (&set);
  sigaddset (&set, VCPU_KICK_SIGNAL);
  pthread_sigmask (SIG_BLOCK, &set, &old);
  if (pthread_create (&vm->loop_thread, &attr, loop_thread, vm) != 0)
    {
      pthread_attr_destroy (&attr);
      vm_end (vm, VM_END_INTERNAL, "cannot start the event loop thread");
      return vm->end_reason;
    }
  vm->setup_done_ns = now_ns ();
  for (i = 0; i < vm->n_vcpus; i++)
    {
      if (pthread_create (&vm->vcpus[i].thread, &attr, vcpu_thread, &vm->vcpus[i]) != 0)
        {
          vm_request_stop (vm, VM_END_INTERNAL);
          break;
        }
      vm->vcpus[i].started = true;
    }
  pthread_attr_destroy (&attr);
  pthread_sigmask (SIG_SETMASK, &old, NULL);
  pthread_mutex_lock (&vm->lock);
  while (vm->end_reason == VM_END_NONE)
    pthread_cond_wait (&vm->cond, &vm->lock);
  pthread_mutex_unlock (&vm->lock);
  kick_vcpus (vm);
  for (i = 0; i < vm->n_vcpus; i++)
    if (vm->vcpus[i].started)
      {
        pthread_join (vm->vcpus[i].thread, NULL);
        vm->vcpus[i].started = false;
      }
  event_loop_stop (vm->loop);
  pthread_join (vm->loop_thread, NULL);
  return vm->end_reason;
}

int
vm_pause (struct vm *vm, runvm_error_t *err)
{
  pthread_mutex_lock (&vm->lock);
  if (vm->end_reason != VM_END_NONE)
    {
      pthread_mutex_unlock (&vm->lock);
      return runvm_make_error (err, 0, "the VM is not running");
    }
  vm->pause_requested = true;
  pthread_mutex_unlock (&vm->lock);
  kick_vcpus (vm);
  pthread_mutex_lock (&vm->lock);
  while (vm->vcpus_paused < vm->n_vcpus && vm->end_reason == VM_END_NONE)
    pthread_cond_wait (&vm->cond, &vm->lock);
  vm->paused = vm->end_reason == VM_END_NONE;
  pthread_mutex_unlock (&vm->lock);
  return vm->paused ? 0 : runvm_make_error (err, 0, "the VM ended while pausing");
}

int
vm_resume (struct vm *vm, runvm_error_t *err)
{
  pthread_mutex_lock (&vm->lock);
  vm->pause_requested = false;
  vm->paused = false;
  pthread_cond_broadcast (&vm->cond);
  pthread_mutex_unlock (&vm->lock);
  return 0;
}

void
vm_destroy (struct vm *vm)
{
  struct vm_device_entry *e, *n;
  unsigned i;

  if (vm == NULL)
    return;
  for (e = vm->devices; e; e = n)
    {
      n = e->next;
      if (e->release)
        e->release (e->state);
      free (e);
    }
  for (i = 0; i < vm->n_vcpus; i++)
    {
      if (vm->vcpus[i].run)
        munmap (vm->vcpus[i].run, vm->run_size);
      if (vm->vcpus[i].fd > 0)
        close (vm->vcpus[i].fd);
    }
  event_loop_free (vm->loop);
  bus_free (vm->pio_bus);
  bus_free (vm->mmio_bus);
  if (vm->vm_fd >= 0)
    close (vm->vm_fd);
  if (vm->kvm_fd >= 0)
    close (vm->kvm_fd);
  guest_mem_release (&vm->mem);
  capped_log_close (vm->console); /* after the devices: serial_release flushes into it */
  free (vm->supported_cpuid);
  free (vm);
}
