#!/bin/bash
# PID 1 of the kube-multipath e2e guest (no systemd), started by the stage-1 initramfs. It brings
# the node up as a host would (modules, udev, multipathd), mounts the host's 9p share on
# /mnt/host, gives eth0 its user-network address, then hands over to the harness's control
# daemon from the share (/mnt/host/guestd), which the test drives over a virtio-serial port.
# Every line on the console carries the guest's uptime, so boot phases can be timed.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
log() { echo "[e2e-init $(cut -d' ' -f1 /proc/uptime)] $*"; }
fail() { log "FATAL: $*"; echo o > /proc/sysrq-trigger; sleep 10; }

mountpoint -q /proc || mount -t proc proc /proc
mountpoint -q /sys || mount -t sysfs sysfs /sys
mountpoint -q /dev || mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
ln -sfn /proc/self/fd /dev/fd
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs /run
mount -t tmpfs tmpfs /tmp
mount -t cgroup2 cgroup2 /sys/fs/cgroup 2>/dev/null
mount -o remount,rw /
hostname -F /etc/hostname
ip link set lo up
log "kernel $(uname -r)"

for m in virtio_scsi sd_mod sg scsi_dh_alua dm_multipath dm_round_robin dm_service_time \
  virtio_console virtio_net 9p 9pnet_virtio; do
  modprobe "$m" || log "modprobe $m failed"
done
/lib/systemd/systemd-udevd --daemon
udevadm trigger --type=subsystems --action=add
udevadm trigger --type=devices --action=add
udevadm settle --timeout=60
log "udev settled"

mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 host0 /mnt/host || fail "no 9p share"
ip addr add 10.0.2.15/24 dev eth0 && ip link set eth0 up || fail "no eth0"

# multipathd in the foreground of its own session, as systemd would keep it.
setsid multipathd -d -s > /run/multipathd.log 2>&1 < /dev/null &
echo $! > /run/multipathd.pid
for _ in $(seq 100); do multipathd show daemon >/dev/null 2>&1 && break; sleep 0.1; done
log "multipathd: $(multipathd show daemon 2>&1)"

log "starting guestd"
/mnt/host/guestd
fail "guestd exited with $?"
