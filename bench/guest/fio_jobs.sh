# shellcheck shell=bash
# fio job runner shared by the guest halves of the benchmarks (sourced
# after tests/vm/lib.sh).

# cpu_ticks: "busy total" jiffies of all CPUs so far, from /proc/stat.
cpu_ticks() {
	awk '$1 == "cpu" { busy = $2 + $3 + $4 + $7 + $8 + $9; print busy, busy + $5 + $6 }' /proc/stat
}

# minor_faults PID: page faults taken so far by process PID, all its
# threads together (io_uring workers that already exited included), or 0
# without PID.
minor_faults() {
	[ -n "${1:-}" ] || { echo 0; return; }
	awk '{ sub(/.*\) /, ""); print $8 + 0 }' /proc/"$1"/stat 2>/dev/null || echo 0
}

# thread_ticks PID: one "tid ticks" line per thread of process PID, ticks
# being its user and system CPU time so far in clock ticks.
thread_ticks() {
	[ -n "${1:-}" ] || return 0
	local t
	for t in /proc/"$1"/task/*/stat; do
		awk '{ tid = $1; sub(/.*\) /, ""); print tid, $12 + $13 }' "$t" 2>/dev/null || true
	done
}

# process_ticks PID: user and system CPU time of process PID so far in
# clock ticks, its exited threads included (0 without PID).
process_ticks() {
	[ -n "${1:-}" ] || { echo 0; return; }
	awk '{ sub(/.*\) /, ""); print $12 + $13 }' /proc/"$1"/stat 2>/dev/null || echo 0
}

# run_fio_jobs CONFIG DEVICE OUT RUNTIME JOB...: one time-based fio run per
# JOB ("name rw bs iodepth numjobs", rw as fio spells it), O_DIRECT,
# libaio, over the first 48 MiB of DEVICE. Appends one line per job to OUT:
#   config job iops MiB/s p50_us p99_us guest_cpu_% faults_per_request \
#     mean_us p10_us p90_us p99.9_us backend_cpu_us_per_request \
#     busiest_backend_thread_%
# (completion latency throughout, of reads if the job read, else writes).
# guest CPU is the busy share of all vCPUs during the run: fio, the device
# processes and the kernel together. faults_per_request counts the page
# faults of the back-end process FAULT_PID (environment; 0 without it),
# backend_cpu_us_per_request its CPU time, and busiest_backend_thread_% the
# share of one CPU its busiest thread took: near 100, that thread is
# what limits the job.
# VLB_BENCH_JOBS, an extended regex, keeps only the jobs whose name matches.
run_fio_jobs() {
	local config=$1 dev=$2 out=$3 runtime=$4 j name rw bs qd nj line before after f0 f1 c0 c1 t0 t1
	local hz
	hz=$(getconf CLK_TCK)
	shift 4
	for j in "$@"; do
		read -r name rw bs qd nj <<<"$j"
		[[ $name =~ ${VLB_BENCH_JOBS:-.} ]] || continue
		f0=$(minor_faults "${FAULT_PID:-}")
		c0=$(process_ticks "${FAULT_PID:-}")
		t0=$(thread_ticks "${FAULT_PID:-}")
		before=$(cpu_ticks)
		line=$(fio --name="$name" --filename="$dev" --direct=1 --ioengine=libaio \
			--rw="$rw" --bs="$bs" --iodepth="$qd" --numjobs="$nj" --group_reporting \
			--size=48M --runtime="$runtime" --time_based --percentile_list=10:50:90:99:99.9 \
			--output-format=terse --terse-version=3)
		after=$(cpu_ticks)
		t1=$(thread_ticks "${FAULT_PID:-}")
		c1=$(process_ticks "${FAULT_PID:-}")
		f1=$(minor_faults "${FAULT_PID:-}")
		echo "$line" | awk -F';' -v c="$config" -v n="$name" -v b="$before" -v a="$after" \
			-v f=$((f1 - f0)) -v bt=$((c1 - c0)) -v hz="$hz" -v t0="$t0" -v t1="$t1" '{
			split(b, x, " "); split(a, y, " ")
			cpu = y[2] > x[2] ? 100 * (y[1] - x[1]) / (y[2] - x[2]) : 0
			iops = $8 + $49; bw = ($7 + $48) / 1024
			# Terse v3: clat mean at 16 (reads) or 57 (writes), then
			# the percentiles of --percentile_list from 18 or 59.
			r = $8 > 0 ? 0 : 41
			mean = $(16 + r)
			for (i = 0; i < 5; i++) { p[i] = $(18 + r + i); sub(/.*=/, "", p[i]) }
			ios = ($8 * $9 + $49 * $50) / 1000
			# Runtime in ms: field 9 (reads) or 50 (writes).
			ms = $8 > 0 ? $9 : $50
			# The busiest thread: largest tick delta of a thread seen before and after.
			nt = split(t0, s0, "\n"); for (i = 1; i <= nt; i++) { split(s0[i], kv, " "); old[kv[1]] = kv[2] }
			nt = split(t1, s1, "\n"); busiest = 0
			for (i = 1; i <= nt; i++) {
				split(s1[i], kv, " ")
				if ((kv[1] in old) && kv[2] - old[kv[1]] > busiest) busiest = kv[2] - old[kv[1]]
			}
			printf "%s %s %.0f %.1f %s %s %.0f %.1f %.0f %s %s %s %.0f %.0f\n", c, n, iops, bw, p[1], p[3], cpu,
				(ios > 0 ? f / ios : 0), mean, p[0], p[2], p[4],
				(ios > 0 ? 1e6 * bt / hz / ios : 0), (ms > 0 ? 1e5 * busiest / hz / ms : 0) }' >>"$out"
	done
}
