#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Checks a Promela model (tests/model/rcu.pml, hazard.pml) with spin: generates the verifier,
# compiles it with gcc and runs an exhaustive safety search (assertions and invalid end states).
# PAN_CFLAGS adds compile options of the verifier (hazard.pml: -DCOLLAPSE, lossless compression);
# PAN_OPT is its optimisation level (-O2; -O0 compiles 8x faster, for small state spaces).
#   run_spin.sh pass <workdir> <model> [-DNAME=value...]           expects no error
#   run_spin.sh fail:<regex> <workdir> <model> [-DNAME=value...]   expects an error whose
#                                                                  message matches <regex>
# Prints spin's statistics (states stored) and, on an error, the counterexample's last steps.
set -euo pipefail
expect=$1 workdir=$2 model=$3
shift 3
spin=${SPIN:-spin} cc=${PAN_CC:-gcc}
rm -rf "$workdir" && mkdir -p "$workdir" && cd "$workdir"
cp "$model" model.pml
"$spin" -a "$@" model.pml >spin.log
# shellcheck disable=SC2086 # PAN_CFLAGS is a list of options
"$cc" "${PAN_OPT:--O2}" -w -DSAFETY -DMEMLIM=3072 ${PAN_CFLAGS:-} -o pan pan.c
set +e
./pan -m200000 >pan.log 2>&1
status=$?
set -e
grep -E "violated|errors:|states, stored|transitions|elapsed" pan.log || true
errors=$(sed -n 's/.*errors: \([0-9]*\).*/\1/p' pan.log)
if ! grep -q "errors:" pan.log || grep -qE "out of memory|Search not completed|max search depth too small" pan.log \
    && [ "${errors:-0}" = 0 ]; then
    echo "run_spin: search incomplete (status $status)"; cat pan.log; exit 1
fi
case $expect in
pass)
    [ "$errors" = 0 ] || { "$spin" -t -p "$@" model.pml | tail -40; echo "run_spin: the model has an error"; exit 1; }
    echo "run_spin: no error, as expected" ;;
fail:*)
    [ "$errors" != 0 ] || { echo "run_spin: expected an error, spin found none"; exit 1; }
    grep -qE "${expect#fail:}" pan.log || { echo "run_spin: an error, but not the expected one"; exit 1; }
    "$spin" -t -p "$@" model.pml | grep -E "proc .*(Reader|Writer)" | tail -12 || true
    echo "run_spin: spin found the expected error" ;;
*) echo "run_spin: bad expectation $expect"; exit 2 ;;
esac
