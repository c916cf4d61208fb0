# shellcheck shell=bash source=tests/vm/lib.sh
# Limits and config changes: with a grant budget far below what the load
# wants, mappings fail and are retried, the data still verifies and the
# failures are counted; a config update from the device (the disk grows)
# reaches the driver as a config-change interrupt.
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

step "the device grows the disk"
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
failures=$(vlb_stat "$log" map_failures)
echo "map failures (retried): $failures"
[ "$failures" -gt 0 ] || fail "the grant budget never bound: the test proves nothing"
[ "$(vlb_stat "$log" broken)" = 0 ] || fail "the budget broke the device"
wait_for 20 sh -c '! ls -d /sys/block/vd* 2>/dev/null' || fail "disk not removed"
vlb_unload
echo ok
