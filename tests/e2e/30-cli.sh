# shellcheck shell=bash
# tests/e2e/30-cli.sh — the runc-compatible CLI end to end: run, the
# create/start/state/kill/delete lifecycle, exit codes, stdio, exec, pause,
# ps, events, and the error paths with runc's exact messages, checking that
# a failed command leaves nothing behind.
e2e_require_kvm
e2e_require_root
# shellcheck source=tests/e2e/bundle.sh
. "$top_srcdir/tests/e2e/bundle.sh"

tmp=$(e2e_tmpdir)
root=$tmp/root
R() { "$RUNVM" --root "$root" "$@"; }
e2e_defer "for c in \$(\"$RUNVM\" --root \"$root\" list -q 2>/dev/null); do \"$RUNVM\" --root \"$root\" delete -f \$c; done"

b=$tmp/hello
e2e_bundle "$b"
out=$(R run -b "$b" hello 2>&1)
t_like "run: the container prints its greeting" "$out" "Hello from runvm"
t_like "run: uname -r in the container is the guest kernel's" "$out" "guest kernel: [0-9.]+-runvm"
t_ok "run (foreground, no --keep) deletes the container" test ! -e "$root/hello"
# The spec calls ociVersion required; runc 1.1.5 runs a config without it.
e2e_bundle "$tmp/nover" /bin/testinit exit 0
e2e_bundle_set "$tmp/nover" 'del c["ociVersion"]'
out=$(R run -b "$tmp/nover" nover 2>&1)
t_is "run of a config.json without ociVersion: exit 0 and no message, as with runc" "$?:$out" "0:"

for code in 0 3 42; do
	e2e_bundle "$tmp/exit$code" /bin/testinit exit "$code"
	R run -b "$tmp/exit$code" "exit$code" >/dev/null 2>&1
	t_is "run: exit status $code propagates" "$?" "$code"
done
# The container process is PID 1 of its pid namespace (as under runc): it
# only gets the signals it handles, and SIGKILL from outside.
e2e_bundle "$tmp/sig" /bin/testinit sleep 1000
R run -b "$tmp/sig" sig >/dev/null 2>&1 &
rpid=$!
for _ in $(seq 100); do R state sig 2>/dev/null | grep -q running && break; sleep 0.1; done
R kill sig TERM
sleep 1
t_like "SIGTERM without a handler does not stop a pid-namespace init (as runc)" "$(R state sig)" '"status": "running"'
R kill sig KILL
wait "$rpid"
t_is "run: death by SIGKILL reports 137" "$?" 137
e2e_bundle "$tmp/trap" /bin/testinit trap TERM 143
R run -b "$tmp/trap" trap >"$tmp/trap.out" 2>&1 &
rpid=$!
for _ in $(seq 100); do R state trap 2>/dev/null | grep -q running && break; sleep 0.1; done
R kill trap TERM
wait "$rpid"
t_is "run: a trapping workload exits with its own code after SIGTERM" "$?" 143
t_like "the trap ran" "$(cat "$tmp/trap.out")" "got TERM"

e2e_bundle "$tmp/split" /bin/testinit out-err 3
R run -b "$tmp/split" split >"$tmp/split.out" 2>"$tmp/split.err"
t_is "stdout carries only stdout" "$(grep -c . "$tmp/split.out")/$(grep -vc '^out' "$tmp/split.out")" "3/0"
t_is "stderr carries only stderr" "$(grep -c . "$tmp/split.err")/$(grep -vc '^err' "$tmp/split.err")" "3/0"

e2e_bundle "$tmp/cat" /bin/testinit cat
got=$(printf 'line one\nline two\n' | R run -b "$tmp/cat" cat 2>/dev/null)
t_is "stdin reaches the container and EOF ends it" "$got" $'line one\nline two'

e2e_bundle "$tmp/big" /bin/testinit write-bytes 1048576
R run -b "$tmp/big" big >"$tmp/big.out" 2>/dev/null
expect=$(python3 -c 'import sys,hashlib; print(hashlib.sha256(bytes(i%251 for i in range(1048576))).hexdigest())')
t_is "1 MiB of output arrives intact" "$(sha256sum <"$tmp/big.out" | cut -d' ' -f1)" "$expect"

# ---- lifecycle ----
e2e_bundle "$tmp/life" /bin/testinit trap TERM 7
t_ok "create succeeds" R create -b "$tmp/life" --pid-file "$tmp/life.pid" life
st=$(R state life)
t_like "state after create is created" "$st" '"status": "created"'
pid=$(cat "$tmp/life.pid")
t_like "the pid file holds the monitor's pid" "$st" "\"pid\": $pid"
t_ok "the pid file's process is alive" kill -0 "$pid"
t_is "the pid file has no trailing newline" "$(wc -l <"$tmp/life.pid")" 0
out=$(R create -b "$tmp/life" life 2>&1)
t_like "a duplicate id is refused with runc's message" "$out" "container with given ID already exists"
out=$(R delete life 2>&1)
t_like "delete of a created container is refused" "$out" "cannot delete container life that is not stopped: created"
t_ok "start succeeds" R start life
t_like "state after start is running" "$(R state life)" '"status": "running"'
out=$(R start life 2>&1)
t_like "start of a running container is refused" "$out" "cannot start an already running container"
t_like "list shows the container running" "$(R list)" "life +$pid +running"
t_like "list --format json" "$(R list --format json)" '"id":"life"'
ps=$(R ps --format json life)
t_like "ps --format json lists guest pids" "$ps" '^\[[0-9]+(,[0-9]+)*\]$'
t_like "events --stats prints runc's stats event" "$(R events --stats life)" '"type":"stats","id":"life"'
t_ok "pause" R pause life
t_like "state after pause is paused" "$(R state life)" '"status": "paused"'
out=$(R exec life /bin/true 2>&1)
rc=$?
t_like "exec in a paused container: runc's message" "$out" \
	"exec failed: cannot exec in a paused container \\(use --ignore-paused to override\\)"
t_is "... and exits 255" "$rc" 255
t_ok "resume" R resume life
t_like "state after resume is running" "$(R state life)" '"status": "running"'
out=$(R resume life 2>&1)
t_like "resume of a running container is refused" "$out" "container not paused"

out=$(R exec life /bin/testinit read /proc/version)
t_like "exec runs inside the VM (guest /proc/version)" "$out" "runvm"
R exec life /bin/testinit exit 5
t_is "exec exits with the process's status" "$?" 5
out=$(R exec life /bin/nosuch 2>&1)
rc=$?
t_like "exec of a missing executable fails with runc's message" "$out" \
	'exec failed: unable to start container process: exec: \\?"/bin/nosuch\\?": stat /bin/nosuch: no such file or directory'
t_is "a failed exec exits 255 (as runc)" "$rc" 255
out=$(R exec --cwd tmp life /bin/true 2>&1)
rc=$?
t_like "exec --cwd with a relative path: runc's message" "$out" "exec failed: Cwd must be an absolute path"
t_is "... and exits 255" "$rc" 255
t_like "the container still runs after failed execs" "$(R state life)" '"status": "running"'
R exec --detach --pid-file "$tmp/exec.pid" life /bin/testinit sleep 1
t_is "exec --detach returns at once" "$?" 0
epid=$(cat "$tmp/exec.pid")
t_ok "exec --detach: the pid file names a live host process" kill -0 "$epid"
for _ in $(seq 50); do kill -0 "$epid" 2>/dev/null || break; sleep 0.2; done
t_nok "exec --detach: that process exits with the exec" kill -0 "$epid"
out=$(R exec --env FOO=bar --cwd /tmp life /bin/testinit env)
t_like "exec --env adds to the environment" "$out" "FOO=bar"

R exec --detach --pid-file "$tmp/gone.pid" life /bin/testinit sleep 2
kill -9 "$(cat "$tmp/gone.pid")"
sleep 3
t_like "an exec whose host process vanished does not take the container down" "$(R state life)" '"status": "running"'
t_ok "kill with the default signal (SIGTERM)" R kill life
for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
t_nok "the monitor exits after the container" kill -0 "$pid"
t_like "state after exit is stopped" "$(R state life)" '"status": "stopped"'
out=$(R kill life KILL 2>&1)
t_like "kill of a stopped container is refused" "$out" "container not running"
t_ok "delete of a stopped container" R delete life
t_ok "delete leaves nothing behind" e2e_nothing_left "$root" life "$tmp/life/rootfs"

# ---- SIGKILL and delete --force ----
e2e_bundle "$tmp/hang" /bin/testinit sleep 1000
R run -d -b "$tmp/hang" hang
t_like "run -d leaves the container running" "$(R state hang)" '"status": "running"'
t_ok "kill -a hang KILL" R kill --all hang KILL
for _ in $(seq 150); do R state hang | grep -q stopped && break; sleep 0.1; done
t_like "SIGKILL stops the container" "$(R state hang)" '"status": "stopped"'
R delete hang
R run -d -b "$tmp/hang" hang2
t_ok "delete --force of a running container" R delete --force hang2
t_ok "delete --force leaves nothing behind" e2e_nothing_left "$root" hang2 "$tmp/hang/rootfs"
t_ok "delete --force of an unknown container succeeds" R delete --force nosuch

# ---- error paths ----
out=$(R state nosuch 2>&1)
t_like "state of an unknown id: runc's message" "$out" "container does not exist"
out=$(R kill nosuch 2>&1)
t_like "kill of an unknown id: runc's message" "$out" "container does not exist"
out=$(R exec nosuch /bin/true 2>&1)
rc=$?
t_like "exec in an unknown id: runc's message" "$out" "exec failed: container does not exist"
t_is "... and exits 255 (as runc)" "$rc" 255
out=$(R state 2>&1)
rc=$?
t_like "state without an id: runc's message, with the program's name" "$out" "msg=.$RUNVM: .{1,2}state.{1,2} requires exactly 1 argument"
t_is "... and exits 1" "$rc" 1
# runc words failures past the arguments "runc create failed: ...", not
# the argument errors themselves.
out=$(R create 2>&1)
t_like "create without an id: runc's message, not a create failure" "$out" \
	"msg=.$RUNVM: .{1,2}create.{1,2} requires exactly 1 argument"
out=$(R run --bogus x 2>&1)
t_like "run with an unknown flag: runc's message, not a run failure" "$out" 'msg=.flag provided but not defined: -+bogus'
out=$(R run -b "$tmp/nonexist" nx 2>&1)
t_like "run of a missing bundle: a run failure, as runc's" "$out" 'msg=.runvm run failed: bundle'
out=$(R kill a b c 2>&1)
t_like "kill with three arguments: runc's message" "$out" "kill.{1,2} requires a maximum of 2 argument"
# runc's checks of the process (validateProcessSpec, rlimit names), made
# before any VM is booted
for bad in 'del c["process"]["cwd"]|Cwd property must not be empty' \
	'c["process"]["cwd"] = "rel"|Cwd must be an absolute path' \
	'c["process"]["args"] = []|args must not be empty' \
	'c["process"]["rlimits"] = [{"type": "RLIMIT_BOGUS", "hard": 1, "soft": 1}]|wrong rlimit value: RLIMIT_BOGUS'; do
	e2e_bundle "$tmp/badproc" /bin/true
	e2e_bundle_set "$tmp/badproc" "${bad%%|*}"
	out=$(R create -b "$tmp/badproc" bp 2>&1)
	rc=$?
	t_like "create: ${bad#*|} (runc's message)" "$out" "runvm create failed: ${bad#*|}"
	t_is "... exits 1 and leaves nothing behind" "$rc/$(e2e_nothing_left "$root" bp "$tmp/badproc/rootfs" && echo clean)" 1/clean
done
mkdir -p "$tmp/empty"
out=$(R create -b "$tmp/empty" e1 2>&1)
t_like "create without config.json: runc's message" "$out" "JSON specification file config.json not found"
t_ok "create without config.json leaves nothing behind" e2e_nothing_left "$root" e1 "$tmp/empty/rootfs"
e2e_bundle "$tmp/bad" /bin/true
echo '{ "ociVersion": ' >"$tmp/bad/config.json"
out=$(R create -b "$tmp/bad" e2 2>&1)
t_like "create with malformed JSON fails clearly" "$out" "config.json"
t_ok "malformed JSON leaves nothing behind" e2e_nothing_left "$root" e2 "$tmp/bad/rootfs"
# runc reads config.json with Go's encoding/json: a comment is an error
# ("invalid character '/' looking for beginning of object key string").
e2e_bundle "$tmp/comment" /bin/true
sed -i '1s|^{|{ /* a comment */ |' "$tmp/comment/config.json"
out=$(R create -b "$tmp/comment" e2c 2>&1)
rc=$?
t_like "create with a comment in config.json fails, as runc's does" "$out" "config.json: invalid JSON: .*comment"
t_is "create with a comment in config.json exits 1" "$rc" 1
t_ok "a comment in config.json leaves nothing behind" e2e_nothing_left "$root" e2c "$tmp/comment/rootfs"
e2e_bundle "$tmp/norootfs" /bin/true
e2e_bundle_set "$tmp/norootfs" 'c["root"]["path"] = "missing"'
out=$(R create -b "$tmp/norootfs" e3 2>&1)
t_like "create with a missing rootfs fails" "$out" "rootfs .* does not exist"
e2e_bundle "$tmp/noexe" /bin/nosuch
out=$(R create -b "$tmp/noexe" e4 2>&1)
rc=$?
t_like "create with a missing executable: runc's message" "$out" 'exec: \\?"/bin/nosuch\\?": stat /bin/nosuch: no such file or directory'
e2e_bundle "$tmp/nopath" nosuch-cmd
out=$(R create -b "$tmp/nopath" e5 2>&1)
t_like "create with a command not in \$PATH: runc's message" "$out" 'exec: \\?"nosuch-cmd\\?": executable file not found in \$PATH'
t_is "create with a missing executable exits 1" "$rc" 1
t_ok "a failed create leaves no VM, state dir or virtiofsd" e2e_nothing_left "$root" e4 "$tmp/noexe/rootfs"
out=$(R create -b "$tmp/hello" 'bad/id' 2>&1)
t_like "an invalid id is refused" "$out" "invalid container ID format"
out=$(R --log "$tmp/log.json" --log-format json state nosuch 2>&1)
t_like "--log-format json writes runc's JSON log lines" "$(cat "$tmp/log.json")" '^\{"level":"error","msg":"container does not exist","time":"[^"]+"\}$'
