"""Codec decode speed: exported bundles (ONNX Runtime, OpenVINO; fp32 / fp16 / int8) against the PyTorch
reference, measured in one run, at the published architectures with random weights (nothing is downloaded).

    python -m benchmarks.codecs [--families encodec dac wavevae] [--seconds 5] [--threads 1 2] [--json out.json]

Prints, per codec, precision, backend and thread count: decode real-time factor (decode seconds / audio
seconds, lower is faster), speed-up over the PyTorch reference at the same thread count (ratio measured in this
run), and bundle size. Random weights make no sound worth hearing but cost the same to run.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

from export.codec import DEFAULT_CONFIGS, FAMILIES, export_codec

BENCH_CONFIGS = {"encodec": "encodec_24khz", "dac": "24khz", "wavevae": "voxcpm-0.5b", "vocos": "mel_24khz",
                 "hifigan": "audioldm2", "bigvgan": "v2_24khz_100band_256x"}


def _time(fn, repeats: int) -> float:
    fn()  # warm-up
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def bench_family(family: str, seconds: float, threads_list, precisions, backends, repeats, workdir: Path, log):
    import voxlite

    config = BENCH_CONFIGS.get(family, DEFAULT_CONFIGS[family])
    parts = FAMILIES[family](None, config, 0)
    bundle = workdir / family
    t0 = time.perf_counter()
    export_codec(parts, bundle, precisions=precisions, log=lambda *_: None, provenance={"weights": "random"})
    log(f"{family} ({config}): exported {', '.join(precisions)} in {time.perf_counter() - t0:.0f} s")
    size = {p: sum(f.stat().st_size for f in (bundle / "graphs").glob(f"*.{p}.onnx")) / 1e6 for p in precisions}
    tensors = sum(f.stat().st_size for f in (bundle / "tensors").glob("*.npy")) / 1e6 if (bundle / "tensors").exists() else 0

    frames = int(round(seconds * parts.sample_rate / parts.hop_length))
    g = torch.Generator().manual_seed(0)
    if parts.rvq is not None:
        codes = torch.randint(0, parts.rvq.codebook_size, (1, parts.rvq.n_q, frames), generator=g)
        with torch.no_grad():
            latents = parts.rvq.decode(codes)
        payload = codes.numpy()
    else:
        latents = torch.randn(1, parts.latent_dim, frames, generator=g)
        payload = latents.numpy()
    audio_seconds = frames * parts.hop_length / parts.sample_rate

    rows = []
    for threads in threads_list:
        torch.set_num_threads(threads)

        def torch_decode():
            with torch.no_grad():
                if parts.rvq is not None:
                    parts.decoder(parts.rvq.decode(codes))
                else:
                    parts.decoder(latents)

        t_ref = _time(torch_decode, repeats)
        rows.append(dict(family=family, precision="fp32", backend="torch (reference)", threads=threads,
                         rtf=t_ref / audio_seconds, speedup=1.0, size_mb=None))
        log(f"  {family} torch fp32 x{threads}: RTF {t_ref / audio_seconds:.4f}")
        for backend in backends:
            for precision in precisions:
                model = voxlite.load(bundle, backend=backend, precision=precision, threads=threads)
                t = _time(lambda: model.decode(payload), repeats)
                rows.append(dict(family=family, precision=precision, backend=backend, threads=threads,
                                 rtf=t / audio_seconds, speedup=t_ref / t, size_mb=size[precision] + tensors))
                log(f"  {family} {backend} {precision} x{threads}: RTF {t / audio_seconds:.4f} ({t_ref / t:.2f}x torch)")
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", nargs="+", default=["encodec", "dac", "wavevae", "vocos"], choices=sorted(FAMILIES))
    parser.add_argument("--seconds", type=float, default=5.0, help="audio decoded per measurement")
    parser.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--precisions", nargs="+", default=["fp32", "fp16", "int8"])
    parser.add_argument("--backends", nargs="+", default=["cpu", "openvino"])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json")
    parser.add_argument("--report", type=Path, metavar="DIR",
                        help="write DIR/report.json and DIR/report.md with the command, machine and versions "
                             "(benchmarks/report.py), e.g. benchmarks/results/NAME")
    args = parser.parse_args(argv)
    from benchmarks.report import start_run, write_report

    started = start_run(("torch",), argv=[__file__] + list(sys.argv[1:] if argv is None else argv))

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for family in args.families:
            rows += bench_family(family, args.seconds, args.threads, tuple(args.precisions), args.backends,
                                 args.repeats, Path(tmp), lambda m: print(m, file=sys.stderr, flush=True))
    note = (f"Decode of {args.seconds:g} s of audio; RTF = decode time / audio time (lower is faster); "
            "speed-up = reference time / this time, same threads, same run.")
    table = ["| codec | backend | precision | threads | RTF | speed-up vs torch | bundle MB |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        size = "" if r["size_mb"] is None else f"{r['size_mb']:.1f}"
        table.append(f"| {r['family']} | {r['backend']} | {r['precision']} | {r['threads']} | {r['rtf']:.4f} | "
                     f"{r['speedup']:.2f}x | {size} |")
    print(f"\n{note}\n")
    print("\n".join(table))
    if args.report:
        write_report(args.report, args.report.name, started.command,
                     {"seconds": args.seconds, "repeats": args.repeats, "configs": {
                         f: BENCH_CONFIGS.get(f, DEFAULT_CONFIGS[f]) for f in args.families}, "rows": rows},
                     [note, "Published architectures with random weights (nothing downloaded): the same cost as "
                      "trained weights, no sound worth hearing."], run=started, markdown="\n".join(table))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
