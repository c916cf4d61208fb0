# shellcheck shell=bash source=tests/vm/lib.sh
# An adapter that dies and is not replaced: its kernel device waits for
# the grace period, then goes. I/O pending at that moment (the back-end
# is stopped, so requests stay in flight) fails with EIO instead of
# hanging, the disk disappears, and the kernel log stays clean (the
# harness fails the case on any WARN, oops or hung task).
. "$VLB_SRC/tests/vm/lib.sh"
vlb_load grace_period_ms=1500
vlb_load_drivers
run=/tmp/expiry
fresh_dir "$run"
truncate -s 32M "$run/disk.img"
"$VLB_BUILD/devices/vlb-dev-blk" --socket-path "$run/blk.sock" --backing "$run/disk.img" \
	--serial expiry 2>"$VLB_CASE_OUT/blk.log" &
blk_pid=$!
wait_for 10 test -S "$run/blk.sock" || fail "vlb-dev-blk did not listen"
"$VLB_BUILD/adapter/vlb-adapter" --type blk --name expiry --backend-socket "$run/blk.sock" \
	2>"$VLB_CASE_OUT/adapter.log" &
ad_pid=$!
wait_for 60 disk_with_serial expiry >/dev/null || { cat "$VLB_CASE_OUT/adapter.log"; fail "no disk"; }
dev=$(disk_with_serial expiry)
dd if=/dev/zero of="$dev" bs=64k count=16 oflag=direct status=none || fail "I/O before the fault"

step "back-end stopped, a write in flight, adapter SIGKILLed"
kill -STOP "$blk_pid"
dd if=/dev/urandom of="$dev" bs=64k count=1 oflag=direct 2>"$run/dd.err" &
writer=$!
sleep 1
kill -0 "$writer" 2>/dev/null || fail "the write did not wait for the stopped back-end"
start=$(date +%s%3N)
kill -KILL "$ad_pid"
rc=0
wait_for 30 sh -c "! kill -0 $writer 2>/dev/null" || fail "the write still hangs 30 s after the adapter died"
wait "$writer" || rc=$?
# Seen at the end of the poll above: late by at most one wait_for step.
elapsed=$(($(date +%s%3N) - start))
echo "write ended after about $elapsed ms: exit $rc, $(cat "$run/dd.err")"
[ $rc != 0 ] || fail "the write succeeded without a device"
[ "$elapsed" -ge 1500 ] || fail "the write failed after $elapsed ms, before the 1500 ms grace period was over"
grep -q 'Input/output error' "$run/dd.err" || fail "the write did not fail with EIO"
wait_for 10 sh -c '! test -e /sys/devices/vlb-expiry' || fail "the kernel device is still there"
disk_with_serial expiry >/dev/null && fail "the disk is still there"
dmesg | grep 'expiry' | sed 's/^/  kernel: /'
kill -KILL "$blk_pid"
kill -CONT "$blk_pid" 2>/dev/null || true
wait "$blk_pid" 2>/dev/null || true
vlb_unload
echo ok
