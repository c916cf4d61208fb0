# shellcheck shell=bash source=tests/vm/lib.sh
# Harness self-test: load a module whose init hits WARN_ON(1). The script
# itself succeeds; the harness must still find the splat in this case's
# kernel log, and pass this case only because it is declared here:
# vlb-vm: expect-splat WARNING: .*vlb_harness_warn
. "$VLB_SRC/tests/vm/lib.sh"
ko=$VLB_BUILD/tests/vm/kbuild/vlb_harness_warn.ko
step "insmod $ko (expected to WARN)"
insmod "$ko"
rmmod vlb_harness_warn
echo "script done; the kernel log must show the WARNING"
