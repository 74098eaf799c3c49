# shellcheck shell=bash
# tests/e2e/lib.sh — helpers for the end-to-end tests (bash).
#
# tests/e2e/suite sources this file, then one test file (tests/e2e/NN-name.sh),
# in a fresh bash per test file; test files do not source it themselves.
# Every helper prints TAP lines "ok N - ..." / "not ok N - ..." numbered by one
# counter shared by all test files of the suite run (a file under $E2E_TMP);
# the suite prints the plan "1..N" at the end.
#
# Results
#   t_pass DESC                    ok N - DESC
#   t_fail DESC [DIAG...]          not ok N - DESC, each DIAG as a "# " line
#   t_skip DESC REASON             ok N - DESC # SKIP REASON
#   t_todo DESC REASON CMD [ARG...]  like t_ok, reported as "# TODO REASON"
#   t_ok DESC CMD [ARG...]         runs CMD (output captured); passes on status 0,
#                                  else fails and shows the status and the output
#   t_nok DESC CMD [ARG...]        passes when CMD fails
#   t_is DESC GOT EXPECTED         passes when GOT = EXPECTED (strings)
#   t_like DESC GOT REGEX          passes when GOT matches the bash regex ERE
#   t_diag MSG...                  "# MSG" comment lines
#   e2e_bail REASON                "Bail out! REASON" and stop the whole suite
# Each returns 0 on pass, 1 on fail, so `t_ok ... || return` works at the top
# level of a test file to stop that file.
#
# Environment
#   e2e_tmpdir                     prints a fresh directory on a tmpfs (never
#                                  in the 9p-shared checkout); removed at the end
#   e2e_require_kvm                fails (never skips) and ends the test file
#                                  when /dev/kvm is missing or PVM-backed
#   e2e_require_root               fails and ends the test file unless root
#   e2e_defer CMD...               run CMD (eval'ed) when the test file ends,
#                                  last registered first — for cleanups
# Variables: top_srcdir, top_builddir (absolute), E2E_TMP (the suite's tmpfs
# directory), E2E_FILE (the current test file's name), RUNVM (the runvm binary
# under test: $top_builddir/runvm unless set).

: "${E2E_TMP:?tests/e2e/lib.sh: run the e2e tests through tests/e2e/suite}"
: "${top_srcdir:?}" "${top_builddir:?}"
RUNVM=${RUNVM:-$top_builddir/runvm}
E2E_FILE=${E2E_FILE:-?}

# _e2e_result OK|NOT_OK DESC [DIRECTIVE] — number and print one result line.
_e2e_result() {
	local status=$1 desc=$2 directive=${3:-} n fd
	desc=${desc//$'\n'/ }
	desc=${desc//\#/\\#}
	exec {fd}>>"$E2E_TMP/.lock"
	flock "$fd"
	read -r n <"$E2E_TMP/.count"
	n=$((n + 1))
	echo "$n" >"$E2E_TMP/.count"
	if [ "$status" = ok ]; then
		echo "ok $n - $desc${directive:+ # $directive}"
	else
		echo "not ok $n - $desc${directive:+ # $directive}"
		[ -n "$directive" ] || echo "$n - $desc ($E2E_FILE)" >>"$E2E_TMP/.failed"
	fi
	flock -u "$fd"
	exec {fd}>&-
}

t_diag() {
	local line
	while IFS= read -r line; do echo "# $line"; done <<<"$*"
}

t_pass() {
	_e2e_result ok "$1"
	return 0
}

t_fail() {
	local desc=$1
	shift
	_e2e_result not_ok "$desc"
	local d
	for d in "$@"; do t_diag "$d"; done
	return 1
}

t_skip() {
	_e2e_result ok "$1" "SKIP ${2:-}"
	return 0
}

# _e2e_run CMD... — run CMD with its output in $E2E_TMP; sets _e2e_rc, _e2e_out.
_e2e_run() {
	_e2e_out=$(mktemp "$E2E_TMP/.out.XXXXXX")
	"$@" >"$_e2e_out" 2>&1 </dev/null
	_e2e_rc=$?
}

_e2e_show_output() {
	if [ -s "$_e2e_out" ]; then
		echo "#   output (last 30 lines):"
		tail -n 30 "$_e2e_out" | sed 's/^/#     /'
	fi
}

t_ok() {
	local desc=$1
	shift
	_e2e_run "$@"
	if [ "$_e2e_rc" -eq 0 ]; then
		t_pass "$desc"
		rm -f "$_e2e_out"
		return 0
	fi
	_e2e_result not_ok "$desc"
	echo "#   command: $(printf '%q ' "$@")"
	echo "#   exit status: $_e2e_rc"
	_e2e_show_output
	rm -f "$_e2e_out"
	return 1
}

t_nok() {
	local desc=$1
	shift
	_e2e_run "$@"
	if [ "$_e2e_rc" -ne 0 ]; then
		t_pass "$desc"
		rm -f "$_e2e_out"
		return 0
	fi
	_e2e_result not_ok "$desc"
	echo "#   command: $(printf '%q ' "$@")(expected to fail, exited 0)"
	_e2e_show_output
	rm -f "$_e2e_out"
	return 1
}

t_todo() {
	local desc=$1 reason=$2
	shift 2
	_e2e_run "$@"
	if [ "$_e2e_rc" -eq 0 ]; then
		_e2e_result ok "$desc" "TODO $reason"
	else
		_e2e_result not_ok "$desc" "TODO $reason"
	fi
	rm -f "$_e2e_out"
	return 0
}

t_is() {
	if [ "$2" = "$3" ]; then
		t_pass "$1"
		return 0
	fi
	t_fail "$1" "  got:      '$2'" "  expected: '$3'"
}

t_like() {
	if [[ $2 =~ $3 ]]; then
		t_pass "$1"
		return 0
	fi
	t_fail "$1" "  got:           '$2'" "  doesn't match: '$3'"
}

e2e_bail() {
	echo "Bail out! $*"
	: >"$E2E_TMP/.bail"
	exit 255
}

e2e_tmpdir() {
	mktemp -d "$E2E_TMP/tmp.XXXXXX"
}

e2e_require_kvm() {
	if [ ! -e /dev/kvm ]; then
		t_fail "$E2E_FILE: /dev/kvm is available" \
			"there is no /dev/kvm: the end-to-end tests need KVM" \
			"(make check runs them inside tests/kvm-host/run where KVM is missing or PVM-backed)"
		exit 1
	fi
	if [ ! -c /dev/kvm ]; then
		t_fail "$E2E_FILE: /dev/kvm is available" "/dev/kvm is not a character device"
		exit 1
	fi
	if [ -e /sys/module/kvm_pvm ]; then
		t_fail "$E2E_FILE: /dev/kvm can run a normal guest" \
			"/dev/kvm is PVM-backed (/sys/module/kvm_pvm exists); run the suite through tests/kvm-host/run"
		exit 1
	fi
	return 0
}

e2e_require_root() {
	if [ "$(id -u)" != 0 ]; then
		t_fail "$E2E_FILE: running as root" "the end-to-end tests need root"
		exit 1
	fi
	return 0
}

_e2e_deferred=()
e2e_defer() {
	_e2e_deferred+=("$*")
}
_e2e_run_deferred() {
	local i
	for ((i = ${#_e2e_deferred[@]} - 1; i >= 0; i--)); do
		eval "${_e2e_deferred[i]}" >/dev/null 2>&1 </dev/null
	done
	_e2e_deferred=()
}
trap _e2e_run_deferred EXIT
