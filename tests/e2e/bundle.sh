# shellcheck shell=bash
# tests/e2e/bundle.sh — OCI bundles for end-to-end tests: busybox-static
# plus the tests/init/testinit helper, no registry. Source after lib.sh.
#   e2e_bundle DIR ARG...        bundle whose process runs ARG...
#   e2e_bundle_set DIR PY-EXPR   edit config.json with python (c = the config)
# Sets RUNVM_KERNEL and RUNVM_INITRD to the build tree's kernel and initramfs.

export RUNVM_KERNEL=${RUNVM_KERNEL:-$top_builddir/vmlinux}
export RUNVM_INITRD=${RUNVM_INITRD:-$top_builddir/runvm-init.cpio}

e2e_bundle() {
	local dir=$1
	shift
	"$top_srcdir/contrib/make-demo-bundle" "$dir" "$@" >/dev/null
	cp "$top_builddir/tests/init/testinit" "$dir/rootfs/bin/testinit"
}

e2e_bundle_set() {
	python3 - "$1/config.json" "$2" <<'PY'
import json, sys
path, expr = sys.argv[1], sys.argv[2]
c = json.load(open(path))
exec(expr)
json.dump(c, open(path, "w"), indent=1)
PY
}

# Nothing of container ID may be left: no state dir, monitor or virtiofsd.
e2e_nothing_left() {
	local root=$1 id=$2 rootfs=$3
	[ ! -e "$root/$id" ] || { echo "state dir $root/$id left behind"; return 1; }
	if pgrep -f "virtiofsd.*source=$rootfs" >/dev/null; then
		echo "virtiofsd for $rootfs left behind"
		return 1
	fi
	if pgrep -f "runvm.*$root.* $id\$" >/dev/null; then
		echo "runvm process for $id left behind"
		return 1
	fi
	return 0
}
