#!/usr/bin/env bash
# multipath-tools.sh [VERSION...]: builds each multipath-tools version of the test matrix from the
# upstream release sources in hack/multipath-tools/src (binary downloads are impossible here, so
# the tarballs are part of the repository) and prints one install folder per line, in the order
# asked (default: every tarball there, oldest first).
#
# Nodes run multipath-tools 0.8.4 (RHEL 8) to 0.14.x (Fedora), and each version parses
# multipath.conf differently; the real-parser tests run every one of them (internal/multipathconf/mptest).
#
# Each build is cached per user under ~/.cache/kube-multipath/multipath-tools/<version>-<key>/,
# where <key> hashes every input of the build: the tarball, the patches applied, the make flags,
# the compiler and the versions of the -dev packages it links against. A changed input builds
# anew; an unchanged one is reused, by every clone. bin/multipath-tools/<version> links to it.
# A cold build of all eight takes about a minute on two cores (JOBS=2 by default).
#
# An install folder holds sbin/multipath and sbin/multipathd, lib/ (libmultipath.so.0, ...: run
# with LD_LIBRARY_PATH=<dir>/lib) and lib/multipath/ (the checker and prioritizer plugins, whose
# compiled-in path is /lib/multipath). Every version is built with the same paths as Debian's
# package: /etc/multipath.conf, /etc/multipath/conf.d, /lib/multipath.
#
# The -dev packages it needs are installed by hack/multipath-tools-deps.sh.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
here=$root/hack/multipath-tools
cache=${KUBE_MULTIPATH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kube-multipath}/multipath-tools
jobs=${JOBS:-2}

if [ $# -eq 0 ]; then
  mapfile -t versions < <(ls "$here/src" | sed -n 's/^multipath-tools-\(.*\)\.tar\.gz$/\1/p' | sort -V)
else
  versions=("$@")
fi

# make_vars VERSION: the make variables every version is built with. LIB=lib, because Debian's
# /lib64 symlink would otherwise make the Makefiles pick lib64 (and compile in /lib64/multipath);
# ENABLE_LIBDMMP=0, because libdmmp needs perl and pandoc for its man pages and nothing here uses it.
make_vars() { echo "LIB=lib ENABLE_LIBDMMP=0"; }

# cflags VERSION: extra CFLAGS a version needs with this machine's glibc and gcc.
cflags() {
  case $1 in
  # glibc >= 2.34 made PTHREAD_STACK_MIN a sysconf() call (a long): util.c compares it with a
  # size_t and -Werror=sign-compare stops the build. Fixed upstream in 0.8.7 (5d9f01cb). 0.8.x
  # appends the environment's CFLAGS after its own -Werror, so this relaxes it.
  0.8.[0-6]) echo "-Wno-error=sign-compare" ;;
  *) echo "" ;;
  esac
}

# patches VERSION: the patch files (from hack/multipath-tools/patches) a version needs.
patches() {
  case $1 in
  # An inverted test skips the ANA prioritizer wherever linux/nvme_ioctl.h exists (upstream
  # dd8ddad1, in 0.9.8). Only `prio ana` depends on it; multipath -t loads no plugin.
  0.9.[4-7]) echo "ana-enablement.patch" ;;
  *) echo "" ;;
  esac
}

# dev_versions: the versions of the libraries the builds link against, part of the cache key.
dev_versions() {
  dpkg-query -W -f='${Package}=${Version} ' libdevmapper-dev libaio-dev liburcu-dev libjson-c-dev \
    libudev-dev libsystemd-dev libreadline-dev libedit-dev libmount-dev 2>/dev/null || true
}

# key VERSION: a hash of every input of the build.
key() {
  local v=$1 p
  {
    sha256sum <"$here/src/multipath-tools-$v.tar.gz"
    for p in $(patches "$v"); do sha256sum <"$here/patches/$p"; done
    echo "make $(make_vars "$v") CFLAGS=$(cflags "$v")"
    "${CC:-gcc}" --version | head -1
    dev_versions
  } | sha256sum | cut -c1-16
}

build() { # build VERSION DEST
  local v=$1 dest=$2 tmp p
  tmp=$(mktemp -d "$cache/.build-$v-XXXXXX")
  # shellcheck disable=SC2064
  trap "rm -rf '$tmp'" RETURN
  mkdir "$tmp/src"
  tar -xzf "$here/src/multipath-tools-$v.tar.gz" --strip-components=1 -C "$tmp/src"
  for p in $(patches "$v"); do
    patch -s -p1 -d "$tmp/src" <"$here/patches/$p"
  done
  echo "Building multipath-tools $v into $dest (log: $dest.log)" >&2
  local start=$SECONDS
  # shellcheck disable=SC2046
  if ! (cd "$tmp/src" &&
    CFLAGS="$(cflags "$v")" make -j"$jobs" $(make_vars "$v") &&
    CFLAGS="$(cflags "$v")" make $(make_vars "$v") DESTDIR="$tmp/inst" install) >"$tmp/build.log" 2>&1; then
    cp "$tmp/build.log" "$dest.log"
    echo "multipath-tools $v failed to build; the last lines of $dest.log:" >&2
    tail -20 "$dest.log" >&2
    echo "(are the -dev packages installed? hack/multipath-tools-deps.sh)" >&2
    return 1
  fi
  for p in sbin/multipath sbin/multipathd lib/libmultipath.so.0; do
    [ -e "$tmp/inst/$p" ] || { echo "multipath-tools $v built without $p" >&2; return 1; }
  done
  cp "$tmp/build.log" "$dest.log"
  echo "$((SECONDS - start))" >"$tmp/inst/.build-seconds"
  # A concurrent build of the same key may have won the race; either result is the same build.
  mv -T "$tmp/inst" "$dest" 2>/dev/null || [ -x "$dest/sbin/multipath" ]
  echo "Built multipath-tools $v in $((SECONDS - start)) s" >&2
}

mkdir -p "$cache" "$root/bin/multipath-tools"
rc=0
for v in "${versions[@]}"; do
  if [ ! -f "$here/src/multipath-tools-$v.tar.gz" ]; then
    echo "no hack/multipath-tools/src/multipath-tools-$v.tar.gz" >&2
    rc=1
    continue
  fi
  dest=$cache/$v-$(key "$v")
  if [ ! -x "$dest/sbin/multipath" ]; then
    # Test binaries of several packages may ask for the same build at once: one builds, the
    # others wait for it.
    exec 9>"$dest.lock"
    flock 9
    if [ ! -x "$dest/sbin/multipath" ] && ! build "$v" "$dest"; then
      exec 9>&-
      rc=1
      continue
    fi
    exec 9>&-
  fi
  ln -sfn "$dest" "$root/bin/multipath-tools/$v"
  echo "$dest"
done
exit $rc
