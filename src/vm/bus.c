/* IO and MMIO dispatch tables. Registration happens before the vCPUs run,
 * so lookups need no lock. */
#include <config.h>
#include "bus.h"
#include "utils.h"

#include <string.h>

struct bus_range
{
  uint64_t base, len;
  bus_access_fn fn;
  void *opaque;
};

struct bus
{
  struct bus_range *ranges;
  size_t n;
};

struct bus *
bus_new (void)
{
  return calloc (1, sizeof (struct bus));
}

void
bus_free (struct bus *b)
{
  if (b)
    free (b->ranges);
  free (b);
}

int
bus_register (struct bus *b, uint64_t base, uint64_t len, bus_access_fn fn, void *opaque, runvm_error_t *err)
{
  struct bus_range *n;
  size_t i;

  if (len == 0 || base + len < base)
    return runvm_make_error (err, EINVAL, "bus: bad range %#llx+%#llx", (unsigned long long) base, (unsigned long long) len);
  for (i = 0; i < b->n; i++)
    if (base < b->ranges[i].base + b->ranges[i].len && b->ranges[i].base < base + len)
      return runvm_make_error (err, EEXIST, "bus: range %#llx overlaps %#llx", (unsigned long long) base,
                               (unsigned long long) b->ranges[i].base);
  n = realloc (b->ranges, (b->n + 1) * sizeof *n);
  if (n == NULL)
    return runvm_make_error (err, ENOMEM, "bus");
  b->ranges = n;
  /* Keep sorted by base for the binary search. */
  for (i = b->n; i > 0 && b->ranges[i - 1].base > base; i--)
    b->ranges[i] = b->ranges[i - 1];
  b->ranges[i] = (struct bus_range){ base, len, fn, opaque };
  b->n++;
  return 0;
}

bool
bus_access (struct bus *b, uint64_t addr, void *data, uint32_t len, bool is_write)
{
  size_t lo = 0, hi = b->n;

  while (lo < hi)
    {
      size_t mid = (lo + hi) / 2;
      struct bus_range *r = &b->ranges[mid];
      if (addr < r->base)
        hi = mid;
      else if (addr - r->base >= r->len)
        lo = mid + 1;
      else
        {
          if (len > r->len - (addr - r->base))
            break;
          r->fn (r->opaque, addr - r->base, data, len, is_write);
          return true;
        }
    }
  if (!is_write)
    memset (data, 0xff, len);
  return false;
}
