#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# scripts/test.sh's lanes (stages run beside the others from the start), with fake tools: a lane
# never outlives the run, whether the run fails before its first stage or in a foreground stage
# while the lane works, nor does the Debian tree made beside with RIO_NO_LANES=1; the last line
# names the failed stage.
#   bash tst_test_lanes.sh path/to/scripts/test.sh
set -euo pipefail
script=$1
tmp=$(mktemp -d)
mark="rio-lanes-$$-$RANDOM"
marked() { # the processes of the runs under test (the mark is in their environment)
  grep -lsz "^RIO_LANES_MARK=$mark\$" /proc/[0-9]*/environ | cut -d/ -f3 || true
}
cleanup() {
  local pid
  for pid in $(marked); do kill -KILL "$pid" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT

mkdir -p "$tmp/root/scripts" "$tmp/bin"
cp "$script" "$tmp/root/scripts/test.sh"
printf '#!/usr/bin/env bash\n' >"$tmp/root/scripts/deps.sh" # packages: not under test
# A Debian tree that takes long to make: says it started, then works on.
printf '#!/usr/bin/env bash\ntouch "$RIO_LANES_TMP/started"\nexec sleep 600\n' >"$tmp/root/scripts/debian-root.sh"
# The tidy lane's tools: configuring makes the folder; clang-tidy says it started, then works on.
# A foreground stage's configuring fails once the work beside has started.
cat >"$tmp/bin/cmake" <<'EOF'
#!/usr/bin/env bash
if [[ $* == *test-tidy* ]]; then mkdir -p "$(sed -E 's/.*-B ([^ ]+).*/\1/' <<<"$*")"; exit 0; fi
for ((i = 0; i < 600; ++i)); do [[ -e $RIO_LANES_TMP/started ]] && exit 1; sleep 0.1; done # 60 s
exit 1
EOF
cat >"$tmp/bin/run-clang-tidy-14" <<'EOF'
#!/usr/bin/env bash
touch "$RIO_LANES_TMP/started"
exec sleep 600
EOF
chmod +x "$tmp/bin/"*

gone() { # waits (at most 30 s) for every process of the run to end
  for ((i = 0; i < 300; ++i)); do
    [[ -z $(marked) ]] && return 0
    sleep 0.1
  done
  echo "FAIL: $1: processes outlived the run:" >&2
  for pid in $(marked); do tr '\0' ' ' <"/proc/$pid/cmdline" >&2 && echo >&2; done
  return 1
}
run() { # stages, extra environment...: runs the copy, its output in $tmp/out
  local stages=$1; shift
  rm -f "$tmp/started"
  env -u RIO_NO_LANES RIO_LANES_MARK="$mark" RIO_LANES_TMP="$tmp" PATH="$tmp/bin:$PATH" RIO_STAGES="$stages" "$@" \
    bash "$tmp/root/scripts/test.sh" </dev/null >"$tmp/out" 2>&1 && return 1
  return 0
}

# The run fails before its first stage, the lane just started.
run "tidy qt68" RIO_CACHE_DIR=/proc/no-such-dir || { echo "FAIL: the run passed" >&2; exit 1; }
gone "a run failing before its first stage"

# A foreground stage fails while the lane works; the last line names it.
run "libcxx tidy" RIO_CACHE_DIR="$tmp/cache" || { echo "FAIL: the run passed" >&2; exit 1; }
[[ -e $tmp/started ]] || { echo "FAIL: the lane never started" >&2; cat "$tmp/out" >&2; exit 1; }
gone "a foreground stage failing beside a lane"
tail -n 1 "$tmp/out" | grep -q 'libcxx [0-9]* s (failed: 1, [0-9]* CPU-s)' ||
  { echo "FAIL: the last line does not name the failed stage:" >&2; tail -n 1 "$tmp/out" >&2; exit 1; }

# With RIO_NO_LANES=1, a foreground stage fails while the qt68 stage's tree is being made.
# Where the system refuses the stage a mount namespace (inside the qt68 stage's own chroot), the
# run says so and stops at once: nothing to try there.
run "libcxx qt68" RIO_CACHE_DIR="$tmp/cache" RIO_NO_LANES=1 || { echo "FAIL: the run passed" >&2; exit 1; }
if grep -q "stage qt68 cannot run here" "$tmp/out"; then
  echo "lanes: ok (the tree made with RIO_NO_LANES=1 not tried: $(grep -o 'which this system refuses' "$tmp/out"))"
  exit 0
fi
[[ -e $tmp/started ]] || { echo "FAIL: the tree was never started" >&2; cat "$tmp/out" >&2; exit 1; }
gone "a foreground stage failing beside the tree made with RIO_NO_LANES=1"
echo "lanes: ok"
