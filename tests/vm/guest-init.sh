#!/bin/sh
# /init of the test guest (busybox sh, PID 1). Loads the virtio and 9p
# modules, mounts the host root read-only and the results share, prepares a
# root of the host root with fresh proc/sys/dev and tmpfs scratch space,
# moves it to / (as switch_root does), runs the case runner (or a shell) in
# it, and powers off.
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

# Keep directories the cases need reachable after /tmp and /run are
# covered by tmpfs below: bind them aside first, back in place after.
i=0
for d in $VLB_KEEP_DIRS; do
	mkdir -p "/stage/$i"
	mount --bind "/host$d" "/stage/$i" || fatal "cannot keep $d"
	i=$((i + 1))
done

mount -t proc proc /host/proc
mount -t sysfs sysfs /host/sys
mount -t devtmpfs devtmpfs /host/dev
mkdir -p /host/dev/pts /host/dev/shm
mount -t devpts devpts /host/dev/pts
mount -t tmpfs tmpfs /host/dev/shm
mount -t tmpfs -o mode=1777 tmpfs /host/tmp
mount -t tmpfs -o mode=0755 tmpfs /host/run
mount -t tmpfs tmpfs /host/var/tmp 2>/dev/null
mount -t tmpfs tmpfs /host/root 2>/dev/null
mount -t debugfs debugfs /host/sys/kernel/debug 2>/dev/null
mkdir -p /host/run/vlb/results
mount --bind /results /host/run/vlb/results

i=0
for d in $VLB_KEEP_DIRS; do
	mkdir -p "/host$d" 2>/dev/null
	mount --bind "/stage/$i" "/host$d" || fatal "cannot restore $d"
	i=$((i + 1))
done

# Make the host root the mount namespace's root, as switch_root does,
# rather than a chroot: the kernel refuses user namespaces to chrooted
# processes, and the sandbox's children need one. From here on this shell
# sees the host's tree too, so it powers off with the host's busybox.
cd /host || fatal "cannot enter /host"
mount --move . / || fatal "cannot move the host root to /"
if [ "$VLB_SHELL" = 1 ]; then
	echo "vlb-guest: shell in the host root (read-only); results in /run/vlb/results"
	setsid /bin/busybox cttyhack chroot . /bin/bash -l
else
	chroot . /bin/bash "$VLB_RUNNER" </dev/null
	echo "vlb-guest: runner exited $?"
fi
/bin/busybox sync
/bin/busybox poweroff -f
