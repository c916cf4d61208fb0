#!/usr/bin/env bash
# The harness's command line: help, usage errors with exit 2, and judging
# of a finished run (--check-case) from results laid out by hand.
set -u
vm=$1
failed=0
expect() { # expect RC DESCRIPTION COMMAND...
	local want=$1 what=$2
	shift 2
	"$@" >/dev/null 2>&1
	local rc=$?
	if [ $rc != "$want" ]; then
		echo "FAIL: $what: exit $rc, want $want"
		failed=1
	fi
}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

expect 0 "--help" "$vm" --help
expect 2 "unknown option" "$vm" --bogus
expect 2 "no case" "$vm" --out "$tmp/x"
expect 2 "missing case script" "$vm" --out "$tmp/x" /nonexistent/case.sh
expect 2 "bad --status" "$vm" --status sometimes "$0"
expect 2 "bad --timeout" "$vm" --timeout soon "$0"

mk() { # mk NAME RC DMESG
	mkdir -p "$tmp/r/cases/$1"
	echo "$2" >"$tmp/r/cases/$1/rc"
	echo "case log" >"$tmp/r/cases/$1/log"
	printf '%s\n' "$3" >"$tmp/r/cases/$1/dmesg"
}
mk passed 0 '[ 1.0] virtio_loopback: loaded'
mk exited 3 '[ 1.0] virtio_loopback: loaded'
mk splat 0 '[ 1.0] WARNING: CPU: 0 PID: 1 at x.c:1 f+0x0/0x1'
mkdir -p "$tmp/r/cases/died"

expect 0 "a passed case" "$vm" --check-case "$tmp/r" passed
expect 1 "a failed script" "$vm" --check-case "$tmp/r" exited
expect 1 "a passed script with a splat" "$vm" --check-case "$tmp/r" splat
expect 1 "a case that never finished" "$vm" --check-case "$tmp/r" died
expect 0 "an expected splat" "$vm" --check-case "$tmp/r" splat --expect-splat 'WARNING: CPU'
expect 1 "an expected splat that is absent" "$vm" --check-case "$tmp/r" passed --expect-splat WARNING
expect 1 "an expected splat of another kind" "$vm" --check-case "$tmp/r" splat --expect-splat 'Oops'
# A case that declares its expected splat in its own header.
printf '%s\n' '# vlb-vm: expect-splat WARNING: CPU' 'true' >"$tmp/splat.sh"
printf '%s\n' "$tmp/splat.sh" >"$tmp/r/cases.list"
expect 0 "a splat the case declares" "$vm" --check-case "$tmp/r" splat
[ "$failed" = 0 ] && echo "ok"
exit $failed
