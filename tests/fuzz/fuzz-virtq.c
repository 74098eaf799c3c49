/* Fuzz target: the split virtqueue (queue.c) against any ring layout and
 * RAM contents a guest can make: chain loops, indirect tables, out-of-range
 * addresses, zero-length and oversized descriptors, wild indices. Every
 * chain popped must lie inside guest RAM; the walk must end. */
#include <config.h>
#include "fuzz.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  static struct virtq_chain c;
  struct fuzz_in in = { data, size }, hdr;
  struct guest_mem mem;
  struct virtq q;
  uint8_t ops[16], buf[512], *ram;
  unsigned i;

  memset (&q, 0, sizeof q);
  for (i = 0; i < sizeof ops; i++)
    ops[i] = (uint8_t) fuzz_take (&in, 1);
  /* The queue's 12 bytes come first; RAM is laid out from what follows
   * them before virtq_setup looks at it. */
  hdr = fuzz_split (&in, 12);
  ram = fuzz_ram (&in, &mem);
  if (!fuzz_queue (&hdr, &q, &mem))
    return 0;
  for (i = 0; i < 64; i++)
    {
      uint8_t op = ops[i % sizeof ops];
      int r = virtq_pop_chain (&q, &c);

      if (r != 1)
        break;
      fuzz_check_chain (&c, ram);
      if (c.out_len > 0)
        virtq_chain_copy_from_out (&c, op % (c.out_len + 1u), buf, sizeof buf);
      if (c.in_len > 0)
        virtq_chain_copy_to_in (&c, (op * 37u) % (c.in_len + 1u), buf, sizeof buf);
      if ((op & 3) == 0 && i < 32)
        virtq_unpop (&q); /* the device ran out of room: pop it again */
      else
        virtq_push_used (&q, c.head, (op & 4) ? c.in_len : 0);
      (void) virtq_should_notify (&q);
    }
  return 0;
}
