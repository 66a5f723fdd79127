"""Native kernels vs their NumPy references, at realistic sizes, measured in one run.

    python -m benchmarks.kernels [--filter rvq] [--repeats 7] [--json out.json]

Each case module in benchmarks/kernel_cases/ returns (label, native_fn, numpy_fn) triples. The two sides of
a case are timed alternately (interleaved repeats, median of each) so machine noise hits both alike; the
figure to read is the ratio (NumPy time / native time), not the absolute milliseconds.
"""
from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
import statistics
import sys
import time
from pathlib import Path



def _time_once(fn, number: int) -> float:
    start = time.perf_counter()
    for _ in range(number):
        fn()
    return (time.perf_counter() - start) / number


def _calibrate(fn, budget: float = 0.05) -> int:
    number = 1
    while True:
        elapsed = _time_once(fn, number) * number
        if elapsed >= budget or number >= 1 << 16:
            return number
        number *= 2 if elapsed == 0 else max(2, min(10, int(budget / max(elapsed, 1e-9))))


def measure(native, reference, repeats: int) -> tuple[float, float]:
    native(), reference()  # warm up (allocations, caches)
    n_native, n_ref = _calibrate(native), _calibrate(reference)
    a, b = [], []
    for _ in range(repeats):
        a.append(_time_once(native, n_native))
        b.append(_time_once(reference, n_ref))
    return statistics.median(a), statistics.median(b)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--filter", default="", help="only cases whose module or label contains this")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument("--report", type=Path, metavar="DIR",
                        help="write DIR/report.json and DIR/report.md with the command, machine and versions "
                             "(benchmarks/report.py), e.g. benchmarks/results/NAME")
    args = parser.parse_args(argv)
    from benchmarks.report import start_run, write_report

    started = start_run(argv=[__file__] + list(sys.argv[1:] if argv is None else argv))

    from benchmarks import kernel_cases
    from voxlite import _native

    rows = []
    print(f"voxlite native kernels vs NumPy (build: {_native.build_info()['dispatch']}; "
          f"ratio = NumPy time / native time, median of {args.repeats} interleaved repeats)\n")
    print(f"{'case':<62} {'native ms':>10} {'numpy ms':>10} {'ratio':>8}")
    for info in sorted(pkgutil.iter_modules(kernel_cases.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"benchmarks.kernel_cases.{info.name}")
        for label, native, reference in module.cases():
            full = f"{info.name}: {label}"
            if args.filter and args.filter not in full:
                continue
            t_native, t_ref = measure(native, reference, args.repeats)
            rows.append({"case": full, "native_ms": t_native * 1e3, "numpy_ms": t_ref * 1e3,
                         "ratio": t_ref / t_native})
            print(f"{full:<62} {t_native * 1e3:>10.3f} {t_ref * 1e3:>10.3f} {t_ref / t_native:>7.1f}x", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
    if args.report:
        build = _native.build_info()
        table = ["| case | native ms | NumPy ms | NumPy / native |", "|---|---:|---:|---:|"]
        table += [f"| {r['case']} | {r['native_ms']:.3f} | {r['numpy_ms']:.3f} | {r['ratio']:.1f}x |" for r in rows]
        write_report(args.report, args.report.name, started.command,
                     {"native_build": build, "repeats": args.repeats, "filter": args.filter, "cases": rows},
                     [f"ratio = NumPy time / native time, median of {args.repeats} interleaved repeats (the two "
                      "sides of a case alternate, so machine noise hits both alike); read the ratio, not the "
                      f"milliseconds. Native build: {build.get('dispatch')}."], run=started, markdown="\n".join(table))
    return 0


if __name__ == "__main__":
    sys.exit(main())
