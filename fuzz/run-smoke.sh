#!/usr/bin/env bash
# run-smoke.sh FUZZER SEED_CORPUS WORK_DIR SECONDS
# A short libFuzzer run for CI: starts from the seed corpus (read-only in
# the repo), writes new inputs to WORK_DIR, fails on any crash, leak or
# timeout. For long campaigns see fuzz/campaign.sh.
set -euo pipefail
fuzzer=$1 seeds=$2 work=$3 seconds=$4
mkdir -p "$work"
exec "$fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
	-print_final_stats=1 "$work" "$seeds"
