# shellcheck shell=bash source=tests/vm/lib.sh
# Back-ends that break the protocol after the kernel device exists
# (vlb-garbage-backend): the adapter fails the driver's operation, says
# what the back-end did and exits 1; the driver's probe fails cleanly and
# the kernel removes the device when the grace period ends. Nothing is
# left half-configured: no device, no hwrng, no splat in the kernel log.
. "$VLB_SRC/tests/vm/lib.sh"
vlb_load grace_period_ms=500
vlb_load_drivers
run=/tmp/garbage
fresh_dir "$run"
garbage=$VLB_BUILD/tests/host/vlb-garbage-backend

for c in "nack-mem-table|SET_MEM_TABLE" "hangup-kick|back-end closed the connection" \
	"stall-backend-req|back-end request channel: timed out inside a message header"; do
	fault=${c%%|*} want=${c#*|}
	step "$fault"
	"$garbage" --socket-path "$run/$fault.sock" --fault "$fault" 2>/dev/null &
	be=$!
	wait_for 10 test -S "$run/$fault.sock" || fail "the garbage back-end did not listen"
	rc=0
	timeout 60 "$VLB_BUILD/adapter/vlb-adapter" --type rng --name "g-$fault" \
		--backend-socket "$run/$fault.sock" --reconnect-timeout 0 2>"$VLB_CASE_OUT/$fault.log" || rc=$?
	wait "$be" 2>/dev/null || true
	sed 's/^/  /' "$VLB_CASE_OUT/$fault.log"
	[ $rc = 1 ] || fail "$fault: adapter exit status $rc, expected 1"
	grep -q "kernel device 'g-$fault' created" "$VLB_CASE_OUT/$fault.log" ||
		fail "$fault: the fault was meant to come after the kernel device existed"
	grep -q "error: .*$want" "$VLB_CASE_OUT/$fault.log" || fail "$fault: no error naming '$want'"
	wait_for 10 sh -c "! test -e /sys/devices/vlb-g-$fault" || fail "$fault: kernel device left behind"
	if grep -q virtio_rng /sys/class/misc/hw_random/rng_available 2>/dev/null; then
		fail "$fault: an hwrng was registered"
	fi
	dmesg | grep "g-$fault" | sed 's/^/  kernel: /'
done
vlb_unload
echo ok
