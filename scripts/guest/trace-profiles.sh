# shellcheck shell=bash source=tests/vm/lib.sh
# Where the seccomp profiles come from: runs vlb-supervisord with the
# example policies under strace -ff, drives every device (fio on the disk,
# /dev/hwrng, key events, console bytes both ways, a back-end restart), then
# compares, per program, the system calls it made after its exec with what
# its profile allows (`vlbctl profile show`). Fails if a program made a call
# its profile lacks; prints the allowed calls the trace never saw, which
# src/profiles.cpp must justify.
#
#   tests/vm/vlb-vm --out DIR --build build/default scripts/guest/trace-profiles.sh
. "$VLB_SRC/tests/vm/lib.sh"
vlb_load grace_period_ms=1000
vlb_load_drivers
run=/tmp/trace
stage_example_policies "$run" >/dev/null
mkdir -p "$run/strace"

step "the supervised stack under strace -ff"
strace -ff -qq -o "$run/strace/t" "$VLB_BUILD/supervisor/vlb-supervisord" \
	--policy-dir "$run/policies" --libexec-dir "$run/libexec" 2>"$VLB_CASE_OUT/supervisor.log" &
tracer=$!
wait_for 10 pgrep -P "$tracer" >/dev/null || fail "strace did not start the supervisor"
sup=$(pgrep -P "$tracer")
wait_for 120 disk_with_serial disk0 >/dev/null || { cat "$VLB_CASE_OUT/supervisor.log"; fail "no disk"; }
wait_for 60 input_node vlb-keyboard >/dev/null || fail "no keyboard"
wait_for 60 hvc_node >/dev/null || fail "no console port"
"$VLBCTL" status

step "workload"
dev=$(disk_with_serial disk0)
fio --name=trace --filename="$dev" --direct=1 --ioengine=libaio --iodepth=8 --rw=randrw \
	--bsrange=4k-64k --size=4M --verify=crc32c --output="$VLB_CASE_OUT/fio.txt" || fail "fio"
blkdiscard -o 0 -l 1048576 "$dev" || fail "discard"
sync
tr ' ' '\n' </sys/class/misc/hw_random/rng_available | grep virtio_rng | tail -1 \
	>/sys/class/misc/hw_random/rng_current
dd if=/dev/hwrng bs=64 count=4 status=none | wc -c
expect_key_event "$(input_node vlb-keyboard)" 47 || fail "no key event"
console_both_ways /run/virtio-loopback/console0.sock "$VLB_CASE_OUT/supervisor.log"
old=$(status_field rng0 backend_pid)
kill -KILL "$old"
wait_for 30 sh -c "[ \"\$($VLBCTL status --json | grep -o '\"name\":\"rng0\"[^}]*\"backend_pid\":[0-9]*' | sed 's/.*://')\" != $old ]" ||
	fail "rng0's back-end did not restart"
kill -TERM "$sup"
wait_for 60 sh -c "! kill -0 $sup 2>/dev/null" || fail "vlb-supervisord did not stop"
# strace may wait on processes it can no longer see end; its files are
# complete once the supervisor is gone.
wait_for 10 sh -c "! kill -0 $tracer 2>/dev/null" || kill -KILL "$tracer"

step "system calls after exec, per program, against its profile"
declare -A profile=([vlb-adapter]=adapter [vlb-dev-blk]=device-blk [vlb-dev-rng]=device-rng
	[vlb-dev-input]=device-input [vlb-dev-console]=device-console)
# Each traced process: its program (argv[0] of the sandbox's successful
# execveat) and every call after that exec, as "PROGRAM CALL" lines.
for t in "$run"/strace/t.*; do
	awk '!started && /^execveat\(/ && / = 0$/ {
		if (match($0, /\["[^"]*"/)) prog = substr($0, RSTART + 2, RLENGTH - 3)
		started = 1; next
	}
	started && prog != "" && match($0, /^[a-z0-9_]+\(/) { print prog, substr($0, 1, RLENGTH - 1) }' "$t"
done >"$run/calls"
bad=0
for prog in "${!profile[@]}"; do
	awk -v p="$prog" '$1 == p { print $2 }' "$run/calls" | sort -u >"$run/seen.$prog"
	[ -s "$run/seen.$prog" ] || fail "no trace of $prog"
	# Where clone is allowed, the filter answers clone3 with ENOSYS so libc
	# falls back to clone (seccomp_filter.cpp): a seen clone3 is expected.
	# Lines with arguments ("ioctl 0x... only", "prctl PR_SET_DUMPABLE 0
	# only") detail a call listed on its own line too.
	"$VLBCTL" profile show "${profile[$prog]}" | awk '($1 != "ioctl" && $1 != "prctl") || NF == 1 { print }
		$1 == "clone" { print "clone3" }' | sort -u >"$run/allowed.$prog"
	missing=$(comm -23 "$run/seen.$prog" "$run/allowed.$prog" | awk '$1 != "execveat"' | paste -sd' ')
	unused=$(comm -13 "$run/seen.$prog" "$run/allowed.$prog" | paste -sd' ')
	printf '%-16s %-15s seen %2d, allowed %2d\n' "$prog" "${profile[$prog]}" \
		"$(wc -l <"$run/seen.$prog")" "$(wc -l <"$run/allowed.$prog")"
	echo "  allowed, not seen: ${unused:-none}"
	if [ -n "$missing" ]; then
		echo "  SEEN BUT NOT ALLOWED: $missing"
		bad=1
	fi
done
[ $bad = 0 ] || fail "a program made calls its profile does not allow"
vlb_unload
echo ok
