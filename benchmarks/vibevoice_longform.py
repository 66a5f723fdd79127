"""VibeVoice long-form memory: does a long generation cost more than its KV cache?

    python -m benchmarks.vibevoice_longform [--minutes 60] [--every 1000] [--work-dir /tmp/vvlong]
                                            [--report benchmarks/results/vibevoice-longform]

A tiny random VibeVoice (``--config tiny``; the loop, graphs and decoders of the real thing at small widths, so an
hour of audio takes minutes) is exported with room for the whole generation, and ``model.stream`` runs one script
for ``--minutes`` of audio at 7.5 latents a second (its control rows set so it makes a latent every step and never
ends by itself: random weights would stop at a random step). Every ``--every`` latents the process's resident set
(VmRSS) and the bytes held by both branches' KV buffers are sampled. Audio is consumed and dropped, as a caller
streaming to a file does.

What to read: RSS minus the KV buffers should stay flat once warm; the KV buffers grow by doubling with the
positions (the unconditional branch as long as the conditional one, unless the model starts a new speech segment).
At the published 1.5B sizes a position costs 28 layers x 2 KV heads x 128 x 2 (K, V) x 4 bytes = 57 KB per branch.
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

LATENTS_PER_SECOND = 7.5


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return math.nan


def build_bundle(work: Path, positions: int) -> Path:
    import torch

    from export.vibevoice import build, export_vibevoice
    from export.voxcpm import tiny_tokenizer_json

    out = work / "bundle"  # rebuilt every run (seconds): its KV room is sized for the asked length
    model = build(None, "tiny", 0)
    with torch.no_grad():
        # Never end, for an hour: a loud value bias in the last attention layer adds one large constant vector to
        # every position's residual stream (softmax weights sum to 1), so the final hidden state points one way
        # whatever the input; the diffusion row along it, the other rows against it. (Random weights otherwise
        # end by themselves after a random stretch: 22,575 latents for seeds 0 and 1.)
        c = model.config
        model.lm.layers[-1].self_attn.v_proj.bias.mul_(1000)
        ids = torch.randint(0, c.lm.vocab_size, (2, 16), generator=torch.Generator().manual_seed(0))
        hidden, _ = model.lm(model.lm.embed(ids))
        mean = hidden.reshape(-1, hidden.shape[-1]).mean(0)
        head = model.head_weight()
        head[c.speech_diffusion_id] = 4 * mean / mean.pow(2).sum()
        for other in (c.speech_start_id, c.speech_end_id, c.eos_id):
            head[other] = -head[c.speech_diffusion_id]
    export_vibevoice(model, out, overwrite=True, precisions=("fp32",), log=lambda *_: None, max_positions=positions,
                     tokenizer=tiny_tokenizer_json(100).encode(), provenance={"weights": "random (seed 0), never ends"})
    return out


def main(argv=None) -> int:
    from benchmarks.report import start_run, write_report

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--every", type=int, default=1000, help="sample every N latents")
    parser.add_argument("--work-dir", default="/tmp/vvlong")
    parser.add_argument("--seed", type=int, default=0, help="the generation's seed (noise)")
    parser.add_argument("--report", default=None)
    args = parser.parse_args(argv)
    run = start_run(["torch"])
    n_latents = int(args.minutes * 60 * LATENTS_PER_SECOND)
    work = Path(args.work_dir)
    work.mkdir(parents=True, exist_ok=True)
    bundle = build_bundle(work, positions=n_latents + 1024)

    import voxlite
    from voxlite.audio import Audio

    model = voxlite.load(bundle, backend="cpu", threads=1)
    sr = model.sample_rate
    g = np.random.default_rng(0)
    voices = {1: Audio((g.standard_normal(sr) * 0.1).astype(np.float32), sr),
              2: Audio((g.standard_normal(sr) * 0.1).astype(np.float32), sr)}
    script = "Speaker 1: a long conversation begins.\nSpeaker 2: and it goes on for an hour."
    kv = model.hparams.kv["lm"]
    bytes_per_position = kv.n_layers * kv.n_kv_heads * kv.head_dim * 2 * 4
    samples, rows = [], []
    t0 = time.perf_counter()
    n = 0
    for chunk in model.stream(script, voices=voices, steps=2, seed=args.seed,
                              max_latents=n_latents):
        n += 1
        samples.append(chunk.size)
        if n % args.every == 0 or n == n_latents:
            positions = n + 200  # prompt ~ 200 positions; both branches hold about this many
            kv_mb = 2 * (2 ** math.ceil(math.log2(positions))) * bytes_per_position / 2 ** 20  # doubling buffers
            rows.append({"latents": n, "audio_minutes": round(n / LATENTS_PER_SECOND / 60, 2),
                         "rss_mb": round(rss_mb(), 1), "kv_buffers_mb_bound": round(kv_mb, 2),
                         "wall_s": round(time.perf_counter() - t0, 1)})
            print(rows[-1], file=sys.stderr)
    audio_minutes = sum(samples) / sr / 60
    first, last = rows[0], rows[-1]
    if n < n_latents:
        print(f"the generation ended by itself after {n} latents (of {n_latents})", file=sys.stderr)
    figures = {"latents": n, "latents_asked": n_latents, "audio_minutes": round(audio_minutes, 2), "rss_mb_first_sample": first["rss_mb"],
               "rss_mb_last_sample": last["rss_mb"], "rss_growth_mb": round(last["rss_mb"] - first["rss_mb"], 1),
               "kv_bytes_per_position_tiny": bytes_per_position,
               "kv_bytes_per_position_1_5b": 28 * 2 * 128 * 2 * 4}
    table = "| latents | audio (min) | RSS (MB) | KV buffers, both branches (MB, bound) | wall (s) |\n|---|---|---|---|---|\n"
    table += "\n".join(f"| {r['latents']} | {r['audio_minutes']} | {r['rss_mb']} | {r['kv_buffers_mb_bound']} | "
                       f"{r['wall_s']} |" for r in rows)
    print(table)
    if args.report:
        write_report(args.report, "vibevoice-longform", run.command, figures, run=run, markdown=table,
                     notes=["tiny random VibeVoice (the published loop and graphs at small widths), fp32, ONNX Runtime "
                            "CPU, 1 thread, 2 solver steps; audio streamed and dropped",
                            "KV column: an upper bound of both branches' doubling buffers at the tiny sizes"],
                     details={"rows": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
