# shellcheck shell=bash source=tests/vm/lib.sh
# Limits and config changes: with a grant budget far below what the load
# wants, mappings fail and are retried, the data still verifies and the
# failures are counted; a single request larger than the budget or the
# bounce pool still goes through (alone) instead of being retried forever;
# a device that dies while the driver waits for a mapping fails those
# requests instead of hanging them; a config update from the device (the
# disk grows) reaches the driver as a config-change interrupt.
. "$VLB_SRC/tests/vm/lib.sh"
vlb_load grace_period_ms=500
vlb_load_drivers
log=$VLB_CASE_OUT/device.log

step "grant budget of 64 pages under 16 x 4k-64k requests"
vlb_start_device "$log" --type blk --name limits --capacity-mb 32 --max-granted-pages 64
wait_for 30 first_vd >/dev/null || fail "no disk"
dev=$(first_vd)
# One request must always fit the budget on its own: 32 pages at most.
echo 128 >"/sys/block/${dev#/dev/}/queue/max_sectors_kb"
fio --name=limits --filename="$dev" --direct=1 --ioengine=libaio --iodepth=16 \
	--rw=randwrite --bsrange=4k-64k --size=16M --verify=crc32c --verify_fatal=1 \
	--output="$VLB_CASE_OUT/fio.txt" || { cat "$VLB_CASE_OUT/fio.txt"; fail "fio verify"; }
grep -E 'err=' "$VLB_CASE_OUT/fio.txt"
vlb_stop_device "$log"
failures=$(vlb_stat "$log" map_failures)
echo "map failures (retried): $failures"
[ "$failures" -gt 0 ] || fail "the grant budget never bound: the test proves nothing"
[ "$(vlb_stat "$log" broken)" = 0 ] || fail "the budget broke the device"
wait_for 20 sh -c '! ls -d /sys/block/vd* 2>/dev/null' || fail "disk not removed"

step "requests larger than the budget and the bounce pool"
vlb_start_device "$log" --type blk --name big --capacity-mb 32 --max-granted-pages 64 \
	--bounce-threshold 4294967295
wait_for 30 first_vd >/dev/null || fail "no disk"
dev=$(first_vd)
echo "max request: $(cat "/sys/block/${dev#/dev/}/queue/max_sectors_kb") KiB; budget 256 KiB; pool 1 MiB"
dd if=/dev/urandom of="$VLB_CASE_OUT/big.bin" bs=1M count=8 status=none
timeout 120 dd if="$VLB_CASE_OUT/big.bin" of="$dev" bs=4M oflag=direct status=none ||
	fail "4 MiB writes did not complete"
timeout 120 dd if="$dev" of="$VLB_CASE_OUT/big.back" bs=4M count=2 iflag=direct status=none ||
	fail "4 MiB reads did not complete"
cmp "$VLB_CASE_OUT/big.bin" "$VLB_CASE_OUT/big.back" || fail "large requests corrupted data"
timeout 300 fio --name=big --filename="$dev" --direct=1 --ioengine=libaio --iodepth=16 \
	--rw=randwrite --bsrange=128k-1m --size=16M --verify=crc32c --verify_fatal=1 \
	--output="$VLB_CASE_OUT/fio-big.txt" || { cat "$VLB_CASE_OUT/fio-big.txt"; fail "fio verify, large requests"; }
vlb_stop_device "$log"
echo "large requests: $(grep '^stats ' "$log")"
[ "$(vlb_stat "$log" broken)" = 0 ] || fail "large requests broke the device"
wait_for 20 sh -c '! ls -d /sys/block/vd* 2>/dev/null' || fail "disk not removed"

step "the device dies while the driver waits for mappings"
vlb_start_device "$log" --type blk --name dies --capacity-mb 32 --max-granted-pages 16
wait_for 30 first_vd >/dev/null || fail "no disk"
dev=$(first_vd)
fio --name=dies --filename="$dev" --allow_file_create=0 --direct=1 --ioengine=libaio \
	--iodepth=32 --rw=randread --bs=64k --size=16M --time_based --runtime=60 \
	--output="$VLB_CASE_OUT/fio-dies.txt" &
fio_pid=$!
# fio starts slowly under TCG: kill the device only once I/O is flowing.
wait_for 60 sh -c "[ \$(cut -c1-8 /sys/block/${dev#/dev/}/stat) -gt 200 ]" ||
	fail "fio never got going"
kill -KILL "$VLB_DEV_PID"
wait "$VLB_DEV_PID" 2>/dev/null || true
# The grace period is 500 ms: the disk goes away and fio sees errors, soon.
wait_for 60 sh -c '! ls -d /sys/block/vd* 2>/dev/null' || fail "disk not removed after the device died"
fio_rc=0
timeout 60 tail --pid="$fio_pid" -f /dev/null || fail "fio still waiting after the device died"
wait "$fio_pid" || fio_rc=$?
[ "$fio_rc" != 0 ] || fail "fio saw no error from a dead device"
grep -E 'err=|error' "$VLB_CASE_OUT/fio-dies.txt" | head -3
echo "fio ended with status $fio_rc after the device died"

step "the device grows the disk"
vlb_start_device "$log" --type blk --name limits --capacity-mb 32 --max-granted-pages 64
wait_for 30 first_vd >/dev/null || fail "no disk"
dev=$(first_vd)
before=$(cat "/sys/block/${dev#/dev/}/size")
kill -USR1 "$VLB_DEV_PID"
wait_for 20 sh -c "[ \$(cat /sys/block/${dev#/dev/}/size) -eq $((before * 2)) ]" ||
	fail "capacity stayed $(cat "/sys/block/${dev#/dev/}/size"), want $((before * 2))"
echo "capacity $before -> $(cat "/sys/block/${dev#/dev/}/size") sectors"
dd if=/dev/urandom of="$VLB_CASE_OUT/tail.bin" bs=64k count=4 status=none
dd if="$VLB_CASE_OUT/tail.bin" of="$dev" bs=64k seek=$((before * 512 / 65536)) oflag=direct status=none
dd if="$dev" of="$VLB_CASE_OUT/tail.back" bs=64k skip=$((before * 512 / 65536)) count=4 iflag=direct status=none
cmp "$VLB_CASE_OUT/tail.bin" "$VLB_CASE_OUT/tail.back" || fail "data beyond the old end differs"

vlb_stop_device "$log"
wait_for 20 sh -c '! ls -d /sys/block/vd* 2>/dev/null' || fail "disk not removed"
vlb_unload
echo ok
