#!/usr/bin/env bash
# supervisor_cli_test.sh: vlb-supervisord on the host, with policies that
# need no kernel module to be judged:
#   - --help exits 0, unknown options exit 2;
#   - a broken policy is reported with FILE:LINE:COLUMN: KEY in
#     `vlbctl status`, and the daemon serves anyway;
#   - the control socket admits root and members of --control-group,
#     including members by a supplementary group only, and refuses others;
#   - `vlbctl restart` of an unknown device and unknown commands fail;
#   - SIGHUP reloads (a fixed policy is no longer reported), SIGTERM exits 0
#     and removes the control socket;
#   - `vlbctl profile show` names a single allowed ioctl as such: the blk
#     back-end gets VLB_IOVA_COPY alone of the transport's requests, and
#     every back-end VLB_IOVA_CALL, the adapter the nine requests it
#     makes; no profile allows an ioctl type as a whole.
#
# Usage: supervisor_cli_test.sh BUILD_DIR
set -uo pipefail
build=${1:?usage: supervisor_cli_test.sh BUILD_DIR}
sup=$build/supervisor/vlb-supervisord
vlbctl=$build/tools/vlbctl/vlbctl
work=$(mktemp -d)
chmod 0755 "$work"
pid=""
# shellcheck disable=SC2317 # runs from the EXIT trap
cleanup() { [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
# shellcheck source=tests/host/check.sh
. "$(dirname "${BASH_SOURCE[0]}")/check.sh"

"$vlbctl" profile show device-blk >"$work/profile" 2>&1
grep -Eq '^ioctl 0x[0-9a-f]{8} only: .*VLB_IOVA_COPY' "$work/profile" && ! grep -q '^ioctl type 0xbe' "$work/profile"
check "device-blk: VLB_IOVA_COPY only, not every transport ioctl" $? "$work/profile"
for p in device-blk device-rng device-input device-console; do
	"$vlbctl" profile show "$p" >"$work/profile" 2>&1
	grep -Eq '^ioctl 0x[0-9a-f]{8} only: .*VLB_IOVA_CALL' "$work/profile" && ! grep -q '^ioctl type 0xbe' "$work/profile"
	check "$p: VLB_IOVA_CALL as a single request, not every transport ioctl" $? "$work/profile"
	n=$(grep -cE '^ioctl 0x[0-9a-f]{8} only: .*VLB_IOVA_' "$work/profile")
	[ "$n" = "$([ "$p" = device-blk ] && echo 2 || echo 1)" ]
	check "$p: no other transport request ($n allowed)" $? "$work/profile"
done
"$vlbctl" profile show adapter >"$work/profile" 2>&1
[ "$(grep -cE '^ioctl 0x[0-9a-f]{8} only: ' "$work/profile")" = 9 ] && ! grep -q 'under mask' "$work/profile"
check "adapter: the nine requests it makes, one by one" $? "$work/profile"
for p in adapter device-blk device-rng device-input device-console; do
	"$vlbctl" profile show "$p" >"$work/profile" 2>&1
	! grep -q '^ioctl type' "$work/profile" && ! grep -qE 'under mask 0x0*ff00:' "$work/profile"
	check "$p: no ioctl type allowed as a whole" $? "$work/profile"
done

"$sup" --help >"$work/help" 2>&1
check "--help exits 0" $?
"$sup" --frobnicate >"$work/out" 2>&1
[ $? = 2 ]
check "unknown option exits 2" $?

mkdir -p "$work/policies" "$work/run"
printf '[device]\nname = "bad"\ntype = "rng"\n[backend]\nbinary = "vlb-dev-rng"\n[backend.sandbox]\nuid = 0\n' \
	>"$work/policies/bad.toml"
group=disk
gid=$(getent group "$group" | cut -d: -f3)
"$sup" --policy-dir "$work/policies" --runtime-dir "$work/run" --control-group "$group" \
	--device /nonexistent 2>"$work/sup.log" &
pid=$!
sock=$work/run/control.sock
for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.05; done

"$vlbctl" --socket "$sock" status >"$work/status" 2>&1
grep -q "rejected policy: $work/policies/bad.toml:7:1: backend.sandbox.uid: 0 (root)" "$work/status"
check "root: status names the broken policy's line and key" $? "$work/status"

setpriv --reuid=65534 --regid=65534 --groups="$gid" "$vlbctl" --socket "$sock" status >"$work/member" 2>&1 &&
	grep -q '^DEVICE ' "$work/member"
check "a member by supplementary group may use the socket" $? "$work/member"

setpriv --reuid=65534 --regid=65534 --clear-groups "$vlbctl" --socket "$sock" status >"$work/other" 2>&1
[ $? = 1 ] && grep -q 'Permission denied' "$work/other"
check "a non-member is refused" $? "$work/other"

"$vlbctl" --socket "$sock" restart nosuchdevice >"$work/out" 2>&1
[ $? = 1 ] && grep -q "no device 'nosuchdevice'" "$work/out"
check "restart of an unknown device fails" $? "$work/out"

printf '[device]\nname = "bad"\ntype = "rng"\n[backend]\nbinary = "vlb-dev-rng"\n' >"$work/policies/bad.toml"
kill -HUP "$pid"
ok=1
for _ in $(seq 100); do
	"$vlbctl" --socket "$sock" status >"$work/status" 2>&1
	grep -q 'rejected policy' "$work/status" || { ok=0; break; }
	sleep 0.05
done
check "SIGHUP reloads: the fixed policy is no longer rejected" $ok "$work/status"
grep -q '^bad ' "$work/status"
check "SIGHUP reloads: the fixed policy is a device now (down: no kernel here)" $? "$work/status"

# A removed policy's device is retired; its fds must leave the event loop
# with it, or the next device reusing their numbers breaks the daemon.
mv "$work/policies/bad.toml" "$work/bad.toml"
kill -HUP "$pid"
for _ in $(seq 100); do
	"$vlbctl" --socket "$sock" status >"$work/status" 2>&1 && ! grep -q '^bad ' "$work/status" && break
	sleep 0.05
done
mv "$work/bad.toml" "$work/policies/bad.toml"
kill -HUP "$pid"
ok=1
for _ in $(seq 100); do
	"$vlbctl" --socket "$sock" status >"$work/status" 2>&1 && grep -q '^bad ' "$work/status" && { ok=0; break; }
	sleep 0.05
done
kill -0 "$pid" 2>/dev/null || ok=1
check "SIGHUP removes and re-adds a device; the daemon keeps serving" $ok "$work/sup.log"

kill -TERM "$pid"
wait "$pid"
rc=$?
pid=""
[ $rc = 0 ] && [ ! -e "$sock" ]
check "SIGTERM exits 0 and removes the control socket" $? "$work/sup.log"

check_summary
