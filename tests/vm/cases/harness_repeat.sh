# shellcheck shell=bash source=tests/vm/lib.sh
# Harness self-test, listed twice in the CTest run: a case given again
# runs again in a directory of its own (harness_repeat.2), so nothing of
# the first run is left in it, and each run gets its own verdict.
. "$VLB_SRC/tests/vm/lib.sh"
for f in rc dmesg marker; do
	[ ! -e "$VLB_CASE_OUT/$f" ] || fail "$VLB_CASE_OUT/$f is left from an earlier run"
done
echo "ran" >"$VLB_CASE_OUT/marker"
echo ok
