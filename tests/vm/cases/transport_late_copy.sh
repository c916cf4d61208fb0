# shellcheck shell=bash source=tests/vm/lib.sh
# A hostile device copies into a request's buffers with VLB_IOVA_COPY
# while it completes the request (vlb-test-device --hostile late-copy: a
# second thread keeps copying alternating garbage into every read of
# 64 KiB and more, from just before the completion until the kernel refuses
# it). The kernel waits for a copy that took the pages before it revokes
# them and refuses every later one, so a read's buffer, granted zero-copy,
# never changes once the read returned (vlb-stable-read checks it for a
# few milliseconds after each of its reads).
. "$VLB_SRC/tests/vm/lib.sh"
vlb_load grace_period_ms=1000
vlb_load_drivers

step "reads completed while a second thread copies into them"
log=$VLB_CASE_OUT/late.log
vlb_start_device "$log" --type blk --name late --hostile late-copy
wait_for 30 first_vd >/dev/null || fail "no disk"
dev=$(first_vd)
"$VLB_BUILD/tests/vm/vlb-stable-read" "$dev" 300 || fail "a read's buffer changed after the read returned"
vlb_stop_device "$log"
line=$(grep '^late-copy ' "$log") || fail "the device printed no late-copy counts"
echo "$line"
requests=$(sed -n 's/.*requests=\([0-9]*\).*/\1/p' <<<"$line")
copies=$(sed -n 's/.* copies=\([0-9]*\).*/\1/p' <<<"$line")
refused=$(sed -n 's/.*refused=\([0-9]*\).*/\1/p' <<<"$line")
[ "$requests" -ge 300 ] || fail "only $requests reads were copied into"
# Each request ends in a refusal; copies let through (calls, one buffer
# each, counted by the copier and by the kernel) show the race ran.
[ "$refused" -eq "$requests" ] || fail "$refused refusals for $requests requests"
[ "$copies" -ge 1 ] || fail "no copy ever got in before a completion: the race never ran"
[ "$(vlb_stat "$log" copies)" = "$copies" ] || fail "the kernel counted $(vlb_stat "$log" copies) copies, the copier $copies"
[ "$(vlb_stat "$log" broken)" = 0 ] || fail "the device was broken"

wait_for 20 sh -c '! ls -d /sys/block/vd* 2>/dev/null' || fail "disk not removed"
vlb_unload
echo ok
