#!/usr/bin/env bash
# multipath-tools-deps.sh: installs, on Debian, what hack/multipath-tools.sh needs to build the
# multipath-tools test matrix from source (run as root; apt-get reads the configured sources).
# The list is the union over the versions built: libmount-dev is needed from 0.9.5 on, libedit
# and readline by the interactive multipathd client of the different versions.
set -euo pipefail
packages=(
  build-essential pkg-config
  libdevmapper-dev libaio-dev liburcu-dev libjson-c-dev libudev-dev libsystemd-dev
  libreadline-dev libedit-dev libmount-dev
)
if dpkg-query -W -f='${Status}\n' "${packages[@]}" 2>/dev/null | grep -vq '^install ok installed$' ||
  [ "$(dpkg-query -W -f='${Status}\n' "${packages[@]}" 2>/dev/null | wc -l)" -ne ${#packages[@]} ]; then
  sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
fi
