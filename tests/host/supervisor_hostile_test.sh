#!/usr/bin/env bash
# supervisor_hostile_test.sh: vlb-supervisord with children that attack it,
# each child vlb-hostile-child sandboxed by the real profile of its role
# (device-rng for the back-ends, adapter for the adapters). The stand-in
# adapters make no device, but the supervisor scopes each one's control
# file first (VLB_IOC_SCOPE), so the real node is needed: the guest runs
# this (tests/vm/cases/supervisor_hostile.sh). The supervisor's stderr is
# a socket, as the journal stream is under systemd.
#   - a back-end writes forged "<0>vlb-supervisord: ..." lines and
#     shutdown(2)s its stdout and stderr: the supervisor's later lines still
#     arrive, and the forged ones only tagged as that device's back-end's,
#     with their control characters escaped;
#   - a flooding back-end is cut to its lines per second, the rest counted;
#   - clients that connect to the control socket and send one byte per
#     1.5 s, or nothing, delay no other client's `status` (each answered
#     within 1 s) and the watchdog keeps being pinged (NOTIFY_SOCKET);
#   - `vlbctl restart` of a device whose back-end ignores SIGTERM answers
#     at once; `status` answers during the 5 s until the SIGKILL and shows
#     the device stopping, then running with new processes;
#   - SIGTERM with that back-end: the daemon still pings the watchdog while
#     it waits for the SIGKILL (one 10 s grace: the other children end at
#     their SIGTERM), answers `status` and refuses `restart` meanwhile,
#     then exits 0.
#
# Usage: supervisor_hostile_test.sh BUILD_DIR NODE
set -uo pipefail
build=$(realpath "${1:?usage: supervisor_hostile_test.sh BUILD_DIR NODE}")
node=${2:?usage: supervisor_hostile_test.sh BUILD_DIR NODE}
sup=$build/supervisor/vlb-supervisord
vlbctl=$build/tools/vlbctl/vlbctl
child=$build/tests/host/vlb-hostile-child
work=$(mktemp -d)
chmod 0755 "$work"
bg=()
# shellcheck disable=SC2317 # runs from the EXIT trap
cleanup() {
	[ -s "$work/sup.pid" ] && kill -KILL "$(cat "$work/sup.pid")" 2>/dev/null
	for p in "${bg[@]}"; do { kill -KILL "$p" && wait "$p"; } 2>/dev/null; done
	rm -rf "$work"
}
trap cleanup EXIT
# shellcheck source=tests/host/check.sh
. "$(dirname "${BASH_SOURCE[0]}")/check.sh"
policy() { # NAME BACKEND-ARGS
	printf '[device]\nname = "%s"\ntype = "rng"\n[backend]\nbinary = "%s"\nargs = [%s]\n[adapter]\nbinary = "%s"\n[restart]\nmode = "always"\n' \
		"$1" "$child" "$2" "$child"
}
ms() { date +%s%3N; }

mkdir -p "$work/policies" "$work/run"
policy evil '"--forge", "--shutdown-stderr"' >"$work/policies/evil.toml"
policy flood '"--flood"' >"$work/policies/flood.toml"
policy stubborn '"--ignore-sigterm"' >"$work/policies/stubborn.toml"
sock=$work/run/control.sock

# The watchdog's pings arrive as datagrams on a socket of ours.
socat -u "UNIX-RECV:$work/notify.sock" "OPEN:$work/notify.log,creat,append" &
bg+=($!)
for _ in $(seq 50); do [ -S "$work/notify.sock" ] && break; sleep 0.05; done
pings() { grep -o 'WATCHDOG=1' "$work/notify.log" | wc -l; }

cat >"$work/run-sup" <<SH
#!/bin/sh
echo \$\$ >"$work/sup.pid"
export NOTIFY_SOCKET="$work/notify.sock" WATCHDOG_USEC=1000000
exec "$sup" --policy-dir "$work/policies" --runtime-dir "$work/run" --device "$node"
SH
chmod +x "$work/run-sup"
# stderr is one end of a socketpair (socat's EXEC), like a journal stream.
socat -u "EXEC:$work/run-sup,stderr" "OPEN:$work/sup.log,creat,append" &
bg+=($!)
for _ in $(seq 100); do [ -S "$sock" ] && [ -s "$work/sup.pid" ] && break; sleep 0.05; done
pid=$(cat "$work/sup.pid")

all_running() {
	"$vlbctl" --socket "$sock" status >"$work/status" 2>&1 &&
		[ "$(grep -cE '^(evil|flood|stubborn) .*running' "$work/status")" = 3 ]
}
ok=1
for _ in $(seq 100); do all_running && { ok=0; break; }; sleep 0.1; done
check "three hostile devices run under their sandboxes" $ok "$work/status"
for _ in $(seq 50); do grep -q 'shutdown of stdout' "$work/sup.log" && break; sleep 0.1; done

step_mark=$(wc -l <"$work/sup.log")
kill -HUP "$pid"
ok=1
for _ in $(seq 50); do
	tail -n +"$step_mark" "$work/sup.log" | grep -q '^vlb-supervisord: SIGHUP: reloading' && { ok=0; break; }
	sleep 0.1
done
check "after a back-end's shutdown(2) of its stderr, the supervisor's lines still arrive" $ok "$work/sup.log"

grep -q '^vlb-supervisord: evil back-end\[[0-9]*\]: vlb-supervisord: forged emergency from the child$' "$work/sup.log"
check "a forged <0> line appears only tagged as the device's, at notice" $? "$work/sup.log"
! grep -qE '^(<[0-9]>)?vlb-supervisord: ((error|warning): )?forged' "$work/sup.log" && ! grep -q $'\r' "$work/sup.log"
check "no untagged forged line; control characters escaped" $? "$work/sup.log"
grep -q 'evil back-end\[[0-9]*\]: .*forged\\x0dvlb-supervisord: overwritten\\x1b\[2K$' "$work/sup.log"
check "the carriage return and escape sequence are shown as \\xNN" $? "$work/sup.log"
grep -q 'evil back-end\[[0-9]*\]: hostile child: shutdown of stdout -1, stderr -1 (ENOTSOCK)' "$work/sup.log"
check "the child's stderr is a pipe of its own (shutdown: ENOTSOCK)" $? "$work/sup.log"

# Slow and silent control clients.
for _ in 1 2 3; do
	(for _ in 1 2 3 4; do printf s; sleep 1.5; done) | socat -u - "UNIX-CONNECT:$sock" >/dev/null 2>&1 &
	bg+=($!)
	sleep 6 | socat - "UNIX-CONNECT:$sock" >/dev/null 2>&1 &
	bg+=($!)
done
sleep 0.3
before=$(pings)
start=$(ms)
worst=0
for _ in 1 2 3 4 5 6; do
	t0=$(ms)
	"$vlbctl" --socket "$sock" status >"$work/status" 2>&1 || worst=99999
	t=$(($(ms) - t0))
	[ $t -gt $worst ] && worst=$t
	sleep 0.5
done
echo "     slowest status reply with 6 stalling clients: ${worst} ms"
[ "$worst" -lt 1000 ]
check "stalling control clients delay no other client's status (< 1000 ms)" $? "$work/status"
after=$(pings)
elapsed=$(($(ms) - start))
echo "     watchdog pings in those $elapsed ms: $((after - before))"
# Every 500 ms; a loop held up pings once per hold (timerfd expirations
# coalesce).
[ $(((after - before) * 500 * 10)) -ge $((elapsed * 7)) ]
check "the watchdog is pinged every 0.5 s meanwhile (at least 70 % of the pings)" $? "$work/notify.log"
grep -q 'control socket: dropped a client that did not send its request in time' "$work/sup.log"
check "a client silent for 2 s is dropped" $? "$work/sup.log"

grep -qE 'flood back-end\[[0-9]*\]: [0-9]+ lines dropped \(more than 200 per second\)' "$work/sup.log"
rc=$?
echo "     flood lines kept: $(grep -c 'flood back-end' "$work/sup.log")"
check "a flooding child is held to its lines per second" $rc "$work/sup.log"

# A stop that waits for a SIGKILL is a timer state.
old=$("$vlbctl" --socket "$sock" status --json | grep -o '"name":"stubborn"[^}]*"backend_pid":[0-9]*' | sed 's/.*://')
t0=$(ms)
"$vlbctl" --socket "$sock" restart stubborn >"$work/out" 2>&1
t=$(($(ms) - t0))
echo "     restart answered in ${t} ms"
[ $t -lt 1000 ] && grep -q 'ok: restarting stubborn' "$work/out"
check "restart of a device whose back-end ignores SIGTERM answers at once" $? "$work/out"
t0=$(ms)
"$vlbctl" --socket "$sock" status >"$work/status" 2>&1
t=$(($(ms) - t0))
[ $t -lt 1000 ] && grep -q '^stubborn .*stopping' "$work/status"
check "status answers while it stops (state stopping, ${t} ms)" $? "$work/status"
ok=1
for _ in $(seq 100); do
	"$vlbctl" --socket "$sock" status --json >"$work/json" 2>&1
	new=$(grep -o '"name":"stubborn"[^}]*"backend_pid":[0-9]*' "$work/json" | sed 's/.*://')
	[ -n "$new" ] && [ "$new" != "$old" ] && grep -q '"name":"stubborn","type":"rng","state":"running"' "$work/json" &&
		{ ok=0; break; }
	sleep 0.1
done
check "after the SIGKILL the pair runs again with new processes" $ok "$work/json"

before=$(pings)
t0=$(ms)
kill -TERM "$pid"
sleep 1
t1=$(ms)
"$vlbctl" --socket "$sock" status >"$work/status" 2>&1
st=$?
t1=$(($(ms) - t1))
[ $st = 0 ] && [ $t1 -lt 1000 ] && grep -q '^DEVICE ' "$work/status"
check "status answers while SIGTERM waits for the SIGKILL (${t1} ms)" $? "$work/status"
"$vlbctl" --socket "$sock" restart stubborn >"$work/out" 2>&1
[ $? = 1 ] && grep -q 'error: stopping every device' "$work/out"
check "no restart while every device stops" $? "$work/out"
for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
t=$(($(ms) - t0))
after=$(pings)
echo "     SIGTERM to exit: ${t} ms, $((after - before)) watchdog pings meanwhile"
! kill -0 "$pid" 2>/dev/null && [ $t -ge 9000 ] && [ $((after - before)) -ge 12 ]
check "SIGTERM waits for the stubborn back-end's SIGKILL and pings the watchdog meanwhile" $? "$work/sup.log"
[ $t -lt 15000 ]
check "the other children end at SIGTERM, at once (one 10 s grace in all)" $? "$work/sup.log"
grep -q '^vlb-supervisord: stubborn: stopped$' "$work/sup.log" && [ ! -e "$sock" ]
check "every device stopped; the control socket is gone" $? "$work/sup.log"

check_summary
