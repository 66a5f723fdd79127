"""Benchmark reports: one small ``report.json`` + ``report.md`` pair per run, the record a published figure names.

    from benchmarks.report import start_run, write_report

    run = start_run(["torch"])            # at the start: machine (load average now), versions, the command
    ...                                     # the benchmark
    write_report("benchmarks/results/default-voice-speed", "default-voice-speed", run.command,
                 figures={...}, notes=["..."], markdown=table, run=run)

Every benchmark script writes through ``write_report`` (``--report DIR``), so each report carries the same block:
the exact command (as run from the repository root), the machine (CPU model, logical cores, memory, load average
at the start and at the end), the versions (voxlite's git commit and whether the tree differed from it, Python,
numpy, onnxruntime, openvino, torch when the run used it, and the scorers' packages the script names) and the
date, then the figures. Reports meant to back a figure in the README are committed under
``benchmarks/results/<name>/``; they hold figures only: WAVs, bundles and per-sentence rows stay in the
script's own output directory.

Both files are written atomically (a temporary file in the same directory, then ``os.replace``), so a reader or
a run killed mid-write never sees half a report.
"""
from __future__ import annotations

import datetime
import json
import math
import os
import platform
import shlex
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = 1
# reported in every run when installed; torch only when the run imported it or names it (it is not needed to
# synthesize, and its presence in an environment says nothing about a run that did not use it)
BASE_PACKAGES = ("voxlite", "numpy", "onnxruntime", "openvino")


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (OSError, AttributeError):
        return None


def memory_gb() -> float | None:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return round(int(line.split()[1]) / 1024 ** 2, 1)
    except (OSError, ValueError, IndexError):
        pass
    return None


def machine_info() -> dict:
    return {"cpu": cpu_model(), "logical_cores": os.cpu_count(), "memory_gb": memory_gb(),
            "os": f"{platform.system()} {platform.release()}", "arch": platform.machine(),
            "load_average": load_average()}


def package_version(dist: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return None


def git_state(root: Path = ROOT) -> dict:
    """The commit of the tree the benchmark ran from, and the tracked files that differed from it."""
    def git(*args):
        return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=30,
                              check=True).stdout

    try:
        commit = git("rev-parse", "HEAD").strip()
        changed = [line[3:] for line in git("status", "--porcelain", "--untracked-files=no").splitlines()]
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "changed": []}
    return {"commit": commit, "changed": changed}


def versions(packages=()) -> dict:
    names = list(BASE_PACKAGES)
    if "torch" in sys.modules and "torch" not in packages:
        names.append("torch")
    names += [p for p in packages if p not in names]
    found = {"python": platform.python_version()}
    for name in names:
        v = package_version(name)
        if v:
            found[name] = v
    return found


def command_line(argv=None, script: str | None = None, orig_argv=None) -> str:
    """``python SCRIPT ARGS`` with the script relative to the repository root, each argument shell-quoted; ``python
    -m MODULE ARGS`` when the interpreter was started as ``python -m MODULE`` for this very script."""
    argv = list(sys.argv if argv is None else argv)
    script = script or (argv[0] if argv else "")
    try:
        script = os.path.relpath(Path(script).resolve(), ROOT)
    except ValueError:
        pass
    orig = list(getattr(sys, "orig_argv", []) if orig_argv is None else orig_argv)
    if orig[1:2] == ["-m"] and len(orig) > 2 and orig[2].replace(".", "/") + ".py" == script.replace(os.sep, "/"):
        script = f"-m {orig[2]}"
        return f"python {script} " + " ".join(shlex.quote(a) for a in argv[1:]) if argv[1:] else f"python {script}"
    return "python " + " ".join(shlex.quote(a) for a in [script] + argv[1:])


@dataclass
class Run:
    """What a report says about the run besides its figures, gathered once, at the start."""
    command: str
    started: str                     # ISO 8601 UTC, seconds
    machine: dict
    versions: dict
    git: dict
    packages: tuple = ()
    extra: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"command": self.command, "date": self.started, "machine": self.machine,
                "versions": self.versions, "git": self.git}


def start_run(packages=(), *, argv=None, script: str | None = None) -> Run:
    """Call at the start of a benchmark: the load average is the machine's before the run loads it. ``packages``:
    distributions the run uses beyond ``BASE_PACKAGES`` (scorers, torch, the official implementations)."""
    return Run(command=command_line(argv, script),
               started=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
               machine=machine_info(), versions=versions(packages), git=git_state(), packages=tuple(packages))


def repo_path(path) -> str:
    """A path as the report names it: relative to the repository root when inside it (a report from another
    checkout of the same commit reads the same)."""
    try:
        return Path(os.path.relpath(Path(path).resolve(), ROOT)).as_posix() if Path(path).resolve().is_relative_to(
            ROOT) else str(path)
    except (OSError, ValueError):
        return str(path)


def _clean(value):
    """JSON without NaN / infinity (strict readers refuse them): None in their place; numpy scalars as Python's."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", None) == 0:
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_atomic(path: Path, text: str) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp's 0600 would make a committed report private
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def context_lines(report: dict) -> list[str]:
    """The Markdown bullet list of a report's command, date, machine and versions."""
    m, g = report["machine"], report["git"]
    load = m.get("load_average")
    end = (report.get("end") or {}).get("load_average")
    load_s = "load average " + ("/".join(f"{x:.2f}" for x in load) if load else "unknown") + " at the start"
    if end:
        load_s += ", " + "/".join(f"{x:.2f}" for x in end) + " at the end"
    mem = f", {m['memory_gb']:g} GB" if m.get("memory_gb") else ""
    commit = g.get("commit") or "unknown"
    changed = g.get("changed") or []
    tree = (f" (the tree differed in {', '.join(changed[:8])}{', ...' if len(changed) > 8 else ''})"
            if changed else "")
    vers = ", ".join(f"{k} {v}" for k, v in report["versions"].items())
    return [f"- command (from the repository root): `{report['command']}`",
            f"- date: {report['date']}" + (f" to {report['end']['date']}" if report.get("end") else ""),
            f"- machine: {m['cpu']}, {m['logical_cores']} logical cores{mem}, {m.get('os', '')}; {load_s}",
            f"- voxlite commit: {commit}{tree}",
            f"- versions: {vers}"]


def _figures_table(figures: dict, prefix: str = "") -> list[str]:
    rows = []
    for k, v in figures.items():
        if isinstance(v, dict):
            rows += _figures_table(v, f"{prefix}{k}.")
        else:
            rows.append(f"| {prefix}{k} | {json.dumps(_clean(v))} |")
    return rows


def render_markdown(report: dict, markdown: str | None = None) -> str:
    lines = [f"# {report['name']}", ""] + context_lines(report) + ["", "## Figures", ""]
    if markdown:
        lines.append(markdown.rstrip("\n"))
    else:
        lines += ["| figure | value |", "|---|---|"] + _figures_table(report["figures"])
    if report.get("notes"):
        lines += ["", "## Notes", ""] + [f"- {n}" for n in report["notes"]]
    return "\n".join(lines) + "\n"


def build_report(name: str, command: str | None, figures: dict, notes=(), *, run: Run | None = None,
                 details: dict | None = None) -> dict:
    run = run or start_run()
    end = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
           "load_average": load_average()}
    report = {"schema": SCHEMA, "name": name, **run.as_dict(), "end": end}
    if command:
        report["command"] = command
    if "torch" in sys.modules and "torch" not in report["versions"]:  # imported after start_run
        v = package_version("torch")
        if v:
            report["versions"] = {**report["versions"], "torch": v}
    report["figures"] = _clean(figures)
    report["notes"] = [str(n) for n in notes]
    if details:
        report["details"] = _clean(details)
    return report


def write_report(out_dir, name: str, command: str | None, figures: dict, notes=(), *, run: Run | None = None,
                 markdown: str | None = None, details: dict | None = None) -> tuple[Path, Path]:
    """Write ``out_dir/report.json`` and ``out_dir/report.md``; returns their paths.

    ``figures``: the headline numbers (JSON-serialisable; NaN becomes null). ``notes``: sentences a reader needs
    to read them (what a figure is measured against, what was left out). ``markdown``: the benchmark's own table
    for the Markdown file (default: the figures as a key / value table). ``details``: more JSON, not rendered.
    ``run``: from ``start_run`` at the benchmark's start (default: gathered now, the load average then too)."""
    out_dir = Path(out_dir)
    report = build_report(name, command, figures, notes, run=run, details=details)
    json_path, md_path = out_dir / "report.json", out_dir / "report.md"
    write_atomic(json_path, json.dumps(report, indent=1, allow_nan=False) + "\n")
    write_atomic(md_path, render_markdown(report, markdown))
    return json_path, md_path
