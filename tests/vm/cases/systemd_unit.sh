# shellcheck shell=bash source=tests/vm/lib.sh
# The service as users run it. Booted by `vlb-vm --systemd`: systemd is
# PID 1 and the root is writable (a tmpfs overlay). The package tree goes
# in with `cmake --install --prefix /usr`, the shipped unit as it is (the
# case compares it with the source), the example policies unchanged in
# /etc/virtio-loopback/policies. Then `systemctl start virtio-loopback`:
# the four devices come up with Landlock and seccomp in every sandbox
# report; `systemctl reload` leaves unchanged devices alone and restarts a
# changed one; the watchdog is fed; journal entries carry VLB_DEVICE and
# the other fields, the children's lines VLB_ROLE, none above notice;
# `systemd-analyze security` rates the running unit;
# `systemctl restart` within the grace period keeps the devices (same disk,
# data intact); `systemctl stop` removes them and leaves no process.
. "$VLB_SRC/tests/vm/lib.sh"
unit=virtio-loopback.service
journal=$VLB_CASE_OUT/journal.log

[ "$(cat /proc/1/comm)" = systemd ] || fail "PID 1 is $(cat /proc/1/comm), not systemd (vlb-vm --systemd)"

step "the package tree, as a package installs it"
vlb_install_package
cmp "$VLB_SRC/packaging/systemd/$unit" "/usr/lib/systemd/system/$unit" || fail "the installed unit differs"
getent group vlb >/dev/null || fail "sysusers made no vlb group"
vlb_load grace_period_ms=20000
vlb_load_drivers

# The unit's journal, as it grows (helpers below grep it while waiting).
journalctl -f -n all -o cat -u "$unit" >"$journal" 2>&1 &
follower=$!
stop_following() { kill "$follower" 2>/dev/null || true; }
# On a failure the unit must go first, or its devices keep the module in.
trap 'stop_following; [ $? = 0 ] || systemctl stop "$unit"; vlb_cleanup' EXIT

devices_up() {
	disk_with_serial disk0 >/dev/null && input_node vlb-keyboard >/dev/null && hvc_node >/dev/null &&
		ls -d /sys/devices/vlb-rng0/virtio*/driver >/dev/null 2>&1
}
running() { [ "$("$VLBCTL" status | grep -c ' running')" = 4 ]; }

step "systemctl start $unit"
start_ms=$(($(date +%s%N) / 1000000))
timeout 120 systemctl start "$unit" || { systemctl status "$unit" --no-pager || true; cat "$journal"; fail "start failed"; }
# A device the sandbox refused is down at once: say so, do not wait.
if "$VLBCTL" status | grep -E '^(disk0|rng0|input0|console0) .*down'; then
	cat "$journal"
	fail "a device is down"
fi
wait_for 120 devices_up || { systemctl status "$unit" --no-pager || true; cat "$journal"; fail "devices did not come up"; }
echo "active and all four devices bound in $(($(date +%s%N) / 1000000 - start_ms)) ms"
systemctl is-active "$unit"
systemctl show -p StatusText --value "$unit"
wait_for 30 running || { "$VLBCTL" status; fail "not every device is running"; }
"$VLBCTL" status
# The supervisor holds what the unit's bounding set names, no more.
main=$(systemctl show -p MainPID --value "$unit")
caps=$(capsh --decode="$(sed -n 's/^CapEff:\t//p' "/proc/$main/status")" | sed 's/^[^=]*=//')
echo "the supervisor (pid $main) holds $caps"
want=$(sed -n 's/^CapabilityBoundingSet=//p' "/usr/lib/systemd/system/$unit" | tr 'A-Z ' 'a-z\n' | sort | paste -sd,)
[ "$(tr ',' '\n' <<<"$caps" | sort | paste -sd,)" = "$want" ] || fail "capabilities $caps, not the unit's $want"

step "every sandbox report shows Landlock and seccomp applied"
for p in disk0:blk rng0:rng input0:input console0:console; do
	name=${p%%:*} type=${p#*:}
	for role in back-end:device-$type adapter:adapter; do
		r=$(journalctl -u "$unit" -o cat "VLB_DEVICE=$name" "VLB_EVENT=${role%%:*} started" | tail -1)
		echo "$name ${role%%:*}: $(grep -oE 'landlock: ABI [0-9]+|seccomp: profile [a-z-]+' <<<"$r" | tr '\n' ' ')"
		grep -qE 'landlock: ABI [1-9]' <<<"$r" || fail "$name ${role%%:*}: no Landlock in '$r'"
		grep -q "seccomp: profile ${role#*:}," <<<"$r" || fail "$name ${role%%:*}: no seccomp in '$r'"
	done
done

step "the keyboard stays away from the host until opted in (packaging/udev)"
systemctl is-active systemd-udevd >/dev/null || fail "systemd-udevd is not running in this guest"
udevadm settle -t 30
node=$(input_node vlb-keyboard)
sysinput=/sys/class/input/${node##*/}/device
event_props=$(udevadm info --query=property --name="$node")
input_props=$(udevadm info --query=property --path="$sysinput")
for p in "input device:$input_props" "event node:$event_props"; do
	grep -E '^(CURRENT_TAGS|ID_SEAT|LIBINPUT_IGNORE_DEVICE)=' <<<"${p#*:}" | sed "s/^/  ${p%%:*}: /"
	grep -qx 'LIBINPUT_IGNORE_DEVICE=1' <<<"${p#*:}" || fail "${p%%:*}: libinput would take it"
	grep -qx 'ID_SEAT=seat-virtio-loopback-none' <<<"${p#*:}" || fail "${p%%:*}: on a seat that exists"
	if grep -E '^CURRENT_TAGS=.*:(seat|uaccess|power-switch):' <<<"${p#*:}"; then
		fail "${p%%:*}: tagged for a seat or for logind's power keys"
	fi
done
echo "  input device: inhibited=$(cat "$sysinput/inhibited")"
[ "$(cat "$sysinput/inhibited")" = 1 ] || fail "the keyboard is not inhibited: the VT and SysRq handlers get its keys"
# The script types every 2 s: nothing may come through while inhibited.
if expect_key_event "$node" 47 2>/dev/null; then
	fail "a key event came through the inhibited keyboard"
fi
vlb_input_opt_in input0
[ "$(cat "$sysinput/inhibited")" = 0 ] || fail "opted in, the keyboard is still inhibited"
grep -qx 'LIBINPUT_IGNORE_DEVICE=1' <(udevadm info --query=property --name="$node") &&
	fail "opted in, libinput still ignores the keyboard"
echo "opted in (vlb_input_opt_in input0): inhibited=0, on the seat"

step "the devices work"
dev=$(disk_with_serial disk0)
head -c 1M /dev/urandom >"$VLB_CASE_OUT/pattern"
dd if="$VLB_CASE_OUT/pattern" of="$dev" bs=1M oflag=direct status=none
cmp <(dd if="$dev" bs=1M count=1 iflag=direct status=none) "$VLB_CASE_OUT/pattern" || fail "$dev reads back wrong"
tr ' ' '\n' </sys/class/misc/hw_random/rng_available | grep virtio_rng | tail -1 \
	>/sys/class/misc/hw_random/rng_current
[ "$(dd if=/dev/hwrng bs=64 count=1 status=none | wc -c)" = 64 ] || fail "short read from /dev/hwrng"
expect_key_event "$(input_node vlb-keyboard)" 47 || fail "no KEY_V from the keyboard"
console_both_ways /run/virtio-loopback/console0.sock "$journal"
echo "disk $dev, /dev/hwrng, the keyboard and the console port all answer"

step "journalctl -u $unit VLB_DEVICE=disk0"
journalctl -u "$unit" VLB_DEVICE=disk0 -o json >"$VLB_CASE_OUT/disk0.json"
journalctl -u "$unit" VLB_DEVICE=disk0 -o cat | cut -c1-100
grep -q '"VLB_EVENT":"back-end started"' "$VLB_CASE_OUT/disk0.json" || fail "no back-end start entry"
# No grep -q at the end of a pipe here: under pipefail the writer's
# SIGPIPE fails the pipe when grep -q has found its line.
started=$(grep '"VLB_EVENT":"adapter started"' "$VLB_CASE_OUT/disk0.json" || true)
grep -q '"VLB_PID":"[1-9]' <<<"$started" || fail "no adapter start entry with its pid"
grep -q '"VLB_REASON":' "$VLB_CASE_OUT/disk0.json" || fail "no VLB_REASON field"
if grep -v '"VLB_DEVICE":"disk0"' "$VLB_CASE_OUT/disk0.json" >/dev/null; then
	fail "entries of other devices matched VLB_DEVICE=disk0"
fi
# The children's own lines come through the supervisor, tagged by it (a
# pipe per child, not the unit's journal stream), never above notice.
tagged=$(grep '"VLB_ROLE":"adapter"' "$VLB_CASE_OUT/disk0.json" | grep '"SYSLOG_IDENTIFIER":"vlb-adapter"' || true)
grep -q "kernel device 'disk0' created" <<<"$tagged" || fail "the adapter's own lines are not tagged with VLB_ROLE"
grep -q '"VLB_ROLE":"back-end"' "$VLB_CASE_OUT/disk0.json" || fail "no back-end line tagged with VLB_ROLE"
journalctl -u "$unit" -p 0..4 -o json >"$VLB_CASE_OUT/errors.json"
if grep -q '"VLB_ROLE"' "$VLB_CASE_OUT/errors.json"; then
	fail "a child's line was logged at warning or above"
fi

step "systemctl reload: unchanged devices untouched, a changed one restarted"
disk_pids="$(status_field disk0 backend_pid) $(status_field disk0 adapter_pid)"
rng_adapter=$(status_field rng0 adapter_pid)
sed -i 's/"1048576"/"65536"/' /etc/virtio-loopback/policies/rng0.toml
grep -q '"65536"' /etc/virtio-loopback/policies/rng0.toml || fail "rng0.toml: no rate to change"
systemctl reload "$unit" || fail "reload failed"
rng0_restarted() { [ "$(status_field rng0 adapter_pid)" != "$rng_adapter" ] && running; }
wait_for 60 rng0_restarted || fail "rng0 was not restarted after its policy changed"
[ "$(status_field disk0 backend_pid) $(status_field disk0 adapter_pid)" = "$disk_pids" ] ||
	fail "disk0 was touched by the reload"
systemctl is-active "$unit"
echo "disk0 kept pids $disk_pids; rng0's adapter $rng_adapter -> $(status_field rng0 adapter_pid)"

step "the watchdog"
[ "$(systemctl show -p WatchdogUSec --value "$unit")" = 30s ] || fail "WatchdogSec is not 30s"
ping1=$(systemctl show -p WatchdogTimestampMonotonic --value "$unit")
sleep 17
ping2=$(systemctl show -p WatchdogTimestampMonotonic --value "$unit")
[ "$ping2" -gt "$ping1" ] || fail "no watchdog ping in 17 s ($ping1 -> $ping2)"
echo "pinged: WatchdogTimestampMonotonic $ping1 -> $ping2"

step "systemd-analyze security on the running unit"
systemd-analyze security --no-pager "$unit" >"$VLB_CASE_OUT/security.txt" 2>&1
tail -1 "$VLB_CASE_OUT/security.txt"
score=$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p' "$VLB_CASE_OUT/security.txt")
[ -n "$score" ] || fail "no exposure level in $VLB_CASE_OUT/security.txt"
awk -v s="$score" 'BEGIN { exit !(s <= 3.0) }' || fail "exposure $score above 3.0 (docs/supervisor.md)"

step "systemctl restart within the grace period keeps the devices"
sysdev=$(readlink -f "/sys/block/${dev#/dev/}")
before=$(grep -c 'reattached' "$journal" || true)
systemctl restart "$unit" || fail "restart failed"
wait_for 120 running || { cat "$journal"; fail "not every device is running after the restart"; }
wait_for 30 sh -c "[ \$(grep -c 'reattached' '$journal') -ge $((before + 4)) ]" ||
	fail "the new adapters did not reattach all four devices"
[ "$(readlink -f "/sys/block/${dev#/dev/}")" = "$sysdev" ] || fail "$dev is a new disk after the restart"
cmp <(dd if="$dev" bs=1M count=1 iflag=direct status=none) "$VLB_CASE_OUT/pattern" ||
	fail "the data written before the restart is gone"
echo "$dev kept across the restart, data intact, $(grep -c 'reattached' "$journal") reattachments"

step "systemctl stop removes the devices and leaves no process"
systemctl stop "$unit" || fail "stop failed"
systemctl is-active -q "$unit" && fail "still active after stop"
# The detached devices go when the grace period ends.
wait_for 40 sh -c '! ls -d /sys/devices/vlb-* >/dev/null 2>&1' || fail "devices left: $(ls -d /sys/devices/vlb-*)"
pgrep -f 'vlb-supervisord|vlb-dev-|vlb-adapter' && fail "processes left behind"
[ -e /run/virtio-loopback/control.sock ] && fail "the control socket is left"
echo "stopped: no device, no process"
stop_following
rm -f /etc/udev/rules.d/71-virtio-loopback-input0.rules
udevadm control --reload
vlb_unload
