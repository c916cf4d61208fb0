# shellcheck shell=bash source=tests/vm/lib.sh
# An adapter that dies is replaced within the grace period and loses
# nothing: the new one REATTACHes to the kernel device, reads the driver's
# features, the rings and the requests in flight from the kernel, and
# brings the back-end there. fio writes and verifies throughout, with zero
# I/O and verify errors, the disk keeps its name (never removed and probed
# again), and the kernel log stays clean.
#   1. by hand: vlb-dev-blk on a socket path outlives each adapter, which
#      is SIGKILLed every 2 s for 60 s of fio and started again;
#   2. under vlb-supervisord: the adapter is SIGKILLed every 2 s, the
#      supervisor replaces adapter and back-end, and the requests the
#      killed back-end held are handed to the new one in an inflight
#      region the adapter rebuilt from the kernel's record;
#   3. a supervisor stopped and started again within the grace period
#      (systemctl restart) takes the same disk over, data intact.
. "$VLB_SRC/tests/vm/lib.sh"
# Long enough for a supervisor restart on a slow (TCG, loaded) guest.
vlb_load grace_period_ms=25000
vlb_load_drivers
run=/tmp/reattach
fresh_dir "$run"
mkdir -p "$run/policies" "$run/libexec" "$run/runtime"
truncate -s 64M "$run/disk.img" "$run/disk1.img"

step "by hand: vlb-dev-blk on a socket path, vlb-adapter killed every 2 s"
"$VLB_BUILD/devices/vlb-dev-blk" --socket-path "$run/blk.sock" --backing "$run/disk.img" \
	--queues 2 --serial reattach 2>"$VLB_CASE_OUT/blk.log" &
blk_pid=$!
wait_for 10 test -S "$run/blk.sock" || fail "vlb-dev-blk did not listen"
start_adapter() {
	"$VLB_BUILD/adapter/vlb-adapter" --type blk --name reattach --backend-socket "$run/blk.sock" \
		2>>"$VLB_CASE_OUT/adapter.log" &
	ad_pid=$!
}
start_adapter
wait_for 60 disk_with_serial reattach >/dev/null || { cat "$VLB_CASE_OUT/adapter.log"; fail "no disk"; }
dev=$(disk_with_serial reattach)
# take_overs LOG NAME: how many adapters logged taking NAME over so far.
take_overs() { grep -c "kernel device '$2' reattached" "$1" || true; }
all_taken_over() { [ "$(take_overs "$1" "$2")" -ge "$killed" ]; }
# Each kill hits an adapter that has taken over, so every kill must be
# followed by exactly one take-over (a kill mid-take-over would merge two).
killed=0
replace_adapter() {
	all_taken_over "$VLB_CASE_OUT/adapter.log" reattach || return 1
	kill -KILL "$ad_pid"
	wait "$ad_pid" 2>/dev/null || true
	killed=$((killed + 1))
	start_adapter
}
fio_verify_while_killing "$dev" 24M replace_adapter "$VLB_CASE_OUT/adapter.log" 60 20
wait_for 30 all_taken_over "$VLB_CASE_OUT/adapter.log" reattach ||
	fail "$killed kills but $(take_overs "$VLB_CASE_OUT/adapter.log" reattach) take-overs"
echo "adapter took the device over $(take_overs "$VLB_CASE_OUT/adapter.log" reattach) times"
[ "$(disk_with_serial reattach)" = "$dev" ] || fail "the disk changed its name: it was removed"
dmesg | grep -E 'virtio_loopback: reattach: (removing|device broken)' && fail "the kernel device broke or went"
kill -TERM "$ad_pid"
wait "$ad_pid" || fail "the last vlb-adapter exited $?"
kill -TERM "$blk_pid"
wait "$blk_pid" || true

step "under vlb-supervisord: the disk's adapter killed every 2 s"
for p in devices/vlb-dev-blk adapter/vlb-adapter; do
	ln -sf "$VLB_BUILD/$p" "$run/libexec/"
done
blk_policy disk1 sup-disk1 "$run/disk1.img" >"$run/policies/disk1.toml"
"$VLB_BUILD/supervisor/vlb-supervisord" --policy-dir "$run/policies" --libexec-dir "$run/libexec" \
	--runtime-dir "$run/runtime" 2>"$VLB_CASE_OUT/supervisor.log" &
sup=$!
wait_for 60 disk_with_serial sup-disk1 >/dev/null || { cat "$VLB_CASE_OUT/supervisor.log"; fail "no disk"; }
dev=$(disk_with_serial sup-disk1)
field() { status_field "$1" "$2" --socket "$run/runtime/control.sock"; }
killed=0
kill_adapter() {
	local pid
	all_taken_over "$VLB_CASE_OUT/supervisor.log" disk1 || return 1
	pid=$(field disk1 adapter_pid)
	[ -n "$pid" ] && [ "$pid" != null ] && kill -KILL "$pid" || return 1
	killed=$((killed + 1))
}
fio_verify_while_killing "$dev" 24M kill_adapter "$VLB_CASE_OUT/supervisor.log" 30
wait_for 30 all_taken_over "$VLB_CASE_OUT/supervisor.log" disk1 ||
	fail "$killed kills but $(take_overs "$VLB_CASE_OUT/supervisor.log" disk1) take-overs"
handed=$(grep -o "reattached: .* [0-9]* request(s) in flight" "$VLB_CASE_OUT/supervisor.log" |
	awk '{ n++; s += $(NF-3) } END { printf "%d %d", n, s }')
echo "take-overs, requests handed over in all: $handed"
[ "$(disk_with_serial sup-disk1)" = "$dev" ] || fail "the disk changed its name: it was removed"
dmesg | grep -E 'virtio_loopback: disk1: (removing|device broken)' && fail "the kernel device broke or went"

step "the supervisor restarted within the grace period takes the disk over"
dd if=/dev/urandom of="$run/pattern" bs=64k count=16 status=none
dd if="$run/pattern" of="$dev" bs=64k oflag=direct status=none
kill -TERM "$sup"
wait "$sup" || fail "vlb-supervisord exited $?"
# No I/O here (reading the serial is a request): nothing serves it now.
[ -e "/sys/block/${dev#/dev/}" ] || fail "the disk went with the supervisor"
"$VLB_BUILD/supervisor/vlb-supervisord" --policy-dir "$run/policies" --libexec-dir "$run/libexec" \
	--runtime-dir "$run/runtime" 2>"$VLB_CASE_OUT/supervisor-2.log" &
sup=$!
wait_for 60 grep -q "kernel device 'disk1' reattached" "$VLB_CASE_OUT/supervisor-2.log" ||
	{ cat "$VLB_CASE_OUT/supervisor-2.log"; fail "the new supervisor's adapter did not take the disk over"; }
dd if="$dev" of="$run/readback" bs=64k count=16 iflag=direct status=none || fail "I/O after the restart"
cmp "$run/pattern" "$run/readback" || fail "the data differs after the supervisor restart"
[ "$(disk_with_serial sup-disk1)" = "$dev" ] || fail "the disk changed its name across the restart"
dmesg | grep -E 'virtio_loopback: disk1: (removing|device broken)' && fail "the kernel device broke or went"
kill -TERM "$sup"
wait "$sup" || fail "vlb-supervisord exited $?"
wait_for 60 sh -c '! ls -d /sys/block/vd* >/dev/null 2>&1' || fail "disk not removed"
vlb_unload
echo ok
