#!/usr/bin/env bash
# Static quality gates; any finding fails. Runs every gate, then reports.
#   clang-tidy   user-space C++ (compile_commands.json of BUILD_DIR)
#   cppcheck     user-space C++
#   checkpatch   kernel C (the kernel's own scripts/checkpatch.pl --strict)
#   shell        the project's shell scripts, through shellcheck
#
# Usage: scripts/quality.sh [--changed] [BUILD_DIR]
#   --changed  clang-tidy only the C++ files changed against origin/main (or
#              HEAD~1 without a remote): the quick mode for local iteration
set -uo pipefail
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$src" || exit 2

changed=0
if [ "${1:-}" = --changed ]; then
	changed=1
	shift
fi
build=${1:-build/default}
[ -f "$build/compile_commands.json" ] || {
	echo "quality: no $build/compile_commands.json; configure first" >&2
	exit 2
}

failed=()
gate() { # gate NAME COMMAND...
	local name=$1
	shift
	echo "== quality: $name"
	if "$@"; then
		echo "   $name: clean"
	else
		echo "   $name: FINDINGS"
		failed+=("$name")
	fi
}

tidy() {
	local files=()
	if [ $changed = 1 ]; then
		local base
		base=$(git merge-base HEAD origin/main 2>/dev/null || git rev-parse HEAD~1 2>/dev/null)
		mapfile -t files < <(git diff --name-only --diff-filter=d "$base" -- '*.cpp' '*.h' ':!kmod')
		[ ${#files[@]} -gt 0 ] || { echo "   no changed C++ files"; return 0; }
	fi
	# Kernel C (kmod/, also built for user space) is checkpatch's domain.
	[ ${#files[@]} -gt 0 ] || files=('^(?!.*/kmod/).*')
	local out
	out=$(run-clang-tidy-14 -p "$build" -quiet -j "$(nproc)" "${files[@]}" 2>&1)
	local rc=$?
	echo "$out" | grep -E '(error|warning): ' | grep -v 'warnings generated' | sort -u
	return $rc
}

cppcheck_gate() {
	cppcheck --project="$build/compile_commands.json" --library=googletest \
		--enable=warning,style,performance,portability --std=c++20 \
		--inline-suppr --error-exitcode=1 -q -j "$(nproc)" \
		--suppress=missingIncludeSystem --suppress=unmatchedSuppression \
		-i "$build"
}

checkpatch() {
	local cp=/usr/src/linux-source-6.1-tools/scripts/checkpatch.pl
	[ -x "$cp" ] || { echo "   $cp missing: run scripts/install-deps.sh"; return 1; }
	local files
	mapfile -t files < <(find kmod tests/vm/selftest-module -name '*.[ch]' | sort)
	[ ${#files[@]} -gt 0 ] || { echo "   no kernel sources found"; return 1; }
	local out compat
	mapfile -t files < <(printf '%s\n' "${files[@]}" | grep -v '/vlb_compat.h$')
	out=$("$cp" --no-tree --strict --terse --show-types -f "${files[@]}")
	# vlb_compat.h is the one file allowed to test LINUX_VERSION_CODE.
	compat=$("$cp" --no-tree --strict --terse --show-types \
		--ignore LINUX_VERSION_CODE,CONSTANT_COMPARISON -f kmod/vlb_compat.h)
	out=$(printf '%s\n%s' "$out" "$compat" | sed '/^$/d')
	echo "$out"
	[ -z "$out" ]
}

shellcheck_gate() {
	local files
	mapfile -t files < <({
		find scripts tests fuzz bench -name '*.sh' ! -name guest-init.sh
		echo scripts/guest-kernel
		echo tests/vm/vlb-vm
		echo tests/vm/splat-check
		echo .ci/run
	} | sort -u)
	[ ${#files[@]} -gt 1 ] || { echo "   no scripts found"; return 1; }
	shellcheck -x "${files[@]}" && shellcheck -s sh tests/vm/guest-init.sh
}

gate clang-tidy tidy
gate cppcheck cppcheck_gate
gate checkpatch checkpatch
gate shellcheck shellcheck_gate

if [ ${#failed[@]} -gt 0 ]; then
	echo "quality: failed: ${failed[*]}"
	exit 1
fi
echo "quality: all gates clean"
