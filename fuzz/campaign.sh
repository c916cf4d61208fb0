#!/usr/bin/env bash
# campaign.sh [-j JOBS] [-t SECONDS] [TARGET...]
# A long fuzzing campaign: builds the fuzz preset, runs each target (all by
# default) for SECONDS with JOBS workers on a working corpus under
# build/fuzz/campaign/<target>, and merges new coverage-increasing inputs
# back into fuzz/corpus/<target> (minimised) for you to review and commit.
# Every finding (crash, leak, timeout) is copied into
# fuzz/regressions/<target>/ the moment the run ends, so the suite replays
# it from then on: commit it with the fix (fuzz/README.md).
set -euo pipefail
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
jobs=$(nproc) seconds=3600
while getopts "j:t:h" o; do
	case $o in
	j) jobs=$OPTARG ;;
	t) seconds=$OPTARG ;;
	*) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
cd "$src"
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
	mapfile -t targets < <(find fuzz/corpus -mindepth 1 -maxdepth 1 -type d -printf '%f\n' | sort)
fi
for t in "${targets[@]}"; do
	bin=build/fuzz/fuzz/fuzz_$t
	[ -x "$bin" ] || { echo "campaign: no fuzzer $bin" >&2; exit 2; }
	work=build/fuzz/campaign/$t
	mkdir -p "$work/corpus" "$work/crashes"
	echo "=== $t: ${seconds}s, $jobs jobs"
	"$bin" -max_total_time="$seconds" -jobs="$jobs" -workers="$jobs" \
		-artifact_prefix="$work/crashes/" "$work/corpus" "fuzz/corpus/$t" || true
	"$bin" -merge=1 "fuzz/corpus/$t" "$work/corpus" >/dev/null 2>&1
	found=0
	for f in "$work"/crashes/*; do
		[ -f "$f" ] || continue
		mkdir -p "fuzz/regressions/$t"
		cp -n "$f" "fuzz/regressions/$t/"
		echo "=== $t: finding $(basename "$f") kept in fuzz/regressions/$t/"
		found=$((found + 1))
	done
	echo "=== $t: $found finding(s)"
done
