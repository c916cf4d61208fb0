#!/usr/bin/env bash
# dkms_build_test.sh: kmod/dkms.conf works. DKMS adds and builds the module
# for the guest kernel from a private source and DKMS tree (nothing is
# installed on the host; DKMS may create its signing key under
# /var/lib/dkms), and the module it built is the one the tests load: same
# name, vermagic of the target kernel.
#
# Usage: dkms_build_test.sh SRC_DIR [KERNEL_RELEASE]   (default: the guest kernel)
set -euo pipefail
src=${1:?usage: dkms_build_test.sh SRC_DIR [KERNEL_RELEASE]}
kernel=${2:-$("$src/scripts/guest-kernel")}
command -v dkms >/dev/null || { echo "dkms missing: run scripts/install-deps.sh" >&2; exit 1; }
version=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' "$src/kmod/dkms.conf")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/src" "$work/tree"
cp -r "$src/kmod" "$work/src/virtio-loopback-$version"
rm -rf "$work/src/virtio-loopback-$version/kbuild"

args=(--sourcetree "$work/src" --dkmstree "$work/tree" -k "$kernel")
dkms add "${args[@]}" "virtio-loopback/$version"
dkms build "${args[@]}" "virtio-loopback/$version" || {
	cat "$work/tree/virtio-loopback/$version/build/make.log" >&2 || true
	exit 1
}
ko=$(find "$work/tree/virtio-loopback/$version/$kernel" -name 'virtio_loopback.ko*' | head -1)
[ -n "$ko" ] || { echo "dkms built no virtio_loopback.ko" >&2; exit 1; }
vermagic=$(modinfo -F vermagic "$ko")
echo "built $ko: vermagic $vermagic"
case $vermagic in
"$kernel "*) ;;
*) echo "vermagic '$vermagic' is not for $kernel" >&2; exit 1 ;;
esac
dkms status "${args[@]}" "virtio-loopback/$version"
