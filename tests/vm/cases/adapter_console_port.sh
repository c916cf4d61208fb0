# shellcheck shell=bash source=tests/vm/lib.sh
# vlb-dev-console --port-name behind the adapter and the kernel transport:
# MULTIPORT, and port 0 announced as a named generic port, so the guest
# gets /dev/vportNp0 (sysfs name org.vlb.test0) instead of an hvc console.
# Its writes sleep instead of spinning with interrupts off, so what
# deadlocks an hvc port on this 2-CPU guest (a write while bytes come in,
# docs/vhost-user.md "The hvc limit") is safe here: 1 MiB each way at the
# same time, both arriving intact. Its control messages still spin with
# preemption off, so no completion of its may wait on the CPU that
# signalled it (that spin may hold it): the kernel counts none there. The
# device signals by eventfd here (--call-by-eventfd), the path where that
# placement is chosen; vm.adapter_devices runs the console's completions
# in the device's own thread (VLB_IOVA_CALL).
. "$VLB_SRC/tests/vm/lib.sh"
vlb_load grace_period_ms=500
vlb_load_drivers
run=/tmp/console-port
fresh_dir "$run"
"$VLB_BUILD/devices/vlb-dev-console" --socket-path "$run/console.sock" --port-socket "$run/port.sock" \
	--port-name org.vlb.test0 --call-by-eventfd 2>"$VLB_CASE_OUT/console.log" &
console_pid=$!
wait_for 10 test -S "$run/console.sock" || fail "vlb-dev-console did not listen"
"$VLB_BUILD/adapter/vlb-adapter" --type console --name console-port --backend-socket "$run/console.sock" \
	2>"$VLB_CASE_OUT/adapter.log" &
ad_pid=$!

# port_node: the /dev/vportNpM whose sysfs name is org.vlb.test0.
port_node() {
	local p
	for p in /sys/class/virtio-ports/vport*; do
		[ "$(cat "$p/name" 2>/dev/null)" = org.vlb.test0 ] && [ -c "/dev/${p##*/}" ] &&
			{ echo "/dev/${p##*/}"; return 0; }
	done
	return 1
}
wait_for 60 port_node >/dev/null || { cat "$VLB_CASE_OUT/console.log" "$VLB_CASE_OUT/adapter.log"; fail "no named port"; }
port=$(port_node)
echo "named port: $port"
hvc_node >/dev/null && fail "the named port also became an hvc console"

step "1 MiB each way at the same time"
head -c 1M /dev/urandom >"$run/to-guest"
head -c 1M /dev/urandom >"$run/to-host"
# The host side: sends to-guest, keeps the connection for the reply.
socat -b 65536 -t 60 "UNIX-CONNECT:$run/port.sock,shut-none" STDIO <"$run/to-guest" >"$run/at-host" &
host_side=$!
wait_for 10 grep -q "console client connected" "$VLB_CASE_OUT/console.log" ||
	fail "the port client was not seen"
# One open for both directions: a port allows one opener at a time.
exec 8<>"$port"
cat <&8 >"$run/at-guest" &
reader=$!
cat "$run/to-host" >&8 || fail "the guest's write failed"
size() { stat -c %s "$1" 2>/dev/null || echo 0; }
has_all() { [ "$(size "$1")" -ge 1048576 ]; }
wait_for 60 has_all "$run/at-guest" || fail "host -> guest: $(size "$run/at-guest") of 1048576 bytes"
wait_for 60 has_all "$run/at-host" || fail "guest -> host: $(size "$run/at-host") of 1048576 bytes"
kill "$reader" "$host_side" 2>/dev/null || true
wait "$reader" "$host_side" 2>/dev/null || true
exec 8<&-
cmp "$run/to-guest" "$run/at-guest" || fail "host -> guest bytes differ"
cmp "$run/to-host" "$run/at-host" || fail "guest -> host bytes differ"
echo "both directions intact"

kill -TERM "$ad_pid"
wait "$ad_pid" || fail "vlb-adapter exited $?"
counters=$(grep 'kernel counters at exit:' "$VLB_CASE_OUT/adapter.log") || fail "no counters at exit"
echo "$counters"
grep -qE 'calls [1-9][0-9]* \(0 on the signalling CPU, 0 in the device\)' <<<"$counters" ||
	fail "console completions ran on the signalling CPU or in the device, or none ran"
kill -TERM "$console_pid"
wait "$console_pid" || true
no_port() { ! port_node >/dev/null; }
wait_for 30 no_port || fail "the port stayed after its device went"
vlb_unload
echo ok
