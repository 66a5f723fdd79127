"""What the end-to-end benchmarks against an official implementation (``benchmarks/voxcpm.py``, ``valle.py``,
``audioldm2.py``, ``vibevoice.py``, ``uniaudio.py``) share: every configuration runs in a fresh subprocess, round
after round, and the parent merges the rounds and pairs each row with the official row of the same thread count.

    CHILD = ChildRuns("benchmarks.NAME", "NAME_BENCH_RESULT ")
    rows = CHILD.rounds(configs, rounds, cache_dir)        # the parent: [(row key fields, job)] -> merged rows
    add_ratios(rows)
    ...
    return CHILD.main(argv[1], official=child_official, voxlite=child_voxlite)   # main(), on ``--child JOB``

The child protocol: ``python -m MODULE --child JOB_JSON`` runs the job's system and prints one line, ``TAG`` + the
result's JSON, on stdout (its log goes to stderr); the result carries the child's own peak RSS. A job names its
``system`` and ``threads`` (the child's BLAS / OpenMP threads are pinned to them), a voxlite job its ``bundle``,
``backend`` and ``precision``. A child's result holds its timed samples (``walls``, ``ttfas``, ...) and ``load_s``.

What each benchmark runs in a child, its work checks, its tables' columns and its command line stay in its module.
"""
from __future__ import annotations

import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PRECISION_ORDER = ("fp32", "fp16", "int8")
SAMPLES = {"walls": "wall_s", "ttfas": "ttfa_s"}  # a result's samples -> the median its merged row carries
RATIOS = {"speedup": "walls", "ttfa_ratio": "ttfas"}  # a ratio to the official row -> the samples it pairs


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def median(xs):
    """The median of ``xs``; None for none."""
    return statistics.median(xs) if xs else None


def peak_rss_mb() -> float:
    """This process's peak RSS. /proc's VmHWM belongs to the address space exec made; getrusage's ru_maxrss would
    also count the parent's pages at fork (Linux keeps the high-water mark across execve)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / (1024 if sys.platform != "darwin" else 1024 ** 2)


def machine() -> str:
    """"CPU, N CPUs, load avg a / b / c" (the load average now)."""
    try:
        load = os.getloadavg()
        load_s = f"load avg {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}"
    except OSError:
        load_s = ""
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, {load_s}"


def machine_span(start: str) -> str:
    """The machine line of a run: ``machine()`` at its start, the load average again now, at its end."""
    return f"{start} at the start, {machine().split(', ')[-1]} at the end"


# ------------------------------------------------------------------------------------------------ bundles

def dir_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6


def bundle_mb(bundle: Path, precision: str, graphs) -> float:
    """MB a bundle holding only ``precision`` would need for a run: the graph files (``graphs``: short names, None
    for every graph) plus every distinct external-data range they reference (the bundle stores all precisions'
    weights in one shared file), text files and manifest."""
    import onnx

    from voxlite.bundle import open_bundle

    b = open_bundle(bundle, verify=False)
    total, ranges = 0, set()
    for graph in b.manifest.graphs.values():
        if graphs is not None and graph.short_name not in graphs:
            continue
        path = b.graph_path(graph.name, precision if precision in graph.files else None)
        total += path.stat().st_size
        model = onnx.load(str(path), load_external_data=False)
        for t in model.graph.initializer:
            if t.data_location == onnx.TensorProto.EXTERNAL:
                info = {e.key: e.value for e in t.external_data}
                ranges.add((info["location"], int(info.get("offset", 0)), int(info.get("length", 0))))
    total += sum(length for _, _, length in ranges)
    text_files = [p for c in b.manifest.components.values() if c.kind in ("text", "audioldm2-prompt")
                  for p in c.files.values()]
    for extra in ("manifest.json", *text_files):
        total += (bundle / extra).stat().st_size
    return total / 1e6


def bundle_precisions(bundle: Path, graphs) -> set[str]:
    """Precisions a cached bundle serves to this voxlite: those every graph of ``graphs`` (short names) has (empty:
    absent, or refused, e.g. exported by an older exporter whose graph contract this pipeline no longer runs)."""
    if not (bundle / "manifest.json").is_file():
        return set()
    from voxlite.bundle import open_bundle
    from voxlite.errors import BundleError
    from voxlite.pipelines import family_class

    try:
        opened = open_bundle(bundle, verify=False)
        family_class(opened.model_type)(opened, backend="cpu")  # validates hparams / graph contract, opens nothing
    except BundleError as e:
        log(f"cached bundle {bundle} is not usable ({e}): exporting again")
        return set()
    files = [set(g.files) for g in opened.manifest.graphs.values() if g.short_name in graphs]
    return set.intersection(*files) if files else set()


def precisions_to_export(bundle: Path, precisions, graphs) -> list[str]:
    """What an export must write so that ``bundle`` serves ``precisions``: nothing (an empty list) when the cached
    bundle already does; else those, the ones it has, and fp32, in ``PRECISION_ORDER``."""
    have = bundle_precisions(bundle, graphs)
    if have and set(precisions) <= have:
        return []
    return sorted(set(precisions) | have | {"fp32"}, key=PRECISION_ORDER.index)


# ------------------------------------------------------------------------------------------------ children

@dataclass(frozen=True)
class ChildRuns:
    """One benchmark's children: ``python -m {module} --child JOB_JSON`` prints ``{tag}`` + its result's JSON."""
    module: str
    tag: str

    def spawn(self, job: dict, env: dict, stderr=subprocess.PIPE, timeout: float | None = None):
        """Run ``job`` in a fresh child (from the repository root); the finished process, stdout captured."""
        return subprocess.run([sys.executable, "-m", self.module, "--child", json.dumps(job)], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=stderr, text=True, timeout=timeout)

    def result(self, proc) -> dict | None:
        """The result a finished child printed (its last tagged line); None when it failed or printed none."""
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(self.tag)]
        if proc.returncode != 0 or not lines:
            return None
        return json.loads(lines[-1][len(self.tag):])

    def run(self, job: dict, cache_dir: Path, timeout: float | None = None) -> dict:
        """Run ``job`` in a fresh child (its threads pinned) and return its result."""
        env = dict(os.environ)
        env["VOXLITE_CACHE_DIR"] = str(cache_dir)  # OpenVINO's compiled models for these bundles live with them
        for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
            env[var] = str(job["threads"])
        env.setdefault("TQDM_DISABLE", "1")  # official loops draw a progress bar per generation
        proc = self.spawn(job, env, timeout=timeout)
        got = self.result(proc)
        if got is None:
            raise RuntimeError(f"benchmark child {job['system']} {job.get('backend', '')} {job.get('precision', '')} "
                               f"x{job['threads']} failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
        return got

    def rounds(self, configs, rounds: int, cache_dir: Path, *, line=None, merge=None) -> list[dict]:
        """Every configuration (``configs``: (row key fields, job) pairs) once per round, in the same order, so a
        slow minute on a shared machine lands on all of them rather than on one; each round logged (``line(key,
        result)``, default ``row_line``). The rows: each configuration's key fields + its rounds merged (``merge``,
        default ``merge_rounds``; the samples stay in round order)."""
        line = line or (lambda key, got: row_line({**key, **got}))
        merge = merge or merge_rounds
        samples: list[list[dict]] = [[] for _ in configs]
        for k in range(rounds):
            for (key, job), got in zip(configs, samples):
                got.append(self.run(job, cache_dir))
                log(f"round {k + 1}/{rounds}" + line(key, got[-1]))
        return [dict(**key, **merge(got)) for (key, _), got in zip(configs, samples)]

    def main(self, job_json: str, *, official, voxlite, **others) -> int:
        """The child: run the job with ``others[system]`` if there is one, else ``official`` for the official
        system, else ``voxlite``; print its result with this process's peak RSS."""
        job = json.loads(job_json)
        child = others.get(job["system"]) or (official if job["system"] == "official" else voxlite)
        result = child(job)
        result["peak_rss_mb"] = peak_rss_mb()
        print(self.tag + json.dumps(result), flush=True)
        return 0


# ------------------------------------------------------------------------------------------------ rounds and rows

def merge_rounds(results: list[dict], samples=SAMPLES, parts=None) -> dict:
    """One configuration's rounds (its children's results, in round order): the last result with every sample of
    every round (``samples``: sample list -> the key of its median), the median load, the largest peak RSS, and with
    ``parts`` (names) each part's median."""
    out = dict(results[-1])
    for key, median_key in samples.items():
        out[key] = [s for r in results for s in r[key]]
        out[median_key] = median([s for s in out[key] if s is not None])
    out["load_s"] = median([r["load_s"] for r in results])
    out["peak_rss_mb"] = max(r["peak_rss_mb"] for r in results)
    if parts is not None:
        out["parts"] = median_parts([r["parts"] for r in results], parts)
    return out


def add_ratios(rows: list[dict], ratios=RATIOS, same: str | None = None) -> None:
    """RTF, and the ratios to the official row of the same thread count (``ratios``: name -> the samples it pairs):
    the median over rounds of (official time / this time) within the round (the samples are in round order), so each
    ratio pairs runs minutes apart, not a quiet round of one with a busy round of the other. None where there is no
    official row, or (``same``: a field) where the official row's ``same`` differs (unequal work)."""
    for r in rows:
        r["rtf"] = r["wall_s"] / r["audio_s"] if r.get("audio_s") else None
        ref = next((o for o in rows if o["system"] == "official" and o["threads"] == r["threads"]), None)
        if ref is None or (same is not None and ref[same] != r[same]):
            for name in ratios:
                r[name] = None
            continue
        for name, key in ratios.items():
            r[name] = median([a / b for a, b in zip(ref[key], r[key]) if a and b])


def row_line(r: dict, work: str | None = None, first: str | None = None) -> str:
    """A configuration's round for the log; ``work`` (default: its patches) and ``first`` (default: its TTFA)
    as the benchmark words them."""
    work = f"{r['patches']} patches" if work is None else work
    first = f"TTFA {1000 * r['ttfa_s']:.0f} ms" if first is None else first
    return (f"  {r['system']} {r['backend']} {r['precision']} x{r['threads']}: wall {r['wall_s']:.2f} s for "
            f"{work} ({r['audio_s']:.2f} s audio), {first}, load {r['load_s']:.1f} s, peak RSS "
            f"{r['peak_rss_mb']:.0f} MB")


def cell(value, spec: str, suffix: str = "") -> str:
    """A table cell: ``value`` in ``spec`` (+ ``suffix``), "n/a" for None."""
    return "n/a" if value is None else f"{value:{spec}}{suffix}"


def x_cell(ratio) -> str:
    """A ratio's table cell: "2.50x", "n/a"."""
    return cell(ratio, ".2f", "x")


# ------------------------------------------------------------------------------------------------ parts of a run

class PartTimer:
    """Seconds per part of a generation, accumulated by wrappers around what runs it."""

    def __init__(self):
        self.reset()

    def reset(self):
        self.parts: dict[str, float] = {}

    def add(self, part: str, seconds: float):
        self.parts[part] = self.parts.get(part, 0.0) + seconds

    def wrap(self, fn, part, when=None):
        """``fn``, its time added to ``part`` (a name, or a function of fn's arguments giving one); with ``when``,
        only the calls made while ``when()`` holds."""
        def timed(*args, **kwargs):
            if when is not None and not when():
                return fn(*args, **kwargs)
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.add(part(*args, **kwargs) if callable(part) else part, time.perf_counter() - start)
        return timed


def split_parts(parts: dict, wall: float, names) -> dict:
    """The parts of one generation (``names``, "other" last): what the wrappers timed, and as "other" the rest of
    the wall time (never negative)."""
    out = {k: parts.get(k, 0.0) for k in names if k != "other"}
    out["other"] = max(0.0, wall - sum(out.values()))
    return out


def median_parts(parts: list[dict], names) -> dict:
    """Each part's median over generations (``names`` order); empty for none."""
    return {k: median([p[k] for p in parts]) for k in names} if parts else {}


# ------------------------------------------------------------------------------------------------ the command line

def check_run_args(*, threads, precisions, known_precisions, backends, rounds: int, repeats: int) -> None:
    """Refuse a run matrix the benchmark cannot measure (raises SystemExit with the reason)."""
    if not threads or any(t < 1 for t in threads):
        raise SystemExit(f"--threads must be positive counts (got {list(threads)})")
    if len(set(threads)) != len(threads):
        raise SystemExit(f"--threads has duplicates: {list(threads)}")
    unknown = [p for p in precisions if p not in known_precisions]
    if unknown or not precisions:
        raise SystemExit(f"--precisions: {unknown or 'none'} (choose from {', '.join(known_precisions)})")
    bad = [b for b in backends if b not in ("cpu", "openvino")]
    if bad or not backends:
        raise SystemExit(f"--backends: {bad or 'none'} (cpu, openvino)")
    if rounds < 1 or repeats < 1:
        raise SystemExit("--rounds and --repeats must be at least 1")


def print_saved_table(path, add_ratios, format_table) -> int:
    """``--table FILE``: a saved run's table again (``FILE``: a ``--json`` result, or a ``--report`` DIR's
    report.json, which keeps the result under "figures")."""
    result = json.loads(Path(path).read_text())
    result = result.get("figures", result)
    add_ratios(result["rows"])
    print(format_table(result))
    return 0


def publish(result: dict, table: str, started, notes, *, json_path=None, report_dir: Path | None = None) -> None:
    """Print the table; with ``json_path`` write the result there; with ``report_dir`` its report (benchmarks/report.py:
    ``started`` from ``start_run``, ``notes`` for the reader, the table as its Markdown)."""
    print(table)
    if json_path:
        Path(json_path).write_text(json.dumps(result, indent=2))
    if report_dir:
        from benchmarks.report import write_report

        write_report(report_dir, report_dir.name, started.command, result, notes, run=started, markdown=table)
