# shellcheck shell=bash source=tests/vm/lib.sh
# virtio-rng through the stock driver, served by the test device over the
# uapi: reads from /dev/hwrng carry random bytes, the 64-byte driver
# buffers are bounced (partial pages), and every request is revoked.
. "$VLB_SRC/tests/vm/lib.sh"
vlb_load grace_period_ms=1000
vlb_load_drivers
log=$VLB_CASE_OUT/device.log

step "start an rng device"
vlb_start_device "$log" --type rng --name rng0
wait_for 20 grep -q virtio_rng /sys/class/misc/hw_random/rng_available ||
	fail "virtio_rng did not bind: $(cat /sys/class/misc/hw_random/rng_available)"
rng=$(tr ' ' '\n' </sys/class/misc/hw_random/rng_available | grep virtio_rng | head -n 1)
echo "$rng" >/sys/class/misc/hw_random/rng_current

step "read 16 KiB from /dev/hwrng"
dd if=/dev/hwrng of="$VLB_CASE_OUT/random.bin" bs=1024 count=16 iflag=fullblock status=none
size=$(stat -c %s "$VLB_CASE_OUT/random.bin")
[ "$size" = 16384 ] || fail "read $size bytes"
distinct=$(od -An -v -tu1 "$VLB_CASE_OUT/random.bin" | tr -s ' ' '\n' | sed '/^$/d' | sort -u | wc -l)
echo "distinct byte values: $distinct"
[ "$distinct" -ge 250 ] || fail "output does not look random ($distinct distinct values)"

step "stop the device; check the counters"
vlb_stop_device "$log"
[ "$(vlb_stat "$log" bounces)" -gt 0 ] || fail "no bounce recorded"
[ "$(vlb_stat "$log" revocations)" -gt 0 ] || fail "no revocation recorded"
[ "$(vlb_stat "$log" used_rejected)" = 0 ] || fail "used entries rejected"
[ "$(vlb_stat "$log" broken)" = 0 ] || fail "device broken"

step "removal after the grace period, then unload"
wait_for 20 sh -c '! grep -q virtio_rng /sys/class/misc/hw_random/rng_available' ||
	fail "device not removed after the grace period"
vlb_unload
echo ok
