# shellcheck shell=bash
# Guest half of tests/interop/qemu_peers.sh: QEMU's vhost-user front-ends
# with this project's back-ends, seen through the stock drivers.
set -euo pipefail
modprobe virtio_blk
modprobe virtio_rng

disk=""
for _ in $(seq 100); do
	for d in /sys/block/vd*; do
		[ -e "$d/serial" ] && [ "$(cat "$d/serial")" = interop-blk ] && disk=/dev/${d##*/}
	done
	[ -n "$disk" ] && break
	sleep 0.1
done
[ -n "$disk" ] || { echo "no vhost-user-blk disk with serial interop-blk"; ls /sys/block; exit 1; }
queues=$(find "/sys/block/${disk#/dev/}/mq" -mindepth 1 -maxdepth 1 | wc -l)
echo "disk $disk: $(cat "/sys/block/${disk#/dev/}/size") sectors, $queues queue(s)"
[ "$queues" = 2 ] || { echo "expected 2 queues"; exit 1; }
[ "$(cat "/sys/block/${disk#/dev/}/size")" = $((256 * 2048)) ] || { echo "wrong capacity"; exit 1; }

# Mixed block sizes, two jobs on separate ranges, every block verified.
fio --name=verify --filename="$disk" --direct=1 --ioengine=libaio --rw=randwrite \
	--bsrange=4k-256k --iodepth=8 --numjobs=2 --size=64M --offset_increment=96M \
	--verify=crc32c --verify_fatal=1 --do_verify=1 --group_reporting \
	--output-format=terse --terse-version=3 >"$VLB_CASE_OUT/fio.txt"
# (fio warns about several writers first; the terse line starts with "3;")
awk -F';' '/^3;/ { n++; if ($5 != 0) { print "fio errors: " $5; exit 1 } }
	END { if (n != 1) { print "no fio result"; exit 1 } }' "$VLB_CASE_OUT/fio.txt"
echo "fio verify: ok"

# Discard must reach the back-end as a hole and read back as zeroes.
blkdiscard -o 0 -l 1M "$disk"
[ "$(dd if="$disk" bs=1M count=1 iflag=direct 2>/dev/null | tr -d '\0' | wc -c)" = 0 ] ||
	{ echo "discarded range not zero"; exit 1; }
echo "discard: ok"

grep -q virtio_rng /sys/class/misc/hw_random/rng_available ||
	{ echo "no virtio_rng in $(cat /sys/class/misc/hw_random/rng_available)"; exit 1; }
grep -o 'virtio_rng[.0-9]*' /sys/class/misc/hw_random/rng_available | head -1 \
	>/sys/class/misc/hw_random/rng_current
a=$(dd if=/dev/hwrng bs=4096 count=4 2>/dev/null | sha256sum)
b=$(dd if=/dev/hwrng bs=4096 count=4 2>/dev/null | sha256sum)
n=$(dd if=/dev/hwrng bs=4096 count=4 2>/dev/null | wc -c)
[ "$n" = 16384 ] || { echo "short hwrng read: $n"; exit 1; }
[ "$a" != "$b" ] || { echo "hwrng repeats itself"; exit 1; }
echo "hwrng: ok"
