"""The default voice through the C API (runtimes/c, OpenVINO) against the Python pipeline (ONNX Runtime, the
package's default CPU backend; and OpenVINO, the C API's engine), in one run: RTF, time to first audio, peak RSS,
library size.

    cmake -S runtimes/c -B build/c && cmake --build build/c -j2
    python -m benchmarks.c_api --threads 1 --rounds 5 --report benchmarks/results/c-api

Each path runs in its own process (peak RSS is that process's): the C path is `voxlite_bench` (a C program, no
Python); the Python paths load voxlite and time `synthesize` and `stream` the same way. Rounds alternate the paths,
so drift in the machine's load falls on all; per round the C path's time is divided by each Python path's.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

from benchmarks.report import repo_path, start_run, write_report

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ROOT / "python" / "voxlite" / "voices" / "default"
TEXT = ("The old lighthouse keeper climbed the stairs every evening at dusk. He lit the lamp, wound the clock, and "
        "watched the ships pass in the dark.")

PYTHON_PATH = r"""
import json, resource, sys, time
import voxlite
bundle, backend, threads, rounds, text = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
t0 = time.perf_counter()
m = voxlite.load(bundle, backend=backend, threads=threads)
m.synthesize("Warm up.")
open_s = time.perf_counter() - t0
synth = stream = first = 1e9
for _ in range(rounds):
    s = time.perf_counter(); a = m.synthesize(text); synth = min(synth, time.perf_counter() - s)
    s = time.perf_counter(); f = None
    for chunk in m.stream(text):
        f = f or time.perf_counter()
    stream = min(stream, time.perf_counter() - s); first = min(first, f - s)
print(json.dumps({"open_s": open_s, "first_audio_ms": 1e3 * first, "synth_s": synth, "stream_s": stream,
                  "audio_s": a.duration, "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def run_c(bench: Path, threads: int, rounds: int, text: str) -> dict:
    out = subprocess.run([str(bench), str(DEFAULT), str(threads), str(rounds), text], capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout)


def run_python(backend: str, threads: int, rounds: int, text: str) -> dict:
    out = subprocess.run([sys.executable, "-c", PYTHON_PATH, str(DEFAULT), backend, str(threads), str(rounds), text],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def library_sizes(build: Path) -> dict:
    import openvino

    libs = Path(openvino.__file__).parent / "libs"
    needed = ["libopenvino.so", "libopenvino_intel_cpu_plugin.so", "libopenvino_onnx_frontend.so", "libtbb.so"]
    ov = sum(f.stat().st_size for f in libs.iterdir() if any(f.name.startswith(n) for n in needed))
    return {"libvoxlite_so_mb": (build / "libvoxlite.so").stat().st_size / 1e6,
            "libvoxlite_a_mb": (build / "libvoxlite.a").stat().st_size / 1e6,
            "openvino_runtime_libs_mb": ov / 1e6,
            "default_voice_mb": sum(f.stat().st_size for f in DEFAULT.rglob("*") if f.is_file()) / 1e6}


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--build", default=str(ROOT / "build" / "c"), help="the C API's CMake build directory")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--rounds", type=int, default=5, help="interleaved rounds (each path: best of 1 per round)")
    p.add_argument("--text", default=TEXT)
    p.add_argument("--report", help="directory for report.json / report.md")
    args = p.parse_args(argv)
    run = start_run(("openvino", "onnxruntime"))
    build = Path(args.build)
    bench = build / "voxlite_bench"
    if not bench.is_file():
        sys.exit(f"{bench} not built: cmake -S runtimes/c -B {repo_path(build)} && cmake --build {repo_path(build)}")
    paths = {"c-openvino": lambda: run_c(bench, args.threads, 1, args.text),
             "python-onnxruntime": lambda: run_python("cpu", args.threads, 1, args.text),
             "python-openvino": lambda: run_python("openvino", args.threads, 1, args.text)}
    results: dict[str, list[dict]] = {k: [] for k in paths}
    for r in range(args.rounds):
        for name, fn in paths.items():
            results[name].append(fn())
            print(f"round {r}: {name} {results[name][-1]}", file=sys.stderr)
    med = {name: {k: statistics.median(x[k] for x in rs) for k in rs[0]} for name, rs in results.items()}
    for name in med:
        med[name]["rtf"] = med[name]["synth_s"] / med[name]["audio_s"]
    speedup = {f"c_vs_{name}": {
        "synth": statistics.median(p["synth_s"] / c["synth_s"] for p, c in zip(results[name], results["c-openvino"])),
        "stream": statistics.median(p["stream_s"] / c["stream_s"] for p, c in zip(results[name], results["c-openvino"])),
        "range_synth": [min(p["synth_s"] / c["synth_s"] for p, c in zip(results[name], results["c-openvino"])),
                        max(p["synth_s"] / c["synth_s"] for p, c in zip(results[name], results["c-openvino"]))]}
        for name in paths if name != "c-openvino"}
    sizes = library_sizes(build)
    figures = {"per_path_median": med, "speedup_of_c": speedup, "sizes": sizes, "threads": args.threads,
               "rounds": args.rounds, "text_chars": len(args.text)}
    rows = ["| path | RTF | synthesize s | stream s | first audio ms | peak RSS MB | open s |", "|---|---:|---:|---:|---:|---:|---:|"]
    for name, m in med.items():
        rows.append(f"| {name} | {m['rtf']:.4f} | {m['synth_s']:.3f} | {m['stream_s']:.3f} | {m['first_audio_ms']:.1f} | "
                    f"{m['max_rss_mb']:.0f} | {m['open_s']:.2f} |")
    rows += ["", "| C API speed-up over | synthesize (median, range) | stream (median) |", "|---|---:|---:|"]
    for name, s in speedup.items():
        rows.append(f"| {name[5:]} | {s['synth']:.2f}x ({s['range_synth'][0]:.2f}-{s['range_synth'][1]:.2f}) | "
                    f"{s['stream']:.2f}x |")
    rows += ["", "| size | MB |", "|---|---:|"] + [f"| {k} | {v:.1f} |" for k, v in sizes.items()]
    text = "\n".join(rows)
    print(text)
    if args.report:
        notes = [f"Text: {len(args.text)} characters ({med['c-openvino']['audio_s']:.2f} s of audio), the embedded "
                 f"default voice (int8), {args.threads} inference thread(s).",
                 "First audio: from the call to the first streamed chunk (text front end, prefill, the patches the "
                 "vocoder's right context needs, one vocoder call). Model loading is not in it (open_s).",
                 "Peak RSS is each path's whole process: the C path is a C program; the Python paths include the "
                 "interpreter, NumPy and the engine's Python module.",
                 "Sizes: what an app ships for the C path: libvoxlite and the OpenVINO libraries it loads (runtime, CPU "
                 "plugin, ONNX front end, TBB), and the voice."]
        write_report(args.report, "c-api", None, figures, notes, run=run,
                     markdown=text + "\n")


if __name__ == "__main__":
    main()
