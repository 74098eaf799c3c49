/* runvm's VMM: one VM per container, driven by the monitor.
 * vm_create() builds the machine from a vm_config in declared phases
 * (memory, irqchip, vCPUs, legacy devices, virtio devices, boot), vm_run()
 * runs it until the guest powers off, crashes or is killed. */
#ifndef RUNVM_VM_H
#define RUNVM_VM_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "guest-mem.h"

struct event_loop;
struct bus;
struct virtio_device;
struct kvm_cpuid2;
struct vm_device_entry;
struct virtio_vsock;

#define VM_MAX_VCPUS 64
#define VM_N_PHASES 7
#define VM_MAX_SHARES 32
#define VM_MAX_BLOCKS 8

/* How the VM ended. The monitor maps it to its exit status (docs/vm.md). */
enum vm_end_reason
{
  VM_END_NONE = 0,
  VM_END_POWEROFF,    /* guest reset through the keyboard controller (reboot=k) */
  VM_END_SHUTDOWN,    /* triple fault / KVM_EXIT_SHUTDOWN */
  VM_END_INTERNAL,    /* KVM internal error, failed entry, bad exit */
  VM_END_KILLED,      /* the host stopped it (vm_stop) */
  VM_END_HALTED,      /* every vCPU halted with interrupts off */
};

struct vm_share_config
{
  const char *tag;  /* virtio-fs tag */
  const char *path; /* host directory */
  bool readonly;
};

struct vm_block_config
{
  const char *path;
  bool readonly;
};

struct vm_net_config
{
  const char *tap_name; /* tap to attach; created (not persistent) when missing */
  uint8_t mac[6];       /* all zeroes: a random locally administered address */
};

struct vm_config
{
  const char *kernel_path;
  const char *initrd_path; /* may be NULL */
  const char *cmdline;     /* appended after runvm's own parameters */
  unsigned vcpus;
  uint64_t mem_bytes;
  const char *console_log; /* file the serial console is appended to; NULL = discard */
  uint64_t console_log_max; /* its cap before rotation (capped-log.h); 0: CONSOLE_LOG_MAX */
  int console_fd;          /* alternatively an fd (>= 0 wins) */
  const char *vsock_uds;   /* hybrid vsock base path: guest port P -> "<vsock_uds>_P"; NULL = no vsock */
  uint32_t guest_cid;
  const char *virtiofsd_path;
  unsigned n_shares;
  struct vm_share_config shares[VM_MAX_SHARES];
  unsigned n_blocks;
  struct vm_block_config blocks[VM_MAX_BLOCKS];
  bool has_net;
  struct vm_net_config net;
  bool rng;
  bool virtio_console;   /* a virtio-console (hvc0) writing to the console log too */
  const char *state_dir; /* sockets for virtiofsd etc. */
};

struct vm_vcpu
{
  struct vm *vm;
  unsigned index;
  int fd;
  struct kvm_run *run;
  pthread_t thread;
  bool started;
};

struct capped_log;

struct vm
{
  struct vm_config cfg;
  int kvm_fd, vm_fd;
  size_t run_size;
  bool tsc_deadline; /* KVM emulates the TSC-deadline timer: announced in CPUID */
  struct kvm_cpuid2 *supported_cpuid; /* KVM_GET_SUPPORTED_CPUID, asked once per VM (cpu.c) */
  struct guest_mem mem;
  unsigned n_vcpus;
  struct vm_vcpu vcpus[VM_MAX_VCPUS];
  struct bus *pio_bus, *mmio_bus;
  struct event_loop *loop;
  pthread_t loop_thread;
  char cmdline[4096];
  unsigned n_virtio;
  struct virtio_device *virtio[32];
  uint32_t next_irq;

  pthread_mutex_t lock;
  pthread_cond_t cond;
  enum vm_end_reason end_reason;
  char end_detail[256];
  bool paused, pause_requested;
  unsigned vcpus_paused;

  uint64_t boot_entry;       /* filled by the loader */
  uint64_t setup_done_ns;    /* CLOCK_MONOTONIC when the first KVM_RUN is about to happen */
  uint64_t create_start_ns;
  uint64_t phase_ns[VM_N_PHASES]; /* how long each setup phase took (vm_phase_names) */

  struct virtio_vsock *vsock; /* NULL when cfg.vsock_uds is NULL */
  struct capped_log *console; /* the serial port's and virtio-console's output (capped-log.h) */
  struct vm_device_entry *devices; /* released in reverse order of addition */
};

/* The setup phases of vm_create, in order, for `runvm vm --timing`. */
extern const char *const vm_phase_names[VM_N_PHASES];

/* Checks /dev/kvm: present, usable, and not PVM-backed. */
int vm_check_kvm (runvm_error_t *err);
int vm_create (struct vm **out, const struct vm_config *cfg, runvm_error_t *err);
/* Starts the vCPUs and the event loop, returns once the VM has ended. */
enum vm_end_reason vm_run (struct vm *vm);
/* Thread/signal-safe requests. */
void vm_request_stop (struct vm *vm, enum vm_end_reason why);
int vm_pause (struct vm *vm, runvm_error_t *err);
int vm_resume (struct vm *vm, runvm_error_t *err);
void vm_destroy (struct vm *vm);
const char *vm_end_reason_string (enum vm_end_reason r);

/* For devices. */
int vm_cmdline_append (struct vm *vm, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));
int vm_irq_line (struct vm *vm, uint32_t irq, int level);
uint32_t vm_alloc_irq (struct vm *vm);
/* Registers state to free when the VM is destroyed (reverse order). */
void vm_add_device (struct vm *vm, void *state, void (*release) (void *));

#endif
