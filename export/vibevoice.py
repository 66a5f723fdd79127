"""Export VibeVoice to a voxlite bundle (``model_type: "vibevoice"``).

    python -m export vibevoice --checkpoint ~/models/VibeVoice-1.5B-hf --tokenizer ~/models/Qwen2.5-1.5B/tokenizer.json \
        --out bundles/vibevoice-1.5b --precision fp32 int8
    python -m export vibevoice --config tiny --random-init --seed 0 --out /tmp/tiny-vibevoice

``--checkpoint DIR``: a transformers ``VibeVoiceForConditionalGeneration`` directory (config.json + safetensors) or a
Microsoft ``vibevoice`` one (its config.json names ``acoustic_tokenizer_config``); the layout is told by the config.
VibeVoice checkpoints ship no tokenizer: ``--tokenizer`` is the Qwen2.5 ``tokenizer.json`` (without it the bundle
takes token ids only).

Graphs of component ``lm`` (each verified against the PyTorch reference before the bundle is written):

- ``embed``: ``input_ids`` (B, T) int64 -> ``embeds`` (B, T, H): the token embedding.
- ``acoustic_connector``: ``latents`` (B, T, D) LM-scale -> ``embeds`` (B, T, H): voice prompts' placeholders.
- ``feedback``: ``latent`` (B, D), ``semantic`` (B, D_sem) -> ``embeds`` (B, H): the LM input after a latent.
- ``prefill``: ``embeds`` (B, T, H) -> ``hidden`` (B, H) (the last position's), ``control_logits`` (B, 4),
  ``present.lm.<i>.key|value`` (B, Hkv, T, Dh).
- ``step``: ``embeds`` (B, 1, H), ``length`` (1,) int64, ``cache.lm.<i>`` (2, B, Hkv, capacity, Dh) (fixed-size
  buffers, slots >= length ignored) -> as prefill, one new position. The unconditional branch runs the same graph
  on its own buffers.
- ``diffusion``: ``x`` (B, D), ``t`` (B,) float32 timestep, ``cond`` / ``uncond`` (B, H) -> ``output`` (2B, D): the
  head's v-prediction, rows [0, B) conditional, [B, 2B) unconditional (CFG's halves in one call).
- ``semantic_stream``: ``audio`` (B, 1, k * hop), ``state_<i>`` -> ``features`` (B, D_sem, k), ``new_state_<i>``:
  the semantic encoder, streaming (causal convolutions; zero initial states).

Component ``codec``: the acoustic sigma-VAE (``export.codec``'s vibevoice path: encoder, decoder, decoder_stream).
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import torch
from torch import nn

from voxlite.bundle import BundleWriter
from voxlite.hparams import KVGroup, StreamState, VibeVoiceLMHParams

from . import ExportError
from .codec import CODEC_BOUNDS, FP32_MAX_ABS, vibevoice_model_parts, write_codec_component
from .graphs import Bounds, MethodModule, add_source_arguments, check_precisions, kv_buffers, weights_provenance, \
    write_graphs
from .voxcpm import randomize, tiny_tokenizer_json, write_text_component

# int8 bounds (SNR dB against fp32 on the verify inputs), measured at the tiny random config; the hidden state feeds
# the head, whose output the solver integrates over 10 steps
MIN_SNR_DB = {"fp16": {"hidden": 20.0, "output": 25.0, "embeds": 25.0, "features": 25.0},
              "int8": {"hidden": 8.0, "output": 8.0, "embeds": 10.0, "features": 10.0}}
VIBEVOICE_BOUNDS = Bounds(FP32_MAX_ABS, MIN_SNR_DB,
                          graphs={g: CODEC_BOUNDS for g in ("encoder", "decoder", "decoder_stream")})


# the connectors stay float: two small matrices per call (2.4 M weights each at 1.5B), whose int8 error the LM
# then reads at every position (9.7 dB at the tiny config)
FLOAT_ONLY = ("acoustic_connector", "feedback")


def _kv_names(prefix: str, n: int) -> list[str]:
    return [f"{prefix}.lm.{i}.{kv}" for i in range(n) for kv in ("key", "value")]


class _Prefill(nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, embeds):
        h, logits, kv = self.model.lm_forward(embeds)
        return (h, logits, *kv)


class _Step(nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, embeds, length, *cache):
        h, logits, kv = self.model.lm_forward_buffer(embeds, length, tuple(cache))
        return (h, logits, *kv)


class _Diffusion(nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x, t, cond, uncond):
        return self.model.head(torch.cat((x, x)), torch.cat((t, t)), torch.cat((cond, uncond)))


class _SemanticStream(nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, audio, *state):
        features, new = self.model.semantic.encode_stream(audio, tuple(state))
        return (features, *new)


def randomize_vibevoice(model, seed: int) -> None:
    """Random-init export: norm gains spread around 1 and a non-trivial latent scale / bias, so neither can hide."""
    randomize(model, seed)
    g = torch.Generator().manual_seed(seed + 2)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 1 and name.endswith("norm.weight"):
                p.copy_(1 + 0.3 * torch.randn(p.shape, generator=g))
        model.latent_scale.fill_(0.7)
        model.latent_bias.fill_(-0.2)
        # Random control rows end at once or never make a latent. The diffusion row along the mean hidden state
        # of random input (a logit near 4 wherever the state is typical), the other rows quiet: a random bundle
        # makes latents most steps (tests and benchmarks need latents) and now and then something else.
        c = model.config
        ids = torch.randint(0, c.lm.vocab_size, (4, 32), generator=g)
        hidden, _ = model.lm(model.lm.embed(ids))
        mean = hidden.reshape(-1, hidden.shape[-1]).mean(0)
        head = model.head_weight()
        for other in (c.speech_start_id, c.speech_end_id, c.eos_id):
            head[other] *= 0.2
        head[c.speech_diffusion_id] = 4 * mean / mean.pow(2).sum()


def build(checkpoint: str | None, config: str, seed: int):
    from voxlite.models.vibevoice import VibeVoice, VibeVoiceConfig

    if checkpoint:
        from voxlite.convert.vibevoice import load_checkpoint

        return load_checkpoint(checkpoint)
    presets = {"tiny": VibeVoiceConfig.tiny, "1.5b": VibeVoiceConfig.vibevoice_1_5b}
    if config not in presets:
        raise ExportError(f"--random-init needs a preset config ({', '.join(presets)})")
    torch.manual_seed(seed)
    model = VibeVoice(presets[config]())
    randomize_vibevoice(model, seed)
    return model.eval()


def vibevoice_specs(model, *, max_positions: int = 65536) -> tuple[dict, VibeVoiceLMHParams]:
    cfg = model.config
    H, D, Ds = cfg.lm.hidden_size, cfg.acoustic_dim, cfg.semantic_dim
    n = cfg.lm.num_hidden_layers
    g = torch.Generator().manual_seed(4321)
    T = 7
    ids = torch.randint(0, cfg.lm.vocab_size, (1, T), generator=g)
    embeds = torch.randn(1, T, H, generator=g)
    with torch.no_grad():
        _, _, kv = model.lm_forward(embeds)
    cache = kv_buffers(kv, T, g)
    length = torch.tensor([T], dtype=torch.int64)
    step_embeds = torch.randn(1, 1, H, generator=g)
    latents = torch.randn(1, 3, D, generator=g)
    x, cond, uncond = torch.randn(1, D, generator=g), torch.randn(1, H, generator=g), torch.randn(1, H, generator=g)
    t = torch.tensor([641.0])
    hop = cfg.semantic.hop_length
    sem_state = model.semantic.encoder_initial_state(1)
    with torch.no_grad():  # a state that is not all zeros: stream one chunk first
        _, sem_state = model.semantic.encode_stream(torch.randn(1, 1, 2 * hop, generator=g) * 0.3, sem_state)
    audio = torch.randn(1, 1, hop, generator=g) * 0.3
    state_in = [f"state_{i}" for i in range(len(sem_state))]
    state_out = [f"new_state_{i}" for i in range(len(sem_state))]

    present = _kv_names("present", n)
    caches = [f"cache.lm.{i}" for i in range(n)]
    heads = ["hidden", "control_logits"]
    specs = {
        "embed": (MethodModule(model.lm, model.lm.embed), (ids,), ["input_ids"], ["embeds"],
                  {"input_ids": {0: "batch", 1: "positions"}, "embeds": {0: "batch", 1: "positions"}}),
        "acoustic_connector": (model.acoustic_connector, (latents,), ["latents"], ["embeds"],
                               {"latents": {0: "batch", 1: "positions"}, "embeds": {0: "batch", 1: "positions"}}),
        "feedback": (MethodModule(model, model.feedback), (x, torch.randn(1, Ds, generator=g)),
                     ["latent", "semantic"], ["embeds"],
                     {"latent": {0: "batch"}, "semantic": {0: "batch"}, "embeds": {0: "batch"}}),
        "prefill": (_Prefill(model), (embeds,), ["embeds"], [*heads, *present],
                    {"embeds": {0: "batch", 1: "positions"}, **{h: {0: "batch"} for h in heads},
                     **{p: {0: "batch", 2: "positions"} for p in present}}),
        "step": (_Step(model), (step_embeds, length, *cache), ["embeds", "length", *caches], [*heads, *present],
                 {"embeds": {0: "batch"}, **{h: {0: "batch"} for h in heads},
                  **{c: {1: "batch", 3: "capacity"} for c in caches},
                  **{p: {0: "batch", 2: "new_positions"} for p in present}}),
        "diffusion": (_Diffusion(model), (x, t, cond, uncond), ["x", "t", "cond", "uncond"], ["output"],
                      {"x": {0: "batch"}, "t": {0: "batch"}, "cond": {0: "batch"}, "uncond": {0: "batch"},
                       "output": {0: "batch2"}}),
        "semantic_stream": (_SemanticStream(model), (audio, *sem_state), ["audio", *state_in],
                            ["features", *state_out],
                            {"audio": {0: "batch", 2: "samples"}, "features": {0: "batch", 2: "frames"},
                             **{s: {0: "batch"} for s in state_in + state_out}}),
    }
    lm_cfg = cfg.lm_transformer_config()
    ac = cfg.acoustic
    hparams = VibeVoiceLMHParams(
        lm_dim=H, acoustic_dim=D, semantic_dim=Ds, vocab_size=cfg.lm.vocab_size, control_ids=cfg.control_ids,
        kv={"lm": KVGroup(n_layers=n, n_kv_heads=lm_cfg.n_kv_heads, head_dim=lm_cfg.kv_head_dim)},
        max_positions=max_positions, semantic_hop=hop,
        semantic_states=tuple(StreamState(s, ("batch", *st.shape[1:]), "semantic.encoder")
                              for s, st in zip(state_in, sem_state)),
        latent_scale=float(model.latent_scale), latent_bias=float(model.latent_bias),
        prompt_noise=ac.std_dist_type, prompt_std=float(ac.fix_std),
        n_train=cfg.schedule.n_train, beta_schedule=cfg.schedule.beta_schedule,
        prediction_type=cfg.schedule.prediction_type, cfg=cfg.cfg_scale, steps=cfg.schedule.steps,
        config=json.loads(json.dumps(cfg.to_dict())))
    hparams.check()
    return specs, hparams


def export_vibevoice(model, out: str | Path, *, precisions=("fp32",), name: str | None = None,
                     provenance: dict | None = None, overwrite: bool = False, log=print,
                     tokenizer: str | Path | bytes | None = None, max_positions: int = 65536,
                     keep_fp32: bool = True, int8_blockwise=()) -> Path:
    """Write the bundle: components ``lm`` (the graphs above), ``codec`` (the acoustic tokenizer) and, with a
    ``tokenizer`` (tokenizer.json), ``text``; capabilities text-to-speech, voice-cloning and multi-speaker."""
    precisions = check_precisions(precisions)
    if model.config.acoustic.hop_length != model.config.semantic.hop_length:
        raise ExportError("the semantic tokenizer must have the acoustic tokenizer's hop (one feature per latent)")
    specs, hparams = vibevoice_specs(model, max_positions=max_positions)
    parts = vibevoice_model_parts(model.acoustic, "the model's acoustic tokenizer")
    with BundleWriter(out, model_type="vibevoice", name=name or "vibevoice", sample_rate=parts.sample_rate,
                      default_precision="fp32" if keep_fp32 else None,
                      capabilities=["text-to-speech", "voice-cloning", "multi-speaker"],
                      provenance=provenance or {}, overwrite=overwrite) as writer:
        if tokenizer is not None:
            write_text_component(writer, "hf-tokenizers", tokenizer)
        writer.component("lm", kind="vibevoice-lm", hparams=hparams.to_json())
        metadata = {"family": "vibevoice", "sample_rate": parts.sample_rate}
        with tempfile.TemporaryDirectory() as tmp:
            write_graphs(writer, specs, tmp, precisions=precisions, bounds=VIBEVOICE_BOUNDS, log=log,
                         shared_data="weights", metadata=metadata, keep_fp32=keep_fp32, component="lm",
                         int8_blockwise=tuple(int8_blockwise), float_only=FLOAT_ONLY)
            write_codec_component(writer, parts, tmp, precisions=precisions, bounds=VIBEVOICE_BOUNDS, log=log,
                                  shared_data="weights", metadata=metadata, keep_fp32=keep_fp32)
        return writer.finish()


def main(argv=None, prog: str | None = None) -> int:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    add_source_arguments(parser, checkpoint_help="a VibeVoice checkpoint directory (transformers' or Microsoft's "
                         "layout; sizes from its config.json)", config_default="tiny",
                         config_help="preset for --random-init (tiny, 1.5b)")
    parser.add_argument("--tokenizer", help="the Qwen2.5 tokenizer.json (text input); --random-init makes a tiny one")
    parser.add_argument("--int8-blockwise", nargs="*", default=[], metavar="GRAPH",
                        help="lm graphs whose int8 variant gets block-wise scales (e.g. step diffusion) instead of "
                             "dynamic quantization's one scale per activation tensor")
    parser.add_argument("--max-positions", type=int, default=65536,
                        help="KV cache positions the runtime may fill (script + voice prompts + generated latents)")
    args = parser.parse_args(argv)
    weights = weights_provenance(parser, args)
    model = build(args.checkpoint, args.config, args.seed)
    provenance = {"family": "vibevoice", "config": "checkpoint" if args.checkpoint else args.config,
                  "weights": weights}
    tokenizer = args.tokenizer
    if tokenizer is None and not args.checkpoint:
        tokenizer = tiny_tokenizer_json(min(100, model.config.speech_start_id)).encode()
    elif tokenizer is None:
        print("warning: no --tokenizer; the bundle takes token ids only (no text input)", file=sys.stderr)
    out = export_vibevoice(model, args.out, precisions=tuple(args.precision), name=args.name,
                           provenance=provenance, overwrite=args.overwrite, tokenizer=tokenizer,
                           max_positions=args.max_positions, int8_blockwise=tuple(args.int8_blockwise))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
