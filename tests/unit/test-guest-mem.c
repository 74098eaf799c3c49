/* Guest RAM: a 2 MiB-aligned shared mapping of one file that another
 * process can map through its fd (virtiofsd does), backed by transparent
 * huge pages where the host allows (root and a THP kernel), by a plain
 * memfd otherwise; no mount is left anywhere either way. */
#include <config.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/capability.h>

#include "guest-mem.h"
#include "tap.h"

#define MiB (1ULL << 20)

static unsigned
count_lines (const char *path)
{
  FILE *f = fopen (path, "r");
  unsigned n = 0;
  int c;

  if (f == NULL)
    return 0;
  while ((c = getc (f)) != EOF)
    n += c == '\n';
  fclose (f);
  return n;
}

/* kB of the mapping at BASE mapped with PMDs (ShmemPmdMapped in smaps). */
static long
pmd_mapped_kb (const void *base)
{
  char line[512];
  FILE *f = fopen ("/proc/self/smaps", "r");
  unsigned long start, end;
  bool in = false;
  long kb = -1;

  if (f == NULL)
    return -1;
  while (fgets (line, sizeof line, f))
    {
      if (sscanf (line, "%lx-%lx ", &start, &end) == 2) /* a mapping's first line */
        in = start == (unsigned long) base;
      else if (in && sscanf (line, "ShmemPmdMapped: %ld kB", &kb) == 1)
        break;
    }
  fclose (f);
  return kb;
}

static bool
backed_by_memfd (int fd)
{
  char link[64], target[256];
  ssize_t n;

  snprintf (link, sizeof link, "/proc/self/fd/%d", fd);
  n = readlink (link, target, sizeof target - 1);
  if (n < 0)
    return false;
  target[n] = '\0';
  return strstr (target, "memfd:runvm-guest-ram") != NULL;
}

/* CAP_SYS_ADMIN in the effective set (fsopen needs it) and a THP kernel. */
static bool
huge_pages_possible (void)
{
  char line[256];
  unsigned long long eff = 0;
  FILE *f = fopen ("/proc/self/status", "r");

  if (f == NULL)
    return false;
  while (fgets (line, sizeof line, f))
    if (sscanf (line, "CapEff: %llx", &eff) == 1)
      break;
  fclose (f);
  return (eff & (1ULL << CAP_SYS_ADMIN)) && access ("/sys/kernel/mm/transparent_hugepage/shmem_enabled", F_OK) == 0;
}

int
main (void)
{
  struct guest_mem m;
  runvm_error_t err = NULL;
  unsigned mounts = count_lines ("/proc/self/mountinfo");
  struct stat st;
  uint8_t *other;
  pid_t pid;
  int status;

  TAP_OK (guest_mem_init (&m, 64 * MiB, &err) == 0, "64 MiB of guest RAM");
  TAP_OK (((uintptr_t) m.base & (2 * MiB - 1)) == 0, "mapped 2 MiB-aligned");
  TAP_OK (fstat (m.memfd, &st) == 0 && S_ISREG (st.st_mode) && st.st_size == (off_t) (64 * MiB) && st.st_nlink == 0,
          "one unlinked file of the guest's size");
  TAP_OK (count_lines ("/proc/self/mountinfo") == mounts, "no mount attached anywhere");

  /* What the monitor writes, a process mapping the fd sees. */
  TAP_OK (guest_mem_write (&m, 0x123456, "runvm", 5), "write guest RAM");
  other = mmap (NULL, 4 * MiB, PROT_READ, MAP_SHARED, m.memfd, 0);
  TAP_OK (other != MAP_FAILED && memcmp (other + 0x123456, "runvm", 5) == 0, "a second mapping of the fd sees it");
  if (other != MAP_FAILED)
    munmap (other, 4 * MiB);

  memset (m.base, 1, 4 * MiB);
  if (huge_pages_possible ())
    {
      long kb = pmd_mapped_kb (m.base);
      TAP_OK (kb >= 4096 && !backed_by_memfd (m.memfd), "with CAP_SYS_ADMIN and THP: guest RAM in 2 MiB pages (%ld kB PMD-mapped)",
              kb);
    }
  else
    TAP_OK (backed_by_memfd (m.memfd), "without CAP_SYS_ADMIN or THP: a memfd");
  guest_mem_release (&m);
  TAP_OK (m.memfd == -1 && m.base == NULL, "released");

  /* Without CAP_SYS_ADMIN (no private tmpfs possible) it falls back to a memfd. */
  pid = fork ();
  if (pid == 0)
    {
      struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
      struct __user_cap_data_struct d[2];
      if (syscall (SYS_capget, &h, d) < 0)
        _exit (2);
      d[0].effective &= ~(1u << CAP_SYS_ADMIN);
      if (syscall (SYS_capset, &h, d) < 0)
        _exit (2);
      if (guest_mem_init (&m, 64 * MiB, &err) < 0)
        _exit (3);
      _exit (backed_by_memfd (m.memfd) && ((uintptr_t) m.base & (2 * MiB - 1)) == 0 ? 0 : 4);
    }
  TAP_OK (pid > 0 && waitpid (pid, &status, 0) == pid && WIFEXITED (status) && WEXITSTATUS (status) == 0,
          "without CAP_SYS_ADMIN: an aligned memfd instead");
  return tap_done ();
}
