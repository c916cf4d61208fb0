#!/usr/bin/env bash
# The main job: install what is needed, build everything, boot the Debian
# kernel under QEMU and run the stack there (scripts/guest/demo.sh),
# printing what happens.
#
# Usage: scripts/demo.sh [--skip-deps] [-v]
#   -v  also stream the guest's serial console
set -euo pipefail
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$src"

deps=1 vm_args=()
for a in "$@"; do
	case $a in
	--skip-deps) deps=0 ;;
	-v) vm_args+=(-v) ;;
	-h|--help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "demo.sh: unknown option $a" >&2; exit 2 ;;
	esac
done

say() { echo; echo "=== $*"; }
if [ $deps = 1 ]; then
	say "installing dependencies"
	scripts/install-deps.sh
fi
say "building (default preset)"
cmake --preset default >/dev/null
cmake --build --preset default
out=$src/build/default/demo-results
run=$src/build/default/demo-run
rm -rf "$run"
mkdir -p "$run"
pids=()
# shellcheck disable=SC2317 # runs from the EXIT trap
stop_backends() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap stop_backends EXIT
say "starting vhost-user back-ends on the host: vlb-dev-blk, vlb-dev-rng"
truncate -s 128M "$run/disk.img"
build/default/devices/vlb-dev-blk --socket-path "$run/blk.sock" --backing "$run/disk.img" \
	--queues 2 --serial demo-vu-blk 2>"$run/blk.log" &
pids+=($!)
build/default/devices/vlb-dev-rng --socket-path "$run/rng.sock" 2>"$run/rng.log" &
pids+=($!)
for _ in $(seq 50); do [ -S "$run/blk.sock" ] && [ -S "$run/rng.sock" ] && break; sleep 0.1; done
say "booting the Debian kernel $(scripts/guest-kernel) under QEMU"
rc=0
tests/vm/vlb-vm --systemd "${vm_args[@]}" --out "$out" --build "$src/build/default" \
	--vhost-user "blk=$run/blk.sock" --vhost-user "rng=$run/rng.sock" \
	scripts/guest/demo.sh || rc=$?
stop_backends
pids=()
say "vhost-user back-end logs"
sed 's/^/  /' "$run/blk.log" "$run/rng.log"
say "what the guest printed"
cat "$out/cases/demo/log"
if [ $rc = 0 ]; then
	say "demo passed"
else
	say "demo FAILED (exit $rc); console: $out/console.log"
fi
exit $rc
