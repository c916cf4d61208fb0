# shellcheck shell=bash source=tests/vm/lib.sh
# The escape matrix on the guest's Debian 6.1 kernel (Landlock ABI 2, no
# network rules or scopes): the same probe, the same expected outcomes as
# on the host kernel.
. "$VLB_SRC/tests/vm/lib.sh"
step "landlock ABI of this kernel"
cat /sys/kernel/security/lsm 2>/dev/null || true
echo
step "escape matrix"
# With the module: the adapter's scoped control file is in the matrix too.
vlb_load
"$VLB_BUILD/tests/sandbox/vlb_sandbox_tests" || fail "escape matrix failed on the guest kernel"
vlb_unload
echo ok
