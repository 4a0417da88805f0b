#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds and runs the main demo, the Qt Quick dashboard (examples/qml-dashboard): one worker flood
# reaches two identical receivers, through a Qt queued signal and through a coalesced registry
# handler, side by side, and the window's thread as a table of 5,000 keys through a LatestModel
# and through a Qt queued signal per update; a slider raises the flood until the Qt side falls behind.
# Without a display it runs headless (offscreen) for 5 seconds, prints what each side got and the
# window's frames/s with each table feed, and checks the window's layout after a simulated long run. Installs the packages it needs first
# (scripts/deps.sh demo: 14 names, not the tests' toolchains); safe to rerun. --core installs the
# compiler, CMake and Ninja only (scripts/deps.sh core: no Qt) and builds the Core alone.
#   bash scripts/demo.sh                 the dashboard (a window when a display is available)
#   bash scripts/demo.sh --seconds 10    run for 10 seconds, check, print the summary
#   bash scripts/demo.sh --rate 100000   start the flood at 100,000 events/s per worker
#   bash scripts/demo.sh --ui-flood      also feed the window's table through Qt signals from the start
#   bash scripts/demo.sh --core          the console demo of the Qt-free core instead
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# ccache, where installed, makes a rebuild (a rerun, CI's) cheap.
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)

if [[ "${1:-}" == "--core" ]]; then
  bash "$root/scripts/deps.sh" core
  build="$root/build/demo-core"
  start=$SECONDS
  echo "Building the Core and its console demo (examples/demo) in $build ..."
  # The build's lines go to a log, shown if it fails.
  log="$build.log"
  mkdir -p "$root/build"
  if ! { cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DRIO_WERROR=ON -DRIO_BUILD_QT=OFF \
    -DRIO_BUILD_TESTS=OFF -DRIO_BUILD_BENCHMARKS=OFF -DCMAKE_UNITY_BUILD=ON "${launcher[@]}" && cmake --build "$build" -j "$(nproc)" --target rio_demo; } >"$log" 2>&1; then
    cat "$log" >&2
    exit 1
  fi
  echo "Built in $((SECONDS - start)) s. The demo:"
  echo
  exec "$build/examples/rio_demo"
fi

bash "$root/scripts/deps.sh" demo
build="$root/build/demo"
# A unity build: each library compiles as a few translation units, so Qt's headers are parsed a
# few times instead of once per source file (about 45% less CPU time for the dashboard).
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DRIO_WERROR=ON -DRIO_BUILD_TESTS=OFF \
  -DRIO_BUILD_BENCHMARKS=OFF -DCMAKE_UNITY_BUILD=ON "${launcher[@]}" >/dev/null

cmake --build "$build" -j "$(nproc)" --target rio_qml_dashboard
args=("$@")
if [[ -z "${DISPLAY:-}" && -z "${WAYLAND_DISPLAY:-}" ]]; then
  export QT_QPA_PLATFORM=${QT_QPA_PLATFORM:-offscreen}
  # Headless, it never runs forever: 5 seconds unless --seconds N (or --seconds=N) says how many,
  # a whole number of at least 1.
  seconds=""
  for ((i = 0; i < ${#args[@]}; ++i)); do
    case ${args[i]} in
      --) echo "demo.sh: the demo takes no positional arguments" >&2; exit 2 ;;
      --seconds) seconds=${args[i + 1]-}; [[ -n $seconds ]] || seconds=none ;;
      --seconds=*) seconds=${args[i]#--seconds=}; [[ -n $seconds ]] || seconds=none ;;
    esac
  done
  if [[ -z $seconds ]]; then
    args+=(--seconds 5)
  elif ! [[ $seconds =~ ^[0-9]+$ ]] || ((10#$seconds < 1)); then
    echo "demo.sh: without a display the demo runs for a number of seconds: give --seconds 1 or more" >&2
    exit 2
  fi
fi
# Qt keeps its runtime files in the session's private folder; a shell without a session (root's,
# sudo's) has none, and Qt would warn that it picked one.
if [[ -z ${XDG_RUNTIME_DIR:-} ]]; then
  export XDG_RUNTIME_DIR="$build/runtime"
  mkdir -p -m 700 "$XDG_RUNTIME_DIR"
fi
exec "$build/examples/rio_qml_dashboard" "${args[@]}"
