# shellcheck shell=bash source=tests/vm/lib.sh
# Hostile device processes: garbage used ids, lengths beyond the chain,
# requests never completed (from the start, or after a while with I/O
# pending), control messages never answered, a console broken while its
# driver busy-waits. Each time the I/O fails with an error in user space,
# a broken device is removed without waiting for its process, nothing
# hangs, the counters say why, and the kernel log stays free of splats
# (the harness checks).
. "$VLB_SRC/tests/vm/lib.sh"
vlb_load grace_period_ms=1000 msg_timeout_ms=2000
vlb_load_drivers

gone() { ! ls -d /sys/block/vd* >/dev/null 2>&1; }

# broken_io MODE [DEVICE ARGS...]: a disk whose device misbehaves as MODE
# breaks at its first bad completion (the driver's partition scan) and is
# removed at once, while the device process still holds its fd: the scan's
# reads fail, and nothing waits for the process to go.
broken_io() {
	local mode=$1 name log
	shift
	name=h-$mode${1:+-${1#--}}
	log=$VLB_CASE_OUT/$name.log
	step "hostile: $mode $*"
	vlb_start_device "$log" --type blk --name "$name" --hostile "$mode" "$@"
	wait_for 30 grep -q 'removed by the kernel' "$log" ||
		fail "$mode: the broken device was not removed while its process ran"
	kill -0 "$VLB_DEV_PID" || fail "$mode: the device process died"
	dmesg | grep -q "$name: device broken: used entry" || fail "$mode: not broken by its used entry"
	dmesg | grep -q "$name: removed" || fail "$mode: removal not logged"
	vlb_stop_device "$log"
	[ "$(vlb_stat "$log" used_rejected)" -ge 1 ] || fail "$mode: no used entry rejected"
	[ "$(vlb_stat "$log" broken)" = 1 ] || fail "$mode: device not marked broken"
	if [[ " $* " == *" --call-ioctl "* ]]; then
		[ "$(vlb_stat "$log" calls_in_device)" -ge 1 ] || fail "$mode: no VLB_IOVA_CALL processed"
	fi
	wait_for 20 gone || fail "$mode: disk not removed"
}

broken_io bad-used-id
broken_io long-len
# The same garbage handed over with VLB_IOVA_CALL: processed in the device's
# thread, refused the same way.
broken_io bad-used-id --call-ioctl
broken_io long-len --call-ioctl

step "hostile: never completes anything, then the device process dies"
log=$VLB_CASE_OUT/never.log
vlb_start_device "$log" --type blk --name h-never --hostile never-complete
# The driver's own partition scan is stuck on the device (it holds the
# disk's open mutex, so nothing else can reach the device).
sleep 2
kill -KILL "$VLB_DEV_PID"
wait "$VLB_DEV_PID" 2>/dev/null || true
# Grace period, then removal fails the scan's reads and the probe ends.
wait_for 30 gone || fail "never-complete: disk not removed, something hangs"
dmesg | grep -q 'I/O error, dev vda, sector 0' || fail "the stuck scan did not fail with EIO"

step "hostile: a working device stalls with I/O pending, then dies"
log=$VLB_CASE_OUT/stall.log
vlb_start_device "$log" --type blk --name h-stall
wait_for 30 first_vd >/dev/null || fail "stall: no disk"
dev=$(first_vd)
dd if="$dev" of=/dev/null bs=4k count=1 iflag=direct status=none || fail "stall: device not working"
kill -USR2 "$VLB_DEV_PID"
(rc=0
	timeout 120 dd if="$dev" of=/dev/null bs=4k count=1 skip=7 iflag=direct status=none || rc=$?
	echo "dd exit $rc" >"$VLB_CASE_OUT/dd.rc") &
sleep 2
[ -f "$VLB_CASE_OUT/dd.rc" ] && fail "I/O completed on a stalled device: $(cat "$VLB_CASE_OUT/dd.rc")"
kill -KILL "$VLB_DEV_PID"
wait "$VLB_DEV_PID" 2>/dev/null || true
wait_for 30 test -f "$VLB_CASE_OUT/dd.rc" || fail "pending I/O still hangs after the device died"
cat "$VLB_CASE_OUT/dd.rc"
grep -q 'dd exit 1' "$VLB_CASE_OUT/dd.rc" || fail "pending I/O did not fail"
wait_for 20 gone || fail "stall: disk not removed"

step "hostile: a request published while its device breaks is revoked with the rest"
# A notify reads the broken flag, then activates its request's pages; a
# revocation that ran in between used to miss them, leaving the device
# writable pages of a request the kernel then failed and gave back. The
# hook holds one notify right in that window (on CPU 0, interrupts off)
# while the device, on the other CPU, breaks itself.
log=$VLB_CASE_OUT/late-grant.log
vlb_start_device "$log" --type blk --name h-late-grant --hostile late-grant
wait_for 30 first_vd >/dev/null || fail "late-grant: no disk"
dev=$(first_vd)
dd if="$dev" of=/dev/null bs=4k count=1 iflag=direct status=none || fail "late-grant: device not working"
delay=/sys/module/virtio_loopback/parameters/test_notify_delay_ms
kill -USR2 "$VLB_DEV_PID"
wait_for 10 grep -q '^late-grant armed' "$log" || fail "late-grant: not armed"
echo 3000 >"$delay"
(rc=0
	timeout 60 taskset -c 0 dd if="$dev" of=/dev/null bs=4k count=1 skip=9 iflag=direct status=none || rc=$?
	echo "dd exit $rc" >"$VLB_CASE_OUT/late-dd.rc") &
wait_for 30 grep -q '^late-grant reachable' "$log" || fail "late-grant: no verdict"
echo 0 >"$delay"
grep '^late-grant ' "$log"
grep -q '^late-grant reachable=sigbus' "$log" || fail "late-grant: the late request's page stayed reachable"
dmesg | grep -q 'grant still active' && fail "late-grant: a page was completed before its revocation"
wait_for 30 test -f "$VLB_CASE_OUT/late-dd.rc" || fail "late-grant: the held read never ended"
grep -q 'dd exit 1' "$VLB_CASE_OUT/late-dd.rc" || fail "late-grant: the held read did not fail: $(cat "$VLB_CASE_OUT/late-dd.rc")"
vlb_stop_device "$log"
wait_for 20 gone || fail "late-grant: disk not removed"

step "hostile: control messages never answered"
log=$VLB_CASE_OUT/noreply.log
vlb_start_device "$log" --type rng --name h-noreply --hostile no-replies
sleep 4
vlb_stop_device "$log"
[ "$(vlb_stat "$log" msg_timeouts)" -ge 1 ] || fail "no message timed out"
dmesg | grep 'h-noreply' | tail -n 3
dmesg | grep -q 'h-noreply: device broken: no reply' || fail "the timeout was not logged"
grep -q virtio_rng /sys/class/misc/hw_random/rng_available 2>/dev/null &&
	fail "a device that never answered got a bound driver"

wait_for 20 gone || true

step "hostile: a console breaks while its driver sends a control message"
# virtio_console parses a used control buffer whatever its length, and
# busy-waits with preemption off for each control message it sends. The
# test device breaks on the driver's PORT_READY, so the driver has control
# buffers in flight, one of them holding the PORT_ADD it just handled. A
# failed buffer handed back with length 0 was that PORT_ADD again: another
# PORT_READY, another failure, a CPU locked up. Broken virtqueues hand the
# driver nothing, and the calls stop.
log=$VLB_CASE_OUT/console.log
vlb_start_device "$log" --type console --name h-console --hostile bad-used-id
console_broken() { dmesg | grep -q 'h-console: device broken'; }
wait_for 30 console_broken || fail "console: not broken by a bad used id"
# Three seconds for a replay loop to show: it makes thousands of calls.
sleep 3
vlb_stop_device "$log"
[ "$(vlb_stat "$log" broken)" = 1 ] || fail "console: not marked broken once"
[ "$(vlb_stat "$log" used_rejected)" -ge 1 ] || fail "console: no used entry rejected"
# Two completions before the break, then one call work per queue.
calls=$(vlb_stat "$log" calls)
[ "$calls" -le 16 ] || fail "console: the driver's queues went on after the break: $calls calls"
no_console_port() { ! ls /sys/class/virtio-ports/vport* >/dev/null 2>&1; }
wait_for 20 no_console_port || fail "console: port not removed with the device"

step "hostile: a console names its port with a control message shorter than its header"
# virtio_console takes the name's length as used length - 8 + 1: 7 bytes
# made an empty allocation it then wrote to (fewer, a huge one that
# WARNs). The transport refuses such a used entry: the device breaks.
log=$VLB_CASE_OUT/console-short.log
vlb_start_device "$log" --type console --name h-console-short --hostile short-control
console_short_broken() { dmesg | grep -q 'h-console-short: device broken: used entry'; }
wait_for 30 console_short_broken || fail "console short-control: not broken by the short message"
vlb_stop_device "$log"
[ "$(vlb_stat "$log" used_rejected)" = 1 ] || fail "console short-control: used_rejected"

step "hostile: a console sends on a port while its driver still fills the port's receive queue"
# virtio_console empties a receive queue without the port's lock while no
# port is listed for it (in_intr -> flush_bufs), and add_port() fills that
# queue under the lock just before it lists the port: a completion then
# corrupted the queue's free list (the driver later reused a descriptor
# still in flight, a BUG at removal). The transport holds the completion
# back until the driver's PORT_READY; the driver then takes it for its
# port and, with no reader, counts the byte as discarded. Flushed, the
# byte would be lost. A notify delay spreads the fill over seconds, so
# the completion comes in the middle of it.
log=$VLB_CASE_OUT/console-early.log
echo 20 >"$delay"
vlb_start_device "$log" --type console --name h-console-early --hostile early-rx
early_port() {
	local p
	for p in /sys/class/virtio-ports/vport*p0; do
		readlink -f "$p" | grep -q h-console-early && { echo "${p##*/}"; return 0; }
	done
	return 1
}
wait_for 90 early_port >/dev/null || fail "console early-rx: port 0 never came up"
echo 0 >"$delay"
grep -q 'early-rx: completed receive head' "$log" || fail "console early-rx: the device sent nothing early"
port=$(early_port)
discarded() { grep -q '^bytes_discarded: 1$' "/sys/kernel/debug/virtio-ports/$port"; }
wait_for 30 discarded ||
	fail "console early-rx: the port never got the byte: $(cat "/sys/kernel/debug/virtio-ports/$port")"
vlb_stop_device "$log"
[ "$(vlb_stat "$log" completions_held)" -ge 1 ] || fail "console early-rx: nothing was held back"
[ "$(vlb_stat "$log" broken)" = 0 ] || fail "console early-rx: the device broke"

step "hostile: a console that never completes the probe's DEVICE_READY, and lives on"
# The probe busy-waits for it, preemption off, holding one CPU. The
# console's deadline breaks its queues, which ends the wait, and removal
# follows while the device process still runs.
log=$VLB_CASE_OUT/console-never.log
vlb_start_device "$log" --type console --name h-console-never --hostile never-complete \
	--request-timeout-ms 2000
console_never_gone() { dmesg | grep -q 'h-console-never: removed'; }
wait_for 30 console_never_gone || fail "console never-complete: not removed, the probe still spins"
kill -0 "$VLB_DEV_PID" || fail "console never-complete: the device process died"
dmesg | grep -q 'h-console-never: device broken: a request was not completed within its deadline' ||
	fail "console never-complete: not broken by the deadline"
vlb_stop_device "$log"
[ "$(vlb_stat "$log" request_timeouts)" = 1 ] || fail "console never-complete: request_timeouts"

step "hostile: a disk that never completes a request, and lives on"
# Its partition scan sleeps in the module's register work; the deadline
# ends it with EIO long before the hung-task detector would speak.
log=$VLB_CASE_OUT/never-alive.log
vlb_start_device "$log" --type blk --name h-never-alive --hostile never-complete --request-timeout-ms 3000
wait_for 30 grep -q 'removed by the kernel' "$log" || fail "never-alive: not removed while its process ran"
dmesg | grep -q 'h-never-alive: device broken: a request was not completed within its deadline' ||
	fail "never-alive: not broken by the deadline"
vlb_stop_device "$log"
[ "$(vlb_stat "$log" request_timeouts)" = 1 ] || fail "never-alive: request_timeouts"
wait_for 20 gone || fail "never-alive: disk not removed"

step "hostile: an rng that never answers holds up no other rng"
# The hwrng core reads every rng under one mutex, and every rng's probe
# takes it: one device that never completes a read used to stall every
# later rng probe (and every removal behind them) for as long as it lived.
log=$VLB_CASE_OUT/rng-never.log
good=$VLB_CASE_OUT/rng-good.log
vlb_start_device "$log" --type rng --name h-rng-never --hostile never-complete
never_pid=$VLB_DEV_PID
vlb_start_device "$good" --type rng --name h-rng-good
good_pid=$VLB_DEV_PID
rng_never_gone() { dmesg | grep -q 'h-rng-never: removed'; }
wait_for 30 rng_never_gone || fail "rng never-complete: not removed within its deadline"
kill -0 "$never_pid" || fail "rng never-complete: the device process died"
an_rng() { grep -q virtio_rng /sys/class/misc/hw_random/rng_available 2>/dev/null; }
wait_for 20 an_rng || fail "rng: the good rng never registered"
grep . /sys/class/misc/hw_random/rng_available /sys/class/misc/hw_random/rng_current
n=$(timeout 20 head -c 64 /dev/hwrng | wc -c)
[ "$n" = 64 ] || fail "rng: read $n bytes of /dev/hwrng"
VLB_DEV_PID=$never_pid vlb_stop_device "$log"
[ "$(vlb_stat "$log" request_timeouts)" = 1 ] || fail "rng never-complete: request_timeouts"
VLB_DEV_PID=$good_pid vlb_stop_device "$good"
[ "$(vlb_stat "$good" broken)" = 0 ] || fail "rng: the good rng was broken"
rng_good_gone() { dmesg | grep -q 'h-rng-good: removed'; }
wait_for 20 rng_good_gone || fail "rng: the good rng was not removed"

step "hostile: an rng that answers empty holds up no other rng"
# virtio_rng adds no buffer after an empty one, so its next read waits
# for good under the hwrng core's reading_mutex: no later rng could
# register or be read for as long as this device lived. An empty answer
# breaks it instead.
log=$VLB_CASE_OUT/rng-empty.log
vlb_start_device "$log" --type rng --name h-rng-empty --hostile empty
empty_pid=$VLB_DEV_PID
peer=$VLB_CASE_OUT/rng-peer.log
vlb_start_device "$peer" --type rng --name h-rng-peer
peer_pid=$VLB_DEV_PID
rng_empty_gone() { dmesg | grep -q 'h-rng-empty: removed'; }
wait_for 20 rng_empty_gone || fail "rng empty: not removed"
dmesg | grep -q 'h-rng-empty: device broken: used entry' || fail "rng empty: not broken by its empty answer"
kill -0 "$empty_pid" || fail "rng empty: the device process died"
wait_for 20 an_rng || fail "rng: the peer rng never registered"
n=$(timeout 20 head -c 64 /dev/hwrng | wc -c)
[ "$n" = 64 ] || fail "rng: read $n bytes of /dev/hwrng beside an empty rng"
VLB_DEV_PID=$empty_pid vlb_stop_device "$log"
VLB_DEV_PID=$peer_pid vlb_stop_device "$peer"
[ "$(vlb_stat "$peer" broken)" = 0 ] || fail "rng: the peer rng was broken"
rng_peer_gone() { dmesg | grep -q 'h-rng-peer: removed'; }
wait_for 20 rng_peer_gone || fail "rng: the peer rng was not removed"

vlb_unload
echo ok
