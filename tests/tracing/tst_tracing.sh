#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Records the tracepoints of RegistryIO::Qt with LTTng and reads them back with babeltrace2:
# the program (tests/tracing/trace_program.cpp) runs inside a user-space session that enables
# registryio:*, and its events, told from other processes' by their vpid, must carry the
# expected fields. A session daemon is started when none runs (and stopped again); when one
# cannot run, the test fails saying why: it never passes without having recorded anything.
#   tst_tracing.sh PROGRAM
set -euo pipefail
program=$1

fail() {
  echo "FAIL: $*" >&2
  exit 1
}
for tool in lttng lttng-sessiond babeltrace2; do
  command -v "$tool" >/dev/null || fail "$tool is not installed (scripts/deps.sh installs lttng-tools and babeltrace2)"
done

work=$(mktemp -d "${TMPDIR:-/tmp}/rio-trace.XXXXXX")
session="rio-trace-$$"
started_pid=""
cleanup() {
  lttng destroy "$session" >/dev/null 2>&1 || true
  if [[ -n $started_pid ]]; then
    kill "$started_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# The daemon of this user: root's is the system one (its files in /var/run/lttng), any other
# user's lives in $LTTNG_HOME/.lttng (default $HOME).
if [[ $(id -u) -eq 0 ]]; then
  rundir=/var/run/lttng
else
  rundir="${LTTNG_HOME:-$HOME}/.lttng"
fi
if ! lttng --no-sessiond list >/dev/null 2>&1; then
  lttng-sessiond --daemonize >"$work/sessiond.log" 2>&1 ||
    fail "lttng-sessiond could not start: $(cat "$work/sessiond.log")"
  started_pid=$(cat "$rundir/lttng-sessiond.pid" 2>/dev/null) ||
    fail "lttng-sessiond started but wrote no $rundir/lttng-sessiond.pid"
fi

lttng --no-sessiond create "$session" --output="$work/trace" >"$work/lttng.log" 2>&1 ||
  fail "lttng create: $(cat "$work/lttng.log")"
lttng --no-sessiond enable-event --userspace --session="$session" 'registryio:*' >>"$work/lttng.log" 2>&1 ||
  fail "lttng enable-event: $(cat "$work/lttng.log")"
lttng --no-sessiond add-context --userspace --session="$session" --type=vpid >>"$work/lttng.log" 2>&1 ||
  fail "lttng add-context: $(cat "$work/lttng.log")"
lttng --no-sessiond start "$session" >>"$work/lttng.log" 2>&1 || fail "lttng start: $(cat "$work/lttng.log")"

# The program waits for its registration with the daemon before main() (at most this long), so
# its first notify is recorded.
output=$(LTTNG_UST_REGISTER_TIMEOUT=30000 "$program" "$work/diagnostics.json" 2>"$work/program.err") ||
  fail "the program failed: $output $(cat "$work/program.err")"
lttng --no-sessiond stop "$session" >>"$work/lttng.log" 2>&1 || fail "lttng stop: $(cat "$work/lttng.log")"
lttng --no-sessiond destroy "$session" >>"$work/lttng.log" 2>&1 || fail "lttng destroy: $(cat "$work/lttng.log")"

echo "program: $output"
[[ $output =~ pid=([0-9]+)\ registry=([0-9]+)\ every=([0-9]+)\ bounded=([0-9]+)\ thrower=([0-9]+).*thrower_line=([0-9]+) ]] ||
  fail "unexpected program output: $output"
pid=${BASH_REMATCH[1]} registry=${BASH_REMATCH[2]} every=${BASH_REMATCH[3]} bounded=${BASH_REMATCH[4]}
thrower=${BASH_REMATCH[5]} thrower_line=${BASH_REMATCH[6]}

babeltrace2 "$work/trace" >"$work/events.txt" 2>"$work/babeltrace.err" ||
  fail "babeltrace2 could not read the trace: $(cat "$work/babeltrace.err")"
grep -F "vpid = $pid }" "$work/events.txt" >"$work/ours.txt" || true
head -n 3 "$work/ours.txt"
echo "recorded: $(wc -l <"$work/ours.txt") events of the program ($(wc -l <"$work/events.txt") in all)"

# expect COUNT PATTERN: exactly COUNT of the program's events match the extended regex PATTERN.
status=0
expect() {
  local n
  n=$(grep -c -E "$2" "$work/ours.txt" || true)
  if [[ $n -ne $1 ]]; then
    echo "FAIL: $n events match '$2', expected $1" >&2
    status=1
  fi
}
expect 3 'registryio:notify_begin: .*name = "trace-test", handlers = 4, async = 0 \}'
expect 3 'registryio:notify_end: '
# every: 1 and 2 delivered, 4 dropped by its removal; bounded: 1 and 4, 2 dropped (full queue);
# thrower: three deliveries, each failing.
# The registry's diagnostics are on: every queued delivery carries its queueing delay (never -1).
expect 2 "registryio:delivery_begin: .*handler = $every, delay_ns = [0-9]+ \\}"
expect 7 "registryio:delivery_begin: .*delay_ns = [0-9]+ \\}"
expect 2 "registryio:delivery_end: .*handler = $every, failed = 0 \\}"
expect 2 "registryio:delivery_begin: .*handler = $bounded, "
expect 3 "registryio:delivery_end: .*handler = $thrower, failed = 1 \\}"
expect 1 "registryio:drop: .*handler = $bounded, count = 1, reason = \\( \"overflow\" : container = 0 \\) \\}"
expect 1 "registryio:drop: .*handler = $every, count = 1, reason = \\( \"removed\" : container = 1 \\) \\}"
expect 7 'registryio:delivery_end: '
# Every event names the same registry, by the id diagnostics know it by (registryId()).
registries=$(grep -o -E 'registry = [0-9]+' "$work/ours.txt" | sort -u | wc -l)
[[ $registries -eq 1 ]] || { echo "FAIL: events name $registries registries, expected 1" >&2; status=1; }
expect 22 "registry = $registry[ ,]"
# The recipe of docs/DIAGNOSTICS.md ("Where a traced handler was added"): the failed deliveries'
# (registry, handler) looked up in the program's rio::Diagnostics JSON name the line that added
# the throwing handler.
where=$(grep -o -E 'delivery_end: .*registry = [0-9]+, handler = [0-9]+, failed = 1' "$work/ours.txt" |
  sed -E 's/.*registry = ([0-9]+), handler = ([0-9]+).*/\1 \2/' | sort -u |
  python3 -c '
import json, sys
doc = json.load(open(sys.argv[1]))
where = {(r["id"], h["id"]): "%s:%d" % (h["file"].rsplit("/", 1)[-1], h["line"])
         for r in doc["registries"] for h in r["handlers"]}
for line in sys.stdin:
    registry, handler = map(int, line.split())
    print(where.get((registry, handler), "unknown"))
' "$work/diagnostics.json")
echo "failed deliveries come from the handler added at: $where"
[[ $where == "trace_program.cpp:$thrower_line" ]] ||
  { echo "FAIL: the failed deliveries map to '$where', expected trace_program.cpp:$thrower_line" >&2; status=1; }
if [[ $status -ne 0 ]]; then
  echo "--- the program's events:" >&2
  cat "$work/ours.txt" >&2
  exit 1
fi
echo "tracing: all expected events recorded"
