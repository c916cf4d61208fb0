# shellcheck shell=bash source=tests/vm/lib.sh
# GoogleTest suites for the control node's and the per-device fd's ABI and
# the device lifecycle (create, detach, reattach, grace period), against the
# real module.
. "$VLB_SRC/tests/vm/lib.sh"
vlb_load grace_period_ms=500 msg_timeout_ms=1000
"$VLB_BUILD/tests/vm/vlb_kmod_ctl_tests"
vlb_unload
