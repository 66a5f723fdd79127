"""VibeVoice end to end: the official implementation (transformers' ``VibeVoiceForConditionalGeneration``, PyTorch
eager fp32) against voxlite bundles exported from the same checkpoint (ONNX Runtime CPU [/ OpenVINO]; fp32 / int8),
the same two-speaker script and voice prompts, the same number of latents, measured in one run.

    python -m benchmarks.vibevoice [--config 1.5b] [--latents 16] [--threads 1 2] [--precisions fp32 int8]
                                   [--backends cpu] [--rounds 2] [--repeats 1]
                                   [--work-dir ~/.cache/voxlite/bench/vibevoice15b] [--json out.json]
                                   [--report benchmarks/results/vibevoice]
    python -m benchmarks.vibevoice --table out.json      # the table of a saved run again (--json FILE or a
                                                         # --report DIR's report.json)

What runs:

1. A random-weight checkpoint in transformers' layout (``config.json`` + ``model*.safetensors``) written from
   transformers' own ``VibeVoiceForConditionalGeneration`` at the published VibeVoice-1.5B sizes (Qwen2.5-1.5B text
   model: hidden 1536, 28 layers, 12 heads / 2 KV heads, FFN 8960, vocabulary 151936, rope theta 1e6, tied
   embeddings; diffusion head 4 layers, FFN 4608; the acoustic (64-d) and semantic (128-d) tokenizers at
   transformers' defaults, hop 3200 at 24 kHz), transformers' own initialisation, seeded. Then, on these weights, what
   ``export.vibevoice.randomize_vibevoice`` does to a random voxlite model: norm gains spread around 1, latent scale
   0.7 / bias -0.2, and the control rows of the (tied) head biased (diffusion row along the mean hidden state of random
   input, the other three rows x 0.2) so a random model makes latents. Both systems load these same weights. Nothing
   is downloaded. Stand-in: a tiny BPE tokenizer.json (the Qwen2.5 one is not available here); the official side is
   given the very token ids voxlite's pipeline lays out for the script (``layout``), so both prefill the same prompt.
   A tokenizer changes which ids a text becomes, not the cost of a position.
2. ``python -m export vibevoice --checkpoint`` of it into one bundle holding every requested precision.
3. ``--rounds`` rounds; in each, every configuration (system, backend, precision, threads) runs in a fresh
   subprocess, so each reports its own peak RSS: load (official: ``from_pretrained``; voxlite: ``voxlite.load`` with
   sha256 verification + opening the graphs a generation uses), one short warm-up generation (2 latents), then
   ``--repeats`` timed generations. Rounds take the configurations in turn, so a busy minute on a shared machine falls
   on all of them rather than on one.

   The generation: a fixed two-speaker script, a voice prompt per speaker (seeded noise, 8 and 6 latents long),
   DPM-Solver++ 10 steps, CFG 1.3 on the diffusion head, greedy control tokens, ending after ``--latents`` latents
   (both sides: official through a stopping criterion on the number of diffusion tokens, voxlite through
   ``max_latents``) or at eos. The latents and the LM steps (tokens) each side made are reported: the ratios compare
   equal work only (the run fails if the number of latents differs).

   - official: ``generate(input_ids, input_values=voices, noise_scheduler=DPMSolverMultistepScheduler(
     squaredcos_cap_v2, v_prediction), num_diffusion_steps, guidance_scale)``. transformers' port, given a guidance
     scale, also adds the generic token-logit CFG (``UnbatchedClassifierFreeGuidanceLogitsProcessor``: a third LM
     pass per token over token ids); Microsoft's package (the model's authors) and voxlite guide only the diffusion
     head, so that processor is dropped (as tests/models/test_vibevoice_transformers_parity.py does): the same
     algorithm on both sides. ``torch.set_num_threads(n)``. Time to first audio: when the first latent's acoustic
     decode returns (a hook on ``_decode_audio_latent``; before the semantic encoder and connectors, which voxlite
     runs before yielding its first chunk: the official TTFA is not over-counted).
   - voxlite: ``model.stream(script, voices={1: a, 2: b}, steps, cfg, seed, max_latents)``: the wall time to its
     last chunk and the time to its first.

   Each child also times its parts (hooks around the modules / graph sessions): voice prompt encode + prefill, LM
   steps (both CFG branches), diffusion head, acoustic decode, semantic encode, the rest.

RTF = wall seconds / audio seconds (lower is faster); TTFA = time to first audio chunk; ratios are against the official
run at the same thread count in the same round of the same invocation, median over rounds (the machine may be shared:
compare ratios, not absolute times across runs). Times are medians over every round and repeat; peak RSS is the
largest of the rounds.

The checkpoint and bundle are kept under ``--work-dir`` and reused (1.5B: 10.8 GB checkpoint, 10.8 GB fp32 bundle;
delete it to rebuild). Random weights make no sound worth hearing but cost the same to run.
"""
from __future__ import annotations

import argparse
import datetime
import shutil
import subprocess
import sys
import time
from pathlib import Path

from benchmarks import subprocess_runs as runs
from benchmarks.subprocess_runs import (ChildRuns, PartTimer, bundle_mb, cell, check_run_args, dir_mb, log, machine,
                                        machine_span, median, median_parts, merge_rounds, precisions_to_export,
                                        print_saved_table, publish, row_line, x_cell)

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_WORK_DIR = Path("~/.cache/voxlite/bench/vibevoice15b").expanduser()
CHILD = ChildRuns("benchmarks.vibevoice", "VIBEVOICE_BENCH_RESULT ")
# what model.stream(script, voices=...) opens: the lm graphs, the codec's encoder (voice prompts) and decoder_stream
STREAM_GRAPHS = ("embed", "acoustic_connector", "feedback", "prefill", "step", "diffusion", "semantic_stream",
                 "encoder", "decoder_stream")
SCRIPT = ("Speaker 1: hello world. this is a test!\n"
          "Speaker 2: hello, the voice says hello world.\n"
          "Speaker 1: this is a test, hello!")
VOICE_LATENTS = (8, 6)  # voice prompt lengths in latents (whole hops: both sides count ceil(samples / hop))
STEPS, CFG = 10, 1.3
PARTS = ("prefill", "lm_step", "diffusion", "decode", "semantic", "other")
PRECISIONS = ("fp32", "fp16", "int8")
TINY_TOKENIZER = dict(num_filters=3, downsampling_ratios=[3, 2, 5], depths=[2, 1, 1, 2])


# ------------------------------------------------------------------------------------------------ the checkpoint

def transformers_config(name: str):
    """transformers ``VibeVoiceConfig``: the published 1.5B sizes, or a tiny one (a quick run of the whole script)."""
    import transformers

    if name == "1.5b":
        text = dict(model_type="qwen2", hidden_size=1536, intermediate_size=8960, num_hidden_layers=28,
                    num_attention_heads=12, num_key_value_heads=2, vocab_size=151936, max_position_embeddings=65536,
                    rope_theta=1000000.0, rms_norm_eps=1e-6, tie_word_embeddings=True)
        return transformers.VibeVoiceConfig(text_config=text, diffusion_head_config=dict(
            num_hidden_layers=4, intermediate_size=4608), tie_word_embeddings=True)
    if name == "tiny":
        text = dict(model_type="qwen2", hidden_size=32, intermediate_size=48, num_hidden_layers=2,
                    num_attention_heads=4, num_key_value_heads=2, vocab_size=300, tie_word_embeddings=True,
                    rms_norm_eps=1e-6, rope_theta=10000.0)
        return transformers.VibeVoiceConfig(
            text_config=text, diffusion_head_config=dict(num_hidden_layers=2, intermediate_size=40,
                                                         frequency_embedding_size=16),
            audio_config=dict(hidden_size=8, **TINY_TOKENIZER), semantic_model_config=dict(hidden_size=6,
                                                                                             **TINY_TOKENIZER),
            audio_bos_token_id=290, audio_eos_token_id=291, audio_token_id=292, eos_token_id=293,
            pad_token_id=293, tie_word_embeddings=True)
    raise SystemExit(f"unknown --config {name!r} (1.5b, tiny)")


def randomize_transformers(model, seed: int) -> None:
    """``export.vibevoice.randomize_vibevoice`` applied to transformers' weights (so both systems run the very same
    ones): norm gains 1 + 0.3 N(0, 1), latent scale 0.7 / bias -0.2, the control rows of the tied head biased toward
    the diffusion token (its row along the mean final hidden state of random ids, logit ~4; the other rows x 0.2);
    plus a constant direction in the last layer (below) so that the bias holds at every step of a generation."""
    import torch

    cfg = model.config
    g = torch.Generator().manual_seed(seed + 2)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 1 and (name.endswith("norm.weight") or name.endswith(".act.weight")):
                p.copy_(1 + 0.3 * torch.randn(p.shape, generator=g))
        model.model.latent_scaling_factor.fill_(0.7)
        model.model.latent_bias_factor.fill_(-0.2)
        # randomize_vibevoice's bias alone (the row along the mean state of random ids) does not hold once the
        # feedback embeddings (connector outputs, ~40x the token embeddings' scale at transformers' init) drive the
        # LM: transformers then made 1 latent in 24 steps and stopped at eos. A constant direction in the last
        # layer's residual stream (its v_proj bias: attention passes a value bias through unchanged, o_proj maps it
        # to one fixed vector) makes the final state point the same way whatever the input, and the diffusion row
        # along it wins every step. Same cost; both systems read these weights.
        lm = model.model.language_model
        lm.layers[-1].self_attn.v_proj.bias.fill_(10.0)
        ids = torch.randint(0, cfg.text_config.vocab_size, (4, 32), generator=g)
        hidden = lm(input_ids=ids).last_hidden_state
        mean = hidden.reshape(-1, hidden.shape[-1]).mean(0)
        head = model.get_output_embeddings().weight  # the embedding matrix itself when tied (as voxlite's)
        control = [cfg.audio_bos_token_id, cfg.audio_eos_token_id, cfg.audio_token_id, cfg.eos_token_id]
        for other in (cfg.audio_bos_token_id, cfg.audio_eos_token_id, cfg.eos_token_id):
            head[other] *= 0.2
        head[cfg.audio_token_id] = 4 * mean / mean.pow(2).sum()
        # the check: random ids and embeddings at the feedback scale and larger all choose the diffusion token
        for scale in (None, 1.0, 3.0):
            if scale is None:
                h = lm(input_ids=ids).last_hidden_state
            else:
                h = lm(inputs_embeds=scale * torch.randn(4, 32, cfg.text_config.hidden_size,
                                                         generator=g)).last_hidden_state
            logits = h.reshape(-1, h.shape[-1]) @ head[control].T
            margin = logits[:, 2] - logits[:, [0, 1, 3]].max(-1).values
            log(f"  control logits, {'random ids' if scale is None else f'random embeds x{scale}'}: diffusion "
                f"{logits[:, 2].min():.2f}..{logits[:, 2].max():.2f}, margin over the others min {margin.min():.2f}")
            if margin.min() <= 0 and scale != 3.0:  # x3: beyond the connectors' scale, logged only
                raise RuntimeError("the random checkpoint would not make a latent every step")


def bench_tokenizer_json(below: int) -> str:
    """A small BPE tokenizer.json (``export.voxcpm.tiny_tokenizer_json``'s recipe) trained on the prompt template and
    the script, so they split into about one token per word as Qwen2.5's tokenizer splits them (the real one is not
    available here); ids stay below ``below`` (the first control id)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    from voxlite.hparams.vibevoice import ScriptTemplate
    from voxlite.pipelines.vibevoice import parse_script

    tpl = ScriptTemplate()
    corpus = [tpl.system, tpl.voice_header, tpl.text_header, tpl.speech_header, tpl.newline,
              *(tpl.speaker.format(k) for k in range(4)), *(tpl.line.format(k, t) for k, t in parse_script(SCRIPT))]
    corpus *= 20
    tok = Tokenizer(models.BPE(unk_token="<unk>", fuse_unk=True))
    # words (with their leading space) and punctuation apart, as Qwen2.5's pre-tokenizer: no merge crosses a word
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Metaspace(), pre_tokenizers.Punctuation()])
    tok.decoder = decoders.Metaspace()
    tok.train_from_iterator(corpus, trainers.BpeTrainer(vocab_size=min(below, 400), show_progress=False,
                                                        special_tokens=["<unk>", "<s>", "</s>"]))
    tok.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", 1)])
    assert tok.get_vocab_size() <= below
    return tok.to_str()


def make_checkpoint(out: Path, config: str, seed: int = 0) -> Path:
    """Write the random-weight transformers-layout checkpoint + a tiny tokenizer.json (skipped when ``out`` is
    complete)."""
    if (out / "config.json").is_file():
        return out
    import torch
    import transformers

    t0 = time.perf_counter()
    torch.manual_seed(seed)
    cfg = transformers_config(config)
    model = transformers.VibeVoiceForConditionalGeneration(cfg).eval()
    randomize_transformers(model, seed)
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    model.save_pretrained(tmp)
    (tmp / "tokenizer.json").write_text(bench_tokenizer_json(cfg.audio_bos_token_id), encoding="utf-8")
    del model
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)  # complete or absent
    log(f"checkpoint ({config}, random, seed {seed}) written to {out} in {time.perf_counter() - t0:.0f} s")
    return out


def export_bundle(ckpt: Path, bundle: Path, precisions) -> Path:
    """``python -m export vibevoice --checkpoint`` in a subprocess (skipped when the bundle has every precision); its
    peak RSS and time are logged (``/usr/bin/time -v`` when present)."""
    want = precisions_to_export(bundle, precisions, ("prefill", "step", "diffusion"))
    if not want:
        return bundle
    args = ["--checkpoint", str(ckpt), "--tokenizer", str(ckpt / "tokenizer.json"), "--out", str(bundle),
            "--precision", *want, "--name", f"vibevoice-bench-{ckpt.parent.name}", "--overwrite"]
    log(f"exporting {' '.join(want)}: python -m export vibevoice {' '.join(args)}")
    t0 = time.perf_counter()
    timer = ["/usr/bin/time", "-v"] if Path("/usr/bin/time").is_file() else []
    subprocess.run([*timer, sys.executable, "-m", "export", "vibevoice", *args], check=True, stdout=sys.stderr,
                   cwd=ROOT)
    log(f"exported in {time.perf_counter() - t0:.0f} s")
    return bundle


def voice_prompts(hop: int, seed: int = 0):
    """Two seeded noise voice prompts of ``VOICE_LATENTS`` whole hops (float32, amplitude ~0.1)."""
    import numpy as np

    rng = np.random.default_rng(seed + 100)
    return [(0.1 * rng.standard_normal(n * hop)).astype(np.float32) for n in VOICE_LATENTS]


def prompt_layout(bundle: Path, script: str = SCRIPT) -> dict:
    """voxlite's prompt for the script and voice prompts (no graph opened): the token ids the official side is given,
    the voice placeholder count, the text token count."""
    import numpy as np

    from voxlite.bundle import open_bundle
    from voxlite.pipelines import family_class

    opened = open_bundle(bundle, verify=False)
    model = family_class(opened.model_type)(opened, backend="cpu")
    hp = model.hparams
    voices = {i: np.zeros((n, hp.acoustic_dim), np.float32) for i, n in enumerate(VOICE_LATENTS)}
    prompt = model.layout(script, voices)
    return dict(ids=prompt.ids.tolist(), voice_positions=int(prompt.speech_mask.sum()),
                positions=int(prompt.ids.size), hop=model.hop_length, sample_rate=model.sample_rate)


# ------------------------------------------------------------------------------------------------ children

def split_parts(parts: dict, wall: float) -> dict:
    """The parts of one generation in ``PARTS`` order, "other" = the wall time the hooks did not see."""
    return runs.split_parts(parts, wall, PARTS)


def child_official(job: dict) -> dict:
    import torch
    import transformers
    from diffusers import DPMSolverMultistepScheduler
    from transformers import StoppingCriteria, StoppingCriteriaList

    torch.set_num_threads(job["threads"])
    t0 = time.perf_counter()
    model = transformers.VibeVoiceForConditionalGeneration.from_pretrained(job["checkpoint"],
                                                                          dtype=torch.float32).eval()
    load_s = time.perf_counter() - t0
    _without_token_cfg(model)
    cfg = model.config
    ids = torch.tensor([job["ids"]], dtype=torch.long)
    hop = cfg.audio_config.hop_length
    voices = voice_prompts(hop, job["seed"])
    length = max(len(v) for v in voices)
    values = torch.zeros(len(voices), 1, length)
    mask = torch.zeros(len(voices), length, dtype=torch.bool)
    for i, v in enumerate(voices):
        values[i, 0, :len(v)] = torch.from_numpy(v)
        mask[i, :len(v)] = True
    sr = 24000

    class LatentLimit(StoppingCriteria):  # voxlite's max_latents: stop after n diffusion tokens
        def __init__(self, n):
            self.n = n

        def __call__(self, input_ids, scores, **kwargs):
            made = (input_ids[:, ids.shape[1]:] == cfg.audio_token_id).sum(-1)
            return made >= self.n

    timer = PartTimer()
    m = model.model

    def lm_part(*args, **kwargs):
        x = kwargs.get("inputs_embeds")
        x = x if x is not None else kwargs.get("input_ids")
        return "prefill" if x is not None and x.shape[1] > 1 else "lm_step"

    m.language_model.forward = timer.wrap(m.language_model.forward, lm_part)
    model.lm_head.forward = timer.wrap(model.lm_head.forward, "lm_step")  # the full-vocabulary logits
    m.audio_tower.encode = timer.wrap(m.audio_tower.encode, "prefill")  # voice prompts
    m.diffusion_head.forward = timer.wrap(m.diffusion_head.forward, "diffusion")
    m.semantic_tokenizer_encoder.forward = timer.wrap(m.semantic_tokenizer_encoder.forward, "semantic")
    first = {}
    decode = model._decode_audio_latent

    def decode_hook(*args, **kwargs):
        start = time.perf_counter()
        out = decode(*args, **kwargs)
        timer.add("decode", time.perf_counter() - start)
        first.setdefault("t", time.perf_counter())
        return out

    model._decode_audio_latent = decode_hook

    def generate(n):
        torch.manual_seed(job["seed"])
        scheduler = DPMSolverMultistepScheduler(beta_schedule="squaredcos_cap_v2", prediction_type="v_prediction")
        with torch.no_grad():
            return model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), input_values=values,
                                  padding_mask=mask, noise_scheduler=scheduler, num_diffusion_steps=job["steps"],
                                  guidance_scale=job["cfg"], max_new_tokens=4 * n + 16,
                                  stopping_criteria=StoppingCriteriaList([LatentLimit(n)]), do_sample=False,
                                  return_dict_in_generate=True)

    generate(2)  # warm-up
    walls, ttfas, parts = [], [], []
    latents = tokens = samples = 0
    for _ in range(job["repeats"]):
        timer.reset()
        first.clear()
        start = time.perf_counter()
        out = generate(job["latents"])
        walls.append(time.perf_counter() - start)
        ttfas.append(first["t"] - start if first else None)
        parts.append(split_parts(timer.parts, walls[-1]))
        new = out.sequences[0, ids.shape[1]:]
        latents, tokens = int((new == cfg.audio_token_id).sum()), int(new.numel())
        samples = int(out.audio[0].shape[-1]) if out.audio[0] is not None else 0
    return dict(load_s=load_s, wall_s=median(walls), ttfa_s=median(ttfas), walls=walls, ttfas=ttfas,
                latents=latents, lm_tokens=tokens, audio_s=samples / sr, parts=median_parts(parts, PARTS),
                prompt_positions=int(ids.shape[1]))


def _without_token_cfg(model):
    """Drop the generic token-logit CFG transformers adds when guidance_scale != 1 (see the module docstring)."""
    from transformers.generation.logits_process import UnbatchedClassifierFreeGuidanceLogitsProcessor

    base = model._get_logits_processor

    def processors(*args, **kwargs):
        out = base(*args, **kwargs)
        kept = [p for p in out if not isinstance(p, UnbatchedClassifierFreeGuidanceLogitsProcessor)]
        out.clear()
        out.extend(kept)
        return out

    model._get_logits_processor = processors
    return model


VOXLITE_PART = {"embed": "prefill", "acoustic_connector": "prefill", "prefill": "prefill", "encoder": "prefill",
                "step": "lm_step", "feedback": "lm_step", "diffusion": "diffusion", "decoder_stream": "decode",
                "semantic_stream": "semantic"}


def child_voxlite(job: dict) -> dict:
    import numpy as np

    import voxlite

    t0 = time.perf_counter()
    model = voxlite.load(job["bundle"], backend=job["backend"], precision=job["precision"], threads=job["threads"])
    verify_s = time.perf_counter() - t0
    timer = PartTimer()
    for graph in STREAM_GRAPHS:
        session = model.session(graph)
        part = VOXLITE_PART[graph]
        session.run = timer.wrap(session.run, part)
        if hasattr(session, "run_into"):
            session.run_into = timer.wrap(session.run_into, part)
    load_s = time.perf_counter() - t0
    voices = dict(zip((1, 2), voice_prompts(model.hop_length, job["seed"])))
    kw = dict(voices=voices, prompt_sample_rate=model.sample_rate, steps=job["steps"], cfg=job["cfg"],
              seed=job["seed"])
    steps_made = []
    generate_steps = model.generate_steps

    def counting(*args, **kwargs):  # the LM steps (tokens) the loop made, latents or not
        n = 0
        for item in generate_steps(*args, **kwargs):
            n += 1
            yield item
        steps_made.append(n)

    model.generate_steps = counting
    for _ in model.stream(SCRIPT, max_latents=2, **kw):  # warm-up
        pass
    walls, ttfas, parts = [], [], []
    n_samples = n_chunks = 0
    for _ in range(job["repeats"]):
        timer.reset()
        start = time.perf_counter()
        first, n_samples, n_chunks = None, 0, 0
        for chunk in model.stream(SCRIPT, max_latents=job["latents"], **kw):
            if first is None:
                first = time.perf_counter() - start
            n_samples += len(chunk)
            n_chunks += 1
        walls.append(time.perf_counter() - start)
        ttfas.append(first)
        parts.append(split_parts(timer.parts, walls[-1]))
    prompt = model.layout(SCRIPT, {i: np.zeros((n, model.hparams.acoustic_dim), np.float32)
                                   for i, n in enumerate(VOICE_LATENTS)})
    return dict(load_s=load_s, verify_s=verify_s, wall_s=median(walls), ttfa_s=median(ttfas), walls=walls,
                ttfas=ttfas, latents=n_chunks, lm_tokens=steps_made[-1] if steps_made else None,
                audio_s=n_samples / model.sample_rate, parts=median_parts(parts, PARTS),
                prompt_positions=int(prompt.ids.size), precisions=sorted(set(model.graph_precisions.values())))


# ------------------------------------------------------------------------------------------------ driver

def check_args(*, latents: int, threads, precisions, backends, rounds: int, repeats: int, steps: int,
               cfg: float) -> None:
    """Refuse settings the benchmark cannot measure (raises SystemExit with the reason)."""
    if latents < 1:
        raise SystemExit(f"--latents must be at least 1 (got {latents})")
    check_run_args(threads=threads, precisions=precisions, known_precisions=PRECISIONS, backends=backends,
                   rounds=rounds, repeats=repeats)
    if steps < 1:
        raise SystemExit(f"--steps must be at least 1 (got {steps})")
    if cfg <= 0:
        raise SystemExit(f"--cfg must be positive (got {cfg})")


def run_benchmark(*, config: str = "1.5b", work_dir: Path = DEFAULT_WORK_DIR, latents: int = 16, threads=(1, 2),
                  precisions=("fp32", "int8"), backends=("cpu",), rounds: int = 2, repeats: int = 1,
                  steps: int = STEPS, cfg: float = CFG, seed: int = 0, official: bool = True) -> dict:
    check_args(latents=latents, threads=threads, precisions=precisions, backends=backends, rounds=rounds,
               repeats=repeats, steps=steps, cfg=cfg)
    work_dir = Path(work_dir).expanduser()
    work_dir.mkdir(parents=True, exist_ok=True)
    machine_start = machine()
    ckpt = make_checkpoint(work_dir / "checkpoint", config, seed)
    bundle = export_bundle(ckpt, work_dir / "bundle", precisions)
    layout = prompt_layout(bundle)
    common = dict(latents=latents, steps=steps, cfg=cfg, repeats=repeats, seed=seed)
    cache = work_dir / "cache"
    ckpt_mb = sum(f.stat().st_size for f in ckpt.glob("*.safetensors")) / 1e6
    configs = []  # (row key fields, job)
    for t in threads:
        if official:
            configs.append((dict(system="official", backend="torch eager", precision="fp32", threads=t,
                                 size_mb=ckpt_mb),
                            dict(system="official", checkpoint=str(ckpt), ids=layout["ids"], threads=t, **common)))
        for backend in backends:
            for precision in precisions:
                configs.append((dict(system="voxlite", backend=backend, precision=precision, threads=t,
                                     size_mb=bundle_mb(bundle, precision, STREAM_GRAPHS)),
                                dict(system="voxlite", bundle=str(bundle), backend=backend, precision=precision,
                                     threads=t, **common)))
    rows = CHILD.rounds(configs, rounds, cache, line=lambda key, got: _row_line({**key, **got}), merge=_merge)
    add_ratios(rows)
    meta = dict(date=datetime.datetime.now().isoformat(timespec="seconds"), config=config, latents=latents,
                steps=steps, cfg=cfg, rounds=rounds, repeats=repeats, script=SCRIPT, voice_latents=list(VOICE_LATENTS),
                prompt_positions=layout["positions"],
                machine=machine_span(machine_start),
                checkpoint_mb=ckpt_mb, bundle_total_mb=dir_mb(bundle), checkpoint=str(ckpt), bundle=str(bundle))
    meta["same_work"] = same_work(rows)
    return dict(meta=meta, rows=rows)


def same_work(rows: list[dict]) -> bool:
    """Every row made the same number of latents from the same prompt (the ratios compare equal work only)."""
    return len({(r["latents"], r.get("prompt_positions")) for r in rows}) <= 1


def add_ratios(rows: list[dict]) -> None:
    """RTF, speed-up and TTFA ratio to the official row of the same thread count (``subprocess_runs.add_ratios``);
    none where the official row made another number of latents."""
    runs.add_ratios(rows, same="latents")


def _merge(results: list[dict]) -> dict:
    out = merge_rounds(results, parts=PARTS)
    out["lm_tokens_all"] = [r["lm_tokens"] for r in results]
    return out


def _row_line(r: dict) -> str:
    return row_line(r, f"{r['latents']} latents / {r['lm_tokens']} LM steps", f"TTFA {_ms(r['ttfa_s'])} ms")


def _ms(seconds) -> str:
    return cell(None if seconds is None else 1000 * seconds, ".0f")


def format_table(result: dict) -> str:
    m = result["meta"]
    lines = [f"VibeVoice ({m['config']}, random weights) end to end, {m['date']}: a two-speaker script with two voice "
             f"prompts ({' + '.join(str(n) for n in m['voice_latents'])} latents; {m['prompt_positions']} prompt "
             f"positions) -> {m['latents']} latents, DPM-Solver++ {m['steps']} steps, CFG {m['cfg']}; median of "
             f"{m['rounds']} rounds x {m['repeats']} (each configuration in a fresh process per round); "
             f"{m['machine']}.",
             "RTF = wall / audio seconds (lower is faster); TTFA = time to the first audio chunk; x official = "
             "median over rounds of official time / this time in the same round, same threads.", "",
             "| system | backend | precision | threads | latents | LM steps | load s | TTFA ms | RTF | "
             "speed-up x official | TTFA x official | peak RSS MB | size MB |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in result["rows"]:
        lines.append(f"| {r['system']} | {r['backend']} | {r['precision']} | {r['threads']} | {r['latents']} | "
                     f"{r['lm_tokens']} | {r['load_s']:.1f} | {_ms(r['ttfa_s'])} | {cell(r['rtf'], '.3f')} | "
                     f"{x_cell(r['speedup'])} | {x_cell(r['ttfa_ratio'])} | {r['peak_rss_mb']:.0f} | "
                     f"{r['size_mb']:.0f} |")
    if not m.get("same_work", True):
        lines += ["", "WARNING: the systems did not make the same number of latents: the ratios of rows that differ "
                  "from the official row are left out."]
    lines += ["", "Where the time of one generation goes (seconds, median over rounds; prefill = voice prompt encode "
              "+ embeddings + prefill; LM step = both CFG branches' steps (+ the official full-vocabulary head, + "
              "voxlite's feedback connector); decode = acoustic decoder; semantic = semantic encoder; other = the rest "
              "of the wall time: scheduler / solver, connectors, Python):", "",
              "| system | backend | precision | threads | " + " | ".join(p.replace("_", " ") for p in PARTS)
              + " | wall |", "|---|---|---|---|" + "---:|" * (len(PARTS) + 1)]
    for r in result["rows"]:
        p = r["parts"]
        lines.append(f"| {r['system']} | {r['backend']} | {r['precision']} | {r['threads']} | "
                     + " | ".join(f"{p[k]:.2f}" for k in PARTS) + f" | {r['wall_s']:.2f} |")
    lines += ["", "load = voxlite.load (sha256 of every bundle file) + opening the streaming graphs; official = "
              "VibeVoiceForConditionalGeneration.from_pretrained. size = the checkpoint's safetensors; for voxlite, "
              "what one precision's streaming graphs reference (the bundle on disk holds every precision: "
              f"{m['bundle_total_mb']:.0f} MB)."]
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="1.5b", choices=["1.5b", "tiny"])
    parser.add_argument("--work-dir", default=str(DEFAULT_WORK_DIR), help="checkpoint and bundle, reused")
    parser.add_argument("--latents", type=int, default=16, help="latents each side makes (3200 samples at 24 kHz each)")
    parser.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--precisions", nargs="+", default=["fp32", "int8"], choices=list(PRECISIONS))
    parser.add_argument("--backends", nargs="+", default=["cpu"], choices=["cpu", "openvino"])
    parser.add_argument("--rounds", type=int, default=2,
                        help="every configuration runs once per round (a fresh process each time), rounds in turn")
    parser.add_argument("--repeats", type=int, default=1, help="timed generations per process")
    parser.add_argument("--steps", type=int, default=STEPS)
    parser.add_argument("--cfg", type=float, default=CFG)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-official", action="store_true", help="voxlite rows only (no ratios)")
    parser.add_argument("--json", help="also write the rows here")
    parser.add_argument("--note", action="append", default=[], help="a sentence added to the report's notes")
    parser.add_argument("--report", type=Path, metavar="DIR",
                        help="write DIR/report.json and DIR/report.md with the command, machine and versions "
                             "(benchmarks/report.py), e.g. benchmarks/results/vibevoice")
    return parser


def main(argv=None) -> int:
    if argv is None:
        argv = sys.argv[1:]
    if argv[:1] == ["--child"]:
        return CHILD.main(argv[1], official=child_official, voxlite=child_voxlite)
    if argv[:1] == ["--table"]:
        return print_saved_table(argv[1], add_ratios, format_table)
    args = build_parser().parse_args(argv)
    check_args(latents=args.latents, threads=args.threads, precisions=args.precisions, backends=args.backends,
               rounds=args.rounds, repeats=args.repeats, steps=args.steps, cfg=args.cfg)
    from benchmarks.report import start_run

    started = start_run(("torch", "transformers", "diffusers"), argv=[__file__] + list(argv))
    result = run_benchmark(config=args.config, work_dir=Path(args.work_dir), latents=args.latents,
                           threads=tuple(args.threads), precisions=tuple(args.precisions),
                           backends=tuple(args.backends), rounds=args.rounds, repeats=args.repeats,
                           steps=args.steps, cfg=args.cfg, seed=args.seed, official=not args.no_official)
    publish(result, format_table(result), started,
            ["Random weights at the published sizes (see benchmarks/vibevoice.py's docstring): the cost of a step, "
             "not the sound. Ratios pair runs of the same round; compare ratios rather than absolute times across "
             "runs.",
             "The official side is transformers' VibeVoiceForConditionalGeneration with its token-logit CFG processor "
             "dropped (Microsoft's algorithm: CFG on the diffusion head only), as voxlite.",
             "The checkpoint and bundle paths are this run's work dir; they are not committed.", *args.note],
            json_path=args.json, report_dir=args.report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
