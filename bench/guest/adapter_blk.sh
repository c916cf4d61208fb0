# shellcheck shell=bash source=tests/vm/lib.sh
# Guest half of bench/adapter-blk.sh: fio on /dev/vdX for each way of
# serving one backing file on ext4 over a brd RAM disk, all with 2 queues
# of 128 entries and every back-end on io_uring, buffered but for the
# *-direct ways, which compare O_DIRECT with O_DIRECT:
#   vlb-zc       vlb-dev-blk behind vlb-adapter and the transport, zero-copy
#                (kernel copies, VLB_IOVA_COPY, from 64 KiB: vlb-dev-blk's default)
#   vlb-map      the same, the back-end copying through its mapping only
#   vlb-direct   vlb-zc on the backing file opened O_DIRECT
#   vlb-bounce   the same, every buffer copied (bounce-only)
#   qsd-vlb      qemu-storage-daemon's vhost-user-blk export behind the same
#   vduse        qemu-storage-daemon's vduse-blk export, `vdpa dev add`
#   vduse-direct the same on the backing file opened O_DIRECT
#   file         the backing file itself, O_DIRECT (what the storage under
#                it can do)
# VLB_BENCH_VDUSE_DIR holds vdpa.ko, vduse.ko and virtio_vdpa.ko
# (bench/vduse-modules.sh). VLB_BENCH_WAYS lists the ways to run (all by
# default), VLB_BENCH_JOBS filters the jobs (fio_jobs.sh).
. "$VLB_SRC/tests/vm/lib.sh"
# shellcheck source=bench/guest/fio_jobs.sh
. "$VLB_SRC/bench/guest/fio_jobs.sh"
runtime=${VLB_BENCH_RUNTIME:-4}
vduse_dir=${VLB_BENCH_VDUSE_DIR:?VDUSE modules (bench/vduse-modules.sh)}
ways=" ${VLB_BENCH_WAYS:-vlb-zc vlb-map vlb-direct vlb-bounce qsd-vlb vduse vduse-direct file} "
out=$VLB_CASE_OUT/results.txt
: >"$out"
jobs=()
for nj in 1 4; do
	jobs+=(
		"4k-randread-qd1-j$nj randread 4k 1 $nj"
		"4k-randread-qd32-j$nj randread 4k 32 $nj"
		"4k-randwrite-qd32-j$nj randwrite 4k 32 $nj"
		"128k-read-j$nj read 128k 16 $nj"
		"128k-write-j$nj write 128k 16 $nj"
		"1m-read-j$nj read 1m 4 $nj"
		"1m-write-j$nj write 1m 4 $nj"
	)
done
run=/tmp/bench

vlb_load grace_period_ms=500
vlb_load_drivers
modprobe vhost_iotlb
# Load order from the VDUSE notes: virtio_blk and vhost_iotlb first.
for m in vdpa vduse virtio_vdpa; do
	insmod "$vduse_dir/$m.ko"
done
[ -c /dev/vduse/control ] || wait_for 10 test -c /dev/vduse/control || fail "no /dev/vduse/control"
ext4_on_brd 320 "$run/mnt"
img=$run/mnt/disk.img
fallocate -l 256M "$img"
dd if=/dev/urandom of="$img" bs=1M count=64 conv=notrunc status=none

wanted() { [[ $ways == *" $1 "* ]]; }

no_disks() { ! ls -d /sys/block/vd* >/dev/null 2>&1; }
wait_for 30 no_disks || fail "a virtio disk is left from before"

# bench_adapter CONFIG BACKEND_SOCKET [ADAPTER ARGS...]: the adapter in front
# of a listening back-end; fio on its disk; the adapter stopped.
bench_adapter() {
	local config=$1 sock=$2 ad
	shift 2
	"$VLB_BUILD/adapter/vlb-adapter" --type blk --name "bench-$config" --backend-socket "$sock" \
		--queue-size 128 "$@" 2>"$VLB_CASE_OUT/adapter-$config.log" &
	ad=$!
	wait_for 60 first_vd >/dev/null || { cat "$VLB_CASE_OUT/adapter-$config.log"; fail "$config: no disk"; }
	FAULT_PID=${fault_pid:-} run_fio_jobs "$config" "$(first_vd)" "$out" "$runtime" "${jobs[@]}"
	kill -TERM "$ad"
	wait "$ad" || fail "$config: vlb-adapter exited $?"
	wait_for 30 no_disks || fail "$config: the disk stayed"
}

# start_vlb_blk CONFIG [VLB-DEV-BLK ARGS...]
start_vlb_blk() {
	local config=$1
	shift
	"$VLB_BUILD/devices/vlb-dev-blk" --socket-path "$run/blk.sock" --backing "$img" \
		--queues 2 --serial bench --read-threads 2 "$@" 2>"$VLB_CASE_OUT/blk-$config.log" &
	blk=$!
	fault_pid=$blk
	wait_for 10 test -S "$run/blk.sock" || fail "vlb-dev-blk did not listen"
}

stop_vlb_blk() {
	kill -TERM "$blk"
	wait "$blk" || true
	fault_pid=
}

if wanted vlb-zc; then
	step "vlb-zc: vlb-dev-blk behind vlb-adapter, zero-copy"
	start_vlb_blk zc
	bench_adapter vlb-zc "$run/blk.sock"
	stop_vlb_blk
fi

if wanted vlb-map; then
	step "vlb-map: the same, the back-end copying through its mapping of the IOVA space"
	start_vlb_blk map --kernel-copy-min 0
	bench_adapter vlb-map "$run/blk.sock"
	stop_vlb_blk
fi

if wanted vlb-direct; then
	step "vlb-direct: the same, backing file O_DIRECT (kernel copies straight to the storage)"
	start_vlb_blk direct --direct
	bench_adapter vlb-direct "$run/blk.sock"
	stop_vlb_blk
fi

if wanted vlb-bounce; then
	step "vlb-bounce: the same, bounce-only"
	start_vlb_blk bounce
	bench_adapter vlb-bounce "$run/blk.sock" --bounce-threshold 4294967295
	stop_vlb_blk
fi

# qsd_blockdevs on|off: the blockdev options of the backing file, O_DIRECT or not.
qsd_blockdevs() {
	# shellcheck disable=SC2054 # commas separate QEMU sub-options, not elements
	qsd_args=(--blockdev "driver=file,node-name=file0,filename=$img,cache.direct=$1,aio=io_uring"
		--blockdev driver=raw,node-name=disk0,file=file0)
}
qsd_blockdevs off

if wanted qsd-vlb; then
	step "qsd-vlb: qemu-storage-daemon's vhost-user-blk export behind vlb-adapter"
	qemu-storage-daemon "${qsd_args[@]}" \
		--export "type=vhost-user-blk,id=exp0,node-name=disk0,addr.type=unix,addr.path=$run/qsd.sock,writable=on,num-queues=2" \
		2>"$VLB_CASE_OUT/qsd.log" &
	qsd=$!
	wait_for 20 test -S "$run/qsd.sock" || { cat "$VLB_CASE_OUT/qsd.log"; fail "qemu-storage-daemon did not listen"; }
	fault_pid=$qsd bench_adapter qsd-vlb "$run/qsd.sock"
	kill -TERM "$qsd"
	wait "$qsd" || true
fi

# bench_vduse CONFIG: qemu-storage-daemon's vduse-blk export of qsd_args.
bench_vduse() {
	local config=$1
	qemu-storage-daemon "${qsd_args[@]}" \
		--export "type=vduse-blk,id=vd0,node-name=disk0,name=vduse0,num-queues=2,queue-size=128,writable=on" \
		2>"$VLB_CASE_OUT/qsd-$config.log" &
	qsd=$!
	wait_for 20 test -e /dev/vduse/vduse0 || { cat "$VLB_CASE_OUT/qsd-$config.log"; fail "no VDUSE device"; }
	vdpa dev add name vduse0 mgmtdev vduse
	wait_for 60 first_vd >/dev/null || fail "$config: no disk"
	FAULT_PID=$qsd run_fio_jobs "$config" "$(first_vd)" "$out" "$runtime" "${jobs[@]}"
	vdpa dev del vduse0
	wait_for 30 no_disks || fail "$config: the disk stayed"
	kill -TERM "$qsd"
	wait "$qsd" || true
}

if wanted vduse; then
	step "vduse: qemu-storage-daemon's vduse-blk export"
	bench_vduse vduse
fi

if wanted vduse-direct; then
	step "vduse-direct: the same, backing file O_DIRECT"
	qsd_blockdevs on
	bench_vduse vduse-direct
	qsd_blockdevs off
fi

if wanted file; then
	step "file: the backing file, O_DIRECT"
	run_fio_jobs file "$img" "$out" "$runtime" "${jobs[@]}"
fi

umount "$run/mnt"
rmmod virtio_vdpa vduse vdpa brd
vlb_unload
cat "$out"
