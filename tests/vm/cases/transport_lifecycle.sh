# shellcheck shell=bash source=tests/vm/lib.sh
# Unload against removals under way: rmmod used to see only listed devices,
# while a removal that had unlisted its device went on in a work item of
# the module, whose code rmmod then freed under it. test_remove_delay_ms
# holds each removal open at its start so that rmmod comes in the middle.
. "$VLB_SRC/tests/vm/lib.sh"
vlb_load_drivers
log=$VLB_CASE_OUT/device.log

step "unload waits for a grace-period removal under way"
vlb_load grace_period_ms=100 test_remove_delay_ms=3000
vlb_start_device "$log" --type blk --name rm-under-way --capacity-mb 8
wait_for 30 first_vd >/dev/null || fail "no disk"
vlb_stop_device "$log"
removing() { dmesg | grep -q 'rm-under-way: removing'; }
wait_for 10 removing || fail "the removal did not start"
vlb_unload
dmesg | grep -q 'rm-under-way: removed' || fail "rmmod returned before the removal was complete"
first_vd >/dev/null && fail "disk left behind"
# The order the kernel logged it in, for the record.
dmesg | grep -E 'rm-under-way: (removing|removed)|virtio_loopback: unloaded'

step "unload removes a device still in its grace period at once"
vlb_load grace_period_ms=600000
vlb_start_device "$log" --type rng --name rm-in-grace
vlb_stop_device "$log"
vlb_unload
dmesg | grep -q 'rm-in-grace: removed' || fail "the detached device was not removed by rmmod"
echo ok
