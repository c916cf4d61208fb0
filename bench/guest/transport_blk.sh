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

# shellcheck source=bench/guest/fio_jobs.sh
. "$VLB_SRC/bench/guest/fio_jobs.sh"
jobs=(
	"4k-randread-qd1 randread 4k 1 1"
	"4k-randread-qd32 randread 4k 32 1"
	"128k-read read 128k 16 1"
	"128k-write write 128k 16 1"
	"1m-read read 1m 4 1"
	"1m-write write 1m 4 1"
)
run_jobs() { run_fio_jobs "$1" "$2" "$out" "$runtime" "${jobs[@]}"; }

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
