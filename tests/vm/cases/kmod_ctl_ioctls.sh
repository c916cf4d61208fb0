# shellcheck shell=bash source=tests/vm/lib.sh
# GoogleTest suites for the control node's and the per-device fd's ABI and
# the device lifecycle (create, detach, reattach, grace period), against the
# real module.
. "$VLB_SRC/tests/vm/lib.sh"
vlb_load grace_period_ms=500 msg_timeout_ms=1000
# No driver binds, except for the tests that need one.
"$VLB_BUILD/tests/vm/vlb_kmod_ctl_tests" --gtest_filter='-DeviceFdWithDriver.*'
vlb_load_drivers
out=$("$VLB_BUILD/tests/vm/vlb_kmod_ctl_tests" --gtest_filter='DeviceFdWithDriver.*')
echo "$out"
grep -q '^\[  PASSED  \] [1-9]' <<<"$out" || fail "no test with a driver ran"
vlb_unload
