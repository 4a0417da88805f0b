#!/usr/bin/env bash
# Builds and runs the main demo, the Qt Quick dashboard (examples/qml-dashboard): worker threads
# publish metrics through a registry and QML panels subscribe with priorities and coalescing.
# Without a display it runs headless (offscreen) for 5 seconds and prints what the panels got.
# Installs missing packages first; safe to rerun.
#   bash scripts/demo.sh                 the dashboard (a window when a display is available)
#   bash scripts/demo.sh --seconds 10    run for 10 seconds, then print the summary
#   bash scripts/demo.sh --core          the console demo of the Qt-free core instead
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$root/scripts/deps.sh"
build="$root/build/demo"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DRIO_WERROR=ON -DRIO_BUILD_TESTS=OFF \
  -DRIO_BUILD_BENCHMARKS=OFF >/dev/null

if [[ "${1:-}" == "--core" ]]; then
  cmake --build "$build" -j "$(nproc)" --target rio_demo
  exec "$build/examples/rio_demo"
fi

cmake --build "$build" -j "$(nproc)" --target rio_qml_dashboard
args=("$@")
if [[ -z "${DISPLAY:-}" && -z "${WAYLAND_DISPLAY:-}" ]]; then
  export QT_QPA_PLATFORM=${QT_QPA_PLATFORM:-offscreen}
  ((${#args[@]} > 0)) || args=(--seconds 5)
fi
exec "$build/examples/rio_qml_dashboard" "${args[@]}"
