/* 16550A UART at COM1, interrupt driven, so the guest's console keeps
 * working once user space takes over the tty (not just early printk).
 * Transmit completes instantly; output is line-buffered into the console
 * log (capped-log.h). Input is not wired: the container's stdio goes over vsock. */
#include <config.h>
#include "legacy.h"
#include "vm.h"
#include "bus.h"
#include "capped-log.h"
#include "utils.h"

#include <pthread.h>
#include <stdbool.h>
#include <string.h>

#define UART_IER_RDI 0x01
#define UART_IER_THRI 0x02
#define UART_IIR_NO_INT 0x01
#define UART_IIR_THRI 0x02
#define UART_IIR_RDI 0x04
#define UART_IIR_FIFO_BITS 0xc0
#define UART_FCR_ENABLE_FIFO 0x01
#define UART_LCR_DLAB 0x80
#define UART_LSR_DR 0x01
#define UART_LSR_THRE 0x20
#define UART_LSR_TEMT 0x40
#define UART_MCR_LOOP 0x10
#define UART_MSR_DCD 0x80
#define UART_MSR_RI 0x40
#define UART_MSR_DSR 0x20
#define UART_MSR_CTS 0x10

struct serial
{
  struct vm *vm;
  pthread_mutex_t lock;
  uint8_t ier, iir, fcr, lcr, mcr, lsr, msr, scr, dll, dlm;
  bool thri_pending;
  bool irq_level;
  char buf[4096];
  size_t buf_len;
};

/* Without ACPI the guest kernel turns `poweroff` into a halt: it prints
 * this at emergency level (shown even with `quiet`) and stops every CPU
 * with interrupts off, which an in-kernel irqchip never reports. Seeing it
 * on the console is how the VM ends then; a guest could as well reset. */
static void
serial_check_halt (struct serial *s)
{
  static const char *const markers[] = { "reboot: System halted", "reboot: Power down" };
  size_t i;

  for (i = 0; i < ARRAY_SIZE (markers); i++)
    if (memmem (s->buf, s->buf_len, markers[i], strlen (markers[i])))
      vm_request_stop (s->vm, VM_END_POWEROFF);
}

static void
serial_flush (struct serial *s)
{
  serial_check_halt (s);
  capped_log_write (s->vm->console, s->buf, s->buf_len);
  s->buf_len = 0;
}

static void
serial_update_irq (struct serial *s)
{
  uint8_t iir = UART_IIR_NO_INT;
  bool level;

  if ((s->ier & UART_IER_THRI) && s->thri_pending)
    iir = UART_IIR_THRI;
  s->iir = iir | ((s->fcr & UART_FCR_ENABLE_FIFO) ? UART_IIR_FIFO_BITS : 0);
  level = iir != UART_IIR_NO_INT;
  if (level != s->irq_level)
    {
      s->irq_level = level;
      vm_irq_line (s->vm, SERIAL_COM1_IRQ, level);
    }
}

static uint8_t
serial_msr (struct serial *s)
{
  if (s->mcr & UART_MCR_LOOP)
    {
      /* Loopback: modem outputs come back as inputs (the 8250 probe checks). */
      uint8_t m = 0;
      if (s->mcr & 0x01)
        m |= UART_MSR_DSR;
      if (s->mcr & 0x02)
        m |= UART_MSR_CTS;
      if (s->mcr & 0x04)
        m |= UART_MSR_RI;
      if (s->mcr & 0x08)
        m |= UART_MSR_DCD;
      return m;
    }
  return UART_MSR_DCD | UART_MSR_DSR | UART_MSR_CTS;
}

static void
serial_access (void *opaque, uint64_t offset, void *data, uint32_t len, bool is_write)
{
  struct serial *s = opaque;
  uint8_t *v = data;

  if (len != 1)
    {
      if (!is_write)
        memset (data, 0xff, len);
      return;
    }
  pthread_mutex_lock (&s->lock);
  if (is_write)
    switch (offset)
      {
      case 0:
        if (s->lcr & UART_LCR_DLAB)
          s->dll = *v;
        else if (!(s->mcr & UART_MCR_LOOP))
          {
            s->buf[s->buf_len++] = (char) *v;
            if (*v == '\n' || s->buf_len == sizeof s->buf)
              serial_flush (s);
            s->thri_pending = true;
          }
        break;
      case 1:
        if (s->lcr & UART_LCR_DLAB)
          s->dlm = *v;
        else
          {
            /* Enabling THRI while the holding register is empty raises it at once. */
            if (!(s->ier & UART_IER_THRI) && (*v & UART_IER_THRI))
              s->thri_pending = true;
            s->ier = *v & 0x0f;
          }
        break;
      case 2:
        s->fcr = *v;
        break;
      case 3:
        s->lcr = *v;
        break;
      case 4:
        s->mcr = *v & 0x1f;
        break;
      case 7:
        s->scr = *v;
        break;
      default:
        break;
      }
  else
    switch (offset)
      {
      case 0:
        *v = (s->lcr & UART_LCR_DLAB) ? s->dll : 0;
        break;
      case 1:
        *v = (s->lcr & UART_LCR_DLAB) ? s->dlm : s->ier;
        break;
      case 2:
        *v = s->iir;
        /* Reading IIR acknowledges a THRE interrupt. */
        if ((s->iir & 0x0f) == UART_IIR_THRI)
          s->thri_pending = false;
        break;
      case 3:
        *v = s->lcr;
        break;
      case 4:
        *v = s->mcr;
        break;
      case 5:
        *v = UART_LSR_THRE | UART_LSR_TEMT;
        break;
      case 6:
        *v = serial_msr (s);
        break;
      case 7:
        *v = s->scr;
        break;
      default:
        *v = 0xff;
      }
  serial_update_irq (s);
  pthread_mutex_unlock (&s->lock);
}

static void
serial_release (void *opaque)
{
  struct serial *s = opaque;
  serial_flush (s);
  pthread_mutex_destroy (&s->lock);
  free (s);
}

int
serial_create (struct vm *vm, runvm_error_t *err)
{
  struct serial *s = calloc (1, sizeof *s);

  if (s == NULL)
    return runvm_make_error (err, ENOMEM, "serial");
  s->vm = vm;
  s->iir = UART_IIR_NO_INT;
  pthread_mutex_init (&s->lock, NULL);
  vm_add_device (vm, s, serial_release);
  return bus_register (vm->pio_bus, SERIAL_COM1_BASE, 8, serial_access, s, err);
}

/* Keyboard controller: only the reset line. Its range 0x60-0x64 also
 * answers port 0x61 (system control port B) when there is no in-kernel
 * PIT: reads 0, no NMI source. Also swallows the POST/delay port 0x80
 * that the kernel writes to for IO delays. */
static void
i8042_access (void *opaque, uint64_t offset, void *data, uint32_t len, bool is_write)
{
  struct vm *vm = opaque;

  if (!is_write)
    {
      memset (data, 0, len); /* status: input buffer empty, no output */
      return;
    }
  if (offset == 4 && len == 1 && *(uint8_t *) data == 0xfe)
    vm_request_stop (vm, VM_END_POWEROFF);
}

static void
ignore_access (void *opaque, uint64_t offset, void *data, uint32_t len, bool is_write)
{
  if (!is_write)
    memset (data, 0xff, len);
}

int
i8042_create (struct vm *vm, runvm_error_t *err)
{
  if (bus_register (vm->pio_bus, 0x60, 5, i8042_access, vm, err) < 0)
    return -1;
  return bus_register (vm->pio_bus, 0x80, 1, ignore_access, vm, err);
}
