#!/bin/bash
# Runs runvm-init's host-mode tests inside a real guest kernel: builds them
# static, packs them with runvm-init (as /init) into an initramfs, and boots
# it with QEMU (TCG, microvm) using runvm_init_selftest=. Not part of
# `make check` (needs qemu-system-x86_64 and a built guest kernel).
# Usage: tests/unit/guest-selftest.sh [VMLINUX]   (from a configured build tree)
set -euo pipefail
top_srcdir=$(cd "$(dirname "$0")/../.." && pwd)
build=${top_builddir:-$PWD}
kernel=${1:-$build/vmlinux}
[ -e "$kernel" ] || { echo "no guest kernel at $kernel (make kernel)" >&2; exit 77; }
command -v qemu-system-x86_64 >/dev/null || { echo "qemu-system-x86_64 not installed" >&2; exit 77; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$work/root
mkdir -p "$root"/{dev,proc,sys,rootfs,run,tmp} "$root"/selftest/tests/init
cflags="-static -O1 -std=gnu11 -I$build -I$top_srcdir/src -I$top_srcdir/src/common -I$top_srcdir/tests/unit"
libs="$build/libcommon.a $(pkg-config --variable=libdir yajl)/libyajl_s.a"
for t in test-init-stdio test-init-process; do
  gcc $cflags -o "$root/selftest/$t" "$top_srcdir/tests/unit/$t.c" "$top_srcdir/tests/unit/init-host.c" $libs
done
cat > "$work/run.c" <<'EOT'
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/wait.h>
int main (void)
{
  const char *t[] = { "/selftest/test-init-stdio", "/selftest/test-init-process" };
  int i, st, failed = 0;
  setenv ("top_builddir", "/selftest", 1);
  for (i = 0; i < 2; i++)
    {
      pid_t p = fork ();
      if (p == 0)
        {
          execl (t[i], t[i], (char *) NULL);
          _exit (127);
        }
      waitpid (p, &st, 0);
      failed |= !WIFEXITED (st) || WEXITSTATUS (st);
      printf ("selftest-result %s %d\n", t[i], WIFEXITED (st) ? WEXITSTATUS (st) : 128 + WTERMSIG (st));
      fflush (stdout);
    }
  return failed;
}
EOT
gcc -static -o "$root/selftest/run" "$work/run.c"
cp "$build/runvm-init" "$root/init"
cp "$build/runvm-init" "$root/selftest/runvm-init"
cp "$build/tests/init/testinit" "$root/selftest/tests/init/testinit"
(cd "$root" && find . | LC_ALL=C sort | cpio --quiet -o -H newc -R 0:0) > "$work/initrd.cpio"
timeout 600 qemu-system-x86_64 -M microvm -accel tcg -cpu max -m 512 -kernel "$kernel" \
  -initrd "$work/initrd.cpio" -nographic -no-reboot -nodefaults -serial stdio \
  -append "console=ttyS0 reboot=k panic=-1 quiet runvm_init_selftest=/selftest/run" | tee "$work/console.log"
tr -d '\r' < "$work/console.log" > "$work/console.txt"
! grep -q '^not ok' "$work/console.txt" && [ "$(grep -c '^selftest-result .* 0$' "$work/console.txt")" = 2 ]
