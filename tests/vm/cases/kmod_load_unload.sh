# shellcheck shell=bash source=tests/vm/lib.sh
# The module loads, creates a root-only /dev/virtio-loopback, answers the
# version ioctl through vlbctl, refuses non-root users, and unloads cleanly,
# repeatedly.
. "$VLB_SRC/tests/vm/lib.sh"

step "load"
vlb_load
modinfo "$VLB_KO" | grep -E '^(version|license|description):'
mode=$(stat -c '%a %U' "$VLB_NODE")
[ "$mode" = "600 root" ] || fail "$VLB_NODE is '$mode', want '600 root'"

step "vlbctl version"
"$VLBCTL" version | tee "$VLB_CASE_OUT/version.txt"
grep -q '^kernel module ABI 0\.' "$VLB_CASE_OUT/version.txt" || fail "no ABI line"

step "an unprivileged user cannot open the node"
if out=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$VLBCTL" version 2>&1); then
	fail "nobody opened $VLB_NODE: $out"
fi
echo "$out" | grep -q 'Permission denied' || fail "unexpected error: $out"

step "unload"
vlb_unload

step "10 load/unload cycles"
for _ in $(seq 10); do
	insmod "$VLB_KO"
	rmmod virtio_loopback
done
lsmod | grep -q '^virtio_loopback' && fail "module still loaded"
echo "ok"
