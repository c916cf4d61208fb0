#!/usr/bin/env bash
# vduse-modules.sh: builds VDUSE (vdpa.ko, vduse.ko, virtio_vdpa.ko) out of
# tree for the guest kernel, from Debian's linux-source-6.1. Debian does not
# enable CONFIG_VDPA, but these sources build against its headers; VDUSE is
# the in-kernel peer the adapter benchmark compares against.
#
# Usage: bench/vduse-modules.sh OUT_DIR
# Prints OUT_DIR once the three modules are there (kept between runs).
set -euo pipefail
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=${1:?usage: vduse-modules.sh OUT_DIR}
tarball=/usr/src/linux-source-6.1.tar.xz
kver=$("$src/scripts/guest-kernel")
kdir=/lib/modules/$kver/build
mods=(vdpa vduse virtio_vdpa)

built() {
	local m
	for m in "${mods[@]}"; do
		[ "$out/$m.ko" -nt "$tarball" ] || return 1
	done
}
if built; then
	echo "$out"
	exit 0
fi
[ -f "$tarball" ] || { echo "vduse-modules: $tarball missing: run scripts/install-deps.sh" >&2; exit 2; }
[ -d "$kdir" ] || { echo "vduse-modules: $kdir missing: run scripts/install-deps.sh" >&2; exit 2; }
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
tar -xJf "$tarball" -C "$tmp" --wildcards \
	'linux-source-6.1/drivers/vdpa/vdpa.c' \
	'linux-source-6.1/drivers/vdpa/vdpa_user/*.[ch]' \
	'linux-source-6.1/drivers/virtio/virtio_vdpa.c'
tree=$tmp/linux-source-6.1/drivers
cp "$tree/vdpa/vdpa.c" "$tree"/vdpa/vdpa_user/*.[ch] "$tree/virtio/virtio_vdpa.c" "$tmp/"
printf 'obj-m += vdpa.o vduse.o virtio_vdpa.o\nvduse-y := vduse_dev.o iova_domain.o\n' >"$tmp/Kbuild"
make -s -C "$kdir" M="$tmp" modules >&2
for m in "${mods[@]}"; do
	cp "$tmp/$m.ko" "$out/"
done
echo "$out"
