# shellcheck shell=bash source=tests/vm/lib.sh
# virtio-blk through the stock driver on a RAM disk served over the uapi:
# checksummed dd both ways, fio verify over two queues, whole pages granted
# zero-copy; then the same data on a bounce-only device (no grants); then
# on a device that suppresses kicks while it drains its queue (the flag in
# its shadow used ring) and completes through VLB_DEV_VQ_INTERRUPT instead
# of its call eventfd: nothing stalls, and fewer kicks than requests.
. "$VLB_SRC/tests/vm/lib.sh"
vlb_load grace_period_ms=1000
vlb_load_drivers

# blk_device NAME: the /dev/vdX whose serial is our device's id.
blk_device() {
	local d
	for d in /sys/block/vd*; do
		[ -e "$d" ] || continue
		if grep -q "vlb-testdev-$1" "$d/serial" 2>/dev/null && [ -b "/dev/${d##*/}" ]; then
			echo "/dev/$(basename "$d")"
			return 0
		fi
	done
	return 1
}

# exercise NAME: dd round trip and fio verify on the device named NAME.
exercise() {
	local name=$1 dev
	wait_for 30 blk_device "$name" >/dev/null || fail "no disk for $name"
	dev=$(blk_device "$name")
	echo "$name is $dev ($(cat "/sys/block/${dev#/dev/}/size") sectors," \
		"$(find "/sys/block/${dev#/dev/}/mq" -mindepth 1 -maxdepth 1 | wc -l) hw queue(s))"
	head -c $((8 << 20)) /dev/urandom >"$VLB_CASE_OUT/data.bin"
	dd if="$VLB_CASE_OUT/data.bin" of="$dev" bs=1M oflag=direct status=none
	dd if="$dev" of="$VLB_CASE_OUT/back.bin" bs=1M count=8 iflag=direct status=none
	cmp "$VLB_CASE_OUT/data.bin" "$VLB_CASE_OUT/back.bin" || fail "$name: O_DIRECT data differs"
	echo 3 >/proc/sys/vm/drop_caches
	[ "$(head -c $((8 << 20)) "$dev" | sha256sum)" = "$(sha256sum <"$VLB_CASE_OUT/data.bin")" ] ||
		fail "$name: buffered read differs"
	fio --name=verify --filename="$dev" --direct=1 --ioengine=libaio --iodepth=8 \
		--numjobs=2 --rw=randwrite --bsrange=4k-64k --size=8M --offset_increment=16M \
		--verify=crc32c --verify_fatal=1 --group_reporting \
		--output="$VLB_CASE_OUT/fio-$name.txt" || { cat "$VLB_CASE_OUT/fio-$name.txt"; fail "$name: fio verify"; }
	grep -E 'err=|IOPS' "$VLB_CASE_OUT/fio-$name.txt" | head -n 3
}

step "zero-copy device, 2 queues"
log=$VLB_CASE_OUT/zc.log
vlb_start_device "$log" --type blk --name zc --queues 2 --capacity-mb 64
exercise zc
vlb_stop_device "$log"
[ "$(vlb_stat "$log" grants)" -gt 0 ] || fail "no page was granted zero-copy"
[ "$(vlb_stat "$log" used_rejected)" = 0 ] || fail "used entries rejected"
[ "$(vlb_stat "$log" revocations)" -ge "$(vlb_stat "$log" grants)" ] ||
	fail "fewer revocations than grants"

step "bounce-only device"
log=$VLB_CASE_OUT/bounce.log
vlb_start_device "$log" --type blk --name bounce --bounce-threshold 4294967295
exercise bounce
vlb_stop_device "$log"
[ "$(vlb_stat "$log" grants)" = 0 ] || fail "a bounce-only device granted pages"
[ "$(vlb_stat "$log" bounces)" -gt 0 ] || fail "nothing bounced"

step "kick suppression and the interrupt ioctl"
log=$VLB_CASE_OUT/suppress.log
vlb_start_device "$log" --type blk --name suppress --suppress-kicks --interrupt-ioctl
exercise suppress
vlb_stop_device "$log"
kicks=$(vlb_stat "$log" kicks)
served=$(vlb_stat "$log" served)
echo "kicks $kicks for $served requests, $(vlb_stat "$log" calls) completion runs"
[ "$kicks" -lt "$served" ] || fail "VRING_USED_F_NO_NOTIFY suppressed no kick"
[ "$(vlb_stat "$log" calls)" -gt 0 ] || fail "VLB_DEV_VQ_INTERRUPT ran no completion"

step "removal and unload"
wait_for 20 sh -c '! ls -d /sys/block/vd* 2>/dev/null' || fail "disks not removed"
vlb_unload
echo ok
