#!/usr/bin/env bash
# transport-blk.sh: fio on the loopback virtio-blk in the Debian kernel
# under QEMU, zero-copy against bounce-only against the kernel's own RAM
# disk, all in one guest run, printed as a table with ratios. Counts
# (grants, bounces, revocations per I/O) stand beside the times because
# TCG distorts the relative cost of page-table work and copies.
#
# Usage: bench/transport-blk.sh [--runtime SEC] [BUILD_DIR]
set -euo pipefail
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
runtime=5
if [ "${1:-}" = --runtime ]; then
	runtime=$2
	shift 2
fi
build=$(cd "${1:-$src/build/default}" && pwd)  # the guest sees absolute paths only
# The test harness boots with slub_debug for catching bugs; a benchmark
# measures the kernel as shipped, where it would tax every allocation.
vm_append="slub_debug=-"
[ -x "$build/tests/vm/vlb-test-device" ] || {
	echo "transport-blk: build first (cmake --build --preset default)" >&2
	exit 2
}
out=$build/bench-transport-blk
env_file=$(mktemp)
trap 'rm -f "$env_file"' EXIT
VLB_BENCH_RUNTIME=$runtime "$src/tests/vm/vlb-vm" --out "$out" --build "$build" --append "$vm_append" \
	--case-timeout 1800 "$src/bench/guest/transport_blk.sh" >&2
res=$out/cases/transport_blk/results.txt

echo
echo "virtio-blk through virtio-loopback (vlb-test-device, RAM-backed) vs brd,"
echo "fio libaio O_DIRECT, ${runtime}s per job, one TCG guest run ($(date -u +%F))"
echo
awk '
$1 == "counters" { next }
{ iops[$1, $2] = $3; bw[$1, $2] = $4; p50[$1, $2] = $5; p99[$1, $2] = $6; jobs[$2] = 1; order[++n] = $2 }
END {
	printf "%-17s | %-30s | %-30s | %-22s | %s\n", "job", "zero-copy IOPS MiB/s p50 p99", "bounce-only IOPS MiB/s p50 p99", "brd IOPS MiB/s", "zc/bounce  zc/brd"
	for (i = 1; i <= n; i++) {
		j = order[i]; if (seen[j]++) continue
		printf "%-17s | %7d %7.1f %6s %6s | %7d %7.1f %6s %6s | %7d %7.1f      | %5.2fx   %5.2fx\n", j,
			iops["zero-copy", j], bw["zero-copy", j], p50["zero-copy", j], p99["zero-copy", j],
			iops["bounce-only", j], bw["bounce-only", j], p50["bounce-only", j], p99["bounce-only", j],
			iops["brd", j], bw["brd", j],
			(bw["bounce-only", j] > 0 ? bw["zero-copy", j] / bw["bounce-only", j] : 0),
			(bw["brd", j] > 0 ? bw["zero-copy", j] / bw["brd", j] : 0)
	}
}' "$res"
echo
echo "latencies in microseconds; per I/O over the whole run:"
awk '$1 == "counters" {
	for (i = 3; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
	s = v["served"] > 0 ? v["served"] : 1
	printf "  %-12s grants %.2f  bounces %.2f  revocations %.2f  kicks %.2f  calls %.2f  map failures %d\n",
		$2, v["grants"] / s, v["bounces"] / s, v["revocations"] / s, v["kicks"] / s, v["calls"] / s, v["map_failures"]
}' "$res"
