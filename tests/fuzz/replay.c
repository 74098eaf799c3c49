/* Replays the committed inputs of one fuzz target (tests/fuzz/corpus/TARGET
 * and tests/fuzz/regressions/TARGET) as a TAP unit test in `make check`:
 * each input runs in a child process, so a crash or abort (say, a chain
 * outside guest RAM, see fuzz_check_chain) fails that input by name. Built
 * once per target with -DFUZZ_TARGET="name"; the sanitizer-instrumented
 * fuzzers themselves come from tests/fuzz/build. */
#include <config.h>
#include "../unit/tap.h" /* TAP output (not src/vm/tap.h) */

#include <dirent.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);
const char *__asan_default_options (void);

/* Read by AddressSanitizer when it is linked in. Leaks are not what the
 * replays look for, and LeakSanitizer cannot run where ptrace is denied. */
const char *
__asan_default_options (void)
{
  return "detect_leaks=0";
}

static int
cmp (const void *a, const void *b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

static int
run_one (const char *path)
{
  FILE *f = fopen (path, "rb");
  static uint8_t buf[1 << 20];
  size_t n;
  int status;
  pid_t pid;

  if (f == NULL)
    return -1;
  n = fread (buf, 1, sizeof buf, f);
  fclose (f);
  fflush (stdout);
  pid = fork ();
  if (pid < 0)
    return -1;
  if (pid == 0)
    {
      LLVMFuzzerTestOneInput (buf, n);
      _exit (0);
    }
  if (waitpid (pid, &status, 0) < 0)
    return -1;
  return WIFEXITED (status) && WEXITSTATUS (status) == 0 ? 0 : -1;
}

static void
replay_dir (const char *top, const char *kind, unsigned *count)
{
  char dir[4096], path[8192];
  char *names[4096];
  unsigned n = 0, i;
  struct dirent *e;
  DIR *d;

  snprintf (dir, sizeof dir, "%s/tests/fuzz/%s/%s", top, kind, FUZZ_TARGET);
  d = opendir (dir);
  if (d == NULL)
    return;
  while ((e = readdir (d)) != NULL)
    if (e->d_name[0] != '.')
      {
        if (n == 4096 || (names[n] = strdup (e->d_name)) == NULL)
          {
            TAP_OK (0, "%s: more than 4096 inputs in %s (or out of memory)", FUZZ_TARGET, dir);
            break;
          }
        n++;
      }
  closedir (d);
  qsort (names, n, sizeof *names, cmp);
  for (i = 0; i < n; i++)
    {
      snprintf (path, sizeof path, "%s/%s", dir, names[i]);
      TAP_OK (run_one (path) == 0, "%s %s/%s", FUZZ_TARGET, kind, names[i]);
      free (names[i]);
      (*count)++;
    }
}

int
main (void)
{
  const char *top = getenv ("top_srcdir");
  unsigned count = 0;

  replay_dir (top ? top : ".", "corpus", &count);
  replay_dir (top ? top : ".", "regressions", &count);
  TAP_OK (count > 0, "%s: %u committed inputs replayed", FUZZ_TARGET, count);
  return tap_done ();
}
