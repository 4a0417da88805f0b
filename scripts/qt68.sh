#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The qt68 stage of scripts/test.sh: every library, and every test and example that uses Qt,
# built with g++ 14 against Qt 6.8 (Debian 13), warnings as errors, and those tests run (but five
# left to the main stage, see below), inside the Debian 13 tree scripts/debian-root.sh keeps in the cache
# directory. The checkout is bind-mounted at its
# own path, so the build folder (build/test-qt68) is the same inside and out.
#   bash scripts/qt68.sh     needs root (chroot); RIO_CACHE_DIR picks the cache directory
#   RIO_QT68_TARGETS="tst_qml_typed" RIO_QT68_CTEST="-R qml_" bash scripts/qt68.sh
#                            only those targets, and only the tests ctest selects with those arguments
#   RIO_QT68_BUILD_ONLY=1 bash scripts/qt68.sh
#                            the build alone (scripts/test.sh runs it in the background, at idle
#                            priority, and the tests at the stage's turn)
#   RIO_QT68_BENCH=1 bash scripts/qt68.sh
#                            instead of the suite: a Release build of the QML and Qt facade benchmarks
#                            (build/bench-qt68) and their callgrind counts against Qt 6.8's own
#                            Connections and signals (benchmarks/callgrind.py --qt-targets), the Qt 6.8
#                            column of PERFORMANCE.md (2026-11-25: 32.5 min on 2 cores at a load average
#                            of 5 to 12, 15.5 of them the build with a cold ccache)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache=${RIO_CACHE_DIR:-/var/cache/registryio}
jobs=$(nproc)

if [[ ${1:-} == --inside ]]; then
  # --- inside the tree: configure, build, run, as the main stage does on Debian 12
  build="$root/build/test-qt68"
  export QT_QPA_PLATFORM=offscreen CTEST_OUTPUT_ON_FAILURE=1
  g++ --version | head -n 1
  echo "Qt $(/usr/lib/qt6/bin/qtpaths6 --qt-query QT_VERSION 2>/dev/null || echo '?')"
  if [[ -n ${RIO_QT68_BENCH:-} ]]; then
    # The benchmarks as benchmarks/run builds them (Release), only the three the counts need.
    bench="$root/build/bench-qt68"
    cmake -S "$root" -B "$bench" -G Ninja -DCMAKE_BUILD_TYPE=Release -DRIO_WERROR=ON -DRIO_BUILD_TESTS=OFF \
      -DRIO_BUILD_EXAMPLES=OFF -DRIO_BUILD_QML=ON -DRIO_BUILD_BENCHMARKS=ON \
      -DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER=g++ >/dev/null
    cmake --build "$bench" -j "$jobs" --target bench_qml bench_cross_thread rio_callgrind_driver
    if ! command -v valgrind >/dev/null; then # not in the stage's package list: installed once, here
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends valgrind >/dev/null
    fi
    valgrind --version
    python3 "$root/benchmarks/callgrind.py" --qt-targets --driver "$bench/benchmarks/rio_callgrind_driver" \
      --json "$bench/qt-targets.json"
    exit 0
  fi
  # -g0: nothing here needs a debugger, and no debug information is the cheapest build. No
  # benchmarks: the suite here does not run them (benchmarks_quick is the main stage's), and
  # RIO_QT68_BENCH builds the ones it measures, warnings as errors, in its own folder. No Core
  # tests (tests/core, no Qt in them: what differs here is Qt's version; the Core itself is built
  # and every Qt test includes its headers). The tests' headers precompiled and the libraries as
  # a unity build, as scripts/test.sh's stages build.
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRIO_WERROR=ON \
    "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O2 -g0 -DNDEBUG" -DCMAKE_CXX_COMPILER_LAUNCHER=ccache \
    -DCMAKE_CXX_COMPILER=g++ -DRIO_BUILD_BENCHMARKS=OFF -DRIO_BUILD_CORE_TESTS=OFF -DRIO_PACKAGE_TESTS_BUILD=QT \
    -DRIO_PRECOMPILE_HEADERS=ON -DCMAKE_UNITY_BUILD=ON >/dev/null
  ccache --zero-stats >/dev/null
  targets=()
  for target in ${RIO_QT68_TARGETS:-}; do targets+=(--target "$target"); done
  cmake --build "$build" -j "$jobs" "${targets[@]}"
  ccache --show-stats | grep -Ei '^ *(hits|misses|cacheable)' || true
  [[ -z ${RIO_QT68_BUILD_ONLY:-} ]] || exit 0
  if [[ -n ${RIO_QT68_CTEST:-} ]]; then
    read -ra selection <<<"$RIO_QT68_CTEST"
    ctest --test-dir "$build" -j "$jobs" "${selection[@]}"
    exit 0
  fi
  # Left to the main stage: source_format (the layout, clang-format-19, the same on any Qt); for the
  # stage's time, benchmarks_quick (that the benchmarks run and report: not built here,
  # RIO_QT68_BENCH builds and runs them on 6.8) and package_fetchcontent (every library built once
  # more from the checkout; the same CMake code on any Qt, and the consumer's checks on 6.8 are
  # package_find_package's); docs_reference (docs/QML_TYPES.md is generated from, and checked
  # against, the Qt 6.4 build's .qmltypes, whose spelling of types differs between Qt versions).
  # The consumers on Qt 6.8 are those of package_find_package whose build Qt's version changes
  # (RIO_PACKAGE_TESTS_BUILD=QT: moc over the installed headers, every installed header with
  # warnings as errors, the QML applications linted, compiled and run against the installed
  # modules); its C++ consumers and example, and package_pkg_config, are left to the main stage
  # (CMake packaging and .pc files, the same on any Qt).
  skip='^(source_format|benchmarks_quick|package_fetchcontent|package_pkg_config|docs_reference)$'
  # Two test slots per core, as in the sanitizer stages: the suite mostly waits (deadlines, other
  # processes), and this is the run's last stage, with nothing left beside it to take the idle
  # cores.
  ctest --test-dir "$build" -j $((jobs * 2)) --label-exclude serial -E "$skip"
  ctest --test-dir "$build" --label-regex serial -E "$skip"
  exit 0
fi

[[ $(id -u) -eq 0 ]] || { echo "the qt68 stage needs root (chroot, mount)" >&2; exit 1; }
tree="$cache/debian13-qt68"
bash "$root/scripts/debian-root.sh" qt68 "$tree" >&2 # made once, then reused
ccache_dir="$cache/debian13-qt68-ccache"
mkdir -p "$ccache_dir" "$tree/ccache"

# A private mount namespace: the mounts below exist for this stage only, are seen by no other
# process, and go away with it however it ends; the trap unmounts them when it ends normally.
unshare --mount --propagation private -- bash -euo pipefail -c '
  tree=$1 root=$2 ccache_dir=$3
  trap "umount -R \"\$tree/dev\" \"\$tree/proc\" \"\$tree/tmp\" \"\$tree\$root\" \"\$tree/ccache\" 2>/dev/null || true" EXIT
  mount --rbind /dev "$tree/dev"
  mount -t proc proc "$tree/proc"
  mount -t tmpfs tmpfs "$tree/tmp"
  mkdir -p "$tree$root" # after the tmpfs: the checkout may live under /tmp
  mount --bind "$root" "$tree$root"
  mount --bind "$ccache_dir" "$tree/ccache"
  # A clean environment: only what the build and the tests need.
  chroot "$tree" /usr/bin/env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/root LANG=C.UTF-8 \
    CCACHE_DIR=/ccache CCACHE_MAXSIZE=2G CCACHE_BASEDIR="$root" CCACHE_NOHASHDIR=true CCACHE_DEPEND=true \
    CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime CI="${CI:-}" RIO_QT68_TARGETS="${RIO_QT68_TARGETS:-}" \
    RIO_QT68_CTEST="${RIO_QT68_CTEST:-}" RIO_QT68_BENCH="${RIO_QT68_BENCH:-}" RIO_QT68_BUILD_ONLY="${RIO_QT68_BUILD_ONLY:-}" bash "$root/scripts/qt68.sh" --inside
' qt68 "$tree" "$root" "$ccache_dir"
