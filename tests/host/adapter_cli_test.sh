#!/usr/bin/env bash
# adapter_cli_test.sh: vlb-adapter's command line and its peer check, on
# the host (no kernel module needed: everything here fails or passes before
# the adapter opens the control node, which is pointed at a missing path).
#   - --help exits 0; unknown options, missing --type/--name, and numbers
#     that are negative or out of range exit 2;
#   - --peer-uid refuses a back-end whose SO_PEERCRED uid differs, before
#     sending it anything, with a message naming both uids (exit 1);
#   - with the right uid it goes on to the control node (and fails there).
#
# Usage: adapter_cli_test.sh BUILD_DIR
set -uo pipefail
build=${1:?usage: adapter_cli_test.sh BUILD_DIR}
adapter=$build/adapter/vlb-adapter
rng=$build/devices/vlb-dev-rng
work=$(mktemp -d)
pid=""
# shellcheck disable=SC2317 # runs from the EXIT trap
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
failures=0
check() { # NAME WANT_RC GOT_RC [PATTERN FILE]
	local ok=1
	[ "$2" = "$3" ] || ok=0
	if [ $ok = 1 ] && [ $# -ge 5 ] && ! grep -q -- "$4" "$5"; then ok=0; fi
	if [ $ok = 1 ]; then
		echo "ok   $1"
	else
		echo "FAIL $1: exit $3 (want $2)${4:+, want output matching \"$4\"}"
		[ $# -ge 5 ] && sed 's/^/     /' "$5"
		failures=$((failures + 1))
	fi
}

"$adapter" --help >"$work/out" 2>&1
check "--help" 0 $? "--peer-uid" "$work/out"
"$adapter" --no-such-option >"$work/out" 2>&1
check "unknown option" 2 $?
"$adapter" --name x --backend-socket "$work/none" >"$work/out" 2>&1
check "missing --type" 2 $? "--type and --name are required" "$work/out"
"$adapter" --type tape --name x --backend-socket "$work/none" >"$work/out" 2>&1
check "unknown type" 2 $? "unknown device type 'tape'" "$work/out"
"$adapter" --type rng --name x --backend-fd " -1" >"$work/out" 2>&1
check "a negative number is not wrapped" 2 $? "--backend-fd: expected an unsigned number" "$work/out"
"$adapter" --type rng --name x --backend-fd 3 --queue-size 65537 >"$work/out" 2>&1
check "a number too large is not truncated" 2 $? "--queue-size: 65537 is larger than 65535" "$work/out"

# -v: the back-end logs every request it receives.
"$rng" -v --socket-path "$work/rng.sock" 2>"$work/rng.log" &
pid=$!
for _ in $(seq 50); do [ -S "$work/rng.sock" ] && break; sleep 0.1; done
me=$(id -u)
other=$((me + 4242))
"$adapter" --type rng --name x --backend-socket "$work/rng.sock" --peer-uid "$other" \
	--device "$work/no/control-node" >"$work/out" 2>&1
check "--peer-uid refuses a different uid" 1 $? "peer uid $me refused: --peer-uid $other" "$work/out"
if grep -q "GET_FEATURES" "$work/rng.log"; then
	echo "FAIL the refused back-end was sent messages"
	failures=$((failures + 1))
fi
"$adapter" --type rng --name x --backend-socket "$work/rng.sock" --peer-uid "$me" \
	--device "$work/no/control-node" >"$work/out" 2>&1
check "--peer-uid accepts the right uid" 1 $? "open $work/no/control-node" "$work/out"
# ...and that one was spoken to, so the check above could have failed.
grep -q "GET_FEATURES" "$work/rng.log" || { echo "FAIL the accepted back-end saw no request"; failures=$((failures + 1)); }
exit $((failures > 0))
