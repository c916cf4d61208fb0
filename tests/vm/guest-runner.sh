#!/bin/bash
# Runs inside the guest's chroot of the host root. Executes each case listed
# in cases.list with a timeout, and files its log, exit status and the slice
# of the kernel log written while it ran under cases/<name>/.
results=/run/vlb/results
# shellcheck source=/dev/null
. "$results/boot.conf"
export VLB_SRC VLB_BUILD VLB_KERNEL
# shellcheck disable=SC2163 # exports the variables these names hold
for v in ${!VLB_BENCH_@} ${!VLB_HOSTILE_@}; do export "$v"; done
export HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
cd /tmp || exit 1

# Catch hangs within a case's lifetime rather than the kernel default 120s.
sysctl -q kernel.hung_task_timeout_secs=30
sysctl -q kernel.hung_task_warnings=-1
dmesg --read-clear >"$results/boot.dmesg"

# A case listed again (a stress loop) files under NAME.2, NAME.3, ...: each
# run starts from an empty directory and keeps its own verdict.
declare -A runs
while read -r case_script; do
	name=$(basename "$case_script" .sh)
	runs[$name]=$((${runs[$name]:-0} + 1))
	[ "${runs[$name]}" -gt 1 ] && name=$name.${runs[$name]}
	out=$results/cases/$name
	mkdir -p "$out"
	echo "vlb-guest: case $name" >/dev/console
	VLB_CASE_OUT=$out timeout -k 10 "$VLB_CASE_TIMEOUT" \
		bash "$case_script" >"$out/log" 2>&1
	rc=$?
	# Give deferred work (workqueues, RCU callbacks) a moment to report.
	sleep 0.2
	dmesg --read-clear >"$out/dmesg"
	echo "$rc" >"$out/rc"
	echo "vlb-guest: case $name exited $rc" >/dev/console
done <"$results/cases.list"

dmesg --read-clear >"$results/teardown.dmesg"
date +%s >"$results/complete"
sync
