# shellcheck shell=bash source=tests/vm/lib.sh
# What scripts/demo.sh runs inside the guest, booted with systemd as PID 1
# (vlb-vm --systemd). First the product as users run it: the package
# installed, the shipped unit started with `systemctl start
# virtio-loopback`, the shipped example policies (disk0, rng0, input0,
# console0), every back-end and adapter in its sandbox, the stock virtio
# drivers using the devices: ext4 and fio on the disk (with the disk's
# back-end killed under load and restarted), /dev/hwrng, key events on
# /dev/input/eventN, bytes both ways on /dev/hvcN; `systemctl stop`. Then
# this project's vhost-user back-ends, running on the host, behind QEMU's
# own front-ends.
. "$VLB_SRC/tests/vm/lib.sh"
unit=virtio-loopback.service

step "guest kernel $(uname -r), $(nproc) vCPU, PID 1 $(cat /proc/1/comm)"
[ "$(cat /proc/1/comm)" = systemd ] || fail "PID 1 is not systemd (vlb-vm --systemd)"
step "loading virtio_loopback.ko"
vlb_load grace_period_ms=2000
vlb_load_drivers
modprobe ext4
ls -l "$VLB_NODE"
"$VLBCTL" version

step "the package, installed as users install it, and the example policies"
vlb_install_package
"$VLBCTL" policy check /etc/virtio-loopback/policies/*.toml

step "systemctl start $unit: one sandboxed adapter/back-end pair per policy"
log=$VLB_CASE_OUT/journal.log
journalctl -f -n 0 -o cat -u "$unit" >"$log" 2>&1 &
follower=$!
# On a failure the unit must go first, or its devices keep the module in.
trap 'kill "$follower" 2>/dev/null || true; [ $? = 0 ] || systemctl stop "$unit"; vlb_cleanup' EXIT
timeout 120 systemctl start "$unit" || { systemctl status "$unit" --no-pager || true; fail "start failed"; }
wait_for 90 disk_with_serial disk0 >/dev/null || { cat "$log"; fail "no disk"; }
wait_for 30 input_node vlb-keyboard >/dev/null || { cat "$log"; fail "no keyboard"; }
wait_for 30 hvc_node >/dev/null || { cat "$log"; fail "no console port"; }
wait_for 30 sh -c 'ls -d /sys/devices/vlb-rng0/virtio*/driver' >/dev/null ||
	{ cat "$log"; fail "virtio_rng did not bind rng0"; }
systemctl status "$unit" --no-pager --lines 0 | sed 's/^/  /'
"$VLBCTL" status
echo "what the disk's back-end was given (journalctl -u $unit VLB_DEVICE=disk0 VLB_EVENT='back-end started'):"
journalctl -u "$unit" -o cat VLB_DEVICE=disk0 "VLB_EVENT=back-end started" | tail -1 | tr ';' '\n' |
	sed 's/^ */  /'

step "disk0: virtio_blk -> virtio_loopback.ko -> vlb-adapter -> vlb-dev-blk"
dev=$(disk_with_serial disk0)
echo "stock virtio_blk bound it as $dev: $(cat "/sys/block/${dev#/dev/}/size") sectors"
mkfs.ext4 -q -F "$dev"
mnt=/tmp/demo-mnt
mkdir -p "$mnt"
mount "$dev" "$mnt"
head -c $((4 << 20)) /dev/urandom >"$mnt/payload"
want=$(sha256sum <"$mnt/payload")
umount "$mnt"
echo 3 >/proc/sys/vm/drop_caches
mount "$dev" "$mnt"
[ "$(sha256sum <"$mnt/payload")" = "$want" ] || fail "file changed across remount"
umount "$mnt"
fsck.ext4 -n "$dev" >/dev/null || fail "fsck found errors"
echo "ext4: 4 MiB written, remounted, checksum matches, fsck clean"

step "disk0: fio --verify while its back-end is SIGKILLed every 2 s"
kill_disk_backend() {
	local pid
	# disk0.toml allows 5 restarts a minute: stay well inside it.
	[ "$VLB_KILLS" -lt 3 ] || return 1
	pid=$(status_field disk0 backend_pid)
	[ -n "$pid" ] && [ "$pid" != null ] && kill -KILL "$pid"
}
fio_verify_while_killing "$dev" 8M kill_disk_backend "$log" 8 2
grep -E 'err=' "$VLB_CASE_OUT/fio.txt" | sed 's/^ */  /'
grep -E 'disk0: back-end killed|vlb-adapter\[disk0\]: back-end reconnected' "$log" |
	tail -4 | sed 's/^/  /'

step "rng0: /dev/hwrng is vlb-dev-rng"
# QEMU's virtio-rng devices probed at boot; rng0 is the newest one.
tr ' ' '\n' </sys/class/misc/hw_random/rng_available | grep virtio_rng | tail -1 \
	>/sys/class/misc/hw_random/rng_current
echo "$(cat /sys/class/misc/hw_random/rng_current): $(dd if=/dev/hwrng bs=16 count=1 2>/dev/null | od -An -tx1 | tr -d ' ')"

step "input0: the scripted keyboard on /dev/input/eventN"
ev=$(input_node vlb-keyboard)
# The package's udev rule keeps a loopback keyboard inhibited and off the
# seat until the administrator opts in for it (docs/supervisor.md).
udevadm settle -t 30
echo "by default: inhibited=$(cat "/sys/class/input/${ev##*/}/device/inhibited") (the host gets none of its keys)"
vlb_input_opt_in input0
echo "opted in: inhibited=$(cat "/sys/class/input/${ev##*/}/device/inhibited")"
expect_key_event "$ev" 47 || fail "no KEY_V on $ev"
echo "$ev ($(cat "/sys/class/input/${ev##*/}/device/name")): KEY_V seen, the script types 'vlb' every 2 s"

step "console0: /dev/hvcN <-> /run/virtio-loopback/console0.sock"
console_both_ways /run/virtio-loopback/console0.sock "$log"

step "vlbctl status after all that"
"$VLBCTL" status

step "systemctl stop $unit: the supervisor stops every pair, the kernel removes the devices"
systemctl stop "$unit" || fail "stop failed"
for _ in $(seq 300); do [ -e /sys/devices/vlb-disk0 ] || break; sleep 0.1; done
[ -e /sys/devices/vlb-disk0 ] && fail "disk0 not removed"
pgrep -f 'vlb-supervisord|vlb-dev-|vlb-adapter' && fail "processes left behind"
echo "stopped; devices removed, no process left"
kill "$follower" 2>/dev/null || true

step "vhost-user back-ends behind QEMU's vhost-user front-ends"
if vu=$(disk_with_serial demo-vu-blk); then
	echo "vlb-dev-blk (on the host) is $vu in the guest"
	fio --name=demo --filename="$vu" --direct=1 --ioengine=libaio --rw=randwrite \
		--bsrange=4k-128k --iodepth=8 --size=32M --verify=crc32c --verify_fatal=1 \
		--output="$VLB_CASE_OUT/fio-vu.txt" || fail "fio verify on $vu"
	grep -E 'err=|IOPS' "$VLB_CASE_OUT/fio-vu.txt" | head -3
	grep -o 'virtio_rng[.0-9]*' /sys/class/misc/hw_random/rng_available | head -1 \
		>/sys/class/misc/hw_random/rng_current
	echo "hwrng ($(cat /sys/class/misc/hw_random/rng_current), vlb-dev-rng on the host):" \
		"$(dd if=/dev/hwrng bs=16 count=1 2>/dev/null | od -An -tx1 | tr -d ' ')"
else
	echo "(no vhost-user disk: scripts/demo.sh starts vlb-dev-blk and vlb-dev-rng)"
fi

step "kernel log"
dmesg | grep -E 'virtio_loopback' | sed 's/^/  /' | tail -12
step "unloading"
vlb_unload
echo "demo complete"
