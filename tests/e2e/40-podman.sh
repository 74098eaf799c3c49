# shellcheck shell=bash
# tests/e2e/40-podman.sh — podman drives runvm exactly as it drives runc:
# `podman --runtime runvm` with a local image imported from a busybox-static
# rootfs (no registry), cgroupfs, no network.
e2e_require_kvm
e2e_require_root
# shellcheck source=tests/e2e/bundle.sh
. "$top_srcdir/tests/e2e/bundle.sh"

if ! command -v podman >/dev/null; then
	t_fail "podman is installed" "contrib/install-deps installs it"
	return 1
fi

tmp=$(e2e_tmpdir)
# The runtime podman gets: runvm with the build tree's kernel and initramfs.
cat >"$tmp/runvm" <<SH
#!/bin/sh
export RUNVM_KERNEL="$RUNVM_KERNEL" RUNVM_INITRD="$RUNVM_INITRD"
echo "\$*" >>"$tmp/calls.log"
exec "$RUNVM" "\$@"
SH
chmod +x "$tmp/runvm"
mkdir -p "$tmp/storage" "$tmp/run"
P() {
	podman --runtime "$tmp/runvm" --cgroup-manager=cgroupfs --events-backend=file \
		--root "$tmp/storage" --runroot "$tmp/run" --storage-driver=vfs "$@"
}
e2e_defer "podman --root '$tmp/storage' --runroot '$tmp/run' --storage-driver=vfs rm -af -t 0 >/dev/null 2>&1"

e2e_bundle "$tmp/img"
t_ok "podman import of a busybox-static rootfs" \
	sh -c "tar -C '$tmp/img/rootfs' -c . | podman --root '$tmp/storage' --runroot '$tmp/run' --storage-driver=vfs import - localhost/runvm-test:latest"
img=localhost/runvm-test:latest

out=$(P run --rm --network none "$img" echo hi 2>&1)
t_is "podman run --rm prints hi" "$out" "hi"

P run --rm --network none "$img" sh -c 'exit 3' >/dev/null 2>&1
t_is "podman run: the exit code propagates (3)" "$?" 3

out=$(P run --rm --network none "$img" cat /proc/version 2>&1)
t_like "the container runs on the guest kernel" "$out" "runvm"

# A workload that traps SIGTERM stops gracefully within its timeout...
P run -d --name trapper --network none "$img" testinit trap TERM 0 >/dev/null
start=$(date +%s)
t_ok "podman stop of a SIGTERM-trapping container" P stop -t 20 trapper
t_is "it stopped through its trap (exit code 0)" "$(P inspect trapper --format '{{.State.ExitCode}}')" 0
t_ok "well before the timeout" test $(($(date +%s) - start)) -lt 20
# ...and one that ignores it is killed when the timeout expires.
P run -d --name sleeper --network none "$img" sleep 1000 >/dev/null
t_ok "podman stop of a container that ignores SIGTERM" P stop -t 2 sleeper
t_is "it was killed by SIGKILL (exit code 137)" "$(P inspect sleeper --format '{{.State.ExitCode}}')" 137

P run -d --name execme --network none "$img" sleep 1000 >/dev/null
out=$(P exec execme cat /proc/version 2>&1)
t_like "podman exec runs inside the VM (guest /proc/version)" "$out" "runvm"
P exec execme sh -c 'exit 4' >/dev/null 2>&1
t_is "podman exec: exit code propagates" "$?" 4
# podman reads the runtime's words: "executable file not found" -> 127
out=$(P exec execme nosuch-cmd 2>&1)
rc=$?
t_is "podman exec of a missing command exits 127, as with runc" "$rc" 127
t_like "... and says the command was not found" "$out" "executable file not found|command was not found"

out=$(script -qec "podman --runtime '$tmp/runvm' --cgroup-manager=cgroupfs --events-backend=file --root '$tmp/storage' --runroot '$tmp/run' --storage-driver=vfs run -it --rm --network none $img testinit tty" /dev/null 2>&1)
t_like "podman run -it gets a tty" "$out" "stdin_tty=1"

P run -d --name logger --network none "$img" sh -c 'echo logged-line; echo err-line >&2' >/dev/null
P wait logger >/dev/null
t_like "podman logs shows the output" "$(P logs logger 2>&1)" "logged-line"

P run -d --name victim --network none "$img" sleep 1000 >/dev/null
cid=$(P inspect victim --format '{{.Id}}')
root=$(sed -n 's/.*--root[= ]\([^ ]*\).*/\1/p' "$tmp/calls.log" | head -1)
t_ok "the monitor of a podman container is alive" pgrep -f "runvm.* create .*$cid"
t_ok "podman rm -f" P rm -f victim
for _ in $(seq 50); do pgrep -f "$cid" >/dev/null || break; sleep 0.1; done
t_nok "podman rm -f leaves no runvm, conmon or virtiofsd process" pgrep -af "$cid"
t_nok "podman rm -f leaves no state dir (${root:-/run/runvm})" test -e "${root:-/run/runvm}/$cid"
t_diag "podman called: $(cut -d' ' -f1-6 "$tmp/calls.log" | sort | uniq -c | sort -rn | head -8)"
