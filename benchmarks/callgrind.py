#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Instructions per notify for RegistryIO and every peer, counted with valgrind's callgrind.

Runs rio_callgrind_driver <library> <handlers> <iterations> under `valgrind --tool=callgrind` at two
iteration counts; (Ir(high) - Ir(low)) / (high - low) is the cost of one notify (start-up, set-up
and the first notify's one-off work cancel out). Counts are repeatable on a noisy machine.

    benchmarks/callgrind.py --driver build/bench/benchmarks/rio_callgrind_driver [--handlers 1 16]
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

LIBRARIES = ["rio", "qt_lambda", "qt_member", "boost_signals2", "sigcpp", "std_function", "fnptr"]


def driver_libraries(driver):
    """The libraries the driver was built with (RegistryIO's Qt facade, qt_registry, is optional)."""
    out = subprocess.run([driver, "--list"], stdout=subprocess.PIPE, text=True, check=True).stdout.split()
    return [lib for lib in LIBRARIES if lib in out] + [lib for lib in out if lib not in LIBRARIES]


def callgrind_total(command, env, label):
    """Ir of one run of `command` under callgrind (RuntimeError when it fails)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "callgrind.out")
        proc = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out] + command,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False,
                              env=dict(os.environ, QT_QPA_PLATFORM="offscreen", **env))
        if proc.returncode != 0 or "ERROR OCCURRED" in proc.stdout:
            raise RuntimeError(f"{label}: failed ({proc.returncode}):\n{proc.stdout[-2000:]}")
        with open(out, encoding="utf-8") as f:
            for line in f:
                m = re.match(r"(?:summary|totals):\s+(\d+)", line)
                if m:
                    return int(m.group(1))
    raise RuntimeError(f"{label}: no totals in callgrind output")


def total_instructions(driver, library, handlers, iterations, op="notify"):
    """Ir of one whole run of the driver (guard_drop collects only the drops)."""
    command = [driver, library, str(handlers), str(iterations), op]
    if op == "guard_drop":
        command = ["--collect-atstart=no"] + command
    return callgrind_total(command, {}, f"{library}/{handlers}")


def per_notify(driver, library, handlers, low=1000, high=11000, op="notify"):
    """Instructions per notify, or per add + remove with op="add_remove" (a float)."""
    a = total_instructions(driver, library, handlers, low, op)
    b = total_instructions(driver, library, handlers, high, op)
    return (b - a) / (high - low)


def measure(driver, libraries=None, handler_counts=(1, 16), low=1000, high=11000):
    """{library: {handlers: instructions per notify}} (every library the driver has by default)."""
    libraries = libraries or driver_libraries(driver)
    return {lib: {n: per_notify(driver, lib, n, low, high) for n in handler_counts} for lib in libraries}


def qml_total_instructions(bench_qml, name, iterations):
    """Ir of one run of bench_qml with only the case `name`, at a fixed iteration count."""
    return callgrind_total([bench_qml, f"--benchmark_filter=^{re.escape(name)}/iterations"],
                           {"RIO_BENCH_ITERATIONS": str(iterations)}, name)


def measure_qml(bench_qml, names, batch, low=10, high=30, jobs=2):
    """{case name: instructions per event}: bench_qml's cases (`batch` events an iteration) at two
    iteration counts, `jobs` valgrind runs at a time. Engine start-up and set-up cancel out."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        runs = {(name, n): pool.submit(qml_total_instructions, bench_qml, name, n)
                for name in names for n in (low, high)}
        return {name: (runs[(name, high)].result() - runs[(name, low)].result()) / ((high - low) * batch)
                for name in names}


ADD_REMOVE_LIBRARIES = ["rio", "qt_lambda", "boost_signals2", "sigcpp"]


def measure_add_remove(driver, libraries=ADD_REMOVE_LIBRARIES, existing=16, low=100, high=1100):
    """{library: instructions per add + remove with `existing` handlers registered} (user space only:
    callgrind does not count the kernel's side of a system call)."""
    return {lib: per_notify(driver, lib, existing, low, high, "add_remove") for lib in libraries}


WRITER_SHAPES = [("scoped", 16), ("scoped", 64), ("guard_drop", 1), ("construct", 1)]


def measure_writer_shapes(driver, libraries=("rio", "mutex_vector"), shapes=WRITER_SHAPES, low=100, high=1100):
    """{(op, n): {library: instructions per round}}: the writer shapes of common/writer_shapes.h,
    RegistryIO against the mutex-guarded vector of std::function built into the same driver."""
    return {(op, n): {lib: per_notify(driver, lib, n, low, high, op) for lib in libraries} for op, n in shapes}


def measure_bulk(driver, ops=(("rio", "bulk"), ("rio", "bulk_mixed"), ("qt_lambda", "bulk")),
                 sizes=(10000, 40000)):
    """{(library, op): {n: instructions for n adds then n removes}}: one bulk run's instructions, as the
    difference between two and one runs (start-up and the first run's one-off work cancel out)."""
    return {(lib, op): {n: per_notify(driver, lib, n, 1, 2, op) for n in sizes} for lib, op in ops}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--driver", required=True, help="path to rio_callgrind_driver")
    p.add_argument("--handlers", type=int, nargs="+", default=[1, 16])
    p.add_argument("--libraries", nargs="+", help="default: every library the driver was built with")
    p.add_argument("--add-remove", action="store_true", help="also count add + remove with 16 handlers")
    p.add_argument("--writer-shapes", action="store_true",
                   help="only count the writer shapes against the mutex_vector reference")
    p.add_argument("--json", help="also write the counts here")
    args = p.parse_args()
    if args.writer_shapes:
        print(f"{'shape':16}{'rio':>12}{'mutex_vector':>14}{'ratio':>8}   (instructions per round)")
        for (op, n), row in measure_writer_shapes(args.driver).items():
            print(f"{op + '/' + str(n):16}{row['rio']:12.1f}{row['mutex_vector']:14.1f}"
                  f"{row['rio'] / row['mutex_vector']:8.2f}")
        return 0
    counts = measure(args.driver, args.libraries, args.handlers)
    print("library".ljust(16) + "".join(f"{n:>10} h" for n in args.handlers) + "   (instructions per notify)")
    for lib, row in counts.items():
        print(lib.ljust(16) + "".join(f"{row[n]:>12.1f}" for n in args.handlers))
    if args.add_remove:
        print("\ninstructions per add + remove with 16 handlers registered (user space only)")
        for lib, n in measure_add_remove(args.driver).items():
            print(f"{lib:16}{n:12.1f}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(counts, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
