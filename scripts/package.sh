#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The package stage of scripts/test.sh: README.md's commands, as written, each route in its own
# copy of a bare Debian 12 tree as a user has one (scripts/debian-root.sh deb: apt without its
# package lists, Recommends on, documentation kept), so that each holds only what the README
# tells a reader to install. apt's prompts get no answer (stdin is empty): a command that needs
# -y says so in the README; debconf takes its defaults. The blocks are read from README.md by
# their markers (<!-- ci: NAME -->), so the README and this stage cannot drift:
#   deb-build       apt-get update, build-dep and dpkg-buildpackage, with the package build's tests;
#                   then, on this machine, the libraries' ABI against the last release's (scripts/abi.sh)
#   deb-install     apt-get install of the packages just built; then, with them:
#   quickstart-cpp, quickstart-qml, quickstart-remote   the quick starts built and run
#   remote-qml      the Remote QML example (a producer process and a Qt Quick window) built and run
#   pkg-config      pkg-config installed and a Qt-facade program built with its flags, no CMake
#   install-deps, install, install-quickstart, install-quickstart-qml   in another copy: the
#                   install route (the preset `user` into /opt/registryio) and both quick starts
#                   through find_package (the QML one with the QtQml modules it loads)
#   fetchcontent-deps, fetchcontent  in another copy: a project whose CMakeLists.txt is the
#                   snippet, fetching the pinned commit from this clone (the one substitution:
#                   this clone's path for the repository URL, given as the snippet asks)
# Between them: lintian --pedantic over the packages (an error or a warning fails the stage),
# the development packages unpacked over 0.1.0's libregistryio-dev (whose files they now hold),
# and checks the README states in prose (the Core's development package pulls no Qt package,
# the .qch is in Qt's documentation folder, every public header goes through moc by hand, a
# Core-only FetchContent looks up no Qt and installs its libraries with the parent's).
# Nothing is written outside build/package and the cache directory: each copy of the tree is an
# overlay whose writable layer is in memory, in a mount namespace of its own; apt's downloads
# and the package build's ccache are kept in the cache directory for a rerun.
#   bash scripts/package.sh     needs root (chroot, mount); RIO_CACHE_DIR picks the cache directory;
#                               RIO_PACKAGE_ROUTES="deb install fetchcontent" (the default) picks the routes
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
[[ $(id -u) -eq 0 ]] || { echo "the package stage needs root (chroot, mount)" >&2; exit 1; }
cache=${RIO_CACHE_DIR:-/var/cache/registryio}
work="$root/build/package"
rm -rf "$work"
# The package build's and the install route's ccache is this machine's (the tree's g++ is the
# same Debian 12 package): it only makes a rerun cheaper.
ccache_dir=$cache/ccache-deb
command -v ccache >/dev/null && ccache_dir=$(ccache -k cache_dir)
# apt's downloads, shared by the routes run one after another; a route run beside them
# (FetchContent) has its own, since apt locks the folder.
apt_archives=$cache/apt-archives
mkdir -p "$work/blocks" "$apt_archives/partial" "$cache/apt-archives-fetchcontent/partial" "$ccache_dir"

# --- README.md's blocks, by marker
block() { # name: the fenced block after <!-- ci: name -->, written to $work/blocks/name
  bash "$root/scripts/readme-block.sh" "$1" >"$work/blocks/$1"
}
for name in deb-build deb-install quickstart-cpp quickstart-qml quickstart-remote remote-qml pkg-config install-deps install install-quickstart \
  install-quickstart-qml \
  fetchcontent-deps fetchcontent; do
  block "$name"
done

# --- this clone, as a reader has it: its committed files (git clone), with the checkout's
# uncommitted changes on top, so a run before committing tests what is in the folder
git clone --quiet --no-hardlinks "$root" "$work/registryio"
git -C "$root" diff HEAD --binary | git -C "$work/registryio" apply --allow-empty --whitespace=nowarn
git -C "$root" ls-files --others --exclude-standard -z | tar -C "$root" --null -T - -cf - | tar -C "$work/registryio" -xf -

tree=$(bash "$root/scripts/debian-root.sh" deb "$cache/debian12-deb" | tail -n 1)
# The libraries' soname version (major.minor while 0.x), as CMakeLists.txt sets it.
soversion=$(sed -nE 's/^project\(RegistryIO VERSION (0\.[0-9]+|[1-9][0-9]*)\..*/\1/p' "$root/CMakeLists.txt")
routes=" ${RIO_PACKAGE_ROUTES:-deb install fetchcontent} "

# in_tree <name> <script> [files to copy to /build...]: runs the script with bash as root in a
# fresh overlay of the tree, in /build/registryio (the clone), with network for apt; afterwards
# the overlay's /build is copied to $work/<name> (what the README's commands wrote beside it).
in_tree() {
  local name=$1 script=$2
  shift 2
  unshare --mount --propagation private -- bash -euo pipefail -c '
    tree=$1 work=$2 archives=$3 name=$4 script=$5 ccache_dir=$6; shift 6
    layer=$work/overlay-$name
    mkdir -p "$layer"
    mount -t tmpfs tmpfs "$layer"
    mkdir "$layer/upper" "$layer/work" "$layer/root"
    mount -t overlay overlay -o "lowerdir=$tree,upperdir=$layer/upper,workdir=$layer/work" "$layer/root"
    new=$layer/root
    mount --rbind /dev "$new/dev"
    mount -t proc proc "$new/proc"
    mount --bind "$archives" "$new/var/cache/apt/archives"
    touch "$new/etc/resolv.conf"
    mount --bind /etc/resolv.conf "$new/etc/resolv.conf"
    mkdir -p "$new/build" "$new/ccache"
    mount --bind "$ccache_dir" "$new/ccache"
    cp -a "$work/registryio" "$new/build/registryio"
    (($# == 0)) || cp -a "$@" "$new/build/"
    cp "$script" "$new/build/run.sh"
    chroot "$new" /usr/bin/env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/root LANG=C.UTF-8 \
      DEBIAN_FRONTEND=noninteractive QT_QPA_PLATFORM=offscreen \
      bash -euo pipefail -c "cd /build/registryio && source /build/run.sh" </dev/null
    mkdir -p "$work/$name"
    find "$new/build" -maxdepth 1 -type f -name "*.deb" -exec cp {} "$work/$name/" \;
    find "$new/build" -maxdepth 1 -type f \( -name "*.changes" -o -name "*.buildinfo" \) -exec cp {} "$work/$name/" \;
  ' in_tree "$tree" "$work" "$apt_archives" "$name" "$script" "$ccache_dir" "$@"
}

# --- FetchContent: a project whose CMakeLists.txt is the snippet, around the C++ quick start. It
# needs nothing of the other routes: run beside them from the start (its download and apt's
# single-core unpacking overlap their compiles), its result read at the end.
fetchcontent_route() {
  local start=$SECONDS apt_archives=$cache/apt-archives-fetchcontent
  mkdir -p "$work/fetch-app"
  cp "$root/examples/quickstart/main.cpp" "$work/fetch-app/"
  {
    printf 'cmake_minimum_required(VERSION 3.25)\nproject(app LANGUAGES CXX)\nset(CMAKE_CXX_STANDARD 20)\n'
    printf 'add_executable(app main.cpp)\n'
    cat "$work/blocks/fetchcontent"
    printf 'install(TARGETS app)\n'
  } >"$work/fetch-app/CMakeLists.txt"
  cat >"$work/fetchcontent.sh" <<EOF
set -x
$(cat "$work/blocks/fetchcontent-deps")
cmake -S /build/fetch-app -B /build/fetch-app/build -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DREGISTRYIO_REPOSITORY=/build/registryio
cmake --build /build/fetch-app/build
/build/fetch-app/build/app
cmake --install /build/fetch-app/build --prefix /tmp/prefix
/tmp/prefix/bin/app
set +x
# The parent's install holds RegistryIO's libraries, and its program runs from there; the Core
# alone looked up no Qt package and no documentation tool.
ls /tmp/prefix/lib/libRegistryIOCore.so.*
if grep -E '^(Qt6|Qt6[A-Za-z]*_DIR|RIO_DOXYGEN|RIO_QHELPGENERATOR)[:=]' /build/fetch-app/build/CMakeCache.txt; then
  echo "a Core-only FetchContent looked up Qt or documentation tools" >&2; exit 1
fi
EOF
  if ! in_tree fetchcontent "$work/fetchcontent.sh" "$work/fetch-app" >"$work/fetchcontent.log" 2>&1; then
    tail -n 60 "$work/fetchcontent.log"
    echo "README's FetchContent snippet failed (log: $work/fetchcontent.log)"
    return 1
  fi
  echo "FetchContent at the README's pin built, run and installed in $((SECONDS - start)) s (beside the other routes)"
}
fetchcontent_pid=""
if [[ $routes == *" fetchcontent "* ]]; then
  fetchcontent_route >"$work/fetchcontent.out" 2>&1 &
  fetchcontent_pid=$!
  # Not left running when another route fails.
  trap 'wait "$fetchcontent_pid" 2>/dev/null || true' EXIT
fi

if [[ $routes == *" deb "* ]]; then
# --- 1. the packages, built as the README builds them, with their tests. ccache (installed for
# this stage only, a CI accelerator) makes a rerun cheap.
start=$SECONDS
[[ $(head -n 1 "$work/blocks/deb-build") == "apt-get update"* ]] ||
  { echo "README.md's deb-build block must begin with apt-get update (a fresh system has no package lists)" >&2; exit 1; }
cat >"$work/deb-build.sh" <<EOF
set -x
$(sed -n '1p' "$work/blocks/deb-build")
set +x
apt-get install -y -q --no-install-recommends ccache >/dev/null
export CMAKE_CXX_COMPILER_LAUNCHER=ccache CCACHE_DIR=/ccache CCACHE_BASEDIR=/build/registryio \
  CCACHE_NOHASHDIR=true "CCACHE_IGNOREOPTIONS=-ffile-prefix-map=*"
set -x
$(sed '1d' "$work/blocks/deb-build")
EOF
if ! in_tree deb-build "$work/deb-build.sh" >"$work/deb-build.log" 2>&1; then
  tail -n 80 "$work/deb-build.log" >&2
  echo "README's package build failed (log: $work/deb-build.log)" >&2
  exit 1
fi
grep -E "tests passed" "$work/deb-build.log" || true
debs=("$work"/deb-build/*.deb)
echo "packages built and tested in $((SECONDS - start)) s: $(cd "$work/deb-build" && ls -- *.deb | tr '\n' ' ')"

# --- 2. lintian: no error, no warning, with pedantic tags shown
start=$SECONDS
lintian --pedantic --fail-on error,warning --display-level '>=pedantic' --tag-display-limit 0 \
  "$work"/deb-build/*.changes
echo "lintian: no error or warning ($((SECONDS - start)) s)"

# --- 2a. the libraries' ABI (exported symbols and types, from the packages' debug information)
# against the last release's: changed under the same soname, or a new soname that CHANGELOG.md
# does not name, fails.
start=$SECONDS
bash "$root/scripts/abi.sh" check "$work/deb-build"
echo "ABI check: $((SECONDS - start)) s"

# --- 2b. installed over 0.1.0: its libregistryio-dev held the Core's headers, CMake package and
# registryio-core.pc, which libregistryiocore-dev holds now. A stand-in for it (those files under
# its name and version) goes into an empty dpkg database, then the new development packages are
# unpacked over it as apt does (in its order: libregistryio-dev depends on libregistryiocore-dev;
# --auto-deconfigure, as apt passes it).
start=$SECONDS
upgrade=$work/upgrade-0.1
rm -rf "$upgrade"
mkdir -p "$upgrade/old/DEBIAN" "$upgrade/root/var/lib/dpkg/info" "$upgrade/root/var/lib/dpkg/updates"
touch "$upgrade/root/var/lib/dpkg/status"
dpkg-deb -x "$work"/deb-build/libregistryiocore-dev_*.deb "$upgrade/old"
rm -rf "$upgrade/old/usr/share/doc"
printf 'Package: libregistryio-dev\nVersion: 0.1.0-1\nArchitecture: %s\nMaintainer: CI <ci@invalid>\nDescription: stand-in for 0.1.0 libregistryio-dev\n' \
  "$(dpkg --print-architecture)" >"$upgrade/old/DEBIAN/control"
dpkg-deb --build "$upgrade/old" "$upgrade/old.deb" >/dev/null
dpkg_root() { dpkg --root="$upgrade/root" --force-depends,not-root --log=/dev/null "$@"; }
dpkg_root -i "$upgrade/old.deb" >/dev/null
if ! dpkg_root --auto-deconfigure --unpack "$work"/deb-build/libregistryiocore-dev_*.deb "$work"/deb-build/libregistryio-dev_*.deb \
  >"$upgrade/log" 2>&1; then
  cat "$upgrade/log" >&2
  echo "the development packages do not install over 0.1.0's libregistryio-dev" >&2
  exit 1
fi
echo "development packages installed over 0.1.0's: $((SECONDS - start)) s"

# --- 3. installed as the README installs them; the quick starts; the checks of the prose
start=$SECONDS
cat >"$work/deb-install.sh" <<EOF
# The package lists the README's deb-build block fetched first, on the reader's machine (this
# route runs in a fresh copy of the tree).
apt-get update -q >/dev/null
# The Core's development package and its dependencies: no Qt package among them.
if apt-get install -s ../libregistryiocore-dev_*.deb ../libregistryiocore${soversion}_*.deb | grep -E '^Inst .*qt'; then
  echo "libregistryiocore-dev pulls Qt packages" >&2; exit 1
fi
set -x
$(cat "$work/blocks/deb-install")
test -f /usr/share/qt6/doc/registryio.qch
$(cat "$work/blocks/quickstart-cpp")
$(cat "$work/blocks/quickstart-qml")
$(cat "$work/blocks/quickstart-remote")
$(cat "$work/blocks/remote-qml")
cp examples/worker-feed/main.cpp app.cpp # a program of the Qt facade, built without CMake
$(cat "$work/blocks/pkg-config")
./a.out
set +x
# Every installed public header, the first include of a Q_OBJECT file, through moc by hand
# (no CMake): with the README's flags, and with the compiler's C++20 macros and include paths as
# qmake gives them.
moc=/usr/lib/qt6/libexec/moc
readme_flags=\$(pkg-config --cflags-only-I registryio-qml registryio-remote)
g++ -std=c++20 -dM -E -x c++ /dev/null >/tmp/predefs.h
paths=\$(g++ -std=c++20 -E -x c++ -v /dev/null 2>&1 | sed -n '/^#include <...>/,/^End of/p' | grep '^ ' | sed 's/^ */-I/')
qt=\$(for d in /usr/include/*/qt6 /usr/include/*/qt6/Qt*; do printf -- '-I%s ' "\$d"; done)
count=0
for header in \$(cd /usr/include && ls registryio/*.h registryio/*/*.h | grep -v '_export\.h\$'); do
  printf '#include <%s>\n#include <QObject>\nclass C : public QObject\n{\n    Q_OBJECT\n};\n' "\$header" >/tmp/moc.cpp
  { \$moc \$readme_flags /tmp/moc.cpp -o /tmp/moc.out && \$moc --include /tmp/predefs.h \$qt \$paths /tmp/moc.cpp -o /tmp/moc.out; } ||
    { echo "moc failed on a file whose first include is <\$header>" >&2; exit 1; }
  count=\$((count + 1))
done
echo "moc by hand: \$count public headers"
EOF
if ! in_tree deb-install "$work/deb-install.sh" "${debs[@]}" >"$work/deb-install.log" 2>&1; then
  tail -n 60 "$work/deb-install.log" >&2
  echo "README's package install or quick starts failed (log: $work/deb-install.log)" >&2
  exit 1
fi
grep -E "^(handlers left|quickstart-qml|ui: 3 orders|window:|moc by hand)" "$work/deb-install.log"
echo "packages installed, quick starts built and run in $((SECONDS - start)) s"

fi

if [[ $routes == *" install "* ]]; then
# --- 4. the install route: what it builds with, the preset `user` into /opt/registryio, and the
# C++ quick start through find_package of that prefix. ccache, installed for this route only (a
# CI accelerator), with the flags and locale debhelper gave the package build (dpkg-buildflags
# with debian/rules' options; CPPFLAGS appended to CXXFLAGS as debhelper's CMake build system
# does), whose build folder (build/deb) is as deep as the preset's: to ccache the libraries'
# compiles here are the package build's, hits. The commands stay as written.
start=$SECONDS
maint_options=$(sed -n 's/^export DEB_BUILD_MAINT_OPTIONS *= *//p' "$root/debian/rules")
deb_flags() { # dpkg-buildflags --get <name> as in the tree's clone
  (cd "$work/registryio" && DEB_BUILD_MAINT_OPTIONS=$maint_options dpkg-buildflags --get "$1") |
    sed "s|$work/registryio|/build/registryio|g"
}
cat >"$work/install.sh" <<EOF
set -x
$(cat "$work/blocks/install-deps")
set +x
apt-get install -y -q --no-install-recommends ccache >/dev/null
export CMAKE_CXX_COMPILER_LAUNCHER=ccache CCACHE_DIR=/ccache CCACHE_BASEDIR=/build/registryio CCACHE_NOHASHDIR=true \
  "CCACHE_IGNOREOPTIONS=-ffile-prefix-map=*" CCACHE_STATSLOG=/tmp/ccache-stats.log LC_ALL=C.UTF-8 \
  "CXXFLAGS=$(deb_flags CXXFLAGS) $(deb_flags CPPFLAGS)" "LDFLAGS=$(deb_flags LDFLAGS)"
set -x
$(cat "$work/blocks/install")
$(cat "$work/blocks/install-quickstart")
$(cat "$work/blocks/install-quickstart-qml")
set +x
# Every public header of the layers the route built (all: Qt, QML and Remote are installed) is
# in the prefix, and no test hook; the five libraries; nothing built but the libraries.
missing=0
for header in \$(cd /build/registryio && find src/*/include qml/include qml/remote/include -name '*.h' ! -name '*_testing*' | sed 's|^.*/include/||'); do
  [[ -f /opt/registryio/include/\$header ]] || { echo "not installed: \$header" >&2; missing=1; }
done
((missing == 0))
if find /opt/registryio/include -name '*_testing*' | grep .; then echo "test hooks installed" >&2; exit 1; fi
ls /opt/registryio/lib/libRegistryIO{Core,Qt,Qml,Remote,RemoteQml}.so.${soversion} >/dev/null
if find build/user -type f \( -name 'tst_*' -o -name 'bench_*' \) | grep .; then
  echo "the preset user built tests or benchmarks" >&2; exit 1
fi
echo "install route: \$(find /opt/registryio/include -name '*.h' | wc -l) headers, five libraries"
echo "install route's compiles, ccache: \$(ccache --show-log-stats | awk '/^ *(Hits|Misses):/ && n++ < 2' | tr -s ' ' | tr '\n' ' ')"
EOF
if ! in_tree install "$work/install.sh" >"$work/install.log" 2>&1; then
  tail -n 60 "$work/install.log" >&2
  echo "README's install route failed (log: $work/install.log)" >&2
  exit 1
fi
grep -E "^(handlers left|install route)" "$work/install.log" || true
echo "install route built, installed and used in $((SECONDS - start)) s"
fi

if [[ -n $fetchcontent_pid ]]; then
  rc=0
  wait "$fetchcontent_pid" || rc=$?
  cat "$work/fetchcontent.out"
  ((rc == 0)) || exit 1
fi
