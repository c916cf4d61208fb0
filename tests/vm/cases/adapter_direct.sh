# shellcheck shell=bash source=tests/vm/lib.sh
# vlb-dev-blk --direct behind the kernel transport. The transport's memory
# cannot be pinned (on purpose: revocation), so O_DIRECT straight into the
# driver's buffers fails with EFAULT; the device must notice, switch to
# copying through aligned buffers of its own, and lose nothing: fio
# writes and verifies, ext4 is made on the disk and checked, and the
# backing file (on ext4 over brd, where O_DIRECT works) holds the data.
# The ring is 64 entries, smaller than the 254 segments vlb-dev-blk offers:
# the adapter must clamp seg_max so a large request still fits the ring
# (the transport has no indirect descriptors); otherwise 1 MiB requests
# wait forever for room.
. "$VLB_SRC/tests/vm/lib.sh"
vlb_load grace_period_ms=500
vlb_load_drivers
run=/tmp/direct
ext4_on_brd 96 "$run/mnt"
img=$run/mnt/disk.img
fallocate -l 64M "$img"

"$VLB_BUILD/devices/vlb-dev-blk" --socket-path "$run/blk.sock" --backing "$img" --direct \
	--queues 2 --serial direct 2>"$VLB_CASE_OUT/blk.log" &
blk=$!
wait_for 10 test -S "$run/blk.sock" || fail "vlb-dev-blk did not listen"
"$VLB_BUILD/adapter/vlb-adapter" --type blk --name direct --backend-socket "$run/blk.sock" \
	--queue-size 64 2>"$VLB_CASE_OUT/adapter.log" &
ad=$!
wait_for 60 disk_with_serial direct >/dev/null || { cat "$VLB_CASE_OUT/adapter.log"; fail "no disk"; }
dev=$(disk_with_serial direct)

step "a 64-entry ring: seg_max clamped, 1 MiB requests fit"
segs=$(cat "/sys/block/${dev#/dev/}/queue/max_segments")
echo "max_segments $segs"
[ "$segs" -le 62 ] || fail "the driver may build chains of $segs segments for a ring of 64"
timeout 60 dd if=/dev/urandom of="$run/big" bs=1M count=8 status=none
timeout 60 dd if="$run/big" of="$dev" bs=4M oflag=direct status=none || fail "4 MiB writes did not complete"
timeout 60 dd if="$dev" of="$run/big.back" bs=4M count=2 iflag=direct status=none ||
	fail "4 MiB reads did not complete"
cmp "$run/big" "$run/big.back" || fail "large requests read back wrong"

step "fio verify, 4k-256k, two jobs"
fio --name=direct --filename="$dev" --direct=1 --ioengine=libaio --iodepth=16 --numjobs=2 \
	--rw=randwrite --bsrange=4k-256k --size=24M --offset_increment=24M --verify=crc32c \
	--verify_fatal=1 --do_verify=1 --group_reporting --output="$VLB_CASE_OUT/fio.txt" ||
	{ cat "$VLB_CASE_OUT/fio.txt"; tail -20 "$VLB_CASE_OUT/blk.log"; fail "fio failed"; }
grep -q 'copying through aligned buffers' "$VLB_CASE_OUT/blk.log" ||
	fail "the device never met unpinnable memory: the copy path was not exercised"
grep -q 'Bad address' "$VLB_CASE_OUT/blk.log" && fail "an EFAULT reached a request"

step "the data reached the backing file"
dd if=/dev/urandom of="$run/pattern" bs=1M count=4 status=none
dd if="$run/pattern" of="$dev" bs=1M seek=50 oflag=direct status=none
sync
dd if="$img" of="$run/readback" bs=1M skip=50 count=4 iflag=direct status=none
cmp "$run/readback" "$run/pattern" || fail "the backing file does not hold what was written"

step "ext4 on the disk"
mkfs.ext4 -q -F "$dev"
fsck.ext4 -f -n "$dev" >"$VLB_CASE_OUT/fsck.txt" 2>&1 || { cat "$VLB_CASE_OUT/fsck.txt"; fail "fsck"; }

kill -TERM "$ad"
wait "$ad" || fail "vlb-adapter exited $?"
kill -TERM "$blk"
wait "$blk" || true
wait_for 30 sh -c '! ls -d /sys/block/vd* >/dev/null 2>&1' || fail "disk not removed"
umount "$run/mnt"
rmmod brd
vlb_unload
echo ok
