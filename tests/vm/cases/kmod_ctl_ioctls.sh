# shellcheck shell=bash source=tests/vm/lib.sh
# GoogleTest suite for the control node's ioctls, against the real module.
. "$VLB_SRC/tests/vm/lib.sh"
vlb_load
"$VLB_BUILD/tests/vm/vlb_kmod_ctl_tests" --gtest_brief=1
vlb_unload
