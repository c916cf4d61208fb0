#!/usr/bin/env bash
# `cmake --install` lays out what the unit file, the supervisor's defaults
# and the example policies name: a package built from this tree works as
# installed. Usage: install_tree_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1 src=$2
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
DESTDIR=$root cmake --install "$build" --prefix /usr >/dev/null
missing=0
need() {
	if [ ! -e "$root$1" ]; then
		echo "install_tree: $1 not installed ($2)"
		missing=1
	fi
}
unit=$src/packaging/systemd/virtio-loopback.service
exec_start=$(sed -n 's/^ExecStart=\([^ ]*\).*/\1/p' "$unit")
need "$exec_start" "the unit's ExecStart"
need /usr/lib/systemd/system/virtio-loopback.service "the unit"
for f in tmpfiles.d sysusers.d modules-load.d; do
	need "/usr/lib/$f/virtio-loopback.conf" "packaging snippet"
done
need /usr/bin/vlbctl "the control tool"
libexec=$("$build/supervisor/vlb-supervisord" --help | sed -n 's/^ *default \(\/[^ ]*libexec[^ ]*\)$/\1/p')
[ -n "$libexec" ] || { echo "install_tree: no libexec default in vlb-supervisord --help"; exit 1; }
for p in vlb-adapter vlb-dev-blk vlb-dev-rng vlb-dev-input vlb-dev-console; do
	need "$libexec/$p" "bare program name the supervisor resolves"
done
# Every absolute path an example policy reads from the package (not the
# ones the administrator provides: images, runtime sockets).
for f in $(grep -ho '"/usr/[^"]*"' "$src"/policy/examples/*.toml | tr -d '"' | sort -u); do
	need "$f" "named by an example policy"
done
need /usr/share/doc/virtio-loopback/policy.md "the unit's Documentation="
for f in "$src"/policy/examples/*.toml; do
	need "/usr/share/doc/virtio-loopback/examples/${f##*/}" "example policy"
done
[ $missing = 0 ] || exit 1
echo "ok: $(find "$root" -type f | wc -l) files installed"
