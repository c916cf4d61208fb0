#!/usr/bin/env bash
# vlb-adapter against back-ends that break the protocol before a kernel
# device exists (vlb-garbage-backend, one fault each): every one is refused
# with exit status 1 and a message naming what was wrong, within seconds,
# and the adapter never goes on to create the device (the control node
# given is one that does not exist, so reaching it would show).
# Usage: adapter_garbage_test.sh BUILD_DIR
set -uo pipefail
build=$1
adapter=$build/adapter/vlb-adapter
garbage=$build/tests/host/vlb-garbage-backend
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failed=0

# fault | what the adapter must say
cases=(
	"short-features|refusing the back-end: GET_FEATURES (1): payload of 4 bytes, expected 8"
	"no-reply-flag|refusing the back-end: GET_FEATURES (1): reply flag missing"
	"wrong-request|refusing the back-end: reply to GET_PROTOCOL_FEATURES while waiting for GET_FEATURES"
	"fd-in-reply|refusing the back-end: GET_PROTOCOL_FEATURES (15): 1 fds attached, expected 0"
	"huge-size|refusing the back-end: GET_FEATURES: payload of 268435456 bytes exceeds"
	"hangup|refusing the back-end: back-end closed the connection; waiting for the reply to GET_QUEUE_NUM"
	"zero-queues|refusing the back-end: back-end reports no queues"
)
for c in "${cases[@]}"; do
	fault=${c%%|*} want=${c#*|}
	sock=$work/$fault.sock
	"$garbage" --socket-path "$sock" --fault "$fault" 2>/dev/null &
	be=$!
	for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.02; done
	rc=0
	timeout 10 "$adapter" --type rng --name garbage --backend-socket "$sock" --reconnect-timeout 0 \
		--device "$work/no-such-node" 2>"$work/log" || rc=$?
	wait "$be" 2>/dev/null
	if [ $rc != 1 ]; then
		echo "FAIL $fault: exit status $rc, expected 1"; failed=1
	elif ! grep -qF "error: $want" "$work/log"; then
		echo "FAIL $fault: expected '$want'"; failed=1
	elif grep -q "no-such-node" "$work/log"; then
		echo "FAIL $fault: the adapter went on to the kernel device"; failed=1
	else
		echo "ok   $fault: $(grep -o 'error: .*' "$work/log")"
		continue
	fi
	sed 's/^/     /' "$work/log"
done
exit $failed
