# shellcheck shell=bash source=tests/vm/lib.sh
# The randomized hostile-device campaign (tests/vm/hostile): several device
# processes at a time created, misbehaving in every way a device-fd holder
# can, and killed at random, with the stock drivers bound and an
# application reading what comes up. Passes when every process could die,
# every device went within the bound, the module unloads, and the kernel
# log is clean (the harness). VLB_HOSTILE_DURATION (s, default 60),
# VLB_HOSTILE_SEED (replay) and VLB_HOSTILE_PROCS pass through vlb-vm.
. "$VLB_SRC/tests/vm/lib.sh"
vlb_load grace_period_ms=500 msg_timeout_ms=1000
vlb_load_drivers
args=(--duration "${VLB_HOSTILE_DURATION:-60}" --procs "${VLB_HOSTILE_PROCS:-6}")
[ -n "${VLB_HOSTILE_SEED:-}" ] && args+=(--seed "$VLB_HOSTILE_SEED")
rc=0
"$VLB_BUILD/tests/vm/vlb-hostile" "${args[@]}" >"$VLB_CASE_OUT/campaign.log" 2>&1 || rc=$?
grep -E '^(seed|replay|count|FAIL|passed|failed)' "$VLB_CASE_OUT/campaign.log"
if [ "$rc" != 0 ]; then
	# Every task in D or killable sleep with its stack (the hung-task
	# report leaves out killable waits, e.g. a reader holding a lock).
	echo w >/proc/sysrq-trigger 2>/dev/null || true
fi
[ "$rc" = 0 ] || fail "the campaign failed (exit $rc); its log: $VLB_CASE_OUT/campaign.log"
vlb_unload
echo ok
