#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The package stage of scripts/test.sh: the Debian packages built from the tree (debian/) with
# dpkg-buildpackage, checked with lintian (an error fails the stage), installed into a clean
# Debian 12 tree (scripts/debian-root.sh deb, kept in the cache directory), and there the two
# consumers of tests/package-deb built and run against them: a C++ application (the Core and the
# Qt facade) and a QML application (offscreen).
# Nothing is written outside the checkout but build/package and the cache directory: the tree is
# copied to build/package/registryio-<version>, so the packages dpkg-buildpackage writes into its
# parent folder land in build/package; they are installed into an overlay of the cached tree, in
# memory, so the cached tree stays as mmdebstrap made it.
#   bash scripts/package.sh     needs root (chroot, mount); RIO_CACHE_DIR picks the cache directory
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
jobs=$(nproc)

if [[ ${1:-} == --inside ]]; then
  # --- inside the Debian 12 tree: the packages installed as a user installs them, the consumers
  # built with what the tree has (no ccache, no RegistryIO source) and run.
  export QT_QPA_PLATFORM=offscreen XDG_RUNTIME_DIR=/tmp/runtime
  mkdir -m 700 -p "$XDG_RUNTIME_DIR"
  # As README's Install section does. The tree has no package lists: what the packages depend on
  # must already be there, nothing is downloaded.
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends /tmp/debs/*.deb >/tmp/apt.log 2>&1 ||
    { cat /tmp/apt.log; exit 1; }
  dpkg-query -W -f='${Package} ${Version}\n' 'libregistryio*' 'qml6-module-registryio*'
  for consumer in cpp qml; do
    cmake -S "/tmp/src/$consumer" -B "/tmp/build/$consumer" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build "/tmp/build/$consumer" -j "$jobs" >/dev/null
  done
  /tmp/build/cpp/consumer
  /tmp/build/qml/consumer_qml
  exit 0
fi

[[ $(id -u) -eq 0 ]] || { echo "the package stage needs root (chroot, mount)" >&2; exit 1; }
cache=${RIO_CACHE_DIR:-/var/cache/registryio}
work="$root/build/package"
version=$(dpkg-parsechangelog -l "$root/debian/changelog" -S Version)
src="$work/registryio-${version%-*}"

# --- the packages: built from a copy of the checkout's files, without its build folders and git
# data. ccache (when installed) makes a rerun cheap, even from a clone in another folder: the
# path the compiler is told to strip (-ffile-prefix-map=<copy>=.) is left out of the hash, and
# the cache is the caller's (debhelper gives the build a HOME of its own). The main stage's
# package_readme_install compiles the libraries with the same flags, so in CI this build finds
# them there. No -dbgsym packages (noautodbgsym): nothing here reads them, and lintian's time
# grows with them.
start=$SECONDS
rm -rf "$work"
mkdir -p "$src"
tar -C "$root" --exclude=./build --exclude='./build-*' --exclude=./.git -cf - . | tar -C "$src" -xf -
launcher=()
if command -v ccache >/dev/null; then
  launcher=(CMAKE_CXX_COMPILER_LAUNCHER=ccache CCACHE_DIR="$(ccache -k cache_dir)" CCACHE_BASEDIR="$src"
    CCACHE_NOHASHDIR=true "CCACHE_IGNOREOPTIONS=-ffile-prefix-map=*")
fi
if ! (cd "$src" && env "${launcher[@]}" DEB_BUILD_OPTIONS="parallel=$jobs nocheck noautodbgsym" \
  dpkg-buildpackage -b -us -uc >"$work/dpkg-buildpackage.log" 2>&1); then
  tail -n 60 "$work/dpkg-buildpackage.log" >&2
  echo "dpkg-buildpackage failed (log: $work/dpkg-buildpackage.log)" >&2
  exit 1
fi
changes=$(echo "$work"/registryio_"$version"_*.changes)
debs=()
for deb in "$work"/*.deb; do
  [[ $deb == *-dbgsym_* ]] || debs+=("$deb")
done
echo "built in $((SECONDS - start)) s: $(cd "$work" && ls -- *.deb | grep -v -- -dbgsym_ | tr '\n' ' ')"

# --- lintian: every error fails the stage; warnings and the rest are shown.
start=$SECONDS
lintian --fail-on error --display-level '>=warning' --tag-display-limit 0 "$changes"
echo "lintian: no error ($((SECONDS - start)) s)"

# --- the consumers, in the clean Debian 12 tree
start=$SECONDS
tree="$cache/debian12-deb"
bash "$root/scripts/debian-root.sh" deb "$tree" >&2 # made once, then reused
# A private mount namespace: the mounts below exist for this stage only, are seen by no other
# process, and go away with it however it ends. The packages and the consumers' builds live in
# an overlay whose writable layer is in memory.
unshare --mount --propagation private -- bash -euo pipefail -c '
  tree=$1 work=$2 root=$3; shift 3
  layer=$work/overlay
  mkdir -p "$layer"
  mount -t tmpfs tmpfs "$layer"
  mkdir "$layer/upper" "$layer/work" "$layer/root"
  mount -t overlay overlay -o "lowerdir=$tree,upperdir=$layer/upper,workdir=$layer/work" "$layer/root"
  new=$layer/root
  mount --rbind /dev "$new/dev"
  mount -t proc proc "$new/proc"
  mkdir -p "$new/tmp/debs" "$new/tmp/src"
  cp "$@" "$new/tmp/debs/"
  cp -r "$root/tests/package-deb/." "$new/tmp/src/"
  cp "$root/scripts/package.sh" "$new/tmp/package.sh"
  # A clean environment: only what the build and the consumers need.
  chroot "$new" /usr/bin/env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/root LANG=C.UTF-8 \
    bash /tmp/package.sh --inside
' package "$tree" "$work" "$root" "${debs[@]}"
echo "consumers built and run against the packages in the Debian 12 tree in $((SECONDS - start)) s"
