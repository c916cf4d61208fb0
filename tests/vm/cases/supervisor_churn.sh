# shellcheck shell=bash source=tests/vm/lib.sh
# vlb-supervisord under kill loops. A device with max_restarts = 2 is
# restarted twice with the backoff doubling, then left down with the
# reason. Another is killed 100 times (back-end, adapter, or both, by
# SIGKILL), each time brought back: afterwards the supervisor holds the
# same number of fds as before, has no zombie child, counts every restart,
# and the device still serves /dev/hwrng.
. "$VLB_SRC/tests/vm/lib.sh"
vlb_load grace_period_ms=300
vlb_load_drivers
run=/tmp/churn
fresh_dir "$run"
mkdir -p "$run/policies" "$run/libexec" "$run/runtime"
for p in devices/vlb-dev-rng adapter/vlb-adapter; do
	ln -sf "$VLB_BUILD/$p" "$run/libexec/"
done
cat >"$run/policies/churn0.toml" <<TOML
[device]
name = "churn0"
type = "rng"
[backend]
binary = "vlb-dev-rng"
[restart]
backoff_initial_ms = 20
backoff_max_ms = 160
max_restarts = 1000
window_s = 600
TOML
cat >"$run/policies/limit0.toml" <<TOML
[device]
name = "limit0"
type = "rng"
[backend]
binary = "vlb-dev-rng"
[restart]
backoff_initial_ms = 40
backoff_max_ms = 1000
max_restarts = 2
window_s = 600
TOML

ctl() { "$VLBCTL" --socket "$run/runtime/control.sock" "$@"; }
field() { status_field "$1" "$2" --socket "$run/runtime/control.sock"; }
running() { ctl status | grep -q "^$1 .*running"; }
# back DEVICE KEY OLD: DEVICE runs again with a KEY pid other than OLD.
back() {
	local i pid
	for i in $(seq 300); do
		pid=$(field "$1" "$2")
		if [ -n "$pid" ] && [ "$pid" != null ] && [ "$pid" != "$3" ] && running "$1"; then
			return 0
		fi
		sleep 0.1
	done
	fail "$1 not back after its $2 $3 was killed (loop $i)"
}
zombies() { pgrep -c -r Z -P "$sup" || true; }

step "vlb-supervisord starts two rng devices"
"$VLB_BUILD/supervisor/vlb-supervisord" --policy-dir "$run/policies" --libexec-dir "$run/libexec" \
	--runtime-dir "$run/runtime" 2>"$VLB_CASE_OUT/supervisor.log" &
sup=$!
wait_for 60 sh -c "[ \$(ls -d /sys/devices/vlb-*/virtio*/driver 2>/dev/null | wc -l) = 2 ]" ||
	{ cat "$VLB_CASE_OUT/supervisor.log"; fail "the two rng devices did not come up"; }
ctl status

step "max_restarts = 2: two restarts, backoff doubling, then down"
for n in 1 2; do
	old=$(field limit0 backend_pid)
	kill -KILL "$old"
	back limit0 backend_pid "$old"
done
kill -KILL "$(field limit0 backend_pid)"
wait_for 10 sh -c "$VLBCTL --socket $run/runtime/control.sock status | grep -q '^limit0 .*down'" ||
	fail "limit0 not down after a third kill"
ctl status | tee "$VLB_CASE_OUT/status-limit.txt"
grep -q '^limit0 .*down .*not restarted (restart policy, 2 restarts in the window)' "$VLB_CASE_OUT/status-limit.txt" ||
	fail "limit0's reason is missing"
delays=$(grep -o 'limit0: back-end killed by signal KILL ([^)]*): restarting in [0-9]* ms' \
	"$VLB_CASE_OUT/supervisor.log" | sed 's/.*restarting in \([0-9]*\) ms/\1/' | paste -sd' ')
[ "$delays" = "40 80" ] || fail "backoff: restarting in '$delays' ms, expected 40 then 80"
echo "restarted after 40 and 80 ms, then left down"

step "100 SIGKILLs of churn0's back-end, adapter or both"
fds_before=$(find "/proc/$sup/fd" -mindepth 1 | wc -l)
kills=(backend backend backend backend backend backend backend adapter adapter both)
for i in $(seq 0 99); do
	what=${kills[$((i % 10))]}
	be=$(field churn0 backend_pid)
	ad=$(field churn0 adapter_pid)
	case $what in
	backend) kill -KILL "$be"; back churn0 backend_pid "$be" ;;
	adapter) kill -KILL "$ad"; back churn0 adapter_pid "$ad"; back churn0 backend_pid "$be" ;;
	both) kill -KILL "$be" "$ad"; back churn0 adapter_pid "$ad"; back churn0 backend_pid "$be" ;;
	esac
	z=$(zombies)
	[ "$z" = 0 ] || fail "$z zombie(s) under the supervisor after kill $i ($what)"
done
fds_after=$(find "/proc/$sup/fd" -mindepth 1 | wc -l)
ctl status | tee "$VLB_CASE_OUT/status-churn.txt"
echo "supervisor fds: $fds_before before, $fds_after after 100 kills"
[ "$fds_after" = "$fds_before" ] || { ls -l "/proc/$sup/fd"; fail "supervisor fds: $fds_before -> $fds_after"; }
restarts=$(awk '$1 == "churn0" { print $6 }' "$VLB_CASE_OUT/status-churn.txt")
logged=$(grep -c 'churn0: \(back-end\|adapter\) killed by signal KILL' "$VLB_CASE_OUT/supervisor.log")
echo "churn0: $restarts restarts counted, $logged kills logged"
# Killing both counts once or twice, depending on which exit is seen first.
if [ "$restarts" -lt 100 ] || [ "$restarts" -gt 110 ]; then
	fail "churn0 counted $restarts restarts for 100 kills"
fi
[ "$restarts" = "$logged" ] || fail "$restarts restarts counted but $logged exits logged"

step "churn0 still serves /dev/hwrng"
wait_for 30 sh -c 'ls -d /sys/devices/vlb-churn0/virtio*/driver' >/dev/null || fail "churn0 has no driver"
tr ' ' '\n' </sys/class/misc/hw_random/rng_available | grep virtio_rng | tail -1 \
	>/sys/class/misc/hw_random/rng_current
dd if=/dev/hwrng of="$run/rng.bin" bs=64 count=4 2>/dev/null
[ "$(stat -c %s "$run/rng.bin")" = 256 ] || fail "short read from /dev/hwrng"
echo "$(cat /sys/class/misc/hw_random/rng_current): 256 bytes read"

step "SIGTERM"
kill -TERM "$sup"
wait "$sup" || fail "vlb-supervisord exited $?"
pgrep -f 'vlb-dev-|vlb-adapter' && fail "processes left behind"
vlb_unload
echo ok
