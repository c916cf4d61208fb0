#!/usr/bin/env bash
# adapter-blk.sh: fio in the Debian kernel under QEMU on one backing file
# served eight ways, in one guest run, printed as a table with ratios
# against VDUSE: vlb-dev-blk behind vlb-adapter and the transport
# (kernel copies as by default, the device's own mapping only, the backing
# O_DIRECT, and bounce-only), qemu-storage-daemon's vhost-user-blk export
# behind the same, qemu-storage-daemon's vduse-blk export (VDUSE built out
# of tree by bench/vduse-modules.sh) buffered and O_DIRECT, and the file
# itself with O_DIRECT.
# Under TCG only ratios within one run mean anything.
#
# Usage: bench/adapter-blk.sh [--runtime SEC] [--ways LIST] [--jobs REGEX] [BUILD_DIR]
#   --runtime SEC  seconds per fio job (default 4; 10 or more to decide)
#   --ways LIST    which of "vlb-zc vlb-map vlb-direct vlb-bounce qsd-vlb vduse
#                  vduse-direct file" to run (default: all)
#   --jobs REGEX   only the jobs whose name matches (e.g. '^1m-|128k-.*-j4')
set -euo pipefail
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
runtime=4
while [ $# -gt 0 ]; do
	case $1 in
	--runtime) runtime=$2; shift 2 ;;
	--ways) export VLB_BENCH_WAYS=$2; shift 2 ;;
	--jobs) export VLB_BENCH_JOBS=$2; shift 2 ;;
	-h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	-*) echo "adapter-blk: unknown option $1 (--help)" >&2; exit 2 ;;
	*) break ;;
	esac
done
build=$(cd "${1:-$src/build/default}" && pwd)  # the guest sees absolute paths only
# The test harness boots with slub_debug for catching bugs; a benchmark
# measures the kernel as shipped, where it would tax every allocation.
vm_append="slub_debug=-"
[ -x "$build/adapter/vlb-adapter" ] || {
	echo "adapter-blk: build first (cmake --build --preset default)" >&2
	exit 2
}
out=$build/bench-adapter-blk
res=$out/cases/adapter_blk/results.txt
# VLB_BENCH_TABLE_ONLY=1: print the table of the last run again.
if [ "${VLB_BENCH_TABLE_ONLY:-0}" != 1 ]; then
	VLB_BENCH_VDUSE_DIR=$("$src/bench/vduse-modules.sh" "$build/bench-vduse/modules")
	export VLB_BENCH_VDUSE_DIR
	export VLB_BENCH_RUNTIME=$runtime
	"$src/tests/vm/vlb-vm" --out "$out" --build "$build" --append "$vm_append" --case-timeout 3600 \
		"$src/bench/guest/adapter_blk.sh" >&2
fi

echo
echo "virtio-blk on one file (ext4 on brd; back-ends on io_uring, buffered unless *-direct),"
echo "2 queues of 128, fio libaio O_DIRECT over 48 MiB, ${runtime}s per job, one TCG guest run ($(date -u +%F))."
echo "Each cell: IOPS  MiB/s  p50/p99 us  guest CPU %. Ratios divide MiB/s (x) and p50"
echo "latency (lat) by VDUSE's: buffered ways by vduse's, vlb-direct by vduse-direct's."
echo
# The ways in the order they ran; a way that did not run has no column.
awk '
{ k = $1 SUBSEP $2; iops[k] = $3; bw[k] = $4; p50[k] = $5; p99[k] = $6; cpu[k] = $7
  if (!seen[$2]++) order[++n] = $2
  if (!way_seen[$1]++) way[++nw] = $1 }
END {
	printf "%-20s", "job"
	for (c = 1; c <= nw; c++) printf " | %-29s", way[c]
	printf " |"
	for (c = 1; c <= nw; c++)
		if (way[c] != "vduse" && way[c] != "vduse-direct" && way[c] != "file")
			printf " %s", way[c] "/" (way[c] == "vlb-direct" ? "vduse-direct" : "vduse")
	printf "\n"
	for (i = 1; i <= n; i++) {
		j = order[i]
		printf "%-20s", j
		for (c = 1; c <= nw; c++) {
			k = way[c] SUBSEP j
			printf " | %6d %6.1f %5s/%-6s %3d%%", iops[k], bw[k], p50[k], p99[k], cpu[k]
		}
		printf " |"
		for (c = 1; c <= nw; c++) {
			w = way[c]
			if (w == "vduse" || w == "vduse-direct" || w == "file")
				continue
			peer = (w == "vlb-direct" ? "vduse-direct" : "vduse")
			v = bw[peer, j]; l = p50[peer, j]
			printf "  %4.2fx %4.2flat", (v > 0 ? bw[w, j] / v : 0), (l > 0 ? p50[w, j] / l : 0)
		}
		printf "\n"
	}
}' "$res"
echo
echo "The back-end process per request: page faults (minflt), CPU time in us, and"
echo "the share of one CPU its busiest thread took (near 100%, that thread limits the job):"
awk '
NF >= 8 && $1 != "file" {
	k = $1 SUBSEP $2; f[k] = $8; c[k] = (NF >= 14 ? $13 : "-"); t[k] = (NF >= 14 ? $14 "%" : "-")
	if (!seen[$2]++) order[++n] = $2; if (!way_seen[$1]++) way[++nw] = $1 }
END {
	printf "  %-20s", "job"
	for (w = 1; w <= nw; w++) printf " | %-18s", way[w]
	printf "\n"
	for (i = 1; i <= n; i++) {
		printf "  %-20s", order[i]
		for (w = 1; w <= nw; w++) {
			k = way[w] SUBSEP order[i]
			printf " | %5.1f %6s %5s", f[k], c[k], t[k]
		}
		printf "\n"
	}
}' "$res"
echo
echo "Completion latency of the QD1 jobs in us (mean, then percentiles); the ratio"
echo "divides the mean by the peer's, as the lat column above divides p50:"
awk '
NF >= 12 && $2 ~ /-qd1-/ {
	k = $1 SUBSEP $2; mean[k] = $9; p10[k] = $10; p50[k] = $5; p90[k] = $11; p99[k] = $6; p999[k] = $12
	if (!seen[$2]++) order[++n] = $2
	if (!way_seen[$1]++) way[++nw] = $1 }
END {
	printf "  %-20s %-14s %6s %6s %6s %6s %6s %6s %8s\n", "job", "way", "mean", "p10", "p50", "p90", "p99", "p99.9", "mean/peer"
	for (i = 1; i <= n; i++)
		for (c = 1; c <= nw; c++) {
			w = way[c]; k = w SUBSEP order[i]
			if (!(k in mean)) continue
			peer = (w == "vlb-direct" ? "vduse-direct" : "vduse")
			ratio = (w != peer && w != "vduse-direct" && w != "file" && mean[peer, order[i]] > 0) ? \
				sprintf("%.2f", mean[k] / mean[peer, order[i]]) : "-"
			printf "  %-20s %-14s %6d %6s %6s %6s %6s %6s %8s\n", order[i], w, mean[k], p10[k],
				p50[k], p90[k], p99[k], p999[k], ratio
		}
}' "$res"
echo
echo "Targets (issue \"Adapter\"): zero-copy at least 1.3x VDUSE's MiB/s from 64k up,"
echo "at least VDUSE's IOPS at 4k, and QD1 latency no worse (lat <= 1.00)."
