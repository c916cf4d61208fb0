#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run calls exactly this).
#
#   1. install the Debian packages the project needs (scripts/install-deps.sh)
#   2. build the default preset (gcc, warnings are errors) with the module
#   3. static gates: clang-tidy, cppcheck, checkpatch, shellcheck
#   4. CTest, default preset: unit, host, fuzz corpus replay, and the VM
#      tests that boot the Debian kernel under QEMU
#   5. ASan+UBSan build (clang): unit, host, fuzz corpus replay
#   6. libFuzzer build (clang): a short fuzzing run per target
#
# Usage: scripts/test.sh [--quick] [--no-vm] [--skip-deps]
#   --quick     clang-tidy only changed files, skip the ASan and fuzz builds
#   --no-vm     skip the tests that boot a guest
#   --skip-deps do not check packages (they are already installed)
set -euo pipefail
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$src"

quick=0 vm=1 deps=1
for a in "$@"; do
	case $a in
	--quick) quick=1 ;;
	--no-vm) vm=0 ;;
	--skip-deps) deps=0 ;;
	-h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "test.sh: unknown option $a" >&2; exit 2 ;;
	esac
done

t0=$(date +%s)
phase() { echo; echo "=== [$(($(date +%s) - t0))s] $*"; }
total_pass=0 total_fail=0
failures=()

# run_ctest PRESET [ctest args...]: runs CTest, adds its counts to the totals.
run_ctest() {
	local preset=$1
	shift
	local log rc=0
	log=$(mktemp)
	ctest --preset "$preset" "$@" 2>&1 | tee "$log" || rc=$?
	local line
	line=$(grep -E '^[0-9]+% tests passed, [0-9]+ tests failed out of [0-9]+' "$log" | tail -n 1)
	rm -f "$log"
	if [ -z "$line" ]; then
		echo "test.sh: ctest ($preset) printed no summary (exit $rc)"
		failures+=("ctest-$preset")
		total_fail=$((total_fail + 1))
		return
	fi
	local nfail ntotal
	nfail=$(echo "$line" | sed -E 's/.* ([0-9]+) tests failed out of ([0-9]+)/\1/')
	ntotal=$(echo "$line" | sed -E 's/.* out of ([0-9]+)/\1/')
	total_pass=$((total_pass + ntotal - nfail))
	total_fail=$((total_fail + nfail))
	[ "$nfail" = 0 ] && [ $rc = 0 ] || failures+=("ctest-$preset")
}

build_preset() {
	cmake --preset "$1" >/dev/null
	cmake --build --preset "$1"
}

if [ $deps = 1 ]; then
	phase "dependencies"
	scripts/install-deps.sh
fi

phase "build (default preset)"
build_preset default

phase "quality gates"
quality_args=()
[ $quick = 1 ] && quality_args+=(--changed)
if ! scripts/quality.sh "${quality_args[@]}" build/default; then
	failures+=(quality)
	total_fail=$((total_fail + 1))
else
	total_pass=$((total_pass + 1))
fi

phase "tests (default preset)"
if [ $vm = 1 ]; then
	run_ctest default
else
	run_ctest default -LE vm
fi

if [ $quick = 0 ]; then
	phase "build and tests (ASan + UBSan)"
	build_preset asan
	run_ctest asan

	phase "build and fuzz smoke (libFuzzer)"
	build_preset fuzz
	run_ctest fuzz
fi

phase "done in $(($(date +%s) - t0))s"
[ ${#failures[@]} -gt 0 ] && echo "failed: ${failures[*]}"
echo "total: $total_pass passed, $total_fail failed"
[ $total_fail = 0 ] && [ ${#failures[@]} = 0 ]
