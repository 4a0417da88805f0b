#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Fails when a hot path costs more callgrind instructions than its budget.

Each path of benchmarks/callgrind_budgets.txt is counted as callgrind.py counts it: the driver (or
bench_qml) at two fixed iteration counts under `valgrind --tool=callgrind`, the difference divided
by the extra operations. Counts are exact, so a loaded machine changes nothing; they depend on the
compiler and its flags, so the budgets hold for the configuration the file names only, and any
other build skips (exit code 77; a failure where RIO_CALLGRIND_BUDGET=required, as in CI's main stage).
A path counting further under its set-from than the budget is above it fails too: a 5 % regression
could then pass, or it ran nothing.

    benchmarks/callgrind_budget.py --driver DIR/rio_callgrind_driver [--bench-qml DIR/bench_qml]
        --config "<the build's configuration, as CMake writes it>"
"""
import argparse
import math
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import callgrind  # noqa: E402  (the counting functions shared with callgrind.py)

SKIP = 77
BUDGETS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "callgrind_budgets.txt")


def paths(driver, bench_qml):
    """{name: a function returning instructions per operation}, one per budgeted path."""
    def driver_op(lib, n, op, low, high, per=1):
        return lambda: callgrind.per_notify(driver, lib, n, low, high, op) / per

    def qml(case, low=10, high=30):
        # bench_qml's cases send 100 events an iteration.
        return lambda: (callgrind.qml_total_instructions(bench_qml, case, high)
                        - callgrind.qml_total_instructions(bench_qml, case, low)) / ((high - low) * 100)

    found = {
        "core_notify_1": driver_op("rio", 1, "notify", 1000, 11000),
        "core_notify_16": driver_op("rio", 16, "notify", 1000, 11000),
        "core_notify_64": driver_op("rio", 64, "notify", 1000, 11000),
        "core_add_remove_16": driver_op("rio", 16, "add_remove", 100, 1100),
        "core_scoped_pair_16": driver_op("rio", 16, "conndisc", 100, 1100, per=16),
        # 10,000 operations: a 12-instruction path counted over 1,000 varied by +-0.25 (11.85 to 12.26).
        "core_construct_destroy": driver_op("rio", 1, "construct", 1000, 11000),
        "facade_direct_notify_1": driver_op("qt_registry", 1, "notify", 1000, 11000),
        "facade_queued_delivery_1": driver_op("qt_registry_queued", 1, "notify", 1000, 11000),
        "facade_latest_write_1": driver_op("qt_registry_latest", 1, "notify", 1000, 11000),
        "latest_value_set_1": driver_op("latest_value", 1, "notify", 1000, 11000),
    }
    if bench_qml:
        found["qml_add_call_1"] = qml("qml/js/add/int/1")
    try:
        libraries = callgrind.driver_libraries(driver)
    except (OSError, subprocess.CalledProcessError):
        libraries = []  # no driver to ask: its path is not measured (a skip, or a failure where required)
    if "latest_model" in libraries:  # built with the QML layer
        found["latest_model_write_1e4"] = driver_op("latest_model", 10000, "notify", 1000, 11000)
        found["latest_model_writer_1e4"] = driver_op("latest_model_writer", 10000, "notify", 1000, 11000)
    if "remote_fanout" in libraries:  # built with the Remote layer
        found["remote_fanout_push_64"] = driver_op("remote_fanout", 64, "notify", 100, 1100)
    return found


# Paths of a layer a build may leave out: skipped without it, unless the budget is required.
OPTIONAL = {"qml_add_call_1", "latest_model_write_1e4", "latest_model_writer_1e4", "remote_fanout_push_64"}


def read_budgets(path):
    """(configuration, {name: (budget, set from)}) from the budget file; ValueError names the line
    of a malformed file (no configuration, a path twice, a figure that is not a positive number or
    a budget under the figure it was set from), so that a bad edit fails instead of skipping."""
    config, budgets = None, {}
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            if line.startswith("config:"):
                if config is not None:
                    raise ValueError(f"{path}:{number}: a second configuration")
                config = line[len("config:"):].strip()
                continue
            fields = line.split()
            if len(fields) != 3:
                raise ValueError(f"{path}:{number}: expected 'path budget set-from', got '{line}'")
            name, budget, measured = fields[0], float(fields[1]), float(fields[2])
            if name in budgets:
                raise ValueError(f"{path}:{number}: {name} budgeted twice")
            if not 0 < measured <= budget < math.inf:
                raise ValueError(f"{path}:{number}: {name} needs 0 < set-from <= budget")
            budgets[name] = (budget, measured)
    if not config:
        raise ValueError(f"{path}: no 'config:' line")
    return config, budgets


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--driver", required=True)
    p.add_argument("--bench-qml", help="bench_qml, for the QML paths (skipped without it)")
    p.add_argument("--config", required=True, help="this build's configuration")
    p.add_argument("--budgets", default=BUDGETS)
    p.add_argument("--jobs", type=int, default=2)
    args = p.parse_args()
    config, budgets = read_budgets(args.budgets)
    # CI's main stage sets RIO_CALLGRIND_BUDGET=required: there a skip, whole or of the QML path
    # (bench_qml not built), is a failure.
    required = os.environ.get("RIO_CALLGRIND_BUDGET") == "required"
    skip = None
    if args.config != config:
        skip = f"the budgets hold for '{config}', this build is '{args.config}'"
    elif shutil.which("valgrind") is None:
        skip = "valgrind is not installed"
    if skip:
        print(f"{'failed (RIO_CALLGRIND_BUDGET=required)' if required else 'skipped'}: {skip}")
        return 1 if required else SKIP
    measures = paths(args.driver, args.bench_qml)
    unknown = sorted(set(budgets) - set(measures) - (OPTIONAL if not required else set()))
    unbudgeted = sorted(set(measures) - set(budgets))
    if unknown or unbudgeted:
        print(f"budget file and paths differ: no such path {unknown}, no budget for {unbudgeted}")
        return 1
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        counts = {name: pool.submit(f) for name, f in measures.items()}
        counts = {name: c.result() for name, c in counts.items()}
    failed = []
    print(f"{'path':26}{'counted':>10}{'budget':>9}{'set from':>10}")
    for name, count in counts.items():
        budget, measured = budgets[name]
        # Further under its set-from than its budget is over it: a 5 % regression could then pass,
        # so the budget must follow; or the measurement ran nothing (a case renamed away counts 0).
        verdict = ("   OVER BUDGET" if count > budget
                   else "   UNDER ITS SET-FROM'S MARGIN" if count < 2 * measured - budget else "")
        print(f"{name:26}{count:10.1f}{budget:9.1f}{measured:10.1f}{verdict}")
        if verdict:
            failed.append(name)
    if failed:
        print(f"\n{len(failed)} path(s) out of their budget: {', '.join(failed)}. Over: take the instructions"
              " back, or raise the budget in benchmarks/callgrind_budgets.txt with the reason (a reviewed"
              " change). Under: check that the path still runs, then lower its budget and set-from.")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
