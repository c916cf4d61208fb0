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
vlb_start_device "$log" --type blk --name probes --probes \
	--loop-probe /dev/vda --loop-probe "$mnt/on-the-disk"
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
	loop:/dev/vda "loop:$mnt/on-the-disk"
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
vlb_unload
echo ok
