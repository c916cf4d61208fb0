# shellcheck shell=bash source=tests/vm/lib.sh
# The full stack under vlb-supervisord: policies for a disk and an rng (and
# a broken one, reported and skipped), each device and adapter sandboxed.
# fio verifies while the disk's back-end is SIGKILLed every 2 s (restarted
# by the supervisor, handed to the adapter, nothing lost); /dev/hwrng
# reads; SIGHUP leaves unchanged devices alone and restarts a changed one;
# a killed adapter brings its pair back; SIGTERM removes every device.
. "$VLB_SRC/tests/vm/lib.sh"
vlb_load grace_period_ms=2000
vlb_load_drivers
run=/tmp/supervisor
fresh_dir "$run"
mkdir -p "$run/policies" "$run/libexec" "$run/runtime"
for p in devices/vlb-dev-blk devices/vlb-dev-rng adapter/vlb-adapter; do
	ln -sf "$VLB_BUILD/$p" "$run/libexec/"
done
truncate -s 64M "$run/disk.img"
blk_policy disk0 sup-disk0 "$run/disk.img" >"$run/policies/disk0.toml"
cat >"$run/policies/rng0.toml" <<TOML
[device]
name = "rng0"
type = "rng"
[backend]
binary = "vlb-dev-rng"
TOML
printf '[device]\nname = "bad"\ntype = "rng"\n[backend]\nbinary = "vlb-dev-rng"\n[backend.sandbox]\nuid = 0\n' \
	>"$run/policies/zz-broken.toml"

vlbctl() { "$VLB_BUILD/tools/vlbctl/vlbctl" --socket "$run/runtime/control.sock" "$@"; }
field() { status_field "$1" "$2" --socket "$run/runtime/control.sock"; }

step "vlb-supervisord starts the policies"
"$VLB_BUILD/supervisor/vlb-supervisord" --policy-dir "$run/policies" --libexec-dir "$run/libexec" \
	--runtime-dir "$run/runtime" 2>"$VLB_CASE_OUT/supervisor.log" &
sup=$!
wait_for 60 disk_with_serial sup-disk0 >/dev/null || { cat "$VLB_CASE_OUT/supervisor.log"; fail "no disk"; }
wait_for 30 test -c /dev/hwrng || fail "no hwrng"
vlbctl status | tee "$VLB_CASE_OUT/status.txt"
grep -q '^disk0 .*running' "$VLB_CASE_OUT/status.txt" || fail "disk0 not running"
grep -q '^rng0 .*running' "$VLB_CASE_OUT/status.txt" || fail "rng0 not running"
grep -q 'rejected policy: .*zz-broken.toml:7:1: backend.sandbox.uid' "$VLB_CASE_OUT/status.txt" ||
	fail "the broken policy was not reported"
grep -q 'back-end started.*seccomp: profile device-blk' "$VLB_CASE_OUT/supervisor.log" || fail "no sandbox report"
dev=$(disk_with_serial sup-disk0)

step "hwrng"
grep -q virtio_rng /sys/class/misc/hw_random/rng_current || fail "hwrng is not the virtio one"
dd if=/dev/hwrng of="$run/rng.bin" bs=64 count=8 2>/dev/null
[ "$(stat -c %s "$run/rng.bin")" = 512 ] || fail "short read from /dev/hwrng"

step "fio verifies while the supervisor restarts the killed back-end every 2 s"
kill_disk_backend() {
	local pid
	pid=$(field disk0 backend_pid)
	[ -n "$pid" ] && [ "$pid" != null ] && kill -KILL "$pid" && last_killed=$pid
}
# The last kill may land as fio ends: its restart must be over before the
# pids are compared across SIGHUP.
disk0_back_after_last_kill() {
	local pid
	pid=$(field disk0 backend_pid)
	[ -n "$pid" ] && [ "$pid" != null ] && [ "$pid" != "$last_killed" ] &&
		vlbctl status | grep -q '^disk0 .*running'
}
fio_verify_while_killing "$dev" 16M kill_disk_backend "$VLB_CASE_OUT/supervisor.log"
grep -c 'back-end reconnected' "$VLB_CASE_OUT/supervisor.log"
wait_for 30 disk0_back_after_last_kill || fail "disk0 did not come back after the last kill"

step "each device runs as its own uid and gid, undumpable, with memory limits"
# /proc/PID/status: "Uid: real effective saved fs"; VmPeak after fio (the
# disk's) is the number the default "as" limit must leave room above.
ids=""
for d in disk0 rng0; do
	for role in backend adapter; do
		pid=$(field "$d" "${role}_pid")
		uid=$(awk '/^Uid:/ {print $2}' "/proc/$pid/status")
		gid=$(awk '/^Gid:/ {print $2}' "/proc/$pid/status")
		peak=$(awk '/^VmPeak:/ {print $2 " " $3}' "/proc/$pid/status")
		echo "$d $role: pid $pid uid $uid gid $gid VmPeak $peak; limits:"
		grep -E 'Max (address space|file size|processes)' "/proc/$pid/limits"
		if [ "$uid" = 65534 ] || [ "$uid" = 0 ]; then
			fail "$d $role runs as uid $uid, not as its own"
		fi
		[ "$gid" = "$uid" ] || fail "$d $role: gid $gid is not the device's ($uid)"
		# Undumpable: /proc/PID's files belong to root, not to the uid.
		[ "$(stat -c %u "/proc/$pid/environ")" = 0 ] || fail "$d $role is dumpable"
		grep -q "^Max address space *[0-9]" "/proc/$pid/limits" || fail "$d $role: no address space limit"
		ids="$ids $d:$uid"
	done
	grep -q "$d.*identity: uid $uid, gid $uid" "$VLB_CASE_OUT/supervisor.log" || fail "$d: no identity in the report"
done
echo "$ids" | tr ' ' '\n' | sort -u | sed '/^$/d' | cut -d: -f2 | sort -u | wc -l | grep -qx 2 ||
	fail "disk0 and rng0 share an id:$ids"

step "SIGHUP: unchanged devices are not touched, a changed one restarts"
disk_pids="$(field disk0 backend_pid) $(field disk0 adapter_pid)"
rng_adapter=$(field rng0 adapter_pid)
printf 'args = ["--max-bytes-per-sec", "65536"]\n' >>"$run/policies/rng0.toml"
kill -HUP "$sup"
wait_for 30 sh -c "[ \"\$($VLB_BUILD/tools/vlbctl/vlbctl --socket $run/runtime/control.sock status --json | grep -o '\"name\":\"rng0\"[^}]*\"adapter_pid\":[0-9]*' | sed 's/.*://')\" != $rng_adapter ]" ||
	fail "rng0 was not restarted after its policy changed"
[ "$(field disk0 backend_pid) $(field disk0 adapter_pid)" = "$disk_pids" ] || fail "disk0 was touched by SIGHUP"

step "a killed adapter brings its pair back"
kill -KILL "$(field rng0 adapter_pid)"
wait_for 30 sh -c "$VLB_BUILD/tools/vlbctl/vlbctl --socket $run/runtime/control.sock status | grep -q '^rng0 .*running'" ||
	fail "rng0 did not come back"
vlbctl status

step "a back-end reached by socket path comes back after a kill"
# connect = "socket": the supervisor listens on the path for the back-end,
# the adapter connects by path, at start and after a restart. Before, the
# restart tried to hand the adapter a socket it does not have (send_fd:
# EBADF) and took the device down. The directory is root's alone.
sock_uid=4242
mkdir -p "$run/sock"
chmod 0755 "$run/sock"
cat >"$run/policies/rng1.toml" <<TOML
[device]
name = "rng1"
type = "rng"
[backend]
binary = "vlb-dev-rng"
connect = "socket"
socket_path = "$run/sock/rng1.sock"
[backend.sandbox]
uid = $sock_uid
gid = $sock_uid
[adapter.sandbox]
uid = $sock_uid
gid = $sock_uid
TOML
rng1_running() { vlbctl status | grep -q '^rng1 .*running'; }
kill -HUP "$sup"
wait_for 30 rng1_running || { vlbctl status; fail "rng1 (socket path) did not start"; }
rng1_backend=$(field rng1 backend_pid)
kill -KILL "$rng1_backend"
rng1_restarted() {
	local pid
	pid=$(field rng1 backend_pid)
	[ -n "$pid" ] && [ "$pid" != null ] && [ "$pid" != "$rng1_backend" ] && rng1_running
}
wait_for 30 rng1_restarted || { vlbctl status; fail "rng1's back-end was not restarted"; }
rng1_reconnected() { grep -q 'vlb-adapter\[rng1\]: back-end reconnected' "$VLB_CASE_OUT/supervisor.log"; }
wait_for 30 rng1_reconnected || fail "rng1's adapter did not reconnect to the new back-end"
vlbctl status | grep '^rng1 ' | grep -q running || fail "rng1 went down after its restart"

step "SIGTERM removes every device"
kill -TERM "$sup"
wait "$sup" || fail "vlb-supervisord exited $?"
wait_for 30 sh -c '! ls -d /sys/block/vd* 2>/dev/null' || fail "disk not removed"
pgrep -f 'vlb-dev-|vlb-adapter' && fail "processes left behind"
# The sandboxed back-ends completed through VLB_IOVA_CALL (their seccomp
# profiles allow that request): the adapters' counters at exit say so.
for d in disk0 rng0; do
	grep "vlb-adapter\[$d\]: kernel counters at exit" "$VLB_CASE_OUT/supervisor.log" | tail -1 |
		grep -qE ', [1-9][0-9]* in the device\)' || fail "$d: no completion in the sandboxed device's thread"
done
vlb_unload
echo ok
