"""The long fuzzing run: ``tests/test_fuzz_inputs.py`` with many examples per target, written as a report.

    python -m benchmarks.fuzz [--examples 3000] [--report benchmarks/results/fuzz]

Each target (manifests, mutated manifests, bundle archives, audio files, text front end, SSML, server requests) runs
``--examples`` hypothesis examples; a target fails if any input makes it raise anything but voxlite's typed errors.
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(examples: int) -> dict:
    env = {**os.environ, "FUZZ_EXAMPLES": str(examples), "HYPOTHESIS_PROFILE": "dev"}
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:warnings", "-p", "no:cacheprovider",
                           "tests/test_fuzz_inputs.py", "-rA"], cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.monotonic() - start
    passed = re.findall(r"^PASSED \S+::(\w+)", proc.stdout, re.M)
    failed = re.findall(r"^FAILED \S+::(\w+)", proc.stdout, re.M)
    return {"examples_per_target": examples, "targets": len(passed) + len(failed), "passed": passed,
            "failed": failed, "executions": examples * (len(passed) + len(failed)), "wall_s": wall,
            "exit_code": proc.returncode}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=3000)
    parser.add_argument("--report", type=Path)
    args = parser.parse_args(argv)
    from benchmarks.report import start_run, write_report

    started = start_run(("hypothesis",), argv=[__file__] + list(argv or sys.argv[1:]))
    r = run(args.examples)
    table = (f"Fuzzing: {r['targets']} targets x {r['examples_per_target']} examples = {r['executions']} executions "
             f"in {r['wall_s']:.0f} s; failing targets: {', '.join(r['failed']) or 'none'}.")
    print(table)
    if args.report:
        write_report(args.report, args.report.name, started.command, r, [], run=started, markdown=table)
    return 0 if not r["failed"] else 1


if __name__ == "__main__":
    sys.exit(main())
