# shellcheck shell=bash source=tests/vm/lib.sh
# What scripts/demo.sh runs inside the guest. Grows with the project into
# the supervised stack with the example policies.
. "$VLB_SRC/tests/vm/lib.sh"

step "guest kernel $(uname -r), $(nproc) vCPU"
step "loading virtio_loopback.ko"
vlb_load
ls -l "$VLB_NODE"
step "vlbctl version"
"$VLBCTL" version
step "kernel log"
dmesg | grep -E 'virtio_loopback' | sed 's/^/  /'
step "unloading"
vlb_unload
echo "demo complete"
