# Helpers sourced by guest cases (bash, as root, inside the guest).
# shellcheck shell=bash
set -euo pipefail

VLB_KO=$VLB_BUILD/kmod/kbuild/virtio_loopback.ko
VLBCTL=$VLB_BUILD/tools/vlbctl/vlbctl
VLB_NODE=/dev/virtio-loopback
export VLB_KO VLBCTL VLB_NODE

step() { echo "--- $*"; }
fail() { echo "FAIL: $*" >&2; exit 1; }

vlb_load() {
	[ -f "$VLB_KO" ] || fail "module not built: $VLB_KO"
	insmod "$VLB_KO" "$@"
	# devtmpfs creates the node asynchronously with the uevent.
	for _ in $(seq 50); do
		[ -c "$VLB_NODE" ] && return 0
		sleep 0.1
	done
	fail "$VLB_NODE did not appear"
}

vlb_unload() {
	rmmod virtio_loopback
	for _ in $(seq 50); do
		[ -e "$VLB_NODE" ] || return 0
		sleep 0.1
	done
	fail "$VLB_NODE still present after rmmod"
}
