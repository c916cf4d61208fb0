#!/bin/sh
# /init of the test guest (busybox sh, PID 1). Loads the virtio and 9p
# modules, mounts the host root read-only and the results share, prepares a
# root of the host root with fresh proc/sys/dev and tmpfs scratch space,
# moves it to / (as switch_root does), runs the case runner (or a shell) in
# it, and powers off. With VLB_INIT=systemd (vlb-vm --systemd) the root is
# the host root under a tmpfs overlay, so packages can be installed into
# it, and systemd becomes PID 1 there and runs the case runner as a
# service (vlb-cases.service) that powers off when it ends.
/bin/busybox --install -s /bin
export PATH=/bin

fatal() {
	echo "vlb-guest: $*"
	poweroff -f
}

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

if grep -qw vlb.probe=1 /proc/cmdline; then
	echo "vlb-guest: probe ok"
	poweroff -f
fi

while read -r m; do
	insmod "/lib/modules/$m" || fatal "cannot load $m"
done </modules.order

opts=trans=virtio,version=9p2000.L,msize=262144
mount -t 9p -o "$opts,ro" hostroot /host || fatal "cannot mount host root"
mount -t 9p -o "$opts" results /results || fatal "cannot mount results share"
# shellcheck source=/dev/null # written by vlb-vm for each run
. /results/boot.conf

# The root the cases see: the host root itself, or under systemd the host
# root with a tmpfs over it (cmake --install writes to /usr and /etc).
root=/host
if [ "${VLB_INIT:-}" = systemd ]; then
	mkdir -p /overlay
	mount -t tmpfs -o mode=0755 tmpfs /overlay || fatal "cannot mount the overlay's tmpfs"
	mkdir -p /overlay/upper /overlay/work /overlay/root
	mount -t overlay -o lowerdir=/host,upperdir=/overlay/upper,workdir=/overlay/work overlay /overlay/root ||
		fatal "cannot mount the overlay root"
	root=/overlay/root
	# A guest of its own, not the container the host root may come from.
	rm -f "$root/.dockerenv" "$root/run/.containerenv"
fi

# Keep directories the cases need reachable after /tmp and /run are
# covered by tmpfs below: bind them aside first, back in place after
# (under the overlay, writable as the rest of the root).
i=0
for d in $VLB_KEEP_DIRS; do
	mkdir -p "/stage/$i"
	mount --bind "$root$d" "/stage/$i" || fatal "cannot keep $d"
	i=$((i + 1))
done

mount -t proc proc "$root/proc"
mount -t sysfs sysfs "$root/sys"
mount -t devtmpfs devtmpfs "$root/dev"
mkdir -p "$root/dev/pts" "$root/dev/shm"
mount -t devpts devpts "$root/dev/pts"
mount -t tmpfs tmpfs "$root/dev/shm"
mount -t tmpfs -o mode=1777 tmpfs "$root/tmp"
mount -t tmpfs -o mode=0755 tmpfs "$root/run"
mount -t tmpfs tmpfs "$root/var/tmp" 2>/dev/null
mount -t tmpfs tmpfs "$root/root" 2>/dev/null
mount -t debugfs debugfs "$root/sys/kernel/debug" 2>/dev/null
mkdir -p "$root/run/vlb/results"
mount --bind /results "$root/run/vlb/results"

i=0
for d in $VLB_KEEP_DIRS; do
	mkdir -p "$root$d" 2>/dev/null
	mount --bind "/stage/$i" "$root$d" || fatal "cannot restore $d"
	i=$((i + 1))
done

# Make the host root the mount namespace's root, as switch_root does,
# rather than a chroot: the kernel refuses user namespaces to chrooted
# processes, and the sandbox's children need one. From here on this shell
# sees the host's tree too, so it powers off with the host's busybox.
cd "$root" || fatal "cannot enter $root"
mount --move . / || fatal "cannot move the host root to /"
if [ "${VLB_INIT:-}" = systemd ]; then
	# The runner as systemd's one job besides sysinit.target; it powers
	# the guest off when it ends, whatever its exit status.
	mkdir -p run/systemd/system
	cat >run/systemd/system/vlb-cases.service <<EOF
[Unit]
Description=virtio-loopback test cases
SuccessAction=poweroff-force
FailureAction=poweroff-force
[Service]
Type=oneshot
ExecStart=/bin/bash $VLB_RUNNER
StandardInput=null
StandardOutput=journal+console
TimeoutStartSec=infinity
EOF
	exec chroot . /lib/systemd/systemd --unit=vlb-cases.service
fi
if [ "$VLB_SHELL" = 1 ]; then
	echo "vlb-guest: shell in the host root (read-only); results in /run/vlb/results"
	setsid /bin/busybox cttyhack chroot . /bin/bash -l
else
	chroot . /bin/bash "$VLB_RUNNER" </dev/null
	echo "vlb-guest: runner exited $?"
fi
/bin/busybox sync
/bin/busybox poweroff -f
