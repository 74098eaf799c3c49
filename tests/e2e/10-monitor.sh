# tests/e2e/10-monitor.sh — the monitor on its own (`runvm vm`): vCPUs and
# memory the guest sees, virtio-rng, the serial and virtio consoles, virtio-fs, vsock,
# virtio-blk, virtio-net over a tap, how the VM ends (reboot, triple fault,
# panic, poweroff) and that kill -9 leaves no virtiofsd behind. Every case
# boots a real VM from a busybox initramfs whose /init (tests/e2e/monitor/init)
# runs the case named by `test=NAME` and prints KEY=VALUE lines on the
# console. Sourced by tests/e2e/suite after lib.sh.

e2e_require_kvm
e2e_require_root

kernel=$top_builddir/vmlinux
here=$top_srcdir/tests/e2e/monitor
dir=$(e2e_tmpdir)
initrd=$dir/initrd.cpio

if [ ! -e "$kernel" ]; then
	t_fail "guest kernel $kernel exists" "build it with: make kernel"
	exit 1
fi

# ---- the test initramfs: static busybox, /init, a static vsock client ----
build_initramfs() {
	local root=$dir/initramfs busybox=
	for b in /bin/busybox /usr/bin/busybox; do [ -x "$b" ] && { busybox=$b; break; }; done
	[ -n "$busybox" ] || { echo "no busybox (install busybox-static)"; return 1; }
	if ldd "$busybox" >/dev/null 2>&1; then
		echo "$busybox is dynamically linked (install busybox-static)"
		return 1
	fi
	mkdir -p "$root/bin" &&
		cp "$busybox" "$root/bin/busybox" &&
		cp "$here/init" "$root/init" &&
		chmod 0755 "$root/init" &&
		"${CC:-gcc}" -static -O2 -Wall -o "$root/bin/vsock-client" "$here/vsock-client.c" &&
		(cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) >"$initrd"
}
t_ok "test initramfs builds (static busybox, /init, static vsock client)" build_initramfs || exit 1

# vm NAME [RUNVM-VM-ARGS...] — boots the initramfs with test=NAME (plus
# $vm_append) under ${vm_prefix[@]}; sets vm_rc, vm_log (console), vm_err.
vm_prefix=()
vm_append=
vm() {
	local name=$1
	shift
	vm_log=$dir/$name.console
	vm_err=$dir/$name.stderr
	: >"$vm_log"
	timeout -k 5 "${vm_timeout:-60}" "${vm_prefix[@]}" "$RUNVM" vm --kernel "$kernel" --initrd "$initrd" \
		--console "$vm_log" --state-dir "$dir" --append "test=$name $vm_append" "$@" \
		</dev/null >"$vm_err" 2>&1
	vm_rc=$?
}

# val KEY — the value the guest printed as KEY=VALUE (last one).
val() {
	sed -n "s/^$1=//p" "$vm_log" | tr -d '\r' | tail -n 1
}

vm_diag() {
	echo "exit status $vm_rc"
	echo "--- console (last 25 lines):"
	tail -n 25 "$vm_log" | tr -d '\r'
	echo "--- runvm stderr:"
	tail -n 10 "$vm_err"
}

# vm_ended DESC — the case ran to its end and runvm vm exited 0.
vm_ended() {
	if [ "$vm_rc" = 0 ] && grep -q "^RUNVM-TEST-END" "$vm_log"; then
		t_pass "$1"
	else
		t_fail "$1" "$(vm_diag)"
	fi
}

# ---- vCPUs, memory, serial console ----
vm resources --cpus 2 --mem 256
vm_ended "resources: the guest boots, runs /init, reboots, and runvm vm exits 0"
t_is "the guest sees --cpus 2 (nproc)" "$(val NPROC)" 2
mem=$(val MEMTOTAL_KB)
if [ -n "$mem" ] && [ "$mem" -gt $((200 * 1024)) ] && [ "$mem" -le $((256 * 1024)) ]; then
	t_pass "the guest's MemTotal ($mem kB) fits --mem 256 (200-256 MiB)"
else
	t_fail "the guest's MemTotal fits --mem 256 (200-256 MiB)" "MemTotal: '${mem}' kB" "$(vm_diag)"
fi
t_ok "guest output reaches the --console file (serial)" grep -q "CONSOLE-HELLO from the guest" "$vm_log"
# KVM emulates it: announced, the guest skips 100 ms of LAPIC timer calibration.
t_is "the guest has the TSC-deadline timer (CPUID)" "$(val TSC_DEADLINE)" yes
# There is no 8254 PIT then (see the kvm-pit check below): the guest's
# clock event device is the LAPIC's TSC-deadline mode, and it ticks.
t_is "the guest's clock event device is lapic-deadline" "$(val CLOCKEVENT)" lapic-deadline
t_is "without --rng the guest has no hardware RNG" "$(val RNG_CURRENT)" none
cs=$(val SLEEP_CS)
if [ -n "$cs" ] && [ "$cs" -ge 50 ] && [ "$cs" -lt 1000 ]; then
	t_pass "sleep 0.5 in the guest ends after 0.5-10 s of its uptime (${cs}0 ms)"
else
	t_fail "sleep 0.5 in the guest ends after 0.5-10 s of its uptime" "SLEEP_CS='$cs'" "$(vm_diag)"
fi
t_is "no --cpus: one vCPU" "$(
	vm resources --mem 128
	val NPROC
)" 1

# ---- virtio-rng ----
vm rng --rng
vm_ended "virtio-rng: the guest boots with --rng"
t_is "the guest's hardware RNG is virtio-rng" "$(val RNG_CURRENT)" virtio_rng.0
t_is "4096 bytes read from /dev/hwrng" "$(val RNG_BYTES)" 4096
distinct=$(val RNG_DISTINCT)
if [ -n "$distinct" ] && [ "$distinct" -ge 240 ]; then
	t_pass "they look random: $distinct of 256 byte values"
else
	t_fail "they look random (at least 240 of 256 byte values)" "RNG_DISTINCT='$distinct'" "$(vm_diag)"
fi
t_is "a second read gives other bytes" "$(val RNG_AGAIN)" differs

# ---- virtio-console ----
vm_append="console=hvc0" vm hvc --console-virtio
vm_ended "virtio-console: the guest boots with console=hvc0"
t_like "the kernel's console list has hvc0" "$(val ACTIVE_CONSOLES)" "hvc0"
t_ok "output written to /dev/hvc0 reaches the --console file" grep -q "HVC-DIRECT" "$vm_log"

# A guest writing without end cannot fill the host: the console log file
# stops at its cap (1 MiB in containers; 64 KiB here), then becomes FILE.1
# and starts again.
vm_append="console=hvc0" vm flood --console-virtio --console-max 65536
vm_ended "console flood: the guest writes 192 KiB to hvc0"
size=$(stat -c %s "$vm_log" 2>/dev/null) size1=$(stat -c %s "$vm_log.1" 2>/dev/null)
if [ -n "$size" ] && [ -n "$size1" ] && [ "$size" -le 65536 ] && [ "$size1" -le 65536 ] &&
	[ $((size + size1)) -gt 65536 ]; then
	t_pass "the console log is capped: FILE $size + FILE.1 $size1 bytes of the 192 KiB"
else
	t_fail "the console log is capped at 64 KiB, rotated to FILE.1" "FILE: '${size}' FILE.1: '${size1}' bytes"
fi
t_ok "the latest output is kept (FLOOD-DONE, the end marker)" grep -q "FLOOD-DONE" "$vm_log"

# ---- virtio-fs ----
mkdir -p "$dir/share"
echo "from the host" >"$dir/share/from-host"
vm fs --share "share=$dir/share"
vm_ended "virtio-fs: the guest mounts the share"
t_is "the guest reads a host file through virtio-fs" "$(val FS-HOST-FILE)" "from the host"
t_is "a file the guest wrote appears on the host" "$(cat "$dir/share/from-guest" 2>&1)" "written by the guest"

# ---- vsock: guest connects to CID 2 port 1234 -> host unix socket BASE_1234 ----
python3 "$here/vsock-echo.py" "$dir/vsock_1234" "$dir/vsock.ready" >"$dir/vsock-echo.log" 2>&1 &
echo_pid=$!
e2e_defer "kill $echo_pid"
for _ in $(seq 100); do [ -e "$dir/vsock.ready" ] && break; sleep 0.1; done
vm vsock --vsock "$dir/vsock"
vm_ended "vsock: the guest's client runs"
t_is "vsock echo: guest -> host unix socket <base>_1234 -> guest" "$(val VSOCK-REPLY)" "echo:ping-from-guest"
kill "$echo_pid" 2>/dev/null
wait "$echo_pid" 2>/dev/null

# ---- virtio-blk: a raw read-write disk and a read-only ext4 image ----
blk_setup() {
	truncate -s 4M "$dir/raw.img" &&
		printf 'host-wrote-this!' | dd of="$dir/raw.img" bs=512 seek=200 conv=notrunc status=none &&
		mkdir -p "$dir/ext4src" && echo "hello from ext4" >"$dir/ext4src/hello.txt" &&
		mkfs.ext4 -q -F -d "$dir/ext4src" "$dir/ro.img" 4M
}
if t_ok "disk images: raw 4 MiB and ext4 (mkfs.ext4 -d)" blk_setup; then
	ro_sum=$(md5sum <"$dir/ro.img")
	vm blk --blk "$dir/raw.img" --blk "$dir/ro.img,ro"
	vm_ended "virtio-blk: the guest runs its disk checks"
	t_is "vda: capacity, read-write, serial (GET_ID) is the image name" "$(val BLK-VDA)" "size:8192,ro:0,serial:raw.img"
	t_is "vdb: --blk PATH,ro is read-only in the guest" "$(val BLK-VDB)" "ro:1"
	t_is "the guest reads what the host wrote at sector 200" "$(val BLK-HOST-PATTERN)" "host-wrote-this!"
	t_is "the guest's write to sector 100 (dd conv=fsync: write + flush) succeeds" "$(val BLK-WRITE)" "ok"
	t_is "the guest's write is in the image on the host" \
		"$(dd if="$dir/raw.img" bs=512 skip=100 count=1 status=none | tr -d '\0')" "guest-wrote-this"
	t_is "the guest mounts the read-only ext4 image and reads a file" "$(val BLK-EXT4)" "hello from ext4"
	t_is "a write to the read-only disk is refused" "$(val BLK-RO-WRITE)" "refused"
	t_is "the read-only image is unchanged" "$(md5sum <"$dir/ro.img")" "$ro_sum"
fi

# ---- virtio-net: the tap lives in a network namespace with the peer ----
ns=runvm-e2e-net-$$
tap=rvtap0
net_setup() {
	modprobe tun 2>/dev/null
	[ -c /dev/net/tun ] || { echo "no /dev/net/tun"; return 1; }
	ip netns add "$ns" &&
		ip -n "$ns" link set lo up &&
		ip -n "$ns" tuntap add dev "$tap" mode tap &&
		ip -n "$ns" addr add 10.99.0.1/24 dev "$tap" &&
		ip -n "$ns" link set "$tap" up &&
		head -c 2097152 /dev/urandom >"$dir/payload"
}
e2e_defer "ip netns del $ns"
if t_ok "network namespace $ns with tap $tap (10.99.0.1/24)" net_setup; then
	ip netns exec "$ns" python3 "$here/net-peer.py" 10.99.0.1 "$dir/payload" "$dir/net-result" "$dir/net.ready" \
		>"$dir/net-peer.log" 2>&1 &
	peer_pid=$!
	e2e_defer "kill $peer_pid"
	for _ in $(seq 100); do [ -e "$dir/net.ready" ] && break; sleep 0.1; done
	vm_prefix=(ip netns exec "$ns")
	vm net --tap "$tap" --mac 02:00:00:00:99:02
	vm_prefix=()
	vm_ended "virtio-net: the guest runs its network checks"
	t_is "the guest's eth0 has the --mac address" "$(val NET-MAC)" "02:00:00:00:99:02"
	features=$(val NET-FEATURES)
	# bits: 0 CSUM, 1 GUEST_CSUM, 5 MAC, 7/8 GUEST_TSO4/6, 11/12 HOST_TSO4/6, 15 MRG_RXBUF, 16 STATUS
	t_is "the driver accepted MAC, STATUS, MRG_RXBUF, checksum and TSO offloads" \
		"${features:0:2}${features:5:1}${features:7:2}${features:11:2}${features:15:2}" "111111111"
	t_is "the guest pings the peer on the host side of the tap" "$(val NET-PING)" "ok"
	payload=$(wc -c <"$dir/payload") payload_md5=$(md5sum <"$dir/payload" | cut -d' ' -f1)
	t_is "TCP peer -> guest: 2 MiB arrive intact" "$(val NET-RX)" "$payload $payload_md5"
	wait "$peer_pid" 2>/dev/null
	t_is "TCP guest -> peer: 2 MiB arrive intact" "$(cat "$dir/net-result" 2>&1)" "$payload $payload_md5"
	if [ "$vm_rc" != 0 ]; then
		t_diag "$(cat "$dir/net-peer.log")"
	fi
fi

# ---- how the VM ends ----
# No ACPI: the kernel halts every CPU and says so on the console, which is
# how the monitor sees the power-off.
vm_timeout=60 vm poweroff
if [ "$vm_rc" = 0 ] && grep -q POWEROFF-NOW "$vm_log"; then
	t_pass "poweroff -f in the guest: runvm vm exits 0"
else
	t_fail "poweroff -f in the guest: runvm vm exits 0 (got $vm_rc)" "$(vm_diag)"
fi

vm_append="reboot=t" vm triple
if [ "$vm_rc" = 250 ] && grep -q TRIPLE-NOW "$vm_log"; then
	t_pass "guest reboot through a triple fault (reboot=t): runvm vm exits 250"
else
	t_fail "guest reboot through a triple fault (reboot=t): runvm vm exits 250" "$(vm_diag)"
fi

vm panic
if [ "$vm_rc" = 0 ] && grep -q "Kernel panic" "$vm_log"; then
	t_pass "guest kernel panic (PID 1 exits): panic=-1 reboots, runvm vm exits 0"
else
	t_fail "guest kernel panic (PID 1 exits): panic=-1 reboots, runvm vm exits 0" "$(vm_diag)"
fi
# (echo c > /proc/sysrq-trigger would be the classic panic, but the guest
# kernel has no MAGIC_SYSRQ.)

# ---- kill -9 of runvm vm: virtiofsd goes too, a tap it created goes too ----
mkdir -p "$dir/share-kill"
vm_log=$dir/hang.console
: >"$vm_log"
if ip netns list 2>/dev/null | grep -q "^$ns"; then
	kill_prefix=(ip netns exec "$ns")
	kill_net=(--tap rvtap-kill)
else
	kill_prefix=() kill_net=()
fi
"${kill_prefix[@]}" "$RUNVM" vm --kernel "$kernel" --initrd "$initrd" --console "$vm_log" --state-dir "$dir" \
	--append "test=hang" --share "share=$dir/share-kill" "${kill_net[@]}" </dev/null >"$dir/hang.stderr" 2>&1 &
vm_pid=$!
e2e_defer "kill -9 $vm_pid"
for _ in $(seq 300); do
	grep -q HANG-READY "$vm_log" && break
	kill -0 "$vm_pid" 2>/dev/null || break
	sleep 0.1
done
if grep -q HANG-READY "$vm_log"; then
	t_pass "a guest with a share (and a tap runvm creates) is up"
	# KVM names a VM's PIT worker kvm-pit/<pid of the VMM>; with the
	# TSC-deadline timer the monitor creates no PIT.
	t_is "no in-kernel PIT: no kvm-pit/$vm_pid thread on the host" \
		"$(ps -eo comm= | grep -Fx "kvm-pit/$vm_pid")" ""
	vfs=$(pgrep -f "virtiofsd.*source=$dir/share-kill")
	t_ok "virtiofsd runs for the share while the VM is up" test -n "$vfs"
	if [ ${#kill_net[@]} -gt 0 ]; then
		t_ok "runvm created tap rvtap-kill in the namespace and brought it up" \
			bash -c "ip -n $ns -o link show rvtap-kill | grep -q ',UP'"
	fi
	kill -9 "$vm_pid"
	wait "$vm_pid" 2>/dev/null
	for _ in $(seq 50); do
		pgrep -f "virtiofsd.*source=$dir/share-kill" >/dev/null || break
		sleep 0.1
	done
	left=$(pgrep -af "virtiofsd.*source=$dir/share-kill")
	t_is "kill -9 of runvm vm leaves no virtiofsd for its share" "$left" ""
	if [ ${#kill_net[@]} -gt 0 ]; then
		t_nok "the tap runvm created is gone with it" ip -n "$ns" link show rvtap-kill
	fi
	left=$(pgrep -f "virtiofsd.*source=$dir/share-kill")
	[ -z "$left" ] || kill -9 $left 2>/dev/null
else
	kill -9 "$vm_pid" 2>/dev/null
	wait "$vm_pid" 2>/dev/null
	t_fail "a guest with a share (and a tap runvm creates) is up" "$(
		vm_rc=?
		vm_err=$dir/hang.stderr
		vm_diag
	)"
fi
