"""AudioLDM 2 end to end: diffusers' ``AudioLDM2Pipeline`` (PyTorch eager, CPU) against voxlite bundles exported from
the same checkpoint directory (ONNX Runtime CPU / OpenVINO; fp32 / int8), measured in one run.

    python -m benchmarks.audioldm2 [--seconds 10] [--steps 20] [--threads 1 2] [--precisions fp32 int8]
                                   [--backends cpu openvino] [--rounds 1] [--work-dir ~/.cache/voxlite/bench/audioldm2]
                                   [--report benchmarks/results/audioldm2]

What runs:

1. A random-weight checkpoint directory in the published layout at cvssp/audioldm2's sizes (CLAP
   htsat-unfused, flan-t5-large's encoder, GPT-2 base, the base UNet, the mel VAE, the 16 kHz HiFi-GAN), written by
   diffusers' own ``save_pretrained``; tokenizers are trained here on a few sentences (their vocabularies are small;
   the models' tables keep the published sizes). Nothing is downloaded.
2. Its voxlite bundle (``python -m export audioldm2``: fp32 and int8 graphs, OpenVINO IR).
3. Per configuration a fresh subprocess (its own peak RSS): load, a 1-step warm-up, then one timed generation of
   ``--seconds`` of audio with ``--steps`` DDIM steps and CFG 3.5 (negative prompt ""), from the same initial noise
   on both sides. The voxlite runs also report the audio's difference from diffusers' (same noise): max |diff| and
   SNR.

Wall = prompt encoding + LOA + the denoising loop + VAE + vocoder; ratios are against diffusers at the same thread
count in the same round.
"""
from __future__ import annotations

import argparse
import datetime
import sys
import time
from pathlib import Path

from benchmarks.subprocess_runs import ChildRuns, add_ratios, bundle_mb, dir_mb, machine, machine_span, publish

DEFAULT_WORK_DIR = Path("~/.cache/voxlite/bench/audioldm2").expanduser()
CHILD = ChildRuns("benchmarks.audioldm2", "AUDIOLDM2_BENCH_RESULT ")
PROMPT = "rain on a tin roof"


def make_checkpoint(out: Path, seed: int = 0) -> Path:
    """The published base architecture with random weights, saved by diffusers (the layout users download)."""
    if (out / "model_index.json").is_file():
        return out
    import torch
    from diffusers import AudioLDM2Pipeline, AutoencoderKL
    from diffusers.pipelines.audioldm2.modeling_audioldm2 import (AudioLDM2ProjectionModel,
                                                                  AudioLDM2UNet2DConditionModel)
    from transformers import (ClapConfig, ClapModel, GPT2Config, GPT2LMHeadModel, SpeechT5HifiGan,
                              SpeechT5HifiGanConfig, T5Config, T5EncoderModel)

    from tests.models import audioldm2_official as tiny
    from voxlite.models.audioldm2_unet import AudioLDM2UNetConfig
    from voxlite.models.hifigan import HiFiGANConfig
    from voxlite.models.mel_vae import MelVAEConfig

    torch.manual_seed(seed)
    tmp = out.with_name(out.name + ".tmp")
    tmp.mkdir(parents=True, exist_ok=True)
    voc = HiFiGANConfig.audioldm2()
    clap = ClapModel(ClapConfig())  # laion/clap-htsat-unfused: RoBERTa-base text tower, HTSAT audio tower
    t5 = T5EncoderModel(T5Config(vocab_size=32128, d_model=1024, d_kv=64, d_ff=2816, num_layers=24, num_heads=16,
                                 feed_forward_proj="gated-gelu", relative_attention_num_buckets=32,
                                 relative_attention_max_distance=128))  # google/flan-t5-large's encoder
    gpt = GPT2LMHeadModel(GPT2Config())
    gpt.config.max_new_tokens = 8
    pipe = AudioLDM2Pipeline(
        vae=AutoencoderKL(**MelVAEConfig.audioldm2().to_diffusers()), text_encoder=clap, text_encoder_2=t5,
        projection_model=AudioLDM2ProjectionModel(512, 1024, 768), language_model=gpt,
        tokenizer=tiny.roberta_tokenizer(max_length=512), tokenizer_2=tiny.t5_tokenizer(tmp, max_length=512),
        feature_extractor=tiny.feature_extractor(),
        unet=AudioLDM2UNet2DConditionModel(**AudioLDM2UNetConfig.base().to_dict()),
        scheduler=tiny.scheduler(),
        vocoder=SpeechT5HifiGan(SpeechT5HifiGanConfig(
            model_in_dim=voc.n_mels, sampling_rate=voc.sample_rate,
            upsample_initial_channel=voc.upsample_initial_channel,
            upsample_rates=list(voc.upsample_rates), upsample_kernel_sizes=list(voc.upsample_kernel_sizes),
            resblock_kernel_sizes=list(voc.resblock_kernel_sizes),
            resblock_dilation_sizes=[list(d) for d in voc.resblock_dilation_sizes],
            normalize_before=voc.normalize_before)))
    pipe.save_pretrained(str(tmp))
    (tmp / "t5-tokenizer.json").unlink(missing_ok=True)
    tmp.rename(out)
    return out


def export_bundle(ckpt: Path, bundle: Path, precisions) -> Path:
    if (bundle / "manifest.json").is_file():
        return bundle
    from export.audioldm2 import main

    main(["--checkpoint", str(ckpt), "--out", str(bundle), "--precision", *precisions, "--openvino-ir",
          "--overwrite"])
    return bundle


def _noise(job: dict, shape):
    """The initial noise both sides start from (float32 standard normal from the job's seed)."""
    import numpy as np

    return np.random.default_rng(job["seed"]).standard_normal(shape, dtype=np.float32)


def child_official(job: dict) -> dict:
    import numpy as np
    import torch
    from diffusers import AudioLDM2Pipeline

    torch.set_num_threads(job["threads"])
    t0 = time.perf_counter()
    pipe = AudioLDM2Pipeline.from_pretrained(job["checkpoint"], local_files_only=True)
    pipe.set_progress_bar_config(disable=True)
    load_s = time.perf_counter() - t0
    frames = int(job["seconds"] * 100)
    shape = (1, 8, -(-frames // 4), 16)
    noise = torch.from_numpy(_noise(job, shape))

    def run(steps, latents):
        with torch.no_grad():
            return pipe(PROMPT, num_inference_steps=steps, audio_length_in_s=job["seconds"], guidance_scale=3.5,
                        latents=latents, output_type="np").audios[0]

    run(1, noise)
    start = time.perf_counter()
    audio = run(job["steps"], noise)
    wall = time.perf_counter() - start
    np.save(job["reference"], audio)
    return dict(load_s=load_s, walls=[wall], ttfas=[wall], wall_s=wall, ttfa_s=wall, patches=job["steps"],
                audio_s=audio.size / 16000)


def child_voxlite(job: dict) -> dict:
    import numpy as np

    import voxlite

    t0 = time.perf_counter()
    model = voxlite.load(job["bundle"], backend=job["backend"], precision=job["precision"], threads=job["threads"])
    load_s = time.perf_counter() - t0
    _, rows, _, width = model.latent_shape(job["seconds"])
    noise = _noise(job, (1, model.unet_hp.latent_channels, rows, width))
    model.generate(PROMPT, seconds=job["seconds"], steps=1, noise=noise)
    times = {}
    start = time.perf_counter()
    cond = model.encode(PROMPT, None, guidance=True)
    times["prompt_s"] = time.perf_counter() - start
    t = time.perf_counter()
    latents = model.denoise(cond, noise, job["steps"], 3.5, "ddim")
    times["denoise_s"] = time.perf_counter() - t
    t = time.perf_counter()
    audio = model.decode(latents, int(job["seconds"] * model.sample_rate))[0]
    times["decode_s"] = time.perf_counter() - t
    wall = time.perf_counter() - start
    out = dict(load_s=load_s, walls=[wall], ttfas=[wall], wall_s=wall, ttfa_s=wall, patches=job["steps"],
               audio_s=audio.size / model.sample_rate, **times)
    ref_path = Path(job["reference"])
    if ref_path.is_file():
        ref = np.load(ref_path).astype(np.float64)
        err = audio.astype(np.float64) - ref
        out["max_abs_vs_diffusers"] = float(np.abs(err).max())
        out["snr_db_vs_diffusers"] = float(10 * np.log10(np.sum(ref ** 2) / max(np.sum(err ** 2), 1e-30)))
    return out


def run_benchmark(*, work_dir: Path, seconds: float, steps: int, threads, precisions, backends, rounds: int,
                  seed: int = 0) -> dict:
    work_dir.mkdir(parents=True, exist_ok=True)
    machine_start = machine()
    ckpt = make_checkpoint(work_dir / "checkpoint", seed)
    bundle = export_bundle(ckpt, work_dir / "bundle", precisions)
    cache = work_dir / "cache"
    common = dict(seconds=seconds, steps=steps, seed=seed, reference=str(work_dir / "diffusers-audio.npy"))
    configs = []
    for t in threads:
        configs.append((dict(system="official", backend="diffusers (torch eager)", precision="fp32", threads=t),
                        dict(system="official", checkpoint=str(ckpt), threads=t, **common)))
        for backend in backends:
            for precision in precisions:
                if backend == "openvino" and precision != "fp32":
                    continue  # the int8 graphs are ONNX Runtime's dynamic quantization: OpenVINO expands them back
                configs.append((dict(system="voxlite", backend=backend, precision=precision, threads=t),
                                dict(system="voxlite", bundle=str(bundle), backend=backend, precision=precision,
                                     threads=t, **common)))
    rows = CHILD.rounds(configs, rounds, cache, line=_round_line)
    add_ratios(rows)
    meta = dict(date=datetime.datetime.now().isoformat(timespec="seconds"), seconds=seconds, steps=steps,
                rounds=rounds, machine=machine_span(machine_start),
                bundle_total_mb=dir_mb(bundle), checkpoint_mb=dir_mb(ckpt),
                graphs_mb={p: bundle_mb(bundle, p, graphs=None) for p in precisions})
    return dict(meta=meta, rows=rows)


def _round_line(key: dict, r: dict) -> str:
    return (f" {key}: wall {r['wall_s']:.1f} s, peak RSS {r['peak_rss_mb']:.0f} MB"
            + (f", vs diffusers max|d| {r['max_abs_vs_diffusers']:.2e} SNR {r['snr_db_vs_diffusers']:.1f} dB"
               if "snr_db_vs_diffusers" in r else ""))


def format_table(result: dict) -> str:
    m = result["meta"]
    lines = [f"AudioLDM 2 (cvssp/audioldm2 base sizes, random weights), {m['date']}: \"{PROMPT}\", {m['seconds']:g} s "
             f"of audio, {m['steps']} DDIM steps, CFG 3.5, same initial noise on both sides; a fresh process per "
             f"configuration, median of {m['rounds']} round(s); {m['machine']}.",
             "x diffusers = diffusers' wall / this wall at the same threads in the same round. prompt / denoise / "
             "decode: voxlite's split of its wall. vs diffusers: this audio against diffusers' (same noise).", "",
             "| system | backend | precision | threads | load s | wall s | x diffusers | prompt s | denoise s | "
             "decode s | peak RSS MB | max abs vs diffusers | SNR dB vs diffusers |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in result["rows"]:
        split = (f"{r['prompt_s']:.2f} | {r['denoise_s']:.1f} | {r['decode_s']:.2f}" if "prompt_s" in r
                 else "- | - | -")
        diff = (f"{r['max_abs_vs_diffusers']:.1e} | {r['snr_db_vs_diffusers']:.1f}" if "snr_db_vs_diffusers" in r
                else "- | -")
        lines.append(f"| {r['system']} | {r['backend']} | {r['precision']} | {r['threads']} | {r['load_s']:.1f} | "
                     f"{r['wall_s']:.1f} | {r['speedup']:.2f}x | {split} | {r['peak_rss_mb']:.0f} | {diff} |")
    sizes = ", ".join(f"{p} graphs {mb:.0f} MB" for p, mb in m["graphs_mb"].items())
    lines += ["", f"Checkpoint directory {m['checkpoint_mb']:.0f} MB; bundle {m['bundle_total_mb']:.0f} MB on disk "
              f"(all precisions and OpenVINO IR); one precision's graphs with the text files: {sizes}."]
    return "\n".join(lines)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        return CHILD.main(argv[1], official=child_official, voxlite=child_voxlite)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work-dir", type=Path, default=DEFAULT_WORK_DIR)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--precisions", nargs="+", default=["fp32", "int8"])
    parser.add_argument("--backends", nargs="+", default=["cpu", "openvino"])
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--report", type=Path, metavar="DIR")
    parser.add_argument("--prepare-only", action="store_true", help="write the checkpoint and the bundle, then stop")
    args = parser.parse_args(argv)
    if args.prepare_only:
        work = args.work_dir.expanduser()
        export_bundle(make_checkpoint(work / "checkpoint", args.seed), work / "bundle", tuple(args.precisions))
        return 0
    from benchmarks.report import start_run

    started = start_run(("torch", "diffusers", "transformers", "onnxruntime", "openvino"),
                        argv=[__file__] + list(argv))
    result = run_benchmark(work_dir=args.work_dir.expanduser(), seconds=args.seconds, steps=args.steps,
                           threads=tuple(args.threads), precisions=tuple(args.precisions),
                           backends=tuple(args.backends), rounds=args.rounds, seed=args.seed)
    publish(result, format_table(result), started,
            ["Random weights at the published size: the cost of generation, not the sound.",
             "The same initial noise on both sides; the seed-driven noise differs (voxlite draws with NumPy, "
             "diffusers with torch)."], report_dir=args.report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
