#!/usr/bin/env bash
# Install every Debian package the project needs to build, test, fuzz and
# run its guest tests. Idempotent: packages already present are skipped, and
# `apt-get update` runs only when something is missing.
set -euo pipefail

packages=(
	# build
	build-essential cmake ninja-build pkg-config git
	clang clang-tidy cppcheck libclang-rt-14-dev llvm
	# user-space libraries
	libseccomp-dev libcap-ng-dev libssl-dev libsystemd-dev
	libtomlplusplus-dev liburing-dev libevdev-dev
	googletest libgtest-dev libgmock-dev
	# kernel module and the real-kernel harness
	linux-image-amd64 linux-headers-amd64 linux-source-6.1 kmod dkms
	qemu-system-x86 qemu-system-common qemu-utils busybox-static cpio xz-utils
	# guest tools (run from the host root shared into the guest)
	fio e2fsprogs util-linux iproute2 strace socat
)

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: must run as root (apt-get)" >&2
	exit 1
fi

missing=()
for p in "${packages[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed'; then
		missing+=("$p")
	fi
done

if [ ${#missing[@]} -eq 0 ]; then
	echo "install-deps: all ${#packages[@]} packages present"
else
	echo "install-deps: installing ${#missing[@]} packages: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# checkpatch.pl ships only inside the kernel source tarball; unpack just the
# scripts it needs, once.
src_tar=$(ls /usr/src/linux-source-6.1.tar.xz 2>/dev/null || true)
tools_dir=/usr/src/linux-source-6.1-tools
if [ -n "$src_tar" ] && [ ! -x "$tools_dir/scripts/checkpatch.pl" ]; then
	echo "install-deps: extracting checkpatch.pl from $src_tar"
	mkdir -p "$tools_dir"
	tar -xJf "$src_tar" -C "$tools_dir" --strip-components=1 \
		linux-source-6.1/scripts/checkpatch.pl \
		linux-source-6.1/scripts/spelling.txt \
		linux-source-6.1/scripts/const_structs.checkpatch
fi
