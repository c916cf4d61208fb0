# shellcheck shell=bash source=tests/vm/lib.sh
# A back-end that crashes mid-I/O loses nothing: vlb-dev-blk is SIGKILLed
# every 2 s for 60 s (its read threads mid-copy too, and kernel copies of
# its 64 KiB requests under way) and restarted while fio writes and
# verifies through vlb-adapter and the kernel transport. The adapter
# waits for each new back-end, replays the set-up with the inflight region
# it kept, and the requests the dead one had taken complete exactly once:
# zero I/O errors, zero verify errors, a clean kernel log.
. "$VLB_SRC/tests/vm/lib.sh"
vlb_load grace_period_ms=2000
vlb_load_drivers
run=/tmp/recovery
fresh_dir "$run"
truncate -s 64M "$run/disk.img"

start_backend() {
	"$VLB_BUILD/devices/vlb-dev-blk" --socket-path "$run/blk.sock" --backing "$run/disk.img" \
		--queues 2 --read-threads 2 --serial recovery 2>>"$VLB_CASE_OUT/blk.log" &
	blk_pid=$!
	wait_for 10 test -S "$run/blk.sock" || fail "vlb-dev-blk did not listen"
}

step "vlb-dev-blk behind vlb-adapter"
start_backend
"$VLB_BUILD/adapter/vlb-adapter" --type blk --name recovery --backend-socket "$run/blk.sock" \
	2>"$VLB_CASE_OUT/adapter.log" &
adapter_pid=$!
wait_for 60 disk_with_serial recovery >/dev/null || { cat "$VLB_CASE_OUT/adapter.log"; fail "no disk"; }
dev=$(disk_with_serial recovery)

step "fio writes and verifies while the back-end is killed every 2 s"
restart_backend() {
	rm -f "$run/blk.sock"
	kill -KILL "$blk_pid"
	wait "$blk_pid" 2>/dev/null || true
	start_backend
}
fio_verify_while_killing "$dev" 24M restart_backend "$VLB_CASE_OUT/adapter.log" 60 20
grep -c 'back-end reconnected' "$VLB_CASE_OUT/adapter.log"
dmesg | grep -E 'virtio_loopback.*broken' && fail "the kernel device broke"

step "clean shutdown"
kill -TERM "$adapter_pid"
wait "$adapter_pid" || fail "vlb-adapter exited $?"
kill -TERM "$blk_pid"
wait "$blk_pid" || true
wait_for 30 sh -c '! ls -d /sys/block/vd* 2>/dev/null' || fail "disk not removed"
vlb_unload
echo ok
