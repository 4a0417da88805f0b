#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Fails when a hot path costs more callgrind instructions than its budget.

Each path of benchmarks/callgrind_budgets.txt is counted as callgrind.py counts it: the driver (or
bench_qml) at two fixed iteration counts under `valgrind --tool=callgrind`, the difference divided
by the extra operations. Counts are exact, so a loaded machine changes nothing; they depend on the
compiler and its flags, so the budgets hold for the configuration the file names only, and any
other build skips (exit code 77).

    benchmarks/callgrind_budget.py --driver DIR/rio_callgrind_driver [--bench-qml DIR/bench_qml]
        --config "<the build's configuration, as CMake writes it>"
"""
import argparse
import os
import shutil
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
        "core_construct_destroy": driver_op("rio", 1, "construct", 100, 1100),
        "facade_direct_notify_1": driver_op("qt_registry", 1, "notify", 1000, 11000),
        "facade_queued_delivery_1": driver_op("qt_registry_queued", 1, "notify", 1000, 11000),
    }
    if bench_qml:
        found["qml_add_call_1"] = qml("qml/js/add/int/1")
    return found


def read_budgets(path):
    """(configuration, {name: (budget, set from)}) from the budget file."""
    config, budgets = None, {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            if line.startswith("config:"):
                config = line[len("config:"):].strip()
                continue
            name, budget, measured = line.split()[:3]
            budgets[name] = (float(budget), float(measured))
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
    if args.config != config:
        print(f"skipped: the budgets hold for '{config}', this build is '{args.config}'")
        return SKIP
    if shutil.which("valgrind") is None:
        print("skipped: valgrind is not installed")
        return SKIP
    measures = paths(args.driver, args.bench_qml)
    unknown = sorted(set(budgets) - set(measures) - ({"qml_add_call_1"} if not args.bench_qml else set()))
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
        over = count > budget
        print(f"{name:26}{count:10.1f}{budget:9.1f}{measured:10.1f}{'   OVER BUDGET' if over else ''}")
        if over:
            failed.append(name)
    if failed:
        print(f"\n{len(failed)} path(s) over budget: {', '.join(failed)}. Take the instructions back, or raise"
              " the budget in benchmarks/callgrind_budgets.txt with the reason (a reviewed change).")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
