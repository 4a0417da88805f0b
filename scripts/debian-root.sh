#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds, once, a minimal Debian root file system named by its use, in a cache directory outside
# the checkout, so that a rerun on the same machine reuses it; a stamp file inside it records the
# suite, mirror and package list, and a changed list builds it anew.
#   qt68   Debian 13 ("trixie") with Qt 6.8, g++ 14, CMake and Ninja: the tree the qt68 stage of
#          scripts/test.sh builds and tests in (about 1 GB and 7 minutes when it builds)
#   deb    a bare Debian 12 ("bookworm") as a user has a fresh install or Debian's container
#          image: apt, no package lists (apt-get update fetches them), Recommends installed,
#          documentation kept. The package stage (scripts/package.sh) runs README.md's commands
#          in copies of it, which install what the README tells a reader to install (about
#          150 MB and 1 minute when it builds)
#   bash scripts/debian-root.sh qt68|deb [DIR]    DIR defaults to $RIO_CACHE_DIR/<debian13-qt68|debian12-deb>
# Prints the tree's directory on its last line; seconds when the tree is there. Needs root and
# mmdebstrap (scripts/deps.sh).
set -euo pipefail

cache=${RIO_CACHE_DIR:-/var/cache/registryio}
name=${1:-}
kind="" # in the stamp: a tree of another kind (an earlier deb tree, lean) is made anew
# The qt68 tree only builds and runs the suite: no recommended packages, no documentation, man
# pages or translations. The deb tree is left as Debian makes it.
lean=(--aptopt='APT::Install-Recommends "false"'
  --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*'
  --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/info/*')
case $name in
  qt68)
    suite=trixie
    tree=${2:-$cache/debian13-qt68}
    packages=(
      # toolchain: g++ 14 in Debian 13
      g++ cmake ninja-build ccache pkgconf
      # Qt 6.8 and its QML runtime modules, as scripts/deps.sh installs Qt 6.4 on Debian 12
      qt6-base-dev qt6-base-dev-tools qt6-declarative-dev qt6-declarative-dev-tools qt6-qpa-plugins
      qt6-declarative-private-dev
      qt6-remoteobjects-dev qml6-module-qtremoteobjects
      qml6-module-qtqml qml6-module-qtqml-models qml6-module-qtqml-workerscript qml6-module-qtquick
      qml6-module-qtquick-window qml6-module-qtquick-controls qml6-module-qtquick-layouts
      qml6-module-qtquick-templates qml6-module-qttest libgl-dev
      # tests, benchmarks and their peers; the TLS test's certificates; the demo in a real X window.
      # No valgrind: the stage runs no callgrind count (benchmarks_quick runs in the main stage only);
      # RIO_QT68_BENCH=1 bash scripts/qt68.sh installs it into the tree when it measures.
      librapidcheck-dev libbenchmark-dev libboost-dev libsigc++-3.0-dev python3 openssl
      xvfb xauth
      # the docs test; the benchmarks' plots (benchmarks_quick)
      doxygen gnuplot-nox
    )
    ;;
  deb)
    suite=bookworm
    tree=${2:-$cache/debian12-deb}
    packages=()
    lean=()
    kind=as-a-user
    ;;
  *) echo "usage: debian-root.sh qt68|deb [DIR]" >&2; exit 2 ;;
esac

# The Debian mirror this machine's apt already uses (the first ".../debian" URI of its sources),
# unless RIO_DEBIAN_MIRROR names one.
mirror=${RIO_DEBIAN_MIRROR:-}
if [[ -z $mirror ]]; then
  mirror=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources \
    2>/dev/null | grep -E '^[[:space:]]*(deb|URIs:)[[:space:]]' |
    grep -oE '(https?|file):/+[^[:space:]]*/debian/?([[:space:]]|$)' | head -n 1 | tr -d '[:space:]') || true
fi
[[ -n $mirror ]] || { echo "no Debian mirror found in /etc/apt; set RIO_DEBIAN_MIRROR" >&2; exit 1; }

stamp_text="suite=$suite mirror=$mirror packages=${packages[*]} $kind"
stamp="$tree/.registryio-stamp"

mkdir -p "$(dirname "$tree")"
# One builder at a time per tree: a second caller waits for the first and then reuses its tree.
exec 9>"$tree.lock"
flock 9

if [[ -f $stamp && $(cat "$stamp") == "$stamp_text" ]]; then
  echo "Debian $suite tree up to date: $tree"
  echo "$tree"
  exit 0
fi

command -v mmdebstrap >/dev/null || { echo "mmdebstrap not installed (scripts/deps.sh)" >&2; exit 1; }
start=$SECONDS
echo "Building the Debian $suite tree ($name) in $tree from $mirror"
partial="$tree.partial"
# A build interrupted earlier may have left mmdebstrap's mounts (proc, sys, dev/pts, dev/shm) in
# its tree: unmounted first, and nothing is removed across a file system boundary.
remove_tree() { # dir
  awk -v d="$1/" 'index($2, d) == 1 { print $2 }' /proc/mounts | sort -r | xargs -r -n 1 umount -l
  rm -rf --one-file-system "$1"
}
remove_tree "$partial"
include=()
((${#packages[@]} == 0)) || include=(--include="$(IFS=,; echo "${packages[*]}")")
mmdebstrap --variant=apt "${include[@]}" "${lean[@]}" "$suite" "$partial" "deb $mirror $suite main"
echo "$stamp_text" >"$partial/.registryio-stamp"
remove_tree "$tree"
mv "$partial" "$tree"
echo "Debian $suite tree built in $((SECONDS - start)) s: $(du -sxh "$tree" | cut -f1)"
echo "$tree"
