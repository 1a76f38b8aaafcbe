#!/usr/bin/env bash
# image.sh: prints the folder holding the e2e guest (vmlinuz, initrd.cpio.gz, root.img), building
# it the first time. The guest is a Debian bookworm node with the distribution's 6.1 kernel,
# multipath-tools and udev, booted by test/e2e under QEMU. It is cached per user, keyed by a hash
# of its inputs (this script, hack/e2e/guest/, the kernel and package versions apt offers), under
# ~/.cache/kube-multipath/e2e/<key>/ and linked from bin/e2e/current: a fresh clone reuses it, a
# changed input builds anew (about a minute, most of it the bootstrap). Needs root (mmdebstrap
# in root mode keeps file ownership) and the tools hack/e2e/deps.sh installs. The host's /etc is
# only read (its apt sources); the image is made with `mke2fs -d`, without a loop mount.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
here=$root/hack/e2e
sources=${E2E_APT_SOURCES:-/etc/apt/sources.list.d/debian.sources}
[ -e "$sources" ] || sources=/etc/apt/sources.list
# The guest's packages: multipathd and its tools, udev (it creates /dev/mapper names and the
# path properties multipathd reads), and what the scenarios run inside (mkfs, ip, ps). The
# container runtime for `make e2e-cluster`'s kubelet (containerd, runc, the CNI plugins, and
# iptables for the bridge's masquerade and the API Service's stand-in DNAT); `make e2e` leaves
# them stopped.
pkgs=multipath-tools,udev,kmod,util-linux,e2fsprogs,procps,iproute2,containerd,runc,containernetworking-plugins,iptables

# The kernel is whatever bookworm's linux-image-amd64 depends on now, never a pinned stale ABI.
kabi=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '$1=="Depends:" && $2 ~ /^linux-image-[0-9]/ {print $2; exit}')
kabi=${kabi#linux-image-}
[ -n "$kabi" ] || { echo "image.sh: cannot tell which kernel linux-image-amd64 depends on (apt-get update?)" >&2; exit 1; }
kpkg=linux-image-$kabi-unsigned
kver=$(apt-cache policy "$kpkg" | awk '$1=="Candidate:" {print $2}')
mpver=$(apt-cache policy multipath-tools | awk '$1=="Candidate:" {print $2}')
bbver=$(dpkg-query -W -f='${Version}' busybox-static 2>/dev/null || true)
[ -n "$bbver" ] && [ -x /bin/busybox ] || { echo "image.sh: busybox-static is not installed (run hack/e2e/deps.sh)" >&2; exit 1; }

# Each guest file counts by its name and content: a renamed file is a changed input too.
key=$( { cat "$here/image.sh"; (cd "$here/guest" && find . -type f | LC_ALL=C sort | while read -r f; do echo "== $f"; cat "$f"; done);
         echo "$pkgs $kpkg=$kver multipath-tools=$mpver busybox-static=$bbver"; } | sha256sum | cut -c1-16)
base=${KUBE_MULTIPATH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kube-multipath}/e2e
out=$base/$key
link() {
  mkdir -p "$root/bin/e2e"
  ln -sfn "$out" "$root/bin/e2e/$key"
  ln -sfn "$key" "$root/bin/e2e/current"
  echo "$out"
}
[ -e "$out/.done" ] && { link; exit 0; }

mkdir -p "$base"
exec 9>"$base/.lock"
flock 9 # one build at a time; a second caller waits and reuses it
[ -e "$out/.done" ] && { link; exit 0; }

step() { echo "image.sh: $(date +%T) $*" >&2; }
[ "$(id -u)" = 0 ] || { echo "image.sh: building the guest image needs root (mmdebstrap, file ownership)" >&2; exit 1; }
for t in mmdebstrap mke2fs cpio depmod modprobe dpkg-deb; do
  command -v "$t" >/dev/null || { echo "image.sh: $t is missing: run hack/e2e/deps.sh" >&2; exit 1; }
done
work=$(mktemp -d "$base/.build-XXXXXX")
trap 'rm -rf "$work"' EXIT
start=$(date +%s)

# 1. The kernel package, kept across builds (it is the largest download).
debs=$base/debs
mkdir -p "$debs"
deb=$(ls "$debs/${kpkg}_"*.deb 2>/dev/null | head -1 || true)
if [ -z "$deb" ]; then
  step "fetching $kpkg $kver"
  (cd "$debs" && apt-get download -qq "$kpkg" 2>&1 | grep -v unsandboxed >&2 || true)
  deb=$(ls "$debs/${kpkg}_"*.deb 2>/dev/null | head -1 || true)
  [ -n "$deb" ] || { echo "image.sh: apt-get download $kpkg failed" >&2; exit 1; }
fi
kroot=$work/kernel
dpkg-deb -x "$deb" "$kroot"
kname=$(ls "$kroot/lib/modules" | head -1)

# 2. The root file system.
step "bootstrapping bookworm ($pkgs)"
r=$work/rootfs
mmdebstrap --quiet --variant=minbase --include="$pkgs" --aptopt='Acquire::Retries "3"' \
  bookworm "$r" "$sources" >&2

# 3. Only the modules a virtio guest can use (the rest is sound, GPUs, wireless...).
mkdir -p "$r/lib/modules"
cp -a "$kroot/lib/modules/$kname" "$r/lib/modules/"
m=$r/lib/modules/$kname/kernel
rm -rf "$m/sound" "$m/drivers/gpu" "$m/drivers/media" "$m/drivers/infiniband" "$m/drivers/net/wireless" \
  "$m/drivers/net/ethernet" "$m/drivers/usb" "$m/drivers/bluetooth" "$m/drivers/staging" "$m/drivers/iio" \
  "$m/drivers/hwmon" "$m/net/bluetooth" "$m/net/wireless" "$m/net/mac80211"
depmod -b "$r" "$kname"

# 4. The node's own configuration: what a host has before the operator arrives.
install -m 0755 "$here/guest/init.sh" "$r/sbin/kube-multipath-e2e-init"
mkdir -p "$r/etc/multipath/conf.d" "$r/mnt/host" "$r/mnt/data" "$r/mnt/hostdata" "$r/mnt/logs"
install -m 0644 "$here/guest/multipath.conf" "$r/etc/multipath.conf"
install -m 0644 "$here/guest/50-host.conf" "$r/etc/multipath/conf.d/50-host.conf"
install -m 0644 "$here/guest/wwids" "$r/etc/multipath/wwids"
install -m 0644 "$here/guest/bindings" "$r/etc/multipath/bindings"
echo e2e-node > "$r/etc/hostname"
printf '127.0.0.1 localhost e2e-node\n' > "$r/etc/hosts"
: > "$r/etc/fstab"

# 5. root.img: ext4 filled from the directory, no loop mount.
step "making root.img"
mke2fs -q -F -t ext4 -L kmp-e2e -d "$r" "$work/root.img" 2G

# 6. Stage 1: busybox loads virtio and ext4, mounts /dev/vda and hands over to the init above.
i=$work/initrd
mkdir -p "$i/bin" "$i/dev" "$i/proc" "$i/sys" "$i/newroot" "$i/lib/modules"
cp /bin/busybox "$i/bin/busybox"
for mod in virtio_pci virtio_blk crc32c_generic ext4; do
  modprobe -d "$r" -S "$kname" --show-depends "$mod"
done | awk '$1=="insmod" && !seen[$2]++ {print $2}' | while read -r ko; do
  cp "$ko" "$i/lib/modules/"
  basename "$ko" >> "$i/modules.order"
done
cat > "$i/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
for m in $(cat /modules.order); do insmod /lib/modules/$m 2>/dev/null; done
n=0; while [ ! -b /dev/vda ] && [ $n -lt 200 ]; do sleep 0.1; n=$((n+1)); done
mount -t ext4 /dev/vda /newroot || { echo "stage1: cannot mount /dev/vda"; poweroff -f; }
umount /proc /sys; mount --move /dev /newroot/dev 2>/dev/null || umount /dev
exec switch_root /newroot /sbin/kube-multipath-e2e-init
INIT
chmod +x "$i/init"
(cd "$i" && find . | cpio -o -H newc --quiet | gzip -1) > "$work/initrd.cpio.gz"
cp "$kroot/boot/vmlinuz-$kname" "$work/vmlinuz"
{
  echo "kernel $kname ($kpkg $kver)"
  chroot "$r" dpkg-query -W -f='${Package} ${Version}\n' multipath-tools udev containerd runc containernetworking-plugins
} > "$work/versions.txt"

rm -rf "$out"
mkdir -p "$out"
mv "$work/vmlinuz" "$work/initrd.cpio.gz" "$work/root.img" "$work/versions.txt" "$out/"
touch "$out/.done"
step "built $out in $(( $(date +%s) - start ))s: $(tr '\n' ';' < "$out/versions.txt")"
link
