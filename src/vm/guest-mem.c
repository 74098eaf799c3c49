/* Guest RAM backed by one memfd (shared so virtiofsd can map it) and the
 * range-checked translation every device uses. */
#include <config.h>
#include "guest-mem.h"
#include "utils.h"

#include <string.h>
#include <sys/mman.h>

int
guest_mem_init (struct guest_mem *m, uint64_t size, runvm_error_t *err)
{
  memset (m, 0, sizeof *m);
  m->memfd = memfd_create ("runvm-guest-ram", MFD_CLOEXEC);
  if (m->memfd < 0)
    return runvm_make_error (err, errno, "memfd_create");
  if (ftruncate (m->memfd, (off_t) size) < 0)
    {
      int saved = errno;
      close (m->memfd);
      return runvm_make_error (err, saved, "allocate %llu MiB of guest memory", (unsigned long long) (size >> 20));
    }
  m->base = mmap (NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, m->memfd, 0);
  if (m->base == MAP_FAILED)
    {
      int saved = errno;
      close (m->memfd);
      m->base = NULL;
      return runvm_make_error (err, saved, "mmap guest memory");
    }
  /* Guest memory holds no secrets of ours, but core dumps of it are huge. */
  madvise (m->base, size, MADV_DONTDUMP);
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
