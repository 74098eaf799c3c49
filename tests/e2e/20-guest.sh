# shellcheck shell=bash
# shellcheck disable=SC2016 # $... in single quotes is for the container's sh
# tests/e2e/20-guest.sh — what runvm-init does for the container process,
# end to end through `runvm run`: exit codes and create-time exec errors,
# signals, stdio and ttys (a console socket), user and groups, umask, cwd,
# env, hostname, capabilities, noNewPrivileges, rlimits, seccomp, the
# read-only rootfs, masked and read-only paths, the pid namespace, the guest
# kernel, and exec into a running container. Expected values are runc
# 1.1's on the same bundles. Every VM boot is slow under the emulated KVM
# host, so checks that share a configuration share a container: a busybox
# sh runs several testinit commands, each printing its own KEY=VALUE lines.
e2e_require_kvm
e2e_require_root
# shellcheck source=tests/e2e/bundle.sh
. "$top_srcdir/tests/e2e/bundle.sh"

tmp=$(e2e_tmpdir)
root=$tmp/root
R() { "$RUNVM" --root "$root" "$@"; }
e2e_defer "for c in \$(\"$RUNVM\" --root \"$root\" list -q 2>/dev/null); do \"$RUNVM\" --root \"$root\" delete -f \$c; done"

# B NAME PY-EXPR ARG... — bundle $tmp/NAME running ARG..., config edited by
# PY-EXPR (c = the config; 'pass' for none). No ARG may hold a newline
# (make-demo-bundle splits on them).
B() {
	local name=$1 expr=$2
	shift 2
	e2e_bundle "$tmp/$name" "$@"
	[ "$expr" = pass ] || e2e_bundle_set "$tmp/$name" "$expr"
}
# RUN NAME — `runvm run` the bundle NAME as container NAME, stdin from
# /dev/null; sets out (stdout), err (stderr) and rc.
RUN() {
	R run -b "$tmp/$1" "$1" >"$tmp/$1.out" 2>"$tmp/$1.err" </dev/null
	rc=$?
	out=$(cat "$tmp/$1.out")
	err=$(cat "$tmp/$1.err")
}
# line KEY — the value of the first KEY=... line of $out.
line() { sed -n "s/^$1=//p" <<<"$out" | head -n 1; }
# show — the container's stderr as a diagnostic, after a failed check.
show() { t_diag "exit status $rc; stderr: $err"; }

# ---- exit codes, create-time errors ----
B exit42 pass /bin/testinit exit 42
RUN exit42
t_is "exit status 42 of the container process is run's" "$rc" 42

# Executable lookup happens in the guest at create, with runc's messages
# (the CLI's log escapes the quotes) and runc's exit status 1.
B nopath pass nosuch-cmd
out=$(R create -b "$tmp/nopath" nopath 2>&1)
rc=$?
t_like "create: a bare name not in \$PATH fails with runc's message" "$out" \
	'runvm create failed: unable to start container process: exec: \\?"nosuch-cmd\\?": executable file not found in \$PATH'
t_is "create: ... and exits 1 (as runc)" "$rc" 1
t_ok "create: ... and leaves no container behind" test ! -e "$root/nopath"
B noexe pass /bin/nosuch
out=$(R create -b "$tmp/noexe" noexe 2>&1)
rc=$?
t_like "create: a missing absolute path fails with runc's message" "$out" \
	'exec: \\?"/bin/nosuch\\?": stat /bin/nosuch: no such file or directory'
t_is "create: ... and exits 1 (as runc)" "$rc" 1
B noperm pass /etc/passwd
out=$(R create -b "$tmp/noperm" noperm 2>&1)
rc=$?
t_like "create: a non-executable file fails with runc's message" "$out" \
	'exec: \\?"/etc/passwd\\?": permission denied'
t_is "create: ... and exits 1 (as runc)" "$rc" 1
t_ok "create: ... and leaves no container behind" test ! -e "$root/noperm"
# The guest's messages reach the host's terminal without control
# characters: here the command name carries an escape sequence, and --log
# (as podman passes it) adds runc's raw copy of the error on stderr.
B ctl "c['process']['args'] = ['nosuch\x1b[31mred']"
out=$(R --log "$tmp/ctl.log" create -b "$tmp/ctl" ctl 2>&1)
rc=$?
t_like "create: guest text in an error reaches stderr with '?' for its control characters" "$out" \
	'exec: "nosuch\?\[31mred": executable file not found in \$PATH'
t_is "create: ... no ESC byte on stderr or in the log" \
	"$(cat "$tmp/ctl.log" - <<<"$out" | tr -cd '\033' | wc -c)" 0
t_is "create: ... and exits 1" "$rc" 1

# ---- pid namespace ----
B pid pass /bin/testinit pid
RUN pid
t_is "exit status 0 of the container process is run's" "$rc" 0 || show
t_is "the container process is PID 1 of its pid namespace (ppid 0, own session)" \
	"$(line pid)/$(line ppid)/$(line sid)" "1/0/1"

# ---- SIGKILL ----
B sigkill pass /bin/testinit sleep 1000
R run -b "$tmp/sigkill" sigkill >/dev/null 2>"$tmp/sigkill.err" </dev/null &
rpid=$!
for _ in $(seq 600); do R state sigkill 2>/dev/null | grep -q '"status": "running"' && break; sleep 0.1; done
t_ok "kill ID KILL while run waits in the foreground" R kill sigkill KILL
wait "$rpid"
rc=$?
err=$(cat "$tmp/sigkill.err")
t_is "death by SIGKILL: run exits 137" "$rc" 137 || show

# ---- exec into a running container (runc's default capabilities), then
# SIGTERM to a trapping workload ----
B main 'c["hostname"] = "exec-host"; c["process"]["capabilities"] = {k: ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"] for k in ("bounding", "effective", "permitted")}' \
	/bin/testinit trap TERM 143
R run -b "$tmp/main" main >"$tmp/main.out" 2>&1 </dev/null &
rpid=$!
# "ready" comes once TERM is blocked for sigwait.
for _ in $(seq 600); do grep -q ready "$tmp/main.out" && break; sleep 0.1; done
R exec main /bin/testinit exit 9
t_is "exec exits with its own status (9) while the container runs" "$?" 9
t_like "... and the container is still running" "$(R state main 2>&1)" '"status": "running"'
out=$(R exec main /bin/testinit hostname)
t_is "exec sees the container's hostname" "$(line hostname)" "exec-host"
out=$(R exec main /bin/testinit pid)
t_like "exec is in the container's pid namespace, not its init (ppid 0)" \
	"$(line pid)/$(line ppid)" '^([2-9]|[1-9][0-9]+)/0$'
out=$(R exec main /bin/testinit read /proc/1/cmdline | tr '\0' ' ')
t_is "exec's /proc/1 is the container process" "$out" "/bin/testinit trap TERM 143 "
out=$(R exec main /bin/sh -c 'for n in pid uts ipc mnt; do
	[ "$(readlink /proc/1/ns/$n)" = "$(readlink /proc/self/ns/$n)" ] && echo "$n=same" || echo "$n=different"
done')
t_is "exec joins the container's pid, uts, ipc and mount namespaces" \
	"$(line pid)/$(line uts)/$(line ipc)/$(line mnt)" "same/same/same/same"
# runc spec's default capabilities; root's after execve are its bounding set.
out=$(R exec main /bin/testinit read /proc/1/status | sed -n 's/^\(Cap[A-Za-z]*\):[[:space:]]*/\1=/p')
t_is "caps: runc spec's default set (AUDIT_WRITE KILL NET_BIND_SERVICE)" \
	"$(line CapBnd)/$(line CapPrm)/$(line CapEff)/$(line CapInh)/$(line CapAmb)" \
	"0000000020000420/0000000020000420/0000000020000420/0000000000000000/0000000000000000"
out=$(R exec main /bin/testinit caps)
t_is "caps: an exec gets the container's capabilities (as runc)" \
	"$(line CapBnd)/$(line CapPrm)/$(line CapEff)/$(line CapInh)/$(line CapAmb)" \
	"0000000020000420/0000000020000420/0000000020000420/0000000000000000/0000000000000000"
R kill main TERM
wait "$rpid"
t_is "a workload trapping TERM exits with its own code (143)" "$?" 143
t_like "... after its handler ran" "$(cat "$tmp/main.out")" "got TERM"

# ---- stdio; no terminal; no capabilities ----
# testinit out-err, then cat (stdin to stdout until EOF), caps, tty, and
# last 1 MiB of i%251 on stdout.
B stdio pass /bin/sh -c 'T=/bin/testinit; $T out-err 5; $T cat; $T caps; $T tty; $T write-bytes 1048576'
printf 'line one\nline two\n' | R run -b "$tmp/stdio" stdio >"$tmp/stdio.out" 2>"$tmp/stdio.err"
rc=$?
err=$(cat "$tmp/stdio.err")
out=$(head -c -1048576 "$tmp/stdio.out")
t_is "stdio: the container exits 0 after stdin's EOF" "$rc" 0 || show
t_is "stdout carries the stdout lines only" "$(grep '^out\|^err' <<<"$out")" "$(printf 'out %d\n' 0 1 2 3 4)"
t_is "stderr carries the stderr lines only, and cat's byte count" "$err" \
	"$(printf 'err %d\n' 0 1 2 3 4)"$'\n'"cat-bytes=18"
t_like "stdin reaches the container process until its EOF" "$out" $'(^|\n)line one\nline two\n'
expect=$(python3 -c 'import hashlib; print(hashlib.sha256(bytes(i % 251 for i in range(1048576))).hexdigest())')
t_is "1 MiB of stdout arrives intact (sha256)" "$(tail -c 1048576 "$tmp/stdio.out" | sha256sum | cut -d' ' -f1)" "$expect"
t_is "without a terminal, stdin/stdout/stderr are not ttys" \
	"$(line stdin_tty)/$(line stdout_tty)/$(line stderr_tty)" "0/0/0"
t_is "... and there is no controlling terminal" "$(line ttyname)/$(line controlling_tty)" "none/0"
t_is "caps: no process.capabilities means no capabilities at all (as runc)" \
	"$(line CapBnd)/$(line CapPrm)/$(line CapEff)/$(line CapInh)/$(line CapAmb)" \
	"0000000000000000/0000000000000000/0000000000000000/0000000000000000/0000000000000000"

# ---- a terminal through a console socket ----
B tty 'c["process"]["terminal"] = True; c["process"]["consoleSize"] = {"height": 33, "width": 101}' \
	/bin/testinit tty
# runc takes a console socket only with --detach; the receiver holds the
# pty master and reads it until the container is gone.
python3 "$top_srcdir/tests/e2e/guest/console-receiver.py" "$tmp/console.sock" "$tmp/tty.out" -- \
	"$RUNVM" --root "$root" run -d --console-socket "$tmp/console.sock" -b "$tmp/tty" tty \
	>"$tmp/tty.log" 2>&1 </dev/null
rc=$?
out=$(tr -d '\r' <"$tmp/tty.out")
t_is "terminal: run -d --console-socket succeeds" "$rc" 0 || t_diag "$(cat "$tmp/tty.log")"
for _ in $(seq 300); do R state tty 2>/dev/null | grep -q '"status": "running"' || break; sleep 0.1; done
t_like "terminal: the container ran to its end" "$(R state tty 2>&1)" '"status": "stopped"'
R delete -f tty >/dev/null 2>&1
t_is "terminal: stdin/stdout/stderr are ttys" "$(line stdin_tty)/$(line stdout_tty)/$(line stderr_tty)" "1/1/1"
t_like "terminal: the tty is a pty of the container's devpts" "$(line ttyname)" '^/dev/pts/[0-9]+$'
t_is "terminal: it is the controlling terminal, in the foreground" \
	"$(line controlling_tty)/$(line pgrp_is_fg)" "1/1"
t_is "terminal: the window has process.consoleSize (33x101)" "$(line rows)x$(line cols)" "33x101"

# ---- a non-root process: user, groups, umask, cwd, env, hostname, rlimits,
# ambient capabilities, noNewPrivileges, seccomp; the guest kernel ----
# Below root, capabilities survive execve through the ambient set only.
seccomp='{"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"], "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}]}'
B user "c['process']['user'] = {'uid': 1000, 'gid': 1000, 'additionalGids': [10, 20], 'umask': 0o027}
c['process']['cwd'] = '/tmp'
c['process']['env'].append('MYVAR=hello world')
c['hostname'] = 'guest-e2e'
c['process']['rlimits'] = [{'type': 'RLIMIT_NOFILE', 'soft': 123, 'hard': 456}]
c['process']['capabilities'] = {k: ['CAP_KILL', 'CAP_NET_BIND_SERVICE'] for k in ('bounding', 'effective', 'permitted', 'inheritable', 'ambient')}
c['linux']['seccomp'] = $seccomp" \
	/bin/sh -c 'T=/bin/testinit; $T id; $T cwd; $T env; $T hostname; $T rlimits; $T caps; $T syscall-errno mkdir; $T uname'
RUN user
t_is "user: the container exits 0" "$rc" 0 || show
t_is "user: uid/euid 1000, gid/egid 1000" "$(line uid)/$(line euid)/$(line gid)/$(line egid)" "1000/1000/1000/1000"
t_is "user: the supplementary groups are additionalGids" "$(line groups)" "10,20"
t_is "user: process.user.umask is the umask" "$(line umask)" "0027"
t_is "cwd: process.cwd is the working directory" "$(line cwd)" "/tmp"
t_is "env: a custom variable is set" "$(line MYVAR)" "hello world"
t_is "env: PATH from config.json" "$(line PATH)" "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
t_is "env: HOME is added, / for a user not in /etc/passwd (as runc)" "$(line HOME)" "/"
t_is "hostname: config.json's hostname" "$(line hostname)" "guest-e2e"
t_is "rlimits: RLIMIT_NOFILE 123:456" "$(line RLIMIT_NOFILE)" "123:456"
t_is "caps: uid 1000 keeps its ambient capabilities (KILL NET_BIND_SERVICE)" \
	"$(line CapBnd)/$(line CapPrm)/$(line CapEff)/$(line CapInh)/$(line CapAmb)" \
	"0000000000000420/0000000000000420/0000000000000420/0000000000000420/0000000000000420"
t_is "noNewPrivileges true: NoNewPrivs 1" "$(line NoNewPrivs)" 1
t_is "seccomp: the process is in filter mode (Seccomp 2)" "$(line Seccomp)" 2
t_is "seccomp: mkdir -> SCMP_ACT_ERRNO 38 gives errno 38" "$(line result)/$(line errno)" "-1/38"
t_like "the kernel is runvm's guest kernel (release ends in -runvm)" "$(line release)" '-runvm$'

# ---- root with reduced capabilities and no noNewPrivileges, seccomp; the
# read-only rootfs; masked and read-only paths ----
# Root's capabilities after execve are its bounding set (root gets every
# file capability), whatever effective and permitted say.
B rootp "c['process']['noNewPrivileges'] = False
c['process']['capabilities'] = {'bounding': ['CAP_CHOWN', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'], 'effective': ['CAP_KILL'], 'permitted': ['CAP_CHOWN', 'CAP_KILL']}
c['linux']['seccomp'] = $seccomp
c['root']['readonly'] = True
c['mounts'].append({'destination': '/tmp', 'type': 'tmpfs', 'source': 'tmpfs', 'options': ['nosuid', 'nodev', 'mode=1777']})
c['linux']['maskedPaths'] = ['/proc/kcore', '/proc/version', '/secret', '/nonexistent']
c['linux']['readonlyPaths'] = ['/proc/sys']" \
	/bin/sh -c 'T=/bin/testinit; $T caps; $T syscall-errno mkdir; echo "root=[$($T write /x hi)]"; echo "tmp=[$($T write /tmp/x hi)]"; echo "kcore=[$($T read /proc/kcore)]"; echo "version=[$($T read /proc/version)]"; echo "version_rdev=$($T stat /proc/version | sed -n "s/^rdev=//p")"; echo "secret_ls=[$($T ls /secret)]"; echo "secret_write=[$($T write /secret/y hi)]"; echo "secret_fs=$(stat -f -c %T /secret)"; echo "procsys=[$($T write /proc/sys/kernel/hostname foo)]"; echo "hostname=$(hostname)"'
mkdir -p "$tmp/rootp/rootfs/secret"
echo classified >"$tmp/rootp/rootfs/secret/file"
RUN rootp
t_is "root: the container exits 0" "$rc" 0 || show
t_is "caps: a reduced bounding set (CHOWN KILL NET_BIND_SERVICE) bounds them all" \
	"$(line CapBnd)/$(line CapPrm)/$(line CapEff)/$(line CapAmb)" \
	"0000000000000421/0000000000000421/0000000000000421/0000000000000000"
t_is "noNewPrivileges false: NoNewPrivs 0" "$(line NoNewPrivs)" 0
t_is "seccomp without noNewPrivileges: filter mode, mkdir gives errno 38" \
	"$(line Seccomp)/$(line result)/$(line errno)" "2/-1/38"
t_is "root.readonly: writing to / fails with EROFS" "$(line root)" "[errno=30]"
t_is "root.readonly: a tmpfs on /tmp stays writable" "$(line tmp)" "[written=2]"
t_like "maskedPaths: /proc/kcore reads empty or fails (as runc)" "$(line kcore)" '^\[(|errno=[0-9]+)\]$'
t_is "maskedPaths: a masked file reads empty" "$(line version)" "[]"
t_is "maskedPaths: ... being /dev/null bound over it (as runc)" "$(line version_rdev)" "1:3"
t_is "maskedPaths: a masked directory is empty" "$(line secret_ls)" "[]"
t_is "maskedPaths: ... read-only" "$(line secret_write)" "[errno=30]"
t_is "maskedPaths: ... a tmpfs" "$(line secret_fs)" "tmpfs"
t_is "readonlyPaths: /proc/sys is read-only" "$(line procsys)" "[errno=30]"
t_is "readonlyPaths: ... the hostname did not change" "$(line hostname)" "runvm-demo"

# ---- a process.cwd that does not exist ----
# runc creates a missing cwd in the container (before the user change)
# instead of failing.
B cwd 'c["process"]["cwd"] = "/work/sub"' /bin/testinit cwd
RUN cwd
t_is "cwd: a missing process.cwd is created (as runc)" "$(line cwd)" "/work/sub" || show

# ---- a guest that breaks the protocol ----
# Its /init (tests/e2e/guest/rogue-agent.c) claims "started" before the host
# sent start, sends a frame nested a million levels deep, reports "created"
# twice, then "exit" 3, and never powers off.
build_rogue() {
	local v
	for v in rogue silent die; do
		mkdir -p "$tmp/$v-root" &&
			"${CC:-gcc}" -static -O2 -Wall $([ $v = rogue ] || echo "-D${v^^}") -o "$tmp/$v-root/init" \
				"$top_srcdir/tests/e2e/guest/rogue-agent.c" &&
			(cd "$tmp/$v-root" && echo init | cpio -o -H newc -R 0:0 --quiet) >"$tmp/$v.cpio" || return 1
	done
}
if t_ok "a rogue agent's initramfs builds" build_rogue; then
	B rogue "c['annotations'] = {'run.oci.runvm.initrd': '$tmp/rogue.cpio'}" /bin/true
	# (To a file: the container's stdio is create's, held until the VM ends.)
	R create -b "$tmp/rogue" rogue >"$tmp/rogue.out" 2>&1 </dev/null
	rc=$?
	t_is "rogue: create succeeds at its 'created' (the early 'started' and the deep frame ignored)" "$rc" 0 ||
		t_diag "$(cat "$tmp/rogue.out")"
	sleep 4 # the second "created" and "exit" come 2 s after the first
	st=$(R state rogue 2>&1)
	pid=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])' <<<"$st" 2>/dev/null)
	t_like "rogue: still 'created' after its out-of-turn 'started', 'created' and its 'exit' with the VM up" \
		"$st" '"status": *"created"'
	t_ok "rogue: the monitor survived the deep frame (pid ${pid:-?} alive)" kill -0 "${pid:-0}"
	t_is "rogue: the out-of-turn messages are logged" \
		"$(grep -c 'out of turn: ignored' "$root/rogue/monitor.log" 2>/dev/null)" 2
	t_like "rogue: delete without --force refuses: the VM still runs" "$(R delete rogue 2>&1)" \
		'cannot delete container rogue that is not stopped'
	R delete -f rogue
	t_nok "rogue: delete --force leaves no monitor (no VM) behind" kill -0 "${pid:-0}"
	t_ok "rogue: ... nor its state" test ! -e "$root/rogue"

	# A guest that says hello and never "created": create gives up.
	B silent "c['annotations'] = {'run.oci.runvm.initrd': '$tmp/silent.cpio'}" /bin/true
	SECONDS=0
	RUNVM_CREATE_TIMEOUT=5 R create -b "$tmp/silent" silent >"$tmp/silent.out" 2>&1 </dev/null
	rc=$?
	t_is "silent guest: create fails (exit 1) after RUNVM_CREATE_TIMEOUT=5 (${SECONDS} s)" "$rc" 1
	t_like "silent guest: ... saying so" "$(cat "$tmp/silent.out")" \
		'the guest did not report the container as created within 5 s'
	t_ok "silent guest: ... and leaves no state behind" test ! -e "$root/silent"
	t_is "silent guest: ... no monitor, no virtiofsd" \
		"$(pgrep -f "create -b $tmp/silent silent|source=$tmp/silent/rootfs")" ""

	# A guest whose /init dies: its kernel panics and the VM resets.
	B die "c['annotations'] = {'run.oci.runvm.initrd': '$tmp/die.cpio'}" /bin/true
	R create -b "$tmp/die" die >"$tmp/die.out" 2>&1 </dev/null
	rc=$?
	t_is "dying guest: create fails (exit 1)" "$rc" 1
	t_like "dying guest: ... quoting the console's last line (the panic)" "$(cat "$tmp/die.out")" \
		'VM ended during container setup: .*console said last: .*(Kernel panic|Attempted to kill init)'
	t_ok "dying guest: ... and leaves no state behind" test ! -e "$root/die"
fi

t_ok "no container is left" test -z "$(R list -q)"
