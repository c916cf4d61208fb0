# shellcheck shell=bash source=tests/vm/lib.sh
# What scripts/demo.sh runs inside the guest: the stock virtio_blk on
# virtio_loopback.ko, with vlb-adapter bridging it to vlb-dev-blk (ext4
# made, written, remounted, checked), and this project's vhost-user
# back-ends (running on the host) behind QEMU's front-ends.
# Grows with the project into the supervised stack with example policies.
. "$VLB_SRC/tests/vm/lib.sh"

step "guest kernel $(uname -r), $(nproc) vCPU"
step "loading virtio_loopback.ko"
vlb_load grace_period_ms=1000
vlb_load_drivers
modprobe ext4
ls -l "$VLB_NODE"
"$VLBCTL" version

step "the whole chain: virtio_blk -> virtio_loopback.ko -> vlb-adapter -> vlb-dev-blk"
run=/tmp/demo
mkdir -p "$run"
truncate -s 64M "$run/disk.img"
"$VLB_BUILD/devices/vlb-dev-blk" --socket-path "$run/blk.sock" --backing "$run/disk.img" \
	--queues 2 --serial demo-blk 2>"$VLB_CASE_OUT/dev-blk.log" &
blk_pid=$!
wait_for 10 test -S "$run/blk.sock" || fail "vlb-dev-blk did not listen"
"$VLB_BUILD/adapter/vlb-adapter" --type blk --name demo-blk --backend-socket "$run/blk.sock" \
	2>"$VLB_CASE_OUT/adapter.log" &
adapter_pid=$!
wait_for 60 disk_with_serial demo-blk >/dev/null || { cat "$VLB_CASE_OUT/adapter.log"; fail "no disk"; }
dev=$(disk_with_serial demo-blk)
echo "stock virtio_blk bound it as $dev: $(cat "/sys/block/${dev#/dev/}/size") sectors"
sed 's/^/  /' "$VLB_CASE_OUT/adapter.log"
mkfs.ext4 -q -F "$dev"
mnt=$run/mnt
mkdir -p "$mnt"
mount "$dev" "$mnt"
head -c $((4 << 20)) /dev/urandom >"$mnt/payload"
want=$(sha256sum <"$mnt/payload")
umount "$mnt"
echo 3 >/proc/sys/vm/drop_caches
mount "$dev" "$mnt"
[ "$(sha256sum <"$mnt/payload")" = "$want" ] || fail "file changed across remount"
echo "ext4: 4 MiB written, remounted, checksum matches"
umount "$mnt"
fsck.ext4 -n "$dev" >/dev/null || fail "fsck found errors"
echo "fsck: clean"
kill -TERM "$adapter_pid"
wait "$adapter_pid" || fail "vlb-adapter exited $?"
for _ in $(seq 200); do disk_with_serial demo-blk >/dev/null || break; sleep 0.1; done
disk_with_serial demo-blk >/dev/null && fail "disk not removed"
echo "adapter stopped: the device was removed after the grace period"
kill -TERM "$blk_pid"
wait "$blk_pid" || true

step "vhost-user back-ends behind QEMU's vhost-user front-ends"
if vu=$(disk_with_serial demo-vu-blk); then
	echo "vlb-dev-blk (on the host) is $vu in the guest"
	fio --name=demo --filename="$vu" --direct=1 --ioengine=libaio --rw=randwrite \
		--bsrange=4k-128k --iodepth=8 --size=32M --verify=crc32c --verify_fatal=1 \
		--output="$VLB_CASE_OUT/fio-vu.txt" || fail "fio verify on $vu"
	grep -E 'err=|IOPS' "$VLB_CASE_OUT/fio-vu.txt" | head -3
	grep -o 'virtio_rng[.0-9]*' /sys/class/misc/hw_random/rng_available | head -1 \
		>/sys/class/misc/hw_random/rng_current
	echo "hwrng ($(cat /sys/class/misc/hw_random/rng_current), vlb-dev-rng on the host):" \
		"$(dd if=/dev/hwrng bs=16 count=1 2>/dev/null | od -An -tx1 | tr -d ' ')"
else
	echo "(no vhost-user disk: scripts/demo.sh starts vlb-dev-blk and vlb-dev-rng)"
fi

step "kernel log"
dmesg | grep -E 'virtio_loopback' | sed 's/^/  /' | tail -12
step "unloading"
vlb_unload
echo "demo complete"
