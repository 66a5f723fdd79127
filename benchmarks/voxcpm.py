"""VoxCPM end to end: the official implementation (voxcpm 2.0.3, PyTorch eager) against voxlite bundles exported from
the same checkpoint (ONNX Runtime CPU / OpenVINO; fp32 / int8 [/ fp16]), measured in one run.

    python -m benchmarks.voxcpm [--config 0.5b] [--tokens 5] [--threads 1 2] [--precisions fp32 int8]
                                [--backends cpu openvino] [--rounds 2] [--repeats 1]
                                [--work-dir ~/.cache/voxlite/bench/voxcpm05b] [--json out.json]
    python -m benchmarks.voxcpm --table out.json         # the table of a saved run again (--json FILE or
                                                         # a --report DIR's report.json)

What runs:

1. A random-weight checkpoint in the official layout (``config.json``, ``pytorch_model.bin``, ``audiovae.pth``,
   ``tokenizer.json``) written from voxcpm 2.0.3's own ``VoxCPMModel`` and ``AudioVAE`` at the published VoxCPM-0.5B
   sizes (``VoxCPMConfig.voxcpm_0_5b()``; the AudioVAE at voxcpm's ``AudioVAEConfig`` defaults, 16 kHz). Nothing is
   downloaded. Stand-ins, none of which changes the cost of a step: LongRoPE factors of 1.0 (the published factors
   are not available here; they change numerics only), a tiny BPE tokenizer (the 73k-vocabulary one is not available;
   ``"hello"`` is one token, so the text is ``"hello " * tokens``), and a zero stop head (logits (0, 0): argmax says
   "continue", so both implementations generate exactly ``6 * tokens + 10`` patches, the official max_len rule).
2. ``python -m export voxcpm --checkpoint`` of it into one bundle holding every requested precision.
3. ``--rounds`` rounds; in each, every configuration (system, backend, precision, threads) runs in a fresh
   subprocess, so each reports its own peak RSS: load (official: ``VoxCPMModel.from_local``; voxlite:
   ``voxlite.load`` with sha256 verification + opening the graphs a generation uses), one short warm-up generation,
   then ``--repeats`` timed generations of the same text, steps and cfg. Rounds take the configurations in turn, so
   a busy minute on a shared machine falls on all of them rather than on one:

   - official: ``VoxCPMModel.generate`` (its whole-utterance path: patches, then one AudioVAE decode) for the wall
     time; ``generate_streaming`` (the AudioVAE decodes the last 3 patches after each one) for the time to its first
     chunk. ``torch.set_num_threads(n)``, fp32 (``--official-dtype float32 bfloat16`` adds voxcpm's default dtype).
   - voxlite: ``model.stream(text)``: the wall time to its last chunk and the time to its first.

RTF = wall seconds / audio seconds (lower is faster); TTFA = time to first audio chunk; ratios are against the
official run at the same thread count in the same round of the same invocation, median over rounds (the machine may
be shared: compare ratios, not absolute times across runs). Times are medians over every round and repeat; peak RSS
is the largest of the rounds.

The checkpoint, the bundle and OpenVINO's compiled-model cache for it are kept under ``--work-dir`` and reused
(0.5B with fp32 + int8: ~2.8 + 3.5 + 9 GB; delete it to rebuild); a cached bundle this voxlite refuses (an older
graph contract) is exported again. Random weights make no sound worth hearing but cost the same to run.
"""
from __future__ import annotations

import argparse
import datetime
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.subprocess_runs import (ChildRuns, add_ratios, bundle_mb, dir_mb, log, machine, machine_span, median,
                                        precisions_to_export, print_saved_table, publish)

ROOT = Path(__file__).resolve().parent.parent

# Shared with tests/models/test_voxcpm_parity.py: an AudioVAE that keeps the tiny config fast.
TINY_VAE = dict(encoder_dim=2, encoder_rates=[2, 3], latent_dim=5, decoder_dim=8, decoder_rates=[3, 2],
                sample_rate=600)
DEFAULT_WORK_DIR = Path("~/.cache/voxlite/bench/voxcpm05b").expanduser()
CHILD = ChildRuns("benchmarks.voxcpm", "VOXCPM_BENCH_RESULT ")
STREAM_GRAPHS = ("prefill", "step", "locdit", "decoder_stream")  # what model.stream(text) opens


def benchmark_text(tokens: int) -> str:
    """``tokens`` target tokens for the stand-in tokenizer (``"hello"`` is one token)."""
    return " ".join(["hello"] * tokens)


def patches_for(tokens: int) -> int:
    """The official max_len rule (``int(6 * target_tokens + 10)``): what both sides generate with the stop head
    silenced."""
    return int(tokens * 6.0 + 10)


# ------------------------------------------------------------------------------------------------ the checkpoint

def _official_module():
    """voxcpm 2.0.3's model module, loaded without the package's application imports (torchaudio is needed for
    prompt-file I/O only: a stand-in module is given)."""
    import importlib
    import types

    importlib.import_module("transformers")  # imported before the stand-in exists: it probes torchaudio at import

    from tests.models.official import import_model_module

    stub = types.ModuleType("torchaudio")
    return import_model_module("voxcpm.model.voxcpm", stubs={"torchaudio": stub})


def model_config(name: str):
    """(voxlite VoxCPMConfig with LongRoPE factors, official audio_vae_config dict)."""
    from dataclasses import replace

    from voxlite.models.voxcpm import VoxCPMConfig

    if name == "tiny":
        return VoxCPMConfig.tiny(), dict(TINY_VAE)
    if name != "0.5b":
        raise SystemExit(f"unknown --config {name!r} (0.5b, tiny)")
    cfg = VoxCPMConfig.voxcpm_0_5b()
    head_dim = cfg.lm.kv_channels or cfg.lm.hidden_size // cfg.lm.num_attention_heads
    ones = (1.0,) * (head_dim // 2)  # the published factors are unknown: 1.0 changes numerics, not cost
    cfg = replace(cfg, lm=replace(cfg.lm, rope_short_factor=ones, rope_long_factor=ones))
    official = _official_module()
    return cfg, official.AudioVAEConfig().model_dump()


def _official_tokenizer(official, tokenizer_json: str):
    from tokenizers import Tokenizer
    from transformers import LlamaTokenizerFast

    return LlamaTokenizerFast(tokenizer_object=Tokenizer.from_str(tokenizer_json))


def make_checkpoint(out: Path, config: str, seed: int = 0) -> Path:
    """Write the random-weight official-layout checkpoint (skipped when ``out`` is complete)."""
    if (out / "config.json").is_file():
        return out
    import torch

    from export.voxcpm import tiny_tokenizer_json

    official = _official_module()
    cfg, vae_cfg = model_config(config)
    config_json = {**cfg.to_official(), "audio_vae_config": vae_cfg, "device": "cpu", "dtype": "float32"}
    tok_json = tiny_tokenizer_json(min(100, cfg.audio_start_token))
    t0 = time.perf_counter()
    torch.manual_seed(seed)
    ocfg = official.VoxCPMConfig.model_validate(config_json)
    vae = official.AudioVAE(official.AudioVAEConfig(**vae_cfg))
    model = official.VoxCPMModel(ocfg, _official_tokenizer(official, tok_json), vae, device="cpu").eval()
    with torch.no_grad():
        model.stop_head.weight.zero_()  # logits (0, 0): argmax 0 ("continue") on every step, in every precision
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    state = model.state_dict()
    torch.save({k: v for k, v in state.items() if not k.startswith("audio_vae.")}, tmp / "pytorch_model.bin")
    torch.save(model.audio_vae.state_dict(), tmp / "audiovae.pth")
    (tmp / "tokenizer.json").write_text(tok_json, encoding="utf-8")
    (tmp / "config.json").write_text(json.dumps(config_json, indent=2), encoding="utf-8")
    del model, state
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)  # complete or absent
    log(f"checkpoint ({config}, random, seed {seed}) written to {out} in {time.perf_counter() - t0:.0f} s")
    return out


def export_bundle(ckpt: Path, bundle: Path, precisions, *, in_process: bool = False) -> Path:
    """``export.voxcpm --checkpoint`` (skipped when the bundle has every precision), in a subprocess unless
    ``in_process`` (small configs: saves starting torch again)."""
    want = precisions_to_export(bundle, precisions, STREAM_GRAPHS)
    if not want:
        return bundle
    args = ["--checkpoint", str(ckpt), "--out", str(bundle), "--precision", *want,
            "--name", f"voxcpm-bench-{ckpt.parent.name}", "--overwrite"]
    log(f"exporting {' '.join(want)}: python -m export voxcpm {' '.join(args)}")
    t0 = time.perf_counter()
    if in_process:
        from contextlib import redirect_stdout

        from export.voxcpm import main as export_main

        with redirect_stdout(sys.stderr):
            export_main(args)
    else:
        subprocess.run([sys.executable, "-m", "export", "voxcpm", *args], check=True, stdout=sys.stderr, cwd=ROOT)
    log(f"exported in {time.perf_counter() - t0:.0f} s")
    return bundle


# ------------------------------------------------------------------------------------------------ children

def child_official(job: dict) -> dict:
    import torch

    torch.set_num_threads(job["threads"])
    ckpt = Path(job["checkpoint"])
    official = _official_module()
    t0 = time.perf_counter()
    if job.get("dtype", "float32") != "float32":  # voxcpm's own default dtype: same weights, config says otherwise
        import tempfile

        tmp = Path(tempfile.mkdtemp(prefix="voxcpm-ckpt-"))
        for f in ckpt.iterdir():
            (tmp / f.name).symlink_to(f)
        (tmp / "config.json").unlink()
        (tmp / "config.json").write_text(json.dumps({**json.loads((ckpt / "config.json").read_text()),
                                                     "dtype": job["dtype"]}))
        ckpt = tmp
    model = official.VoxCPMModel.from_local(str(ckpt), optimize=False, device="cpu")
    load_s = time.perf_counter() - t0
    # the checkpoint's tokenizer.json as written (transformers 5's from_pretrained rebuilds it from vocab + merges;
    # voxlite's tokenizer follows the file, so the official side is given the file's tokenizer too)
    model.text_tokenizer = official.mask_multichar_chinese_tokens(
        _official_tokenizer(official, (Path(job["checkpoint"]) / "tokenizer.json").read_text()))
    text, n = job["text"], job["patches"]
    patch_samples = model.patch_size * model.chunk_size
    sr = model.sample_rate
    kw = dict(inference_timesteps=job["steps"], cfg_value=job["cfg"])
    model.generate(text, min_len=2, max_len=3, **kw)  # warm-up
    walls, ttfas, samples = [], [], None
    for _ in range(job["repeats"]):
        start = time.perf_counter()
        audio = model.generate(text, min_len=n, max_len=n, **kw)
        walls.append(time.perf_counter() - start)
        samples = int(audio.shape[-1])
    for _ in range(job["repeats"]):
        start = time.perf_counter()
        gen = model.generate_streaming(text, min_len=n, max_len=n, **kw)
        next(gen)
        ttfas.append(time.perf_counter() - start)
        gen.close()
    return dict(load_s=load_s, wall_s=median(walls), ttfa_s=median(ttfas), walls=walls, ttfas=ttfas,
                patches=samples // patch_samples, audio_s=samples / sr, tokens=len(model.text_tokenizer(text)))


def child_voxlite(job: dict) -> dict:
    import voxlite

    if job.get("load_only"):  # fills OpenVINO's compiled-model cache: its first load compiles, later ones read it
        t0 = time.perf_counter()
        model = voxlite.load(job["bundle"], backend=job["backend"], precision=job["precision"],
                             threads=job["threads"])
        for graph in STREAM_GRAPHS:
            model.session(graph)
        return dict(load_s=time.perf_counter() - t0)
    t0 = time.perf_counter()
    model = voxlite.load(job["bundle"], backend=job["backend"], precision=job["precision"], threads=job["threads"])
    verify_s = time.perf_counter() - t0
    for graph in STREAM_GRAPHS:
        model.session(graph)
    load_s = time.perf_counter() - t0
    text = job["text"]
    kw = dict(steps=job["steps"], cfg=job["cfg"])
    warm = model.stream(text, **kw)
    for _, _chunk in zip(range(3), warm):  # warm-up: prefill, steps, decoder
        pass
    warm.close()
    walls, ttfas, n_samples, n_chunks = [], [], 0, 0
    for _ in range(job["repeats"]):
        start = time.perf_counter()
        first, n_samples, n_chunks = None, 0, 0
        for chunk in model.stream(text, **kw):
            if first is None:
                first = time.perf_counter() - start
            n_samples += len(chunk)
            n_chunks += 1
        walls.append(time.perf_counter() - start)
        ttfas.append(first)
    return dict(load_s=load_s, verify_s=verify_s, wall_s=median(walls), ttfa_s=median(ttfas), walls=walls,
                ttfas=ttfas, patches=n_chunks, audio_s=n_samples / model.sample_rate,
                tokens=model.tokenizer.count(text), precisions=sorted(set(model.graph_precisions.values())))


def child_step(job: dict) -> dict:
    """One ``step`` graph call (one generated patch) with ``n`` positions in the K/V caches, for each n of
    ``job["positions"]``: buffers of exactly n slots (the step reads every slot of its buffers), filled with random
    K/V; ``job["repeats"]`` timed calls after two warm-up calls, median. The ONNX Runtime / OpenVINO session alone:
    no sampling, no LocDiT, no decoder."""
    import numpy as np

    import voxlite
    from voxlite.pipelines.generation import KVGroups

    model = voxlite.load(job["bundle"], backend=job["backend"], precision=job["precision"], threads=job["threads"])
    model.session("step")
    rng = np.random.default_rng(0)
    rows = []
    groups = model.hparams.kv
    for n in job["positions"]:
        kv = KVGroups(groups, capacity=n, limit=n)
        kv.append({f"present.{g}.{i}.{half}": rng.standard_normal((1, spec.n_kv_heads, n, spec.head_dim))
                   .astype(spec.dtype) for g, spec in groups.items() for i in range(spec.n_layers)
                   for half in ("key", "value")})
        feeds = dict(kv.feeds())
        feeds["patch"] = rng.standard_normal((1, model.patch_size, model.feat_dim)).astype(np.float32)
        feeds["length"] = np.array([n], np.int64)
        if model.hparams.audio_position_rate:
            feeds["position"] = np.array([(n - 6.5) * model.hparams.audio_position_rate], np.float32)
        times = []
        for k in range(job["repeats"] + 2):
            start = time.perf_counter()
            model.run("step", feeds)
            if k >= 2:
                times.append(time.perf_counter() - start)
        rows.append(dict(positions=n, capacity=n, step_ms=1000 * median(times), samples_ms=[1000 * t for t in times]))
    return dict(steps=rows)


# ------------------------------------------------------------------------------------------------ driver

def run_benchmark(*, config: str = "0.5b", work_dir: Path = DEFAULT_WORK_DIR, tokens: int = 5, threads=(1, 2),
                  precisions=("fp32", "int8"), backends=("cpu", "openvino"), rounds: int = 2, repeats: int = 1,
                  steps: int = 10,
                  cfg: float = 2.0, official_dtypes=("float32",), seed: int = 0,
                  export_in_process: bool = False, step_positions=(), step_repeats: int = 20) -> dict:
    work_dir = Path(work_dir).expanduser()
    work_dir.mkdir(parents=True, exist_ok=True)
    machine_start = machine()
    ckpt = make_checkpoint(work_dir / "checkpoint", config, seed)
    bundle = export_bundle(ckpt, work_dir / "bundle", precisions, in_process=export_in_process)
    text, n = benchmark_text(tokens), patches_for(tokens)
    common = dict(text=text, patches=n, steps=steps, cfg=cfg, repeats=repeats)
    cache = work_dir / "cache"
    first_loads = {}  # "backend precision" -> (seconds, whether this load compiled: the cache had no entry)
    for backend in backends:
        if backend == "openvino":
            for precision in precisions:
                before = set(cache.rglob("*")) if cache.exists() else set()
                job = dict(system="voxlite", bundle=str(bundle), backend=backend, precision=precision,
                           threads=threads[0], load_only=True)
                seconds = CHILD.run(job, cache)["load_s"]
                compiled = bool(set(cache.rglob("*")) - before)
                first_loads[f"{backend} {precision}"] = (seconds, compiled)
                log(f"  {backend} {precision}: first load {seconds:.1f} s "
                    f"({'compiled and cached' if compiled else 'compiled-model cache already present'})")
    ckpt_mb = sum((ckpt / f).stat().st_size for f in ("pytorch_model.bin", "audiovae.pth")) / 1e6
    configs = []  # (row key fields, job)
    for t in threads:
        for dtype in official_dtypes:
            configs.append((dict(system="official", backend="torch eager",
                                 precision={"float32": "fp32"}.get(dtype, dtype), threads=t, size_mb=ckpt_mb),
                            dict(system="official", checkpoint=str(ckpt), threads=t, dtype=dtype, **common)))
        for backend in backends:
            for precision in precisions:
                configs.append((dict(system="voxlite", backend=backend, precision=precision, threads=t,
                                     size_mb=bundle_mb(bundle, precision, STREAM_GRAPHS)),
                                dict(system="voxlite", bundle=str(bundle), backend=backend, precision=precision,
                                     threads=t, **common)))
    rows = CHILD.rounds(configs, rounds, cache)
    work = {(r["tokens"], r["patches"]) for r in rows}
    if len(work) != 1:  # the ratios compare equal work only
        raise RuntimeError(f"the systems did not do the same work: (text tokens, patches) {sorted(work)}")
    add_ratios(rows)
    meta = dict(date=datetime.datetime.now().isoformat(timespec="seconds"), config=config, tokens=tokens,
                patches=n, steps=steps, cfg=cfg, rounds=rounds, repeats=repeats, text=text,
                machine=machine_span(machine_start),
                bundle_total_mb=dir_mb(bundle), checkpoint=str(ckpt), bundle=str(bundle), first_loads=first_loads)
    step_rows = []  # one step's cost against the number of cached positions, each voxlite configuration
    for key, job in configs:
        if key["system"] != "voxlite" or not step_positions:
            continue
        got = CHILD.run(dict(job, system="step", positions=list(step_positions), repeats=step_repeats), cache)
        for row in got["steps"]:
            step_rows.append(dict(backend=key["backend"], precision=key["precision"], threads=key["threads"],
                                  peak_rss_mb=got["peak_rss_mb"], **row))
            log(f"  step {key['backend']} {key['precision']} x{key['threads']}: {row['step_ms']:.1f} ms at "
                f"{row['positions']} positions")
    if step_rows:
        meta["step_repeats"] = step_repeats
        meta["machine"] = machine_span(machine_start)
    return dict(meta=meta, rows=rows, steps=step_rows)


def format_table(result: dict) -> str:
    m = result["meta"]
    lines = [f"VoxCPM ({m['config']}, random weights) end to end, {m['date']}: {m['tokens']} text tokens -> "
             f"{m['patches']} patches, steps {m['steps']}, cfg {m['cfg']}; median of {m['rounds']} rounds x "
             f"{m['repeats']} (each configuration in a fresh process per round); {m['machine']}.",
             "RTF = wall / audio seconds (lower is faster); TTFA = time to the first audio chunk; x official = "
             "median over rounds of official time / this time in the same round, same threads.", "",
             "| system | backend | precision | threads | load s | TTFA ms | RTF | speed-up x official | "
             "TTFA x official | peak RSS MB | size MB |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in result["rows"]:
        lines.append(f"| {r['system']} | {r['backend']} | {r['precision']} | {r['threads']} | {r['load_s']:.1f} | "
                     f"{1000 * r['ttfa_s']:.0f} | {r['rtf']:.3f} | {r['speedup']:.2f}x | {r['ttfa_ratio']:.2f}x | "
                     f"{r['peak_rss_mb']:.0f} | {r['size_mb']:.0f} |")
    if m.get("first_loads"):
        def first(v):
            seconds, compiled = v if isinstance(v, (list, tuple)) else (v, None)
            return f"{seconds:.1f} s" + {True: " (compiled)", False: " (cache present)", None: ""}[compiled]

        lines += ["", "OpenVINO loads above read its compiled-model cache (in the work dir); a bundle's first load "
                  "compiles and writes it. This run's first loads: "
                  + ", ".join(f"{k} {first(v)}" for k, v in m["first_loads"].items()) + "."]
    if result.get("steps"):
        lines += ["", f"One `step` graph call (one patch) with n positions in the K/V caches (buffers of n slots, "
                  f"random K/V; median of {m.get('step_repeats', '?')} calls after 2 warm-up calls; the session "
                  "alone, no LocDiT or decoder):", "", "| backend | precision | threads | positions | step ms |",
                  "|---|---|---|---:|---:|"]
        lines += [f"| {r['backend']} | {r['precision']} | {r['threads']} | {r['positions']} | {r['step_ms']:.1f} |"
                  for r in result["steps"]]
    lines += ["", "load = voxlite.load (sha256 of every bundle file) + opening the streaming graphs; official = "
              "VoxCPMModel.from_local. size = the checkpoint's weight files; for voxlite, what one precision's "
              f"streaming graphs reference (the bundle on disk holds every precision: {m['bundle_total_mb']:.0f} MB)."]
    return "\n".join(lines)


def main(argv=None) -> int:
    if argv is None:
        argv = sys.argv[1:]
    if argv[:1] == ["--child"]:
        return CHILD.main(argv[1], official=child_official, voxlite=child_voxlite, step=child_step)
    replay = argv[:1] == ["--table"] or (argv[:1] == ["--report"] and len(argv) == 2 and argv[1].endswith(".json")
                                         and Path(argv[1]).is_file())  # --report FILE.json: the older spelling
    if replay:  # print the table of a saved --json result (or of a --report DIR's report.json) again
        return print_saved_table(argv[1], add_ratios, format_table)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="0.5b", choices=["0.5b", "tiny"])
    parser.add_argument("--work-dir", default=str(DEFAULT_WORK_DIR), help="checkpoint and bundle, reused")
    parser.add_argument("--tokens", type=int, default=5, help="target text tokens; patches = 6 * tokens + 10")
    parser.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--precisions", nargs="+", default=["fp32", "int8"], choices=["fp32", "fp16", "int8"])
    parser.add_argument("--backends", nargs="+", default=["cpu", "openvino"])
    parser.add_argument("--official-dtype", nargs="+", default=["float32"], choices=["float32", "bfloat16"],
                        help="dtype(s) the official model runs in (voxcpm's default is bfloat16)")
    parser.add_argument("--rounds", type=int, default=2,
                        help="every configuration runs once per round (a fresh process each time), rounds in turn")
    parser.add_argument("--repeats", type=int, default=1, help="timed generations per process")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--cfg", type=float, default=2.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", help="also write the rows here")
    parser.add_argument("--step-positions", nargs="*", type=int, default=[], metavar="N",
                        help="also time one step graph call with N cached positions, per voxlite configuration "
                             "(e.g. 47 2000)")
    parser.add_argument("--step-repeats", type=int, default=20)
    parser.add_argument("--report", type=Path, metavar="DIR",
                        help="write DIR/report.json and DIR/report.md with the command, machine and versions "
                             "(benchmarks/report.py), e.g. benchmarks/results/NAME")
    args = parser.parse_args(argv)
    from benchmarks.report import start_run

    started = start_run(("torch", "voxcpm", "transformers"),
                        argv=[__file__] + list(sys.argv[1:] if argv is None else argv))
    result = run_benchmark(config=args.config, work_dir=Path(args.work_dir), tokens=args.tokens,
                           threads=tuple(args.threads), precisions=tuple(args.precisions),
                           backends=tuple(args.backends), rounds=args.rounds, repeats=args.repeats,
                           steps=args.steps, cfg=args.cfg,
                           official_dtypes=tuple(args.official_dtype), seed=args.seed,
                           step_positions=tuple(args.step_positions), step_repeats=args.step_repeats)
    publish(result, format_table(result), started,
            ["Random weights at the published sizes (the stand-ins are listed in benchmarks/voxcpm.py's docstring): "
             "the cost of a step, not the sound. Ratios pair runs of the same round; compare ratios rather than "
             "absolute times across runs.",
             "The checkpoint and bundle paths are this run's work dir; they are not committed."],
            json_path=args.json, report_dir=args.report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
