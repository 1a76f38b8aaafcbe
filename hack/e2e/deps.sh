#!/usr/bin/env bash
# deps.sh: installs the Debian packages `make e2e` needs on the host (QEMU for the guest node,
# mmdebstrap and e2fsprogs to build its image without a loop mount, cpio and kmod for its
# initramfs and module tree, busybox-static for stage 1). Idempotent: installs only what is
# missing. The guest's kernel is not installed on the host; hack/e2e/image.sh fetches its .deb.
set -euo pipefail
missing=()
need() { # need COMMAND PACKAGE
  command -v "$1" >/dev/null 2>&1 || missing+=("$2")
}
need qemu-system-x86_64 qemu-system-x86
need qemu-img qemu-utils
need mmdebstrap mmdebstrap
need mke2fs e2fsprogs
need cpio cpio
need depmod kmod
need dpkg-deb dpkg
[ -x /bin/busybox ] && /bin/busybox --list 2>/dev/null | grep -qx switch_root && file -L /bin/busybox 2>/dev/null | grep -q static || missing+=(busybox-static)
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "e2e deps: installing ${missing[*]}" >&2
sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
