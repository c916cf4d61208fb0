# shellcheck shell=bash source=tests/vm/lib.sh
# The whole chain in the guest: stock driver -> virtio_loopback.ko ->
# vlb-adapter (control plane only) -> this project's vhost-user back-ends,
# which reach the driver's buffers only through the IOVA grants. blk:
# fio --verify=crc32c on two queues, then ext4 made, written, remounted and
# checked; rng: /dev/hwrng; input: key events on /dev/input/eventN;
# console: bytes both ways through /dev/hvcN; the blk adapter logs the
# kernel's counters on SIGUSR1 and at exit; qemu-storage-daemon's vhost-user-blk export,
# a third-party back-end, unchanged: fio verify. Stopping the adapters
# detaches the devices and the grace period removes them cleanly.
. "$VLB_SRC/tests/vm/lib.sh"
vlb_load grace_period_ms=500
vlb_load_drivers
modprobe ext4
adapter=$VLB_BUILD/adapter/vlb-adapter
run=/tmp/adapter
fresh_dir "$run"

step "vlb-dev-blk behind vlb-adapter"
truncate -s 64M "$run/disk.img"
"$VLB_BUILD/devices/vlb-dev-blk" --socket-path "$run/blk.sock" --backing "$run/disk.img" \
	--queues 2 --serial adapter-blk --read-threads 2 --kernel-copy-min 4096 2>"$VLB_CASE_OUT/blk.log" &
blk_pid=$!
wait_for 10 test -S "$run/blk.sock" || fail "vlb-dev-blk did not listen"
"$adapter" --type blk --name ad-blk --backend-socket "$run/blk.sock" \
	2>"$VLB_CASE_OUT/adapter-blk.log" &
ad_blk_pid=$!
wait_for 60 disk_with_serial adapter-blk >/dev/null || { cat "$VLB_CASE_OUT/adapter-blk.log"; fail "no disk"; }
dev=$(disk_with_serial adapter-blk)
echo "$dev: $(cat "/sys/block/${dev#/dev/}/size") sectors," \
	"$(find "/sys/block/${dev#/dev/}/mq" -mindepth 1 -maxdepth 1 | wc -l) queue(s)"
fio --name=verify --filename="$dev" --direct=1 --ioengine=libaio --iodepth=8 --numjobs=2 \
	--rw=randwrite --bsrange=4k-256k --size=16M --offset_increment=24M --verify=crc32c \
	--verify_fatal=1 --group_reporting --output="$VLB_CASE_OUT/fio.txt" ||
	{ cat "$VLB_CASE_OUT/fio.txt"; fail "fio verify"; }
grep -E 'err=' "$VLB_CASE_OUT/fio.txt"
mkfs.ext4 -q -F "$dev"
mkdir -p "$run/mnt"
mount "$dev" "$run/mnt"
head -c $((4 << 20)) /dev/urandom >"$run/mnt/payload"
want=$(sha256sum <"$run/mnt/payload")
umount "$run/mnt"
echo 3 >/proc/sys/vm/drop_caches
mount "$dev" "$run/mnt"
[ "$(sha256sum <"$run/mnt/payload")" = "$want" ] || fail "file changed across remount"
umount "$run/mnt"
fsck.ext4 -n "$dev" >/dev/null || fail "fsck found errors"
echo "ext4: written, remounted, verified, fsck clean"
kill -USR1 "$ad_blk_pid"
wait_for 10 grep -q 'kernel counters: grants [1-9]' "$VLB_CASE_OUT/adapter-blk.log" ||
	fail "SIGUSR1: no counters with grants logged"
grep 'kernel counters:' "$VLB_CASE_OUT/adapter-blk.log" |
	grep -q 'faults refused 0, .*used entries rejected 0, broken 0' ||
	fail "the kernel refused something of a well-behaved back-end"
# Every fio transfer is a kernel copy here: from 64 KiB on the read
# threads', below on the event loop's thread.
grep 'kernel counters:' "$VLB_CASE_OUT/adapter-blk.log" | grep -q 'kernel copies [1-9]' ||
	fail "vlb-dev-blk made no kernel copy (VLB_IOVA_COPY)"
# The library signals completions with VLB_IOVA_CALL behind the transport:
# the kernel processes them in the device's thread.
grep 'kernel counters:' "$VLB_CASE_OUT/adapter-blk.log" | grep -qE ', [1-9][0-9]* in the device\)' ||
	fail "no blk completion ran in the device's thread (VLB_IOVA_CALL)"

step "vlb-dev-rng behind vlb-adapter"
# By eventfd (--call-by-eventfd): the kernel's choice of where the work
# item runs is checked at the end.
"$VLB_BUILD/devices/vlb-dev-rng" --socket-path "$run/rng.sock" --call-by-eventfd 2>"$VLB_CASE_OUT/rng.log" &
rng_pid=$!
wait_for 10 test -S "$run/rng.sock" || fail "vlb-dev-rng did not listen"
"$adapter" --type rng --name ad-rng --backend-socket "$run/rng.sock" \
	2>"$VLB_CASE_OUT/adapter-rng.log" &
ad_rng_pid=$!
wait_for 60 grep -q virtio_rng /sys/class/misc/hw_random/rng_available ||
	{ cat "$VLB_CASE_OUT/adapter-rng.log"; fail "no virtio_rng"; }
grep -o 'virtio_rng[.0-9]*' /sys/class/misc/hw_random/rng_available | head -1 \
	>/sys/class/misc/hw_random/rng_current
a=$(dd if=/dev/hwrng bs=4096 count=2 2>/dev/null | sha256sum)
b=$(dd if=/dev/hwrng bs=4096 count=2 2>/dev/null | sha256sum)
[ "$a" != "$b" ] || fail "hwrng repeats itself"
echo "hwrng: 2 x 8 KiB, distinct"

step "vlb-dev-input behind vlb-adapter"
printf '%s\n' "EV_KEY KEY_A 1" "EV_SYN SYN_REPORT 0" "EV_KEY KEY_A 0" "EV_SYN SYN_REPORT 0" \
	"sleep 300" >"$run/keys.script"
"$VLB_BUILD/devices/vlb-dev-input" --socket-path "$run/input.sock" --script "$run/keys.script" \
	--loop --name adapter-kbd 2>"$VLB_CASE_OUT/input.log" &
input_pid=$!
wait_for 10 test -S "$run/input.sock" || fail "vlb-dev-input did not listen"
"$adapter" --type input --name ad-input --backend-socket "$run/input.sock" \
	2>"$VLB_CASE_OUT/adapter-input.log" &
ad_input_pid=$!
wait_for 60 input_node adapter-kbd >/dev/null || { cat "$VLB_CASE_OUT/adapter-input.log"; fail "no input device"; }
ev=$(input_node adapter-kbd)
expect_key_event "$ev" 30 || fail "no KEY_A event on $ev"
echo "$ev: KEY_A press/release events seen"

step "an input device that declares and presses Alt+SysRq+H: the host's SysRq handler never sees it"
# The kernel's magic SysRq handler takes every keyboard (reboot, sync and
# remount are SysRq keys on Debian). The transport takes KEY_SYSRQ out of
# what an input device declares, and the input core drops undeclared keys.
printf '%s\n' "EV_KEY KEY_LEFTALT 1" "EV_SYN SYN_REPORT 0" "EV_KEY KEY_SYSRQ 1" "EV_SYN SYN_REPORT 0" \
	"EV_KEY KEY_H 1" "EV_SYN SYN_REPORT 0" "EV_KEY KEY_H 0" "EV_SYN SYN_REPORT 0" \
	"EV_KEY KEY_SYSRQ 0" "EV_SYN SYN_REPORT 0" "EV_KEY KEY_LEFTALT 0" "EV_SYN SYN_REPORT 0" \
	"sleep 300" >"$run/sysrq.script"
"$VLB_BUILD/devices/vlb-dev-input" --socket-path "$run/sysrq.sock" --script "$run/sysrq.script" \
	--loop --name magic-kbd 2>"$VLB_CASE_OUT/input-sysrq.log" &
sysrq_pid=$!
wait_for 10 test -S "$run/sysrq.sock" || fail "vlb-dev-input did not listen"
dmesg_lines=$(dmesg | wc -l)
"$adapter" --type input --name ad-magic-key --backend-socket "$run/sysrq.sock" \
	2>"$VLB_CASE_OUT/adapter-sysrq.log" &
ad_sysrq_pid=$!
wait_for 60 input_node magic-kbd >/dev/null || { cat "$VLB_CASE_OUT/adapter-sysrq.log"; fail "no input device"; }
ev=$(input_node magic-kbd)
keys=$(cat "/sys/class/input/${ev##*/}/device/capabilities/key")
echo "$ev declares keys: $keys"
# The bitmap is printed as words of the machine's long, highest first.
key_declared() { # CODE
	local words w i
	read -ra words <<<"$keys"
	i=$((${#words[@]} - 1 - $1 / 64))
	[ "$i" -ge 0 ] || return 1
	w=$((16#${words[$i]}))
	(((w >> ($1 % 64)) & 1))
}
key_declared 56 || fail "KEY_LEFTALT is not declared: the script was not taken"
key_declared 99 && fail "KEY_SYSRQ is declared: the host's SysRq handler would act on it"
expect_key_event "$ev" 35 || fail "no KEY_H event on $ev"
if dmesg | tail -n +"$((dmesg_lines + 1))" | grep -E '(^|] )sysrq: '; then
	fail "the SysRq handler acted on the device's keys"
fi
kill "$ad_sysrq_pid" "$sysrq_pid" 2>/dev/null || true
wait "$ad_sysrq_pid" "$sysrq_pid" 2>/dev/null || true
echo "KEY_SYSRQ not declared, KEY_H pressed, no SysRq action in the kernel log"

step "vlb-dev-console behind vlb-adapter"
"$VLB_BUILD/devices/vlb-dev-console" --socket-path "$run/console.sock" --port-socket "$run/port.sock" \
	2>"$VLB_CASE_OUT/console.log" &
console_pid=$!
wait_for 10 test -S "$run/console.sock" || fail "vlb-dev-console did not listen"
"$adapter" --type console --name ad-console --backend-socket "$run/console.sock" \
	2>"$VLB_CASE_OUT/adapter-console.log" &
ad_console_pid=$!
wait_for 60 hvc_node >/dev/null || { cat "$VLB_CASE_OUT/adapter-console.log"; fail "no hvc port"; }
console_both_ways "$run/port.sock" "$VLB_CASE_OUT/console.log"

step "qemu-storage-daemon's vhost-user-blk export behind vlb-adapter, unchanged"
truncate -s 64M "$run/qsd.img"
qemu-storage-daemon --blockdev "driver=file,node-name=file0,filename=$run/qsd.img,cache.direct=off" \
	--blockdev driver=raw,node-name=disk0,file=file0 \
	--export "type=vhost-user-blk,id=exp0,node-name=disk0,addr.type=unix,addr.path=$run/qsd.sock,writable=on,num-queues=1" \
	2>"$VLB_CASE_OUT/qsd.log" &
qsd_pid=$!
wait_for 20 test -S "$run/qsd.sock" || { cat "$VLB_CASE_OUT/qsd.log"; fail "qemu-storage-daemon did not listen"; }
"$adapter" --type blk --name ad-qsd --backend-socket "$run/qsd.sock" \
	2>"$VLB_CASE_OUT/adapter-qsd.log" &
ad_qsd_pid=$!
qsd_dev=""
for _ in $(seq 600); do
	for d in /sys/block/vd*; do
		[ -b "/dev/${d##*/}" ] && [ "/dev/${d##*/}" != "$dev" ] && qsd_dev=/dev/${d##*/}
	done
	[ -n "$qsd_dev" ] && break
	sleep 0.1
done
[ -n "$qsd_dev" ] || { cat "$VLB_CASE_OUT/adapter-qsd.log"; fail "no disk for qemu-storage-daemon"; }
echo "qemu-storage-daemon export is $qsd_dev"
fio --name=qsd --filename="$qsd_dev" --direct=1 --ioengine=libaio --iodepth=8 \
	--rw=randwrite --bsrange=4k-128k --size=16M --verify=crc32c --verify_fatal=1 \
	--output="$VLB_CASE_OUT/fio-qsd.txt" || { cat "$VLB_CASE_OUT/fio-qsd.txt"; fail "fio verify on qemu-storage-daemon"; }
grep -E 'err=' "$VLB_CASE_OUT/fio-qsd.txt"
kill -TERM "$ad_qsd_pid"
wait "$ad_qsd_pid" || fail "vlb-adapter (qsd) exited $?"

step "adapters stop, devices go away after the grace period"
kill -TERM "$ad_blk_pid" "$ad_rng_pid" "$ad_input_pid" "$ad_console_pid"
wait "$ad_blk_pid" || fail "vlb-adapter (blk) exited $?"
wait "$ad_rng_pid" || fail "vlb-adapter (rng) exited $?"
wait "$ad_input_pid" || fail "vlb-adapter (input) exited $?"
wait "$ad_console_pid" || fail "vlb-adapter (console) exited $?"
wait_for 30 sh -c '! ls -d /sys/block/vd* 2>/dev/null' || fail "disk not removed"
grep -q 'kernel counters at exit: grants [1-9]' "$VLB_CASE_OUT/adapter-blk.log" ||
	fail "no counters logged at exit"
# Where completions ran. rng signals by eventfd: virtio_rng sleeps while it
# waits, as virtio_blk does, so the work may run on the signalling CPU
# (kmod vlb_driver_waits_by_sleeping). input and console use VLB_IOVA_CALL,
# so theirs ran in the device's thread.
calls_at_exit() {
	grep -o 'kernel counters at exit: .*' "$VLB_CASE_OUT/adapter-$1.log" |
		grep -oE 'calls [0-9]+ \([0-9]+ on the signalling CPU, [0-9]+ in the device\)'
}
echo "rng: $(calls_at_exit rng); input: $(calls_at_exit input); console: $(calls_at_exit console)"
calls_at_exit rng | grep -qE '\([1-9][0-9]* on the signalling CPU, 0 in the' ||
	fail "no rng completion ran on the signalling CPU, or one ran in the device"
calls_at_exit input | grep -qE '^calls [1-9][0-9]* \(0 on the signalling CPU, [1-9][0-9]* in the' ||
	fail "no input completion ran in the device's thread, or one on the signalling CPU"
calls_at_exit console | grep -qE '^calls [1-9][0-9]* \(0 on the signalling CPU, [1-9][0-9]* in the' ||
	fail "no console completion ran in the device's thread, or one on the signalling CPU"
kill -TERM "$blk_pid" "$rng_pid" "$qsd_pid" "$input_pid" "$console_pid"
wait "$blk_pid" "$rng_pid" "$qsd_pid" "$input_pid" "$console_pid" || true
sed 's/^/  /' "$VLB_CASE_OUT/adapter-blk.log"
vlb_unload
echo ok
