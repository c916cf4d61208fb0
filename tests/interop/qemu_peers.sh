#!/usr/bin/env bash
# qemu_peers.sh: the interoperability contract with QEMU. This project's
# vhost-user back-ends run on the host; QEMU's own vhost-user-blk-pci and
# vhost-user-rng-pci front-ends give them to the Debian kernel guest, whose
# stock drivers do the I/O (fio --verify=crc32c on the disk, reads from
# /dev/hwrng). Nothing of this project runs in the guest but the checks.
#
# Usage: tests/interop/qemu_peers.sh BUILD_DIR
set -euo pipefail
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=$(realpath "${1:?usage: qemu_peers.sh BUILD_DIR}")
work=$build/interop-qemu
rm -rf "$work"
mkdir -p "$work"

pids=()
# shellcheck disable=SC2317 # runs from the EXIT trap
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
}
trap cleanup EXIT

truncate -s 256M "$work/disk.img"
"$build/devices/vlb-dev-blk" --socket-path "$work/blk.sock" --backing "$work/disk.img" \
	--queues 2 --serial interop-blk 2>"$work/blk.log" &
pids+=($!)
blk_pid=$!
"$build/devices/vlb-dev-rng" --socket-path "$work/rng.sock" 2>"$work/rng.log" &
pids+=($!)
rng_pid=$!
for _ in $(seq 50); do
	[ -S "$work/blk.sock" ] && [ -S "$work/rng.sock" ] && break
	sleep 0.1
done

rc=0
"$src/tests/vm/vlb-vm" --out "$work/vm" --build "$build" \
	--vhost-user "blk=$work/blk.sock" --vhost-user "rng=$work/rng.sock" \
	"$src/tests/interop/guest/qemu_peers.sh" || rc=$?

# The back-ends must have survived the whole session and stop cleanly.
for p in "$blk_pid" "$rng_pid"; do
	if ! kill -TERM "$p" 2>/dev/null; then
		echo "qemu_peers: back-end $p died during the run" >&2
		rc=1
	fi
done
for p in "$blk_pid" "$rng_pid"; do
	st=0
	wait "$p" || st=$?
	[ "$st" = 0 ] || { echo "qemu_peers: back-end $p exited $st" >&2; rc=1; }
done
pids=()
if [ "$rc" != 0 ]; then
	echo "--- vlb-dev-blk log" >&2
	cat "$work/blk.log" >&2
	echo "--- vlb-dev-rng log" >&2
	cat "$work/rng.log" >&2
fi
exit "$rc"
