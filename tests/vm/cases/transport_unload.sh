# shellcheck shell=bash source=tests/vm/lib.sh
# Load/unload loops with devices alive: while a device fd is open the
# module cannot go; once the device process is gone, unloading inside the
# grace period removes its device (bound driver and all) cleanly.
. "$VLB_SRC/tests/vm/lib.sh"
vlb_load_drivers
log=$VLB_CASE_OUT/device.log
for round in 1 2 3; do
	step "round $round"
	insmod "$VLB_KO" grace_period_ms=600000
	wait_for 5 test -c "$VLB_NODE" || fail "no control node"
	vlb_start_device "$log" --type blk --name "alive$round" --capacity-mb 8
	wait_for 30 first_vd >/dev/null || fail "no disk"
	dd if="$(first_vd)" of=/dev/null bs=64k count=16 iflag=direct status=none
	if rmmod virtio_loopback 2>/dev/null; then
		fail "the module unloaded under an open device fd"
	fi
	vlb_stop_device "$log"
	# Detached, in a 10-minute grace period, driver still bound.
	first_vd >/dev/null || fail "the disk went away before the grace period ended"
	vlb_unload
	first_vd >/dev/null && fail "disk left behind by rmmod"
done
echo ok
