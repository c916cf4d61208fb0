# Helpers sourced by guest cases (bash, as root, inside the guest).
# shellcheck shell=bash
set -euo pipefail

VLB_KO=$VLB_BUILD/kmod/kbuild/virtio_loopback.ko
VLBCTL=$VLB_BUILD/tools/vlbctl/vlbctl
VLB_NODE=/dev/virtio-loopback
export VLB_KO VLBCTL VLB_NODE

step() { echo "--- $*"; }

# fresh_dir DIR: DIR, empty. A case given twice runs twice in one boot
# (vlb-vm --help), and must not find the last run's sockets and files;
# mounts a failed run left under DIR go first.
fresh_dir() {
	local m
	for m in $(findmnt -rno TARGET | grep "^$1/" | sort -r); do
		umount -l "$m"
	done
	rm -rf "$1"
	mkdir -p "$1"
}

# On a failed case, leave the guest as the next case expects it: no
# process of ours or peer left running (they hold device fds), no module.
vlb_cleanup() {
	local rc=$?
	[ $rc = 0 ] && return 0
	# Best effort: nothing left to kill is the usual case, and errexit
	# must not end the trap before the module is gone.
	set +e
	[ -n "${VLB_DEV_PID:-}" ] && kill -KILL "$VLB_DEV_PID" 2>/dev/null
	pkill -KILL -f 'vlb-supervisord|vlb-adapter|vlb-dev-|vlb-test-device|qemu-storage-daemon' 2>/dev/null
	sleep 0.2
	echo 1 2>/dev/null >/sys/module/virtio_loopback/parameters/grace_period_ms
	for _ in $(seq 100); do
		rmmod virtio_loopback 2>/dev/null && break
		sleep 0.1
	done
	return $rc
}
trap vlb_cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

vlb_load() {
	[ -f "$VLB_KO" ] || fail "module not built: $VLB_KO"
	insmod "$VLB_KO" "$@"
	# devtmpfs creates the node asynchronously with the uevent.
	for _ in $(seq 50); do
		[ -c "$VLB_NODE" ] && return 0
		sleep 0.1
	done
	fail "$VLB_NODE did not appear"
}

vlb_unload() {
	# Files a kworker released are put a jiffy later (delayed fput).
	local _i
	for _i in $(seq 50); do
		rmmod virtio_loopback 2>/dev/null && break
		sleep 0.1
	done
	lsmod | grep -q '^virtio_loopback ' && fail "rmmod: module still in use"
	for _ in $(seq 50); do
		[ -e "$VLB_NODE" ] || return 0
		sleep 0.1
	done
	fail "$VLB_NODE still present after rmmod"
}

VLB_TESTDEV=$VLB_BUILD/tests/vm/vlb-test-device
export VLB_TESTDEV

# The guest runs no udev: load the stock virtio drivers by hand.
vlb_load_drivers() {
	modprobe -a virtio_rng virtio_blk virtio_console virtio_input evdev
}

# input_node NAME: the /dev/input/eventN of the input device called NAME.
input_node() {
	local n
	for n in /sys/class/input/event*; do
		if [ "$(cat "$n/device/name" 2>/dev/null)" = "$1" ]; then
			echo "/dev/input/${n##*/}"
			return 0
		fi
	done
	return 1
}

# expect_key_event DEV CODE: reads 16 events from DEV (20 s at most; a
# reader can start anywhere in a script's sequence) and succeeds if one
# is a key event with CODE. struct input_event is 24 bytes on x86-64: 16
# of time, then type, code (u16) and value.
expect_key_event() {
	timeout 20 head -c $((16 * 24)) "$1" | od -An -tu2 -w24 -v |
		awk -v code="$2" '$9 == 1 && $10 == code { found = 1 } END { exit !found }'
}

# hvc_node: the first /dev/hvcN a virtio console backs (the others refuse
# open with ENODEV).
hvc_node() {
	local h
	for h in /dev/hvc*; do
		if [ -c "$h" ] && (exec 3<>"$h") 2>/dev/null; then
			echo "$h"
			return 0
		fi
	done
	return 1
}

# vlb_start_device LOGFILE ARGS...: starts vlb-test-device in the
# background, waits for its "ready" line, sets VLB_DEV_PID.
vlb_start_device() {
	local log=$1
	shift
	"$VLB_TESTDEV" "$@" >"$log" 2>&1 &
	VLB_DEV_PID=$!
	for _ in $(seq 100); do
		grep -q '^ready ' "$log" && return 0
		kill -0 "$VLB_DEV_PID" 2>/dev/null || { cat "$log"; fail "test device died"; }
		sleep 0.1
	done
	cat "$log"
	fail "test device not ready"
}

# vlb_stop_device LOGFILE: SIGTERM, wait, print its counters line.
vlb_stop_device() {
	kill -TERM "$VLB_DEV_PID"
	wait "$VLB_DEV_PID" || fail "test device exited $?: $(cat "$1")"
	grep '^stats ' "$1"
}

# vlb_stat LOGFILE NAME: one counter from the stats line.
vlb_stat() {
	sed -n "s/^stats .*\b$2=\([0-9]*\).*/\1/p" "$1"
}

# disk_with_serial SERIAL: the /dev/vdX whose virtio-blk serial is SERIAL.
disk_with_serial() {
	local d
	for d in /sys/block/vd*; do
		[ "$(cat "$d/serial" 2>/dev/null)" = "$1" ] && [ -b "/dev/${d##*/}" ] &&
			{ echo "/dev/${d##*/}"; return 0; }
	done
	return 1
}

# wait_for SECONDS COMMAND...: polls until COMMAND succeeds.
wait_for() {
	local t=$1
	shift
	for _ in $(seq $((t * 10))); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}

# first_vd: the first virtio disk, e.g. /dev/vda, once devtmpfs has made
# its node (sysfs shows the disk first: writing to /dev/vda before the node
# exists would create a regular file there). Fails when there is none.
first_vd() {
	local d
	for d in /sys/block/vd*; do
		[ -b "/dev/${d##*/}" ] && { echo "/dev/${d##*/}"; return 0; }
	done
	return 1
}

# console_both_ways SOCKET LOG: bytes from the host (SOCKET, the console
# back-end's port socket) to the first hvc port and back. LOG is where
# the back-end logs 'console client connected'. The port is held open so
# its raw, no-echo mode lasts (hvc resets termios on last close), and one
# direction runs at a time (docs/vhost-user.md, "The hvc limit").
console_both_ways() {
	local sock=$1 log=$2 hvc got seen out
	hvc=$(hvc_node) || fail "no hvc port"
	out=$(mktemp)
	exec 9<>"$hvc"
	stty -F "$hvc" raw -echo
	seen=$(grep -c 'console client connected' "$log" || true)
	printf 'to-the-guest\n' | socat -u - "UNIX-CONNECT:$sock"
	got=$(timeout 10 head -c 13 <&9) || true
	[ "$got" = "to-the-guest" ] || fail "host -> guest: read '$got' from $hvc"
	timeout 20 socat -u "UNIX-CONNECT:$sock" - >"$out" &
	wait_for 10 sh -c "[ \$(grep -c 'console client connected' '$log') -ge $((seen + 2)) ]" ||
		fail "the second port client was not seen"
	printf 'to-the-host\n' >&9
	wait_for 10 grep -q to-the-host "$out" || fail "guest -> host: got '$(cat "$out")'"
	exec 9>&-
	echo "$hvc: '$got' in, '$(cat "$out")' out"
}

# stage_example_policies RUN: the shipped example policies (disk0, rng0,
# input0, console0) in RUN/policies, the programs in RUN/libexec and
# disk0's image in RUN/state. This guest's / is the host's root,
# read-only: the two package paths the examples name move to writable or
# source-tree places (printed as a diff). Nothing else changes.
stage_example_policies() {
	local run=$1 p
	mkdir -p "$run/policies" "$run/libexec" "$run/state" /run/virtio-loopback
	for p in disk0 rng0 input0 console0; do
		sed -e "s#/var/lib/virtio-loopback#$run/state#g" \
			-e "s#/usr/share/virtio-loopback#$VLB_SRC/policy/examples#g" \
			"$VLB_SRC/policy/examples/$p.toml" >"$run/policies/$p.toml"
		diff -U0 "$VLB_SRC/policy/examples/$p.toml" "$run/policies/$p.toml" |
			grep '^[-+][^-+]' | sed "s/^/  $p.toml: /" || true
	done
	"$VLBCTL" policy check "$run/policies"/*.toml
	for p in devices/vlb-dev-blk devices/vlb-dev-rng devices/vlb-dev-input devices/vlb-dev-console \
		adapter/vlb-adapter; do
		ln -sf "$VLB_BUILD/$p" "$run/libexec/"
	done
	truncate -s 64M "$run/state/disk0.img"
}

# vlb_install_package: the package tree installed as a package installs it
# (`cmake --install --prefix /usr`, then what its maintainer scripts run),
# the example policies in /etc/virtio-loopback/policies and the disk image
# disk0.toml names. Needs a writable root (vlb-vm --systemd).
vlb_install_package() {
	local p
	cmake --install "$VLB_BUILD" --prefix /usr >"$VLB_CASE_OUT/install.log" ||
		fail "cmake --install (see install.log)"
	systemd-sysusers virtio-loopback.conf
	systemd-tmpfiles --create virtio-loopback.conf
	systemctl daemon-reload
	udevadm control --reload
	for p in disk0 rng0 input0 console0; do
		cp "/usr/share/doc/virtio-loopback/examples/$p.toml" /etc/virtio-loopback/policies/
	done
	truncate -s 64M /var/lib/virtio-loopback/disk0.img
}

# vlb_input_opt_in NAME: lets the input devices of loopback device NAME
# reach the host as the package's udev rule describes (not inhibited, on
# the seat), with a local rule in /etc/udev/rules.d.
vlb_input_opt_in() {
	echo "SUBSYSTEM==\"input\", KERNELS==\"vlb-$1\", ENV{VLB_INPUT_SESSION}=\"1\"" \
		>"/etc/udev/rules.d/71-virtio-loopback-$1.rules"
	udevadm control --reload
	udevadm trigger -s input
	udevadm settle -t 30
}

# ext4_on_brd MIB DIR: a fresh brd RAM disk of MIB MiB with ext4, mounted
# on DIR: a file system where O_DIRECT works (tmpfs refuses it). Undo with
# `umount DIR; rmmod brd`.
ext4_on_brd() {
	modprobe -a ext4
	modprobe -r brd 2>/dev/null || true
	modprobe brd rd_nr=1 rd_size=$(($1 * 1024))
	mkfs.ext4 -q -F /dev/ram0
	mkdir -p "$2"
	mount /dev/ram0 "$2"
}

# blk_policy NAME SERIAL IMAGE: a supervisor policy (TOML, on stdout) for a
# two-queue vlb-dev-blk disk with two read threads (clone under seccomp) on
# IMAGE that restarts quickly and often.
blk_policy() {
	cat <<TOML
[device]
name = "$1"
type = "blk"
queues = 2
[backend]
binary = "vlb-dev-blk"
args = ["--queues", "2", "--serial", "$2", "--read-threads", "2"]
[[backend.files]]
path = "$3"
access = "read-write"
option = "--backing-fd"
[restart]
backoff_initial_ms = 50
backoff_max_ms = 400
max_restarts = 100
TOML
}

# status_field DEVICE KEY [VLBCTL ARGS...]: one number (or null) of
# `vlbctl status --json` for DEVICE, e.g. its backend_pid.
status_field() {
	local dev=$1 key=$2
	shift 2
	"$VLBCTL" "$@" status --json | grep -o "\"name\":\"$dev\"[^}]*\"$key\":[0-9a-z]*" | sed 's/.*://'
}

# fio_verify_while_killing DEV SIZE KILLER LOG [SECONDS [MIN_KILLS]]: fio passes, each
# writing and verifying DEV (2 jobs of SIZE, QD16, 4k-64k, crc32c, a seed per pass; output
# of the latest in $VLB_CASE_OUT/fio.txt), back to back, while the function
# KILLER runs every 2 s. The passes go on for at least SECONDS (default 20)
# and until KILLER has succeeded MIN_KILLS (default 5) times, so a slow or
# loaded guest sees as many kills as a fast one; at 4 x SECONDS they stop
# anyway. Fails the case on any I/O or verify error (showing the tail of
# LOG) or fewer than MIN_KILLS kills; VLB_KILLS says how many.
fio_verify_while_killing() {
	local dev=$1 size=$2 killer=$3 log=$4 seconds=${5:-20} min_kills=${6:-5} runner rc=0
	local stop="$VLB_CASE_OUT/fio.stop" start=$SECONDS
	rm -f "$stop"
	(
		# Each pass its own seed: data, offsets and sizes differ from
		# the last pass's, so a request of an earlier pass completed
		# again (or late) overwrites blocks with data this pass's
		# verify does not expect.
		pass=0
		while [ ! -e "$stop" ]; do
			pass=$((pass + 1))
			fio --name=kill --filename="$dev" --direct=1 --ioengine=libaio --iodepth=16 \
				--numjobs=2 --rw=randwrite --bsrange=4k-64k --size="$size" \
				--offset_increment="$size" --verify=crc32c --verify_fatal=1 --do_verify=1 \
				--randseed="$pass" --group_reporting --output="$VLB_CASE_OUT/fio.txt" || exit
		done
	) &
	runner=$!
	VLB_KILLS=0
	while kill -0 "$runner" 2>/dev/null; do
		sleep 2
		kill -0 "$runner" 2>/dev/null || break
		"$killer" && VLB_KILLS=$((VLB_KILLS + 1))
		local elapsed=$((SECONDS - start))
		if { [ "$elapsed" -ge "$seconds" ] && [ "$VLB_KILLS" -ge "$min_kills" ]; } ||
			[ "$elapsed" -ge $((4 * seconds)) ]; then
			touch "$stop"
		fi
	done
	wait "$runner" || rc=$?
	if [ "$rc" != 0 ]; then
		cat "$VLB_CASE_OUT/fio.txt"
		tail -30 "$log"
		fail "fio failed ($rc)"
	fi
	echo "killed $VLB_KILLS times in $((SECONDS - start))s of fio passes; no I/O or verify error"
	[ "$VLB_KILLS" -ge "$min_kills" ] || fail "only $VLB_KILLS kills during the run"
}
