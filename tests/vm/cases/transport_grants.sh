# shellcheck shell=bash source=tests/vm/lib.sh
# What a device process can reach, checked from child processes that map
# the IOVA fd (vlb-test-device --probes): ungranted pages, the descriptor
# table and avail ring for writing, to-device data for writing (also once
# a read fault mapped it with its neighbours), and a completed request's
# pages are SIGBUS; granted accesses work; the rest of
# a bounced sub-page buffer's page shows nothing of the kernel's.
# VLB_IOVA_COPY (copy-*, loop:*) gives the same rights on data buffers only,
# moves the bytes the mapping shows, and refuses files whose I/O would come
# back to the transport (the disk itself, a file on it).
. "$VLB_SRC/tests/vm/lib.sh"
vlb_load grace_period_ms=1000
vlb_load_drivers

# check_probes LOG NAME...: each named probe ran, and each got what it wanted.
check_probes() {
	local log=$1 p
	shift
	grep '^probe ' "$log"
	for p in "$@"; do
		grep -q "^probe $p " "$log" || fail "probe $p did not run"
	done
	if grep '^probe ' "$log" | awk '{split($3, w, "="); split($4, g, "="); if (w[2] != g[2]) bad = 1} END {exit !bad}'; then
		fail "a probe got what it must not"
	fi
}

step "blk device with probes"
log=$VLB_CASE_OUT/blk.log
# The only disk of the guest, hence vda; a loop probe that never ran fails below.
mnt=/tmp/grants-mnt
# A file on the guest's 9p root (served by QEMU) and a loop device (its
# backing file could be anything, a FUSE file among them): the copy's I/O
# would wait on a process, so VLB_IOVA_COPY refuses both.
modprobe loop
truncate -s 1M /tmp/grants-loop.img
loopdev=$(losetup --find --show /tmp/grants-loop.img)
vlb_start_device "$log" --type blk --name probes --probes \
	--loop-probe /dev/vda --loop-probe "$mnt/on-the-disk" \
	--served-probe "$VLB_SRC/README.md" --served-probe "$loopdev"
wait_for 30 first_vd >/dev/null || fail "no disk"
dev=$(first_vd)
[ "$dev" = /dev/vda ] || fail "the disk is $dev, the loop probe expects /dev/vda"
dd if=/dev/urandom of="$dev" bs=4k count=64 oflag=direct status=none
dd if="$dev" of=/dev/null bs=4k count=64 iflag=direct status=none
# Multi-page buffers: what the kernel maps around a fault keeps each page's rights.
dd if=/dev/urandom of="$dev" bs=1M count=4 oflag=direct status=none
dd if="$dev" of=/dev/null bs=1M count=4 iflag=direct status=none
modprobe ext4
mkfs.ext4 -q -F "$dev"
mkdir -p "$mnt"
mount "$dev" "$mnt"
echo data >"$mnt/on-the-disk"
sync
# The probe's child opens the file: unmount once it is done with it.
wait_for 60 grep -q "^probe loop:$mnt/on-the-disk " "$log" || fail "the loop probe of a file on the disk did not run"
umount "$mnt"
vlb_stop_device "$log"
check_probes "$log" ungranted-read desc-read desc-write desc-read-then-write \
	avail-read avail-write to-device-read to-device-write to-device-read-then-write \
	from-device-write from-device-read-then-write after-completion-read \
	around-to-device-write around-from-device-write \
	copy-ungranted copy-desc copy-avail copy-used-from-file copy-to-device-to-file copy-to-device-from-file \
	copy-from-device-from-file copy-pipe after-completion-copy \
	loop:/dev/vda "loop:$mnt/on-the-disk" "served:$VLB_SRC/README.md" "served:$loopdev"
losetup -d "$loopdev"
copies=$(vlb_stat "$log" copies)
echo "copies: $copies"
[ "$copies" -ge 2 ] || fail "the kernel counted $copies copies, want at least 2"
refused=$(vlb_stat "$log" faults_refused)
echo "faults refused: $refused"
[ "$refused" -ge 5 ] || fail "the kernel counted $refused refused faults, want at least 5"

step "rng device: a bounced 64-byte buffer's page"
log=$VLB_CASE_OUT/rng.log
vlb_start_device "$log" --type rng --name probes-rng --probes
wait_for 20 grep -q virtio_rng /sys/class/misc/hw_random/rng_available || fail "no rng"
rng=$(tr ' ' '\n' </sys/class/misc/hw_random/rng_available | grep virtio_rng | head -n 1)
echo "$rng" >/sys/class/misc/hw_random/rng_current
dd if=/dev/hwrng of=/dev/null bs=64 count=32 status=none
vlb_stop_device "$log"
check_probes "$log" subpage-outside-zero ungranted-read after-completion-read

wait_for 20 sh -c '! ls -d /sys/block/vd* 2>/dev/null' || fail "disk not removed"
step "from-device pages show the device zeros, not what their owner left there"
# An O_DIRECT read lands in the application's own buffer, granted to the
# device whole: filled with 0xa5 first, it must look empty to the device
# before the device writes it (and every bounced buffer's page must show
# nothing of earlier requests: headers, status bytes).
log=$VLB_CASE_OUT/peek.log
vlb_start_device "$log" --type blk --name peek --peek
wait_for 30 first_vd >/dev/null || fail "peek: no disk"
python3 - "$(first_vd)" <<'PY'
import mmap, os, sys
fd = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECT)
buf = mmap.mmap(-1, 65536)
for i in range(16):
    buf[:] = b"\xa5" * len(buf)
    if os.preadv(fd, [buf], i * len(buf)) != len(buf):
        sys.exit("short read")
PY
vlb_stop_device "$log"
grep '^peek ' "$log"
[ "$(sed -n 's/^peek pages=\([0-9]*\).*/\1/p' "$log")" -ge 256 ] || fail "peek: too few pages looked at"
grep -q '^peek .* stale=0$' "$log" || fail "peek: the device saw what a page held before"
wait_for 20 sh -c "! ls -d /sys/block/vd* 2>/dev/null" || fail "peek: disk not removed"

vlb_unload
echo ok
