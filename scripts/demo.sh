#!/usr/bin/env bash
# Builds and runs the main demo. Installs missing packages first; safe to rerun.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$root/scripts/deps.sh"
cmake -S "$root" -B "$root/build/demo" -G Ninja -DCMAKE_BUILD_TYPE=Release -DRIO_BUILD_TESTS=OFF \
  -DRIO_BUILD_BENCHMARKS=OFF >/dev/null
cmake --build "$root/build/demo" -j "$(nproc)" --target rio_demo
exec "$root/build/demo/examples/rio_demo" "$@"
