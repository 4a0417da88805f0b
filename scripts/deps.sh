#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs the Debian 12 packages RegistryIO needs, by profile. Safe to rerun: it asks apt only
# for what is missing.
#   bash scripts/deps.sh core    what scripts/demo.sh --core builds with: the compiler, CMake and
#                                Ninja (no Qt)
#   bash scripts/deps.sh demo    what scripts/demo.sh builds and runs with: the compiler, CMake,
#                                Ninja, Qt's base and QML development packages (with Qt's private
#                                QML headers, for the lines that name declared handlers) and the
#                                QML modules the dashboard imports (14 names; apt adds what they
#                                depend on, not what they recommend)
#   bash scripts/deps.sh [test]  everything the tests, benchmarks and scripts/test.sh's stages use
#                                (the demo's packages included), with what they recommend
set -euo pipefail

profile=${1:-test}
core_packages=(g++ cmake ninja-build)
demo_packages=(
  "${core_packages[@]}" qt6-base-dev qt6-declarative-dev
  # QQmlData: the line of a declared handler, which the dashboard's inspector shows
  qt6-declarative-private-dev
  # the QML modules the dashboard imports (QtQuick, QtQuick.Controls.Fusion, QtQuick.Layouts) and
  # those they import in turn
  qml6-module-qtqml qml6-module-qtqml-models qml6-module-qtqml-workerscript qml6-module-qtquick
  qml6-module-qtquick-window qml6-module-qtquick-controls qml6-module-qtquick-layouts
  qml6-module-qtquick-templates
)
# The tests': the demo's and these.
test_packages=(
  # toolchain
  build-essential clang-14 libclang-rt-14-dev clang-format-19 clang-tidy ccache
  # llvm-symbolizer, for the sanitizers' readable reports
  llvm-14
  # other platforms, as far as Debian can: libc++ (macOS's standard library), MinGW-w64 + wine
  # (wine64's recommended wine brings wineboot)
  libc++-14-dev libc++abi-14-dev g++-mingw-w64-x86-64-posix wine64 wine
  # Qt 6.4's tools and platform plugins (its development packages and QML modules: the demo's)
  qt6-base-dev-tools qt6-declarative-dev-tools qt6-qpa-plugins
  # RegistryIO::Remote (optional): Qt Remote Objects and its QML module
  qt6-remoteobjects-dev qml6-module-qtremoteobjects
  # its TLS test makes its certificates with the openssl command
  openssl
  qml6-module-qttest libgl-dev
  # tests, benchmarks and their peers
  librapidcheck-dev libbenchmark-dev libboost-dev libsigc++-3.0-dev valgrind python3
  # the main stage builds the Qt facade's LTTng tracepoints (RIO_TRACING=LTTNG); its test records
  # a session with lttng and reads it back with babeltrace2
  liblttng-ust-dev lttng-tools babeltrace2
  # the demo's test in a real X window (xvfb-run needs xauth)
  xvfb xauth
  # verification, docs and plots
  spin doxygen qt6-documentation-tools gnuplot-nox
  # the qt68 stage's Debian 13 tree (Qt 6.8, g++ 14) and the package stage's Debian 12 tree, made
  # in a directory and entered with chroot (mmdebstrap's recommended gpg reads the keyrings)
  mmdebstrap gpg
  # the package stage: dpkg-buildpackage with debhelper, lintian, and libabigail's abidw and
  # abidiff for the libraries' ABI (scripts/abi.sh)
  dpkg-dev debhelper lintian abigail-tools
)
case $profile in
  core) packages=("${core_packages[@]}") ;;
  demo) packages=("${demo_packages[@]}") ;;
  test) packages=("${demo_packages[@]}" "${test_packages[@]}") ;;
  *) echo "usage: deps.sh [core|demo|test]" >&2; exit 2 ;;
esac

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done
((${#missing[@]} == 0)) && exit 0

echo "Installing ${missing[*]} (apt-get)"
sudo=""
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "Need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
# The demos take only what their packages depend on (checked on a fresh Debian 12 tree), and
# write apt's lines to a log (shown if it fails) so that their screen is the demo's; the tests
# keep what their packages recommend too, as every CI run so far has had them, and apt's lines.
if [[ $profile == test ]]; then
  $sudo apt-get update -q
  $sudo apt-get install -y -q "${missing[@]}"
  exit 0
fi
log=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/build/deps-$profile.log
mkdir -p "$(dirname "$log")"
start=$SECONDS
if ! { $sudo apt-get update -q && $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
  cat "$log" >&2
  exit 1
fi
echo "Installed in $((SECONDS - start)) s, $(grep -c '^Setting up ' "$log") packages with what they need (apt's lines: $log)"
