#!/usr/bin/env bash
# run-smoke.sh FUZZER SEED_CORPUS WORK_DIR SECONDS TIMEOUT TARGET
# A short libFuzzer run for CI: starts from the seed corpus (read-only in
# the repo), writes new inputs to WORK_DIR, fails on any crash, leak or
# input that runs longer than TIMEOUT seconds.
#
# The run starts from a random seed, so it can find a bug that earlier
# runs missed. A red smoke is a real bug, never a flake to rerun away:
# the input that found it is kept in WORK_DIR/findings; it goes into
# fuzz/regressions/TARGET/ with the fix (see fuzz/README.md). For long
# campaigns see fuzz/campaign.sh.
set -euo pipefail
fuzzer=$1 seeds=$2 work=$3 seconds=$4 timeout=$5 target=$6
mkdir -p "$work/corpus" "$work/findings"
rc=0
"$fuzzer" -max_total_time="$seconds" -timeout="$timeout" -rss_limit_mb=2048 \
	-print_final_stats=1 -artifact_prefix="$work/findings/" \
	"$work/corpus" "$seeds" || rc=$?
if [ $rc != 0 ]; then
	src=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
	echo
	echo "run-smoke: fuzz_$target found a bug (exit $rc). This is not a flake: do not rerun it away."
	for f in "$work"/findings/*; do
		[ -f "$f" ] || continue
		echo "  input:     $f"
		echo "  reproduce: $fuzzer -timeout=$timeout $f"
		echo "  keep it:   cp $f $src/regressions/$target/   (commit it with the fix)"
	done
fi
exit $rc
