/* Guest RAM backed by one shared-memory file (shared so virtiofsd can map
 * it) and the range-checked translation every device uses. */
#include <config.h>
#include "guest-mem.h"
#include "utils.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>

#define HUGE_PAGE_SIZE (2ULL << 20)

/* An unlinked file on a tmpfs of our own mounted with huge=always, so guest
 * RAM comes in 2 MiB transparent huge pages and KVM maps it with 2 MiB
 * nested page table entries: a guest touching fresh memory then takes one
 * fault per 2 MiB instead of one per 4 KiB (a memfd gets huge pages only
 * when the host's shmem_enabled says so, "never" by default). The mount is
 * made with the new mount API and never attached anywhere: it lives as long
 * as the file, and nothing is left behind. Needs CAP_SYS_ADMIN and a kernel
 * with THP; -1 when that is not there (the caller falls back to a memfd). */
static int
huge_ram_file (uint64_t size)
{
  char bytes[32];
  int fs, mnt = -1, fd;

  fs = fsopen ("tmpfs", FSOPEN_CLOEXEC);
  if (fs < 0)
    return -1;
  snprintf (bytes, sizeof bytes, "%llu", (unsigned long long) ((size + HUGE_PAGE_SIZE - 1) & ~(HUGE_PAGE_SIZE - 1)));
  if (fsconfig (fs, FSCONFIG_SET_STRING, "huge", "always", 0) == 0
      && fsconfig (fs, FSCONFIG_SET_STRING, "size", bytes, 0) == 0
      && fsconfig (fs, FSCONFIG_SET_STRING, "nr_inodes", "2", 0) == 0
      && fsconfig (fs, FSCONFIG_SET_STRING, "mode", "0700", 0) == 0
      && fsconfig (fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) == 0)
    mnt = fsmount (fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_NOEXEC | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
  close (fs);
  if (mnt < 0)
    return -1;
  fd = openat (mnt, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  close (mnt);
  return fd;
}

/* Maps the file at a 2 MiB-aligned address: KVM uses a 2 MiB mapping only
 * where guest-physical and host-virtual addresses agree modulo 2 MiB. */
static uint8_t *
map_aligned (int fd, uint64_t size)
{
  uint8_t *area = mmap (NULL, size + HUGE_PAGE_SIZE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  uint8_t *start, *p;

  if (area == MAP_FAILED)
    return MAP_FAILED;
  start = (uint8_t *) (((uintptr_t) area + HUGE_PAGE_SIZE - 1) & ~(uintptr_t) (HUGE_PAGE_SIZE - 1));
  p = mmap (start, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE | MAP_FIXED, fd, 0);
  if (p == MAP_FAILED)
    {
      int saved = errno;
      munmap (area, size + HUGE_PAGE_SIZE);
      errno = saved;
      return MAP_FAILED;
    }
  /* Give back the slack on both sides. */
  if (start > area)
    munmap (area, start - area);
  if (area + size + HUGE_PAGE_SIZE > start + size)
    munmap (start + size, area + size + HUGE_PAGE_SIZE - (start + size));
  return p;
}

int
guest_mem_init (struct guest_mem *m, uint64_t size, runvm_error_t *err)
{
  memset (m, 0, sizeof *m);
  m->memfd = huge_ram_file (size);
  if (m->memfd < 0)
    m->memfd = memfd_create ("runvm-guest-ram", MFD_CLOEXEC);
  if (m->memfd < 0)
    return runvm_make_error (err, errno, "memfd_create");
  if (ftruncate (m->memfd, (off_t) size) < 0)
    {
      int saved = errno;
      close (m->memfd);
      return runvm_make_error (err, saved, "allocate %llu MiB of guest memory", (unsigned long long) (size >> 20));
    }
  m->base = map_aligned (m->memfd, size);
  if (m->base == MAP_FAILED)
    {
      int saved = errno;
      close (m->memfd);
      m->base = NULL;
      return runvm_make_error (err, saved, "mmap guest memory");
    }
  /* Guest memory holds no secrets of ours, but core dumps of it are huge.
   * MADV_HUGEPAGE matters for the memfd fallback where the host's
   * shmem_enabled is "advise". */
  madvise (m->base, size, MADV_DONTDUMP);
  madvise (m->base, size, MADV_HUGEPAGE);
  guest_mem_init_from_buffer (m, m->base, size);
  return 0;
}

void
guest_mem_init_from_buffer (struct guest_mem *m, uint8_t *buf, uint64_t size)
{
  uint64_t low = size < GUEST_MMIO_HOLE_START ? size : GUEST_MMIO_HOLE_START;

  m->base = buf;
  m->size = size;
  m->n_regions = 1;
  m->regions[0] = (struct guest_mem_region){ .gpa = 0, .size = low, .host = buf, .memfd_offset = 0 };
  if (size > low)
    {
      m->n_regions = 2;
      m->regions[1] = (struct guest_mem_region){
        .gpa = GUEST_HIGH_RAM_START, .size = size - low, .host = buf + low, .memfd_offset = low
      };
    }
}

void
guest_mem_release (struct guest_mem *m)
{
  if (m->base && m->memfd >= 0)
    munmap (m->base, m->size);
  if (m->memfd > 0)
    close (m->memfd);
  m->base = NULL;
  m->memfd = -1;
}

void *
guest_mem_slice (const struct guest_mem *m, uint64_t gpa, uint64_t len)
{
  unsigned i;

  for (i = 0; i < m->n_regions; i++)
    {
      const struct guest_mem_region *r = &m->regions[i];
      /* Written to avoid overflow: gpa - r->gpa only when gpa >= r->gpa. */
      if (gpa < r->gpa || gpa - r->gpa >= r->size)
        continue;
      if (len > r->size - (gpa - r->gpa))
        return NULL;
      return r->host + (gpa - r->gpa);
    }
  return NULL;
}

bool
guest_mem_read (const struct guest_mem *m, uint64_t gpa, void *dst, uint64_t len)
{
  void *p = guest_mem_slice (m, gpa, len);
  if (p == NULL)
    return false;
  memcpy (dst, p, len);
  return true;
}

bool
guest_mem_write (const struct guest_mem *m, uint64_t gpa, const void *src, uint64_t len)
{
  void *p = guest_mem_slice (m, gpa, len);
  if (p == NULL)
    return false;
  memcpy (p, src, len);
  return true;
}

uint64_t
guest_mem_low_end (const struct guest_mem *m)
{
  return m->regions[0].size;
}
