#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The MinGW stage's CMAKE_CROSSCOMPILING_EMULATOR: runs one Windows test executable under wine,
# its output streamed as it comes. It runs it once more only when wine itself failed: its client
# lost the connection to wineserver ("wine client error"), which says nothing about the test.
# Any other failure is the test's own and stands; a FAIL line of the first run still fails the
# test through its FAIL_REGULAR_EXPRESSION, since both runs' output reach CTest.
set -uo pipefail
wine=${RIO_WINE_BIN:-/usr/lib/wine/wine64}
[[ -x $wine ]] || wine=$(command -v wine64 || command -v wine)
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for attempt in 1 2; do
  # The output goes to a file, never a pipe: wine's helper processes inherit the program's
  # descriptors and outlive it, so a pipe would not close when the test ends. tail streams it.
  "$wine" "$@" >"$out" 2>&1 &
  pid=$!
  tail -n +1 --pid="$pid" -f "$out"
  wait "$pid"
  rc=$?
  if ((rc == 0)) || ! grep -q '^wine client error' "$out"; then
    exit "$rc"
  fi
  echo "wine-run.sh: wine lost its connection to wineserver (exit $rc, run $attempt of 2)" >&2
done
exit "$rc"
