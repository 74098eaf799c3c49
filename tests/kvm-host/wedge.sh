# tests/kvm-host/wedge.sh — notice a test host that stopped taking interrupts.
#
# Sourced by tests/kvm-host/run (and tests/kvm-host-wedge.test). QEMU 7.2's
# TCG emulation of SVM now and then leaves a test-host CPU halted, with
# interrupts enabled and an interrupt pending in its local APIC, for good:
# QEMU no longer delivers anything to it (not even an NMI from its
# monitor), and the command inside waits until run's --timeout (50 min)
# runs out. kvm_host_wedge_watch asks QEMU's monitor (QMP on a pair of
# FIFOs) every few seconds how each CPU stands; a CPU found halted with a
# deliverable interrupt pending in several samples in a row is wedged (on a
# working CPU that state lasts microseconds). The watch then writes one
# line saying so to $scratch/wedged and stops QEMU.

# kvm_host_cpu_wedged REGS LAPIC — REGS and LAPIC are the text of QEMU's
# "info registers" and "info lapic" for one CPU (raw, or JSON-escaped as
# QMP returns them). True when the CPU is halted (HLT=1) with interrupts
# enabled (RFLAGS.IF) and its IRR holds a vector whose priority class is
# above the processor priority (PPR): an interrupt it should be taking.
# Prints that vector.
kvm_host_cpu_wedged() {
	local regs=$1 lapic=$2 rfl ppr irr v
	[[ $regs == *HLT=1* ]] || return 1
	[[ $regs =~ RFL=([0-9a-fA-F]+) ]] || return 1
	rfl=$((16#${BASH_REMATCH[1]}))
	((rfl & 0x200)) || return 1
	[[ $lapic =~ PPR\ 0x([0-9a-fA-F]+) ]] || return 1
	ppr=$((16#${BASH_REMATCH[1]}))
	# "IRR\t 236 \r\n" (or with the escapes spelt out, from QMP).
	[[ $lapic =~ IRR(\\t|[[:space:]])+([0-9 ]*) ]] || return 1
	irr=${BASH_REMATCH[2]}
	for v in $irr; do
		if (((v >> 4) > (ppr >> 4))); then
			echo "$v"
			return 0
		fi
	done
	return 1
}

# kvm_host_wedge_watch SCRATCH QPID CPUS [INTERVAL [SAMPLES]] — runs until
# QPID is gone. QEMU was started with
#   -chardev pipe,id=wedge,path=SCRATCH/qmp -mon chardev=wedge,mode=control
# (FIFOs SCRATCH/qmp.in and SCRATCH/qmp.out). When a CPU is wedged in
# SAMPLES (default 4) samples INTERVAL (default 5) seconds apart, writes
# the reason to SCRATCH/wedged and sends SIGTERM to QPID's children (QEMU
# under timeout(1)).
kvm_host_wedge_watch() {
	local scratch=$1 qpid=$2 cpus=$3 interval=${4:-5} samples=${5:-4}
	local in out reply regs lapic cpu v
	local -a seen
	exec {in}<>"$scratch/qmp.in" {out}<>"$scratch/qmp.out" || return 0
	# qmp JSON — sends a command; the reply line (events skipped) in $reply.
	# Gives up when QEMU is gone or has not answered for 30 s.
	qmp() {
		local waited=0 part=''
		printf '%s\n' "$1" >&"$in" || return 1
		while [ "$waited" -lt 30 ] && kill -0 "$qpid" 2>/dev/null; do
			if IFS= read -r -t 1 -u "$out" reply; then
				reply=$part$reply part=''
				case $reply in '{"return"'* | '{"error"'*) return 0 ;; esac
			else
				part+=$reply # a line cut by the timeout goes on
				waited=$((waited + 1))
			fi
		done
		return 1
	}
	hmp() { # hmp CPU COMMAND — the text of a human monitor command
		qmp "{\"execute\":\"human-monitor-command\",\"arguments\":{\"command-line\":\"$2\",\"cpu-index\":$1}}"
	}
	# QEMU greets first; under a loaded machine it may take a while to start.
	until IFS= read -r -t 1 -u "$out" reply; do
		kill -0 "$qpid" 2>/dev/null || return 0
	done
	qmp '{"execute":"qmp_capabilities"}' || return 0
	for ((cpu = 0; cpu < cpus; cpu++)); do seen[cpu]=0; done
	while kill -0 "$qpid" 2>/dev/null; do
		sleep "$interval"
		for ((cpu = 0; cpu < cpus; cpu++)); do
			hmp "$cpu" "info registers" || return 0
			regs=$reply
			hmp "$cpu" "info lapic" || return 0
			lapic=$reply
			if v=$(kvm_host_cpu_wedged "$regs" "$lapic"); then
				seen[cpu]=$((seen[cpu] + 1))
			else
				seen[cpu]=0
			fi
			if [ "${seen[cpu]}" -ge "$samples" ]; then
				echo "the test host stopped taking interrupts: its CPU $cpu stayed halted with interrupt vector $v pending in $samples samples $interval s apart (a fault of QEMU's TCG emulation, tests/kvm-host/README.md)" \
					>"$scratch/wedged"
				pkill -TERM -P "$qpid" 2>/dev/null || kill -TERM "$qpid" 2>/dev/null
				return 0
			fi
		done
	done
}
