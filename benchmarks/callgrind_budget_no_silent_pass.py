#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""callgrind_budget.py must fail, never pass or skip, when what it checks is not what it claims:
a path that counts nothing (a bench_qml case renamed away: bench_qml runs nothing and exits 0), a
path further under the figure its budget was set from than the budget is above it, a malformed
budget file, and a skip, whole or of the QML path, where the caller requires the check (CI's main
stage). Runs without valgrind: the counts are replaced by fixed ones."""
import contextlib
import io
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import callgrind  # noqa: E402
import callgrind_budget  # noqa: E402

callgrind.driver_libraries = lambda driver: ["rio", "latest_model"]  # every path, without a driver
CONFIG = "GNU 12, test"
FILE = f"config: {CONFIG}\n" + "".join(f"{name} 102.0 100.0\n" for name in
                                      callgrind_budget.paths("driver", "bench_qml"))


def run(budget_text, count, config=CONFIG, env=None, bench_qml="bench_qml"):
    """callgrind_budget.main()'s exit code with every path counting `count` (or what it raised)."""
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
        f.write(budget_text)
    argv = ["callgrind_budget.py", "--driver", "driver", "--config", config, "--budgets", f.name]
    argv += ["--bench-qml", bench_qml] if bench_qml else []
    saved = sys.argv, callgrind.per_notify, callgrind.qml_total_instructions, dict(os.environ), shutil.which
    sys.argv = argv
    # per operation: conndisc's count is divided by its 16 pairs a round
    callgrind.per_notify = lambda driver, lib, n, low, high, op: count * (16 if op == "conndisc" else 1)
    callgrind.qml_total_instructions = lambda b, case, n: count * n * 100
    shutil.which = lambda name: "/usr/bin/" + name  # valgrind need not be installed
    os.environ.pop("RIO_CALLGRIND_BUDGET", None)  # CI's main stage sets it for the real test
    os.environ.update(env or {})
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            return callgrind_budget.main()
    except ValueError as e:
        return f"ValueError: {e}"
    finally:
        sys.argv, callgrind.per_notify, callgrind.qml_total_instructions = saved[:3]
        os.environ.clear()
        os.environ.update(saved[3])
        shutil.which = saved[4]
        os.unlink(f.name)


def main():
    checks = [
        ("counts as set", run(FILE, 100.0), 0),
        ("a regression of 5 %", run(FILE, 105.0), 1),
        ("a path that counts nothing", run(FILE, 0.0), 1),
        ("a path under its set-from by its margin", run(FILE, 98.0), 0),
        ("a path further under its set-from", run(FILE, 97.9), 1),
        ("another build, not required", run(FILE, 100.0, config="GNU 14"), callgrind_budget.SKIP),
        ("another build where required", run(FILE, 100.0, config="GNU 14",
                                             env={"RIO_CALLGRIND_BUDGET": "required"}), 1),
        ("no bench_qml, not required", run(FILE, 100.0, bench_qml=None), 0),
        ("no bench_qml where required", run(FILE, 100.0, bench_qml=None,
                                            env={"RIO_CALLGRIND_BUDGET": "required"}), 1),
    ]
    malformed = {
        "no config line": FILE.replace(f"config: {CONFIG}\n", ""),
        "a path twice": FILE + "core_notify_1 102.0 100.0\n",
        "a budget under its set-from": FILE.replace("core_notify_16 102.0 100.0", "core_notify_16 99.0 100.0"),
        "a budget that is not a number": FILE.replace("core_notify_16 102.0", "core_notify_16 nan"),
        "a line of two fields": FILE.replace("core_notify_16 102.0 100.0", "core_notify_16 102.0"),
    }
    checks += [(what, run(text, 100.0), "ValueError") for what, text in malformed.items()]
    failed = [(what, got, want) for what, got, want in checks
              if not (got == want or (want == "ValueError" and str(got).startswith(want)))]
    for what, got, want in failed:
        print(f"{what}: callgrind_budget.py gave {got!r}, expected {want!r}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
