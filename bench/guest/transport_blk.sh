# shellcheck shell=bash source=tests/vm/lib.sh
# Guest half of bench/transport-blk.sh: fio on the loopback virtio-blk
# served by vlb-test-device (RAM-backed) with zero-copy on and off, and on
# the kernel's own RAM disk (brd) as the same backing read directly.
. "$VLB_SRC/tests/vm/lib.sh"
vlb_load grace_period_ms=500
vlb_load_drivers
runtime=${VLB_BENCH_RUNTIME:-5}
out=$VLB_CASE_OUT/results.txt
: >"$out"

jobs=(
	"4k-randread-qd1 randread 4k 1"
	"4k-randread-qd32 randread 4k 32"
	"128k-read rw=read 128k 16"
	"128k-write rw=write 128k 16"
	"1m-read rw=read 1m 4"
	"1m-write rw=write 1m 4"
)

# run_jobs CONFIG DEVICE [STATS_LOG]: one fio run per job, one line each:
# config job iops MiB/s p50_us p99_us
run_jobs() {
	local config=$1 dev=$2 j name rw bs qd line
	for j in "${jobs[@]}"; do
		read -r name rw bs qd <<<"$j"
		rw=${rw#rw=}
		line=$(fio --name="$name" --filename="$dev" --direct=1 --ioengine=libaio \
			--rw="$rw" --bs="$bs" --iodepth="$qd" --size=48M --runtime="$runtime" \
			--time_based --percentile_list=50:99 --output-format=terse --terse-version=3)
		echo "$line" | awk -F';' -v c="$config" -v n="$name" '{
			iops = $8 + $49; bw = ($7 + $48) / 1024
			p50 = $8 > 0 ? $18 : $59; p99 = $8 > 0 ? $19 : $60
			sub(/.*=/, "", p50); sub(/.*=/, "", p99)
			printf "%s %s %.0f %.1f %s %s\n", c, n, iops, bw, p50, p99 }' >>"$out"
	done
}

bench_device() { # CONFIG ARGS...
	local config=$1 log=$VLB_CASE_OUT/$1.log
	shift
	step "$config"
	vlb_start_device "$log" --type blk --name "bench-$config" --capacity-mb 64 "$@"
	wait_for 30 first_vd >/dev/null || fail "no disk"
	run_jobs "$config" "$(first_vd)"
	vlb_stop_device "$log"
	echo "counters $config $(grep '^stats ' "$log" | cut -d' ' -f2-)" >>"$out"
	wait_for 20 sh -c '! ls -d /sys/block/vd* 2>/dev/null'
}

bench_device zero-copy
bench_device bounce-only --bounce-threshold 4294967295
step "brd (in-kernel RAM disk)"
modprobe brd rd_nr=1 rd_size=65536
run_jobs brd /dev/ram0
rmmod brd
vlb_unload
cat "$out"
