"""VALL-E X end to end: the official implementation (VALL-E-X 0.0.2a1's ``VALLE.inference``, PyTorch eager) against
voxlite bundles exported from the same weights (ONNX Runtime CPU / OpenVINO; fp32 / int8), measured in one run.

    python -m benchmarks.valle [--text-tokens 20] [--prompt-seconds 3] [--threads 1 2] [--precisions fp32 int8]
                               [--backends cpu openvino] [--rounds 2] [--work-dir ~/.cache/voxlite/bench/vallex]
                               [--report benchmarks/results/vallex]

What runs:

1. A random-weight checkpoint in the official layout (``{"model": state_dict}``) of ``vallex.models.vallex.VALLE``
   at VALL-E X's published size (1024 wide, 16 heads, 12 AR + 12 NAR layers, prefix mode 1, 8 quantizers), and a
   random EnCodec 24 kHz codec (``encodec`` 0.1.1's ``encodec_model_24khz(pretrained=False)`` sizes; voxlite's
   reference of it in the bundle). Nothing is downloaded.
2. Its voxlite bundle (``export.valle.export_valle``: fp32 and block-wise int8 lm graphs, the codec component).
3. ``--rounds`` rounds; in each, every configuration runs in a fresh subprocess (its own peak RSS): load, one short
   warm-up generation, then a timed generation of the same inputs: ``--text-tokens`` phoneme ids (half of them the
   prompt's transcript) and a ``--prompt-seconds`` prompt of random codes. Both sides generate exactly
   ``16 * text tokens`` frames (VALL-E X's cap): the end-of-speech token is masked in both samplers (random weights
   would end at a random frame), the one stand-in. Then the 7 NAR stages, then the codec decoder:

   - official: ``VALLE.inference`` (top-k off, temperature 1: its defaults) then ``EncodecModel.decode`` of the codes
     (VALL-E X's demo decodes with Vocos; the issue compares against EnCodec, the codec the tokens belong to).
   - voxlite: ``VallEModel.generate_codes`` (native sampler, KV buffers) then ``decode`` (native RVQ + the EnCodec
     decoder graph).

RTF = wall seconds / audio seconds; TTFA = time to the first audio (both produce one sentence's audio at once, so it
equals the wall time here; voxlite's ``stream`` yields per sentence); ratios are against the official run at the same
thread count in the same round (median over rounds).
"""
from __future__ import annotations

import argparse
import datetime
import sys
import time
from pathlib import Path

from benchmarks.subprocess_runs import ChildRuns, add_ratios, dir_mb, log, machine, machine_span, publish

DEFAULT_WORK_DIR = Path("~/.cache/voxlite/bench/vallex").expanduser()
CHILD = ChildRuns("benchmarks.valle", "VALLE_BENCH_RESULT ")
N_AUDIO, BOS = 1024, 1025


def _official_module():
    from tests.models.official import import_vallex_model

    return import_vallex_model()


def make_checkpoint(path: Path, seed: int = 0) -> Path:
    if path.is_file():
        return path
    import torch

    official = _official_module()
    torch.manual_seed(seed)
    model = official.VALLE(1024, 16, 12, norm_first=True, add_prenet=False, prefix_mode=1, share_embedding=True,
                           nar_scale_factor=1.0, prepend_bos=True, num_quantizers=8)
    with torch.no_grad():  # its stacks deep-copy one layer: make every layer distinct (no shared weights to cache)
        for _, p in model.named_parameters():
            p.add_(0.02 * torch.randn_like(p))
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"model": model.state_dict()}, path.with_suffix(".tmp"))
    path.with_suffix(".tmp").rename(path)
    return path


def export_bundle(ckpt: Path, bundle: Path, precisions, seed: int = 0) -> Path:
    if (bundle / "manifest.json").is_file():
        return bundle
    from export.codec import encodec_parts
    from export.valle import export_valle
    from export.vallex_text import tiny_vocab_json
    from voxlite.convert.common import read_state_dict
    from voxlite.convert.valle import load_official

    model = load_official(read_state_dict(ckpt, nested_key="model"))
    codec = encodec_parts(None, "encodec_24khz", seed)
    return export_valle(model, codec, bundle, precisions=precisions, vocab=tiny_vocab_json().encode(),
                        overwrite=True, log=log, provenance={"weights": "random (benchmark)"})


def inputs(job: dict):
    import numpy as np

    g = np.random.default_rng(job["seed"])
    n_prompt_text = job["text_tokens"] // 2
    text = g.integers(5, 70, job["text_tokens"])
    prompt = g.integers(0, N_AUDIO, (int(round(75 * job["prompt_seconds"])), 8))
    return text[:n_prompt_text], text[n_prompt_text:], prompt


def child_official(job: dict) -> dict:
    import numpy as np
    import torch

    torch.set_num_threads(job["threads"])
    official = _official_module()
    t0 = time.perf_counter()
    model = official.VALLE(1024, 16, 12, norm_first=True, add_prenet=False, prefix_mode=1, share_embedding=True,
                           nar_scale_factor=1.0, prepend_bos=True, num_quantizers=8)
    model.load_state_dict(torch.load(job["checkpoint"], map_location="cpu", weights_only=True)["model"])
    model.eval()
    import importlib

    importlib.import_module("tests.conftest")  # its torchaudio stand-in: encodec imports torchaudio for file I/O only
    from encodec import EncodecModel

    codec = EncodecModel.encodec_model_24khz(pretrained=False)
    codec.set_target_bandwidth(6.0)
    codec.eval()
    load_s = time.perf_counter() - t0
    original = official.topk_sampling

    def no_eos(logits, top_k=10, top_p=1.0, temperature=1.0):  # equal work: never end early
        logits = logits.clone()
        logits[:, N_AUDIO] = -float("inf")
        return original(logits, top_k=top_k, top_p=top_p, temperature=temperature)

    official.topk_sampling = no_eos
    prompt_text, text, prompt = inputs(job)

    @torch.no_grad()
    def run(prompt_text, text, prompt):
        import contextlib
        import io

        x = torch.tensor(np.concatenate((prompt_text, text)))[None]
        with contextlib.redirect_stdout(io.StringIO()):  # its EOS line
            codes = model.inference(x, torch.tensor([x.shape[1]]), torch.tensor(prompt)[None],
                                    enroll_x_lens=len(prompt_text), top_k=-100, temperature=1.0,
                                    prompt_language="en", text_language="en")
        audio = codec.decode([(codes.transpose(1, 2), None)])
        return codes.shape[1], audio.shape[-1]

    run(prompt_text[:1], text[:1], prompt[:10])  # warm-up: 32 frames
    start = time.perf_counter()
    frames, samples = run(prompt_text, text, prompt)
    wall = time.perf_counter() - start
    return dict(load_s=load_s, walls=[wall], ttfas=[wall], wall_s=wall, ttfa_s=wall, patches=frames,
                audio_s=samples / 24000, tokens=job["text_tokens"])


def child_voxlite(job: dict) -> dict:
    import numpy as np

    import voxlite
    from voxlite.kernels import sampling

    t0 = time.perf_counter()
    model = voxlite.load(job["bundle"], backend=job["backend"], precision=job["precision"], threads=job["threads"])
    for graph in ("lm/ar_prefill", "lm/ar_step", "lm/nar", "codec/decoder"):
        model.session(graph)
    load_s = time.perf_counter() - t0
    original = sampling.sample

    def no_eos(logits, **kw):  # equal work: never end early (the official side is patched alike)
        logits = np.array(logits, np.float32)
        logits[:, N_AUDIO] = -np.inf
        return original(logits, **kw)

    sampling.sample = no_eos
    prompt_text, text, prompt = inputs(job)

    def run(prompt_text, text, prompt):
        times = {}
        t = time.perf_counter()
        full = np.concatenate((prompt_text, text)).astype(np.int64)
        options = model.options(seed=job["seed"])
        first = np.fromiter(model.first_codebook(full, prompt.astype(np.int64), options), np.int64)
        times["ar_s"] = time.perf_counter() - t
        t = time.perf_counter()
        codes = model.remaining_codebooks(full, prompt.astype(np.int64), first)
        times["nar_s"] = time.perf_counter() - t
        t = time.perf_counter()
        audio = model.decode(codes)
        times["decode_s"] = time.perf_counter() - t
        return codes.shape[0], audio.size, times

    run(prompt_text[:1], text[:1], prompt[:10])
    start = time.perf_counter()
    frames, samples, times = run(prompt_text, text, prompt)
    wall = time.perf_counter() - start
    return dict(load_s=load_s, walls=[wall], ttfas=[wall], wall_s=wall, ttfa_s=wall, patches=frames,
                audio_s=samples / model.sample_rate, tokens=job["text_tokens"], **times,
                precisions=sorted(set(model.graph_precisions.values())))


def run_benchmark(*, work_dir: Path, text_tokens: int, prompt_seconds: float, threads, precisions, backends,
                  rounds: int, seed: int = 0) -> dict:
    work_dir.mkdir(parents=True, exist_ok=True)
    machine_start = machine()
    ckpt = make_checkpoint(work_dir / "vallex-checkpoint.pt", seed)
    bundle = export_bundle(ckpt, work_dir / "bundle", precisions, seed)
    cache = work_dir / "cache"
    common = dict(text_tokens=text_tokens, prompt_seconds=prompt_seconds, seed=seed)
    configs = []
    for t in threads:
        configs.append((dict(system="official", backend="torch eager", precision="fp32", threads=t),
                        dict(system="official", checkpoint=str(ckpt), threads=t, **common)))
        for backend in backends:
            for precision in precisions:
                configs.append((dict(system="voxlite", backend=backend, precision=precision, threads=t),
                                dict(system="voxlite", bundle=str(bundle), backend=backend, precision=precision,
                                     threads=t, **common)))
    rows = CHILD.rounds(configs, rounds, cache)
    work = {r["patches"] for r in rows}
    if len(work) != 1:
        raise RuntimeError(f"the systems did not generate the same number of frames: {sorted(work)}")
    add_ratios(rows)
    meta = dict(date=datetime.datetime.now().isoformat(timespec="seconds"), text_tokens=text_tokens,
                prompt_seconds=prompt_seconds, frames=work.pop(), rounds=rounds,
                machine=machine_span(machine_start),
                bundle_total_mb=dir_mb(bundle), checkpoint_mb=ckpt.stat().st_size / 1e6)
    return dict(meta=meta, rows=rows)


def format_table(result: dict) -> str:
    m = result["meta"]
    lines = [f"VALL-E X (published size, random weights), {m['date']}: {m['text_tokens']} phoneme ids (half the "
             f"prompt's transcript), a {m['prompt_seconds']:g} s prompt, {m['frames']} frames generated by both "
             f"(end-of-speech masked); median of {m['rounds']} rounds, a fresh process per configuration; "
             f"{m['machine']}.", "RTF = wall / audio seconds (codes + decode); x official = median over rounds of "
             "official wall / this wall, same threads, same round. AR / NAR / decode: voxlite's split of its wall.",
             "", "| system | backend | precision | threads | load s | RTF | speed-up x official | AR s | NAR s | "
             "decode s | peak RSS MB |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in result["rows"]:
        split = (f"{r['ar_s']:.1f} | {r['nar_s']:.1f} | {r['decode_s']:.2f}" if "ar_s" in r else "- | - | -")
        lines.append(f"| {r['system']} | {r['backend']} | {r['precision']} | {r['threads']} | {r['load_s']:.1f} | "
                     f"{r['rtf']:.3f} | {r['speedup']:.2f}x | {split} | {r['peak_rss_mb']:.0f} |")
    lines += ["", f"Checkpoint {m['checkpoint_mb']:.0f} MB; the bundle (fp32 + int8 + codec) "
              f"{m['bundle_total_mb']:.0f} MB on disk."]
    return "\n".join(lines)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        return CHILD.main(argv[1], official=child_official, voxlite=child_voxlite)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work-dir", type=Path, default=DEFAULT_WORK_DIR)
    parser.add_argument("--text-tokens", type=int, default=20, help="phoneme ids; frames = 16 x this")
    parser.add_argument("--prompt-seconds", type=float, default=3.0)
    parser.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--precisions", nargs="+", default=["fp32", "int8"])
    parser.add_argument("--backends", nargs="+", default=["cpu", "openvino"])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--report", type=Path, metavar="DIR")
    args = parser.parse_args(argv)
    from benchmarks.report import start_run

    started = start_run(("torch", "VALL-E-X", "encodec", "onnxruntime", "openvino"), argv=[__file__] + list(argv))
    result = run_benchmark(work_dir=args.work_dir.expanduser(), text_tokens=args.text_tokens,
                           prompt_seconds=args.prompt_seconds, threads=tuple(args.threads),
                           precisions=tuple(args.precisions), backends=tuple(args.backends), rounds=args.rounds,
                           seed=args.seed)
    publish(result, format_table(result), started,
            ["Random weights at the published size: the cost of generation, not the sound.",
             "End-of-speech is masked on both sides so both generate 16 frames per phoneme id."],
            report_dir=args.report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
