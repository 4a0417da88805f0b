#!/usr/bin/env bash
# Builds and runs every test: the full suite with g++, then the concurrency-sensitive tests
# (CTest label `sanitize`) under ThreadSanitizer and under AddressSanitizer+UBSan with clang,
# which also runs the libFuzzer target. Installs missing packages first; safe to rerun.
#   bash scripts/test.sh            everything
#   RIO_STAGES="main" bash scripts/test.sh   only some stages (main tsan asan)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$root/scripts/deps.sh"

stages=${RIO_STAGES:-main tsan asan}
jobs=$(nproc)
export QT_QPA_PLATFORM=offscreen
export CTEST_OUTPUT_ON_FAILURE=1

configure() { # dir, extra cmake args...
  local dir=$1; shift
  cmake -S "$root" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRIO_WERROR=ON "$@" >/dev/null
}

for stage in $stages; do
  echo "=== stage: $stage"
  case $stage in
    main)
      configure "$root/build/test-gcc" -DCMAKE_CXX_COMPILER=g++
      cmake --build "$root/build/test-gcc" -j "$jobs"
      ctest --test-dir "$root/build/test-gcc" -j "$jobs" --label-exclude serial
      ctest --test-dir "$root/build/test-gcc" --label-regex serial
      ;;
    tsan)
      configure "$root/build/test-tsan" -DCMAKE_CXX_COMPILER=clang++-14 -DRIO_SANITIZE=thread \
        -DRIO_BUILD_EXAMPLES=OFF -DRIO_BUILD_BENCHMARKS=OFF
      cmake --build "$root/build/test-tsan" -j "$jobs" --target rio_sanitize
      TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 ignore_noninstrumented_modules=1 suppressions=$root/tests/tsan.supp" \
        ctest --test-dir "$root/build/test-tsan" -j "$jobs" --label-regex sanitize
      ;;
    asan)
      configure "$root/build/test-asan" -DCMAKE_CXX_COMPILER=clang++-14 -DRIO_SANITIZE=address,undefined \
        -DRIO_BUILD_EXAMPLES=OFF -DRIO_BUILD_BENCHMARKS=OFF -DRIO_BUILD_FUZZ=ON
      cmake --build "$root/build/test-asan" -j "$jobs" --target rio_sanitize
      ASAN_OPTIONS="detect_leaks=1 abort_on_error=1" UBSAN_OPTIONS="print_stacktrace=1 halt_on_error=1" \
      LSAN_OPTIONS="suppressions=$root/tests/lsan.supp" \
        ctest --test-dir "$root/build/test-asan" -j "$jobs" --label-regex sanitize
      ;;
    *) echo "unknown stage: $stage" >&2; exit 2 ;;
  esac
done
echo "=== all stages passed: $stages"
