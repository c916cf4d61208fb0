# shellcheck shell=bash
# check NAME RESULT [FILE]: one named check of a shell test. RESULT 0 prints
# "ok", anything else "FAIL" with the last 40 lines of FILE and counts the
# failure; check_summary ends the test with the count.
failures=0
check() {
	if [ "$2" = 0 ]; then
		echo "ok   $1"
	else
		echo "FAIL $1"
		[ $# -ge 3 ] && sed 's/^/     /' "$3" | tail -40
		failures=$((failures + 1))
	fi
}
check_summary() {
	[ "$failures" = 0 ] || { echo "$failures check(s) failed"; exit 1; }
	echo "all checks passed"
}
