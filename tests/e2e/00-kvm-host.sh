# shellcheck shell=bash
# tests/e2e/00-kvm-host.sh — the machine the end-to-end tests run on has a
# working, hardware-like /dev/kvm (inside tests/kvm-host/run: nested SVM
# under TCG). Sourced by tests/e2e/suite after lib.sh.

if [ -e /dev/kvm ]; then
	t_pass "/dev/kvm exists"
else
	t_fail "/dev/kvm exists" "the end-to-end tests need KVM"
fi
t_ok "/dev/kvm is a character device" test -c /dev/kvm
t_ok "/dev/kvm is not PVM-backed (no /sys/module/kvm_pvm)" test ! -e /sys/module/kvm_pvm
t_is "E2E_TMP is on a tmpfs" "$(stat -f -c %T "$E2E_TMP")" tmpfs

# A real KVM_RUN: real-mode guest code doing arithmetic and port I/O, then HLT.
cc=${CC:-}
if [ -z "$cc" ]; then
	for c in gcc cc clang; do
		if command -v "$c" >/dev/null; then cc=$c; break; fi
	done
fi
if [ -z "$cc" ]; then
	t_skip "kvm-smoke: KVM_RUN executes guest code up to HLT" "no C compiler"
else
	d=$(e2e_tmpdir)
	if t_ok "kvm-smoke builds ($cc)" \
		"$cc" -O2 -Wall -o "$d/kvm-smoke" "$top_srcdir/tests/kvm-host/kvm-smoke.c"; then
		out=$("$d/kvm-smoke" 2>&1)
		rc=$?
		if [ $rc = 0 ]; then
			t_pass "kvm-smoke: KVM_RUN executes guest code up to HLT"
		else
			t_fail "kvm-smoke: KVM_RUN executes guest code up to HLT" "exit status $rc" "$out"
		fi
	fi
fi
