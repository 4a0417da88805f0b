#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# scripts/wine-run.sh against fake wines. Each fake records its runs in a file and behaves as
# wine would: lose its server ("wine client error"), or run the given command.
#   tst_wine_run.sh <path of wine-run.sh>
set -uo pipefail
wrapper=$1
work=$(mktemp -d)
helper_pid=
cleanup() {
  [[ -n $helper_pid ]] && kill "$helper_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
failures=0
check() { # description, condition...
  local what=$1; shift
  if "$@"; then echo "PASS $what"; else echo "FAIL $what"; failures=$((failures + 1)); fi
}

# A fake wine that loses its server on the runs listed in LOSE (e.g. "1 2"), else runs "$@".
cat >"$work/wine" <<'FAKE'
#!/usr/bin/env bash
echo run >>"$RUNS"
n=$(wc -l <"$RUNS")
if [[ " $LOSE " == *" $n "* ]]; then
  echo "wine client error:0: recvmsg: Connection reset by peer" >&2
  exit 1
fi
"$@"
FAKE
chmod +x "$work/wine"

run() { # lose, command... ; sets rc, runs, output
  : >"$work/runs"
  output=$(RIO_WINE_BIN="$work/wine" RUNS="$work/runs" LOSE=$1 timeout 20 "$wrapper" "${@:2}" 2>&1)
  rc=$?
  runs=$(wc -l <"$work/runs")
}

run "" bash -c 'echo PASS a; exit 0'
check "a passing test runs once and passes" test "$rc" -eq 0 -a "$runs" -eq 1
run "" bash -c 'echo FAIL a; exit 3'
check "a failing test runs once and keeps its exit code" test "$rc" -eq 3 -a "$runs" -eq 1
run "1" bash -c 'echo PASS b; exit 0'
check "a lost server is retried once, and the rerun's pass counts" test "$rc" -eq 0 -a "$runs" -eq 2
[[ $output == *"PASS b"* && $output == *"wine client error"* ]]
check "both runs' output reach the caller" test $? -eq 0
run "1" bash -c 'echo FAIL b; exit 3'
check "a rerun's failure stands" test "$rc" -eq 3 -a "$runs" -eq 2
run "1 2 3" bash -c 'exit 0'
check "a server lost twice fails, and is not tried a third time" test "$rc" -ne 0 -a "$runs" -eq 2
# Wine's helper processes inherit the program's output and outlive it: the wrapper must return
# when the program ends, not when the last holder of its output does.
run "" bash -c 'tail -f /dev/null & echo $! >"'"$work"'/helper"; echo PASS c'
helper_pid=$(cat "$work/helper")
check "it returns while a helper still holds the output" test "$rc" -eq 0
[[ $output == *"PASS c"* ]]
check "the program's output is streamed" test $? -eq 0

echo "tst_wine_run: $failures failed"
((failures == 0))
