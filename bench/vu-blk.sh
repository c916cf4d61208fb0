#!/usr/bin/env bash
# vu-blk.sh: vlb-dev-blk against qemu-storage-daemon's vhost-user-blk
# export, both driven from user space by vlb-vu-bench (this project's
# UserDriver), same backing file on tmpfs, same queue settings, one run.
# Prints IOPS, MiB/s, p50/p99 latency and back-end CPU per I/O, and the
# ratios the issue sets targets for (IOPS at QD32, latency at QD1).
#
# Usage: bench/vu-blk.sh [--seconds S] [BUILD_DIR]
set -euo pipefail
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
seconds=5
if [ "${1:-}" = --seconds ]; then
	seconds=$2
	shift 2
fi
build=${1:-$src/build/default}
bench=$build/bench/vlb-vu-bench
if [ ! -x "$bench" ] || [ ! -x "$build/devices/vlb-dev-blk" ]; then
	echo "vu-blk: build first (cmake --build --preset default)" >&2
	exit 2
fi
command -v qemu-storage-daemon >/dev/null || { echo "vu-blk: qemu-storage-daemon missing (scripts/install-deps.sh)" >&2; exit 2; }

work=$(mktemp -d /dev/shm/vlb-vu-bench.XXXXXX)
pids=()
# shellcheck disable=SC2317 # runs from the EXIT trap
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
img=$work/disk.img
dd if=/dev/urandom of="$img" bs=1M count=256 status=none

wait_socket() { for _ in $(seq 100); do [ -S "$1" ] && return 0; sleep 0.05; done; return 1; }

start_vlb() {
	"$build/devices/vlb-dev-blk" --socket-path "$work/vlb.sock" --backing "$img" 2>"$work/vlb.log" &
	pids+=($!)
	vlb_pid=$!
	wait_socket "$work/vlb.sock"
}
start_qsd() {
	qemu-storage-daemon \
		--blockdev "driver=file,node-name=file0,filename=$img,cache.direct=off,aio=io_uring" \
		--blockdev driver=raw,node-name=disk0,file=file0 \
		--export "type=vhost-user-blk,id=exp0,node-name=disk0,addr.type=unix,addr.path=$work/qsd.sock,writable=on,num-queues=1" \
		2>"$work/qsd.log" &
	pids+=($!)
	qsd_pid=$!
	wait_socket "$work/qsd.sock"
}
start_vlb
start_qsd

jobs=(
	"4k-randread-qd1 randread 4096 1"
	"4k-randread-qd32 randread 4096 32"
	"4k-randwrite-qd32 randwrite 4096 32"
	"128k-read-qd8 read 131072 8"
	"128k-write-qd8 write 131072 8"
)
echo
echo "vhost-user-blk from user space (vlb-vu-bench), backing file on tmpfs, ${seconds}s per job ($(date -u +%F), $(nproc) CPUs)"
echo
printf '%-18s | %-36s | %-36s | %s\n' job "vlb-dev-blk IOPS MiB/s p50 p99 cpu/io" "qemu-storage-daemon IOPS MiB/s p50 p99 cpu/io" "IOPS ratio  p50 ratio"
for j in "${jobs[@]}"; do
	read -r name rw bs qd <<<"$j"
	v=$("$bench" --socket "$work/vlb.sock" --pid "$vlb_pid" --rw "$rw" --bs "$bs" --qd "$qd" --seconds "$seconds")
	q=$("$bench" --socket "$work/qsd.sock" --pid "$qsd_pid" --rw "$rw" --bs "$bs" --qd "$qd" --seconds "$seconds")
	read -r vi vb vp5 vp9 vc <<<"$v"
	read -r qi qb qp5 qp9 qc <<<"$q"
	printf '%-18s | %8s %7s %5s %6s %6s | %8s %7s %5s %6s %6s | %6.2fx     %6.2fx\n' "$name" \
		"$vi" "$vb" "$vp5" "$vp9" "$vc" "$qi" "$qb" "$qp5" "$qp9" "$qc" \
		"$(awk -v a="$vi" -v b="$qi" 'BEGIN { print a / b }')" \
		"$(awk -v a="$vp5" -v b="$qp5" 'BEGIN { print a / b }')"
done
echo
echo "latencies in microseconds; cpu/io is the back-end's CPU time per I/O in microseconds;"
echo "IOPS ratio is vlb-dev-blk / qemu-storage-daemon (target >= 1.2 at QD32), p50 ratio the"
echo "same for median latency (target <= 1.0 at QD1)."
