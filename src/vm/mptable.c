/* Intel MultiProcessor Specification 1.4 table: without ACPI it is how the
 * guest learns about every vCPU's local APIC and the IOAPIC routing. Pure
 * construction into a buffer (unit tested), then copied into guest RAM. */
#include <config.h>
#include "boot.h"
#include "utils.h"

#include <string.h>

#define APIC_DEFAULT_BASE 0xfee00000u
#define IOAPIC_DEFAULT_BASE 0xfec00000u
#define APIC_VERSION 0x14
#define IOAPIC_VERSION 0x11

struct __attribute__ ((packed)) mpf_intel
{
  char signature[4];
  uint32_t physptr;
  uint8_t length, specification, checksum, feature1, feature2, feature3, feature4, feature5;
};

struct __attribute__ ((packed)) mpc_table
{
  char signature[4];
  uint16_t length;
  uint8_t spec, checksum;
  char oem[8], productid[12];
  uint32_t oemptr;
  uint16_t oemsize, oemcount;
  uint32_t lapic;
  uint32_t reserved;
};

struct __attribute__ ((packed)) mpc_cpu
{
  uint8_t type, apicid, apicver, cpuflag;
  uint32_t cpufeature, featureflag, reserved[2];
};

struct __attribute__ ((packed)) mpc_bus
{
  uint8_t type, busid;
  char bustype[6];
};

struct __attribute__ ((packed)) mpc_ioapic
{
  uint8_t type, apicid, apicver, flags;
  uint32_t apicaddr;
};

struct __attribute__ ((packed)) mpc_intsrc
{
  uint8_t type, irqtype;
  uint16_t irqflag;
  uint8_t srcbus, srcbusirq, dstapic, dstirq;
};

static uint8_t
checksum (const uint8_t *p, size_t len)
{
  uint8_t sum = 0;
  while (len--)
    sum += *p++;
  return (uint8_t) -sum;
}

int
boot_build_mptable (uint8_t *buf, size_t len, uint64_t table_addr, unsigned ncpus)
{
  size_t need = sizeof (struct mpf_intel) + sizeof (struct mpc_table) + ncpus * sizeof (struct mpc_cpu)
                + sizeof (struct mpc_bus) + sizeof (struct mpc_ioapic)
                + (BOOT_IOAPIC_PINS + 2) * sizeof (struct mpc_intsrc);
  struct mpf_intel *mpf = (struct mpf_intel *) buf;
  struct mpc_table *mpc = (struct mpc_table *) (buf + sizeof *mpf);
  uint8_t *p = (uint8_t *) (mpc + 1);
  uint8_t ioapic_id = (uint8_t) ncpus;
  unsigned i, entries = 0;

  if (ncpus == 0 || ncpus > 254 || need > len)
    return -1;
  memset (buf, 0, need);
  memcpy (mpf->signature, "_MP_", 4);
  mpf->physptr = (uint32_t) (table_addr + sizeof *mpf);
  mpf->length = 1; /* in 16-byte units */
  mpf->specification = 4;

  memcpy (mpc->signature, "PCMP", 4);
  mpc->spec = 4;
  memcpy (mpc->oem, "RUNVM   ", 8);
  memcpy (mpc->productid, "MICROVM     ", 12);
  mpc->lapic = APIC_DEFAULT_BASE;

  for (i = 0; i < ncpus; i++, entries++)
    {
      struct mpc_cpu *c = (struct mpc_cpu *) p;
      c->type = 0;
      c->apicid = (uint8_t) i;
      c->apicver = APIC_VERSION;
      c->cpuflag = 1 | (i == 0 ? 2 : 0); /* enabled, BSP */
      c->cpufeature = 0x600;             /* family 6 */
      c->featureflag = 0x201;            /* FPU, APIC */
      p += sizeof *c;
    }
  {
    struct mpc_bus *b = (struct mpc_bus *) p;
    b->type = 1;
    b->busid = 0;
    memcpy (b->bustype, "ISA   ", 6);
    p += sizeof *b;
    entries++;
  }
  {
    struct mpc_ioapic *io = (struct mpc_ioapic *) p;
    io->type = 2;
    io->apicid = ioapic_id;
    io->apicver = IOAPIC_VERSION;
    io->flags = 1;
    io->apicaddr = IOAPIC_DEFAULT_BASE;
    p += sizeof *io;
    entries++;
  }
  for (i = 0; i < BOOT_IOAPIC_PINS; i++, entries++)
    {
      struct mpc_intsrc *s = (struct mpc_intsrc *) p;
      s->type = 3; /* I/O interrupt */
      s->irqtype = 0; /* INT */
      s->irqflag = 0; /* bus default: ISA = edge, active high */
      s->srcbus = 0;
      s->srcbusirq = (uint8_t) i;
      s->dstapic = ioapic_id;
      s->dstirq = (uint8_t) i;
      p += sizeof *s;
    }
  {
    struct mpc_intsrc *s = (struct mpc_intsrc *) p;
    s->type = 4; /* local interrupt */
    s->irqtype = 3; /* ExtINT */
    s->dstapic = 0xff;
    s->dstirq = 0; /* LINT0 */
    p += sizeof *s;
    s = (struct mpc_intsrc *) p;
    s->type = 4;
    s->irqtype = 1; /* NMI */
    s->dstapic = 0xff;
    s->dstirq = 1; /* LINT1 */
    p += sizeof *s;
    entries += 2;
  }
  mpc->length = (uint16_t) (p - (uint8_t *) mpc);
  mpc->oemcount = (uint16_t) entries;
  mpc->checksum = checksum ((uint8_t *) mpc, mpc->length);
  mpf->checksum = checksum ((uint8_t *) mpf, sizeof *mpf);
  return (int) (p - buf);
}

int
boot_write_mptable (const struct guest_mem *m, unsigned ncpus, runvm_error_t *err)
{
  uint8_t buf[4096]; /* runs past 0xa0000 for many vCPUs: still RAM, reserved in e820 */
  int n = boot_build_mptable (buf, sizeof buf, BOOT_MPTABLE_ADDR, ncpus);

  if (n < 0)
    return runvm_make_error (err, 0, "cannot build an MP table for %u vCPUs", ncpus);
  if (!guest_mem_write (m, BOOT_MPTABLE_ADDR, buf, n))
    return runvm_make_error (err, 0, "cannot write the MP table");
  return 0;
}
