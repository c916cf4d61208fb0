#!/usr/bin/env bash
# Every sample under splat/ must be flagged (exit 1), every sample under
# clean/ must pass (exit 0), and --console must ignore splat words printed
# by user space on the serial console.
set -u
check=$1 logs=$2
failed=0
for f in "$logs"/splat/*.log; do
	"$check" "$f" >/dev/null
	rc=$?
	if [ $rc != 1 ]; then
		echo "FAIL: $(basename "$f"): exit $rc, want 1 (splat missed)"
		failed=1
	fi
done
for f in "$logs"/clean/*.log; do
	if ! out=$("$check" "$f"); then
		echo "FAIL: $(basename "$f") flagged as a splat:"
		echo "$out"
		failed=1
	fi
done
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
printf '%s\n' 'test output: WARNING: this is a user-space message' \
	'[    1.000000] virtio_loopback: loaded, ABI 0.1' >"$tmp"
if ! "$check" --console "$tmp" >/dev/null; then
	echo "FAIL: --console flagged a user-space line"
	failed=1
fi
printf '%s\n' '[    2.000000] WARNING: CPU: 0 PID: 1 at x.c:1 f+0x0/0x1' >>"$tmp"
if "$check" --console "$tmp" >/dev/null; then
	echo "FAIL: --console missed a kernel WARNING"
	failed=1
fi
"$check" /nonexistent 2>/dev/null
[ $? = 2 ] || { echo "FAIL: a missing file must exit 2"; failed=1; }
n_splat=$(find "$logs/splat" -name '*.log' | wc -l)
n_clean=$(find "$logs/clean" -name '*.log' | wc -l)
[ "$failed" = 0 ] && echo "ok: $n_splat splat samples flagged, $n_clean clean samples passed"
exit $failed
