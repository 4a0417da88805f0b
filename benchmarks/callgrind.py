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


def measure_qml_scale(bench_qml, kinds=None, jobs=2):
    """{kind: instructions per handler created and destroyed}: bench_qml's qml_scale cases, one
    iteration each, 4,000 handlers less 1,000, divided by 3,000."""
    from concurrent.futures import ThreadPoolExecutor

    kinds = kinds or QT_QML_SCALE
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        runs = {(k, c): pool.submit(qml_total_instructions, bench_qml, f"qml_scale/{k}/{c}", 1)
                for k in kinds for c in (1000, 4000)}
        return {k: (runs[(k, 4000)].result() - runs[(k, 1000)].result()) / 3000 for k in kinds}


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


# The cells of PERFORMANCE.md's Qt-dependent callgrind tables ("Targets measured outside the generated
# run"): the QML forms against Connections (JavaScript emitter), the Qt facade's direct notify against
# the core and a Qt direct signal, and one queued delivery against a Qt queued signal. Each peer is
# counted in the same run as RegistryIO, on whatever Qt the executables were built against.
QT_QML_FORMS = [("connections", "Connections"), ("function", "`handler:`"), ("add", "`add(fn)`"),
                ("typed", "typed `onNotified`"), ("typed_function", "typed `handler:`"),
                ("handler", "`onNotified`")]
QT_QML_CELLS = [("int", 16), ("object", 16), ("int", 1), ("object", 1)]
QT_QML_SCALE = ["connections", "handler", "typed", "add"]
QT_DIRECT = ["rio", "qt_registry", "qt_lambda", "rio_counter", "qt_registry_counter"]
QT_QUEUED = ["rio_queued", "qt_queued"]


def qt_targets(bin_dir, jobs=2):
    """{"qml": {form/payload/n: instructions per event}, "qml_scale": {kind: per handler},
    "direct": {library: {handlers: per notify}}, "queued": {library: per delivery}}, every valgrind
    run of one call `jobs` at a time."""
    from concurrent.futures import ThreadPoolExecutor

    bench_qml = os.path.join(bin_dir, "bench_qml")
    cross = os.path.join(bin_dir, "bench_cross_thread")
    driver = os.path.join(bin_dir, "rio_callgrind_driver")
    qml_names = [f"qml/js/{k}/{p}/{n}" for k, _ in QT_QML_FORMS for p, n in QT_QML_CELLS]
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        qml = {(name, i): pool.submit(qml_total_instructions, bench_qml, name, i)
               for name in qml_names for i in (10, 30)}
        direct = {(lib, n, i): pool.submit(total_instructions, driver, lib, n, i)
                  for lib in QT_DIRECT for n in (1, 4, 16) for i in (1000, 11000)}
        queued = {(lib, e): pool.submit(callgrind_total,
                                        [cross, f"--benchmark_filter=^same_thread/{lib}/throughput/",
                                         f"--events={e}"], {}, f"same_thread/{lib}/{e}")
                  for lib in QT_QUEUED for e in (20000, 40000)}
        return {
            "qml": {name: (qml[(name, 30)].result() - qml[(name, 10)].result()) / (20 * 100) for name in qml_names},
            "qml_scale": measure_qml_scale(bench_qml, jobs=jobs),
            "direct": {lib: {n: (direct[(lib, n, 11000)].result() - direct[(lib, n, 1000)].result()) / 10000
                             for n in (1, 4, 16)} for lib in QT_DIRECT},
            "queued": {lib: (queued[(lib, 40000)].result() - queued[(lib, 20000)].result()) / 20000
                       for lib in QT_QUEUED},
        }


def print_qt_targets(c):
    """The counts of qt_targets as the Markdown rows PERFORMANCE.md quotes."""
    q = c["qml"]
    print("QML, JavaScript emitter, instructions per event (Connections ÷ the form):\n")
    print("| form | " + " | ".join(f"{p}, {n}" for p, n in QT_QML_CELLS) + " |")
    print("|---|" + "---|" * len(QT_QML_CELLS))
    for kind, label in QT_QML_FORMS:
        cells = []
        for p, n in QT_QML_CELLS:
            v, conn = q[f"qml/js/{kind}/{p}/{n}"], q[f"qml/js/connections/{p}/{n}"]
            cells.append(f"{v:,.0f}" if kind == "connections" else f"{v:,.0f} ({conn / v:.2f}×)")
        print(f"| {label} | " + " | ".join(cells) + " |")
    s = c["qml_scale"]
    print("\ncreate and destroy, instructions per handler (4,000 less 1,000, ÷ 3,000): "
          + ", ".join(f"{k} {v:,.0f} ({v / s['connections']:.2f}× Connections)" for k, v in s.items()))
    d = c["direct"]
    print("\ndirect notify, instructions (÷ the core's, ÷ Qt direct):")
    for lib in QT_DIRECT:
        core = d["rio_counter" if "counter" in lib else "rio"]
        print(f"  {lib:20}" + "".join(f"{n:>3} h {d[lib][n]:7.1f} ({d[lib][n] / core[n]:.2f}×, "
                                      f"{d[lib][n] / d['qt_lambda'][n]:.2f}×)" for n in (1, 4, 16)))
    u = c["queued"]
    print(f"\nqueued delivery, same thread, instructions per delivery: RegistryIO {u['rio_queued']:,.0f}, "
          f"Qt queued signal {u['qt_queued']:,.0f} ({u['rio_queued'] / u['qt_queued']:.2f}×)")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--driver", required=True, help="path to rio_callgrind_driver")
    p.add_argument("--handlers", type=int, nargs="+", default=[1, 16])
    p.add_argument("--libraries", nargs="+", help="default: every library the driver was built with")
    p.add_argument("--add-remove", action="store_true", help="also count add + remove with 16 handlers")
    p.add_argument("--writer-shapes", action="store_true",
                   help="only count the writer shapes against the mutex_vector reference")
    p.add_argument("--json", help="also write the counts here")
    p.add_argument("--qt-targets", action="store_true",
                   help="only count the Qt-dependent target cells (QML forms, facade direct and queued); "
                   "bench_qml and bench_cross_thread are taken from the driver's directory")
    args = p.parse_args()
    if args.qt_targets:
        counts = qt_targets(os.path.dirname(os.path.abspath(args.driver)))
        if args.json:
            with open(args.json, "w", encoding="utf-8") as f:
                json.dump(counts, f, indent=1)
        print_qt_targets(counts)
        return 0
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
