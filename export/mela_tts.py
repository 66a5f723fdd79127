"""Export MELA-TTS to a voxlite bundle (``model_type: "mela_tts"``).

    python -m export mela-tts --config tiny --random-init --seed 0 --out /tmp/tiny-mela

There is no released checkpoint: ``--random-init`` builds a preset (``tiny``; ``qwen2-0.5b`` for sizes and speed)
with random weights, and its vocoder is a Vocos over the model's own log-mel (80 bins, 50 Hz: 16 kHz audio, hop 320,
n_fft 1280, HTK mel without norm, ln with floor 1e-7, Vocos' mel conventions) at random weights.

Graphs of the ``lm`` component (each verified against the PyTorch reference before the bundle is written; fp32
within 1e-4 max abs, int8 within ``MIN_SNR_DB``):

- ``utterance``: ``prompt_mel`` (B, F, n_mels) -> ``utterance`` (B, H): the utterance embedding (mean-pooled
  encoder of the prompt mel); run only when there is a prompt (else the pipeline feeds zeros).
- ``prefill``: ``speaker`` (B, speaker_dim), ``utterance`` (B, H), ``text_tokens`` (B, T) int64 (the first text
  group, with TOS after the last text token) -> ``mu`` (B, H_dit), ``stop_logit`` (B, 1), ``present.lm.<i>.key`` /
  ``.value`` (B, Hkv, 2 + T, Dh).
- ``text``: ``text_tokens`` (B, T), ``length`` (1,) int64, ``cache.lm.<i>`` (2, B, Hkv, capacity, Dh) -> ``mu``,
  ``stop_logit`` (of the last token), ``present`` of the T new positions: the next text group in streaming mode.
- ``step``: ``chunk`` (B, P, n_mels), ``length``, ``cache.lm.<i>`` -> ``mu``, ``stop_logit``, ``present`` (one
  position). ``text`` and ``step`` read the runtime's fixed-size buffers in place (VoxCPM's ``step_kv: "buffer"``).
- ``locdit``: ``x`` (B, P, n_mels), ``t`` (B,), ``mu``, ``cond`` (the previous chunk) -> ``velocity`` (2B, P,
  n_mels): rows [0, B) conditional, [B, 2B) unconditional (mu = 0).

Components: ``lm`` (kind ``mela-tts-lm``, ``voxlite.hparams.MelaTTSLMHParams``), ``codec`` (the Vocos: encoder =
the mel front end, decoder = the vocoder, streamed in windows covering its receptive field) and ``text``
(hf-tokenizers tokenizer.json: Qwen2's for a checkpoint, a tiny BPE for --random-init).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import torch
from torch import nn

from voxlite.bundle import BundleWriter
from voxlite.hparams import KVGroup, MelaTTSLMHParams

from . import ExportError
from .codec import CODEC_BOUNDS, FP32_MAX_ABS, CodecParts, _mel_parts, write_codec_component
from .graphs import Bounds, add_source_arguments, check_precisions, kv_buffers, weights_provenance, write_graphs
from .voxcpm import LocDiTWithCFG, randomize, tiny_tokenizer_json, write_text_component

# Quantized bounds (SNR dB against fp32 on the verify inputs), measured on the tiny random model (dynamic int8 on
# 48-wide random layers, as VoxCPM's tiny): int8 mu 20.8 (prefill) / 15.1 (text) / 9.3 dB (step; keeping the chunk
# downsampler float did not change it: the loss is in the LM layers), velocity see the export log. Stop logits and
# K/V are logged only.
MIN_SNR_DB = {"fp16": {"mu": 20.0, "velocity": 30.0, "utterance": 20.0},
              "int8": {"mu": 6.0, "velocity": 10.0}}
MELA_BOUNDS = Bounds(FP32_MAX_ABS, MIN_SNR_DB, graphs={g: CODEC_BOUNDS for g in ("encoder", "decoder")})

# Generation defaults (ours; the description gives 10 solver steps and CFG without its scale). max_len: 4 chunks
# (0.64 s) per text token + 10, capped at 1000 chunks (160 s).
GENERATION = {"cfg": 2.0, "steps": 10, "min_len": 2, "max_len_ratio": 4.0, "max_len_offset": 10,
              "max_len_cap": 1000, "stop_threshold": 0.5}
STEP_KV = "buffer"
# The utterance encoder runs once per prompt, so int8 saves nothing there, and its pooled output lost the most to
# dynamic int8 (9.3 dB on the tiny model): it stays float.
FLOAT_ONLY = ("utterance",)


def vocoder_mel(sample_rate: int = 16000, hop: int = 320, n_mels: int = 80):
    """The model's log-mel, 50 Hz at ``sample_rate`` / ``hop`` (Vocos' conventions: n_fft = 4 hops, HTK mel, no
    filterbank norm, "center" padding, ln with floor 1e-7)."""
    from voxlite.dsp.mel import MelConfig

    return MelConfig(sample_rate, 4 * hop, hop, n_mels, mel_scale="htk", norm=None, padding="center", log_floor=1e-7)


def vocos_window(num_layers: int) -> dict:
    """The streaming window (frames) covering a Vocos decoder's receptive field: the kernel-7 embed conv and one
    kernel-7 depthwise conv per layer see +-3 frames each; the "center" iSTFT (n_fft = 4 hops) adds -1 / +2."""
    reach = 3 * (num_layers + 1)
    return {"left": reach + 1, "right": reach + 2}


def tiny_vocos_parts(model_config, seed: int) -> tuple[CodecParts, dict]:
    """A random Vocos over the model's mel (dim 32, 2 layers) -> (CodecParts, the codec's window)."""
    from voxlite.models.vocos import Vocos, VocosConfig

    if model_config.mel_rate != 50.0:
        raise ExportError(f"the vocoder presets are 50 Hz; the model's mel is {model_config.mel_rate} Hz")
    mel = vocoder_mel(n_mels=model_config.n_mels)
    cfg = VocosConfig(n_mels=mel.n_mels, dim=32, intermediate_dim=48, num_layers=2, n_fft=mel.n_fft,
                      hop_length=mel.hop_length, padding="center", sample_rate=mel.sample_rate, mel=mel)
    torch.manual_seed(seed + 7)
    parts = _mel_parts("vocos", Vocos(cfg).eval(), mel, cfg.to_dict(), "random tiny vocos")
    parts.int8_keep_float = ("/head/", "/embed/")  # as export.codec's Vocos: exp() of the head, the mel-reading conv
    return parts, vocos_window(cfg.num_layers)


def build(config: str, seed: int):
    """(MelaTTS with random weights, its vocoder's CodecParts, the codec's streaming window)."""
    from voxlite.models.mela_tts import MelaTTS, MelaTTSConfig

    presets = {"tiny": MelaTTSConfig.tiny, "qwen2-0.5b": MelaTTSConfig.qwen2_0_5b}
    if config not in presets:
        raise ExportError(f"unknown mela-tts preset {config!r}; presets: {', '.join(presets)}")
    torch.manual_seed(seed)
    model = MelaTTS(presets[config]())
    randomize(model, seed)
    model.eval()
    parts, window = tiny_vocos_parts(model.config, seed)
    if parts.latent_dim != model.config.n_mels:
        raise ExportError(f"vocoder mel bins {parts.latent_dim} != model n_mels {model.config.n_mels}")
    return model, parts, window


class _Prefill(nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, speaker, utterance, text_tokens):
        mu, stop, kv = self.model.prefill(speaker, utterance, text_tokens)
        return (mu, stop, *kv)


class _Text(nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, text_tokens, length, *cache):
        mu, stop, kv = self.model.feed_text_buffer(text_tokens, length, tuple(cache))
        return (mu, stop, *kv)


class _Step(nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, chunk, length, *cache):
        mu, stop, kv = self.model.step_buffer(chunk, length, tuple(cache))
        return (mu, stop, *kv)


class _Utterance(nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, prompt_mel):
        return self.model.utterance(prompt_mel)


def mela_specs(model) -> tuple[dict, MelaTTSLMHParams]:
    c = model.config
    P, M, H, Hd = c.chunk_size, c.n_mels, c.lm.hidden_size, c.dit.dim
    n_layers = c.lm.num_hidden_layers
    g = torch.Generator().manual_seed(4321)
    prompt = torch.randn(1, 23, M, generator=g)
    speaker = torch.randn(1, c.speaker_dim, generator=g)
    tokens = torch.randint(3, min(100, c.lm.vocab_size), (1, 4), generator=g)
    with torch.no_grad():
        utterance = model.utterance(prompt)
        _, _, kv = model.prefill(speaker, utterance, tokens)
    T = 2 + tokens.shape[1]  # the conditions and the text
    cache = kv_buffers(kv, T, g)  # the prefill's positions, then noise the graphs must not read
    length = torch.tensor([T], dtype=torch.int64)
    more = torch.randint(3, min(100, c.lm.vocab_size), (1, 3), generator=g)
    chunk = torch.randn(1, P, M, generator=g)
    x = torch.randn(1, P, M, generator=g)
    mu = torch.randn(1, Hd, generator=g)
    t = torch.tensor([0.7])

    present = [f"present.lm.{i}.{kind}" for i in range(n_layers) for kind in ("key", "value")]
    caches = [f"cache.lm.{i}" for i in range(n_layers)]
    heads = ["mu", "stop_logit"]
    head_axes = {n: {0: "batch"} for n in heads}
    cache_axes = {n: {1: "batch", 3: "capacity"} for n in caches}
    new_axes = {n: {0: "batch", 2: "new_positions"} for n in present}
    specs = {
        "utterance": (_Utterance(model), (prompt,), ["prompt_mel"], ["utterance"],
                      {"prompt_mel": {0: "batch", 1: "frames"}, "utterance": {0: "batch"}}),
        "prefill": (_Prefill(model), (speaker, utterance, tokens), ["speaker", "utterance", "text_tokens"],
                    [*heads, *present],
                    {"speaker": {0: "batch"}, "utterance": {0: "batch"}, "text_tokens": {0: "batch", 1: "tokens"},
                     **head_axes, **{n: {0: "batch", 2: "positions"} for n in present}}),
        "text": (_Text(model), (more, length, *cache), ["text_tokens", "length", *caches], [*heads, *present],
                 {"text_tokens": {0: "batch", 1: "tokens"}, **head_axes, **cache_axes, **new_axes}),
        "step": (_Step(model), (chunk, length, *cache), ["chunk", "length", *caches], [*heads, *present],
                 {"chunk": {0: "batch"}, **head_axes, **cache_axes, **new_axes}),
        "locdit": (LocDiTWithCFG(model), (x, t, mu, chunk), ["x", "t", "mu", "cond"], ["velocity"],
                   {"x": {0: "batch"}, "t": {0: "batch"}, "mu": {0: "batch"}, "cond": {0: "batch"},
                    "velocity": {0: "batch2"}}),
    }
    lm = c.lm_transformer_config()
    hparams = MelaTTSLMHParams(
        n_mels=M, chunk_size=P, lm_dim=H, dit_dim=Hd, speaker_dim=c.speaker_dim, vocab_size=c.lm.vocab_size,
        tos_token=c.tos_token, max_positions=c.max_positions,
        kv={"lm": KVGroup(n_layers=n_layers, n_kv_heads=lm.n_kv_heads, head_dim=lm.kv_head_dim)},
        step_kv=STEP_KV, text_per_group=c.text_per_group, chunks_per_group=c.chunks_per_group, **GENERATION,
        config=c.to_dict())
    hparams.check()
    return specs, hparams


def export_mela_tts(model, codec_parts: CodecParts, out: str | Path, *, window: dict | None = None,
                    precisions=("fp32",), name: str | None = None, provenance: dict | None = None,
                    overwrite: bool = False, tokenizer: str | Path | bytes | None = None, log=print) -> Path:
    """Write the bundle: components ``lm``, ``codec`` (``window``: its streaming window) and, with a
    ``tokenizer`` (tokenizer.json), ``text``; capabilities text-to-speech and voice-cloning (a prompt recording
    conditions the utterance embedding; MELA-TTS takes no prompt transcript)."""
    precisions = check_precisions(precisions)
    specs, hparams = mela_specs(model)
    with BundleWriter(out, model_type="mela_tts", name=name or "mela-tts", sample_rate=codec_parts.sample_rate,
                      default_precision="fp32", capabilities=["text-to-speech", "voice-cloning"],
                      provenance=provenance or {}, overwrite=overwrite) as writer:
        if tokenizer is not None:
            write_text_component(writer, "hf-tokenizers", tokenizer)
        writer.component("lm", kind="mela-tts-lm", hparams=hparams.to_json())
        metadata = {"family": "mela_tts", "sample_rate": codec_parts.sample_rate}
        with tempfile.TemporaryDirectory() as tmp:
            # prefill, text and step hold the same LM layers: one weights file keeps each tensor once
            write_graphs(writer, specs, tmp, precisions=precisions, bounds=MELA_BOUNDS, log=log,
                         shared_data="weights", metadata=metadata, component="lm", float_only=FLOAT_ONLY)
            write_codec_component(writer, codec_parts, tmp, precisions=precisions, bounds=MELA_BOUNDS, log=log,
                                  shared_data="weights", metadata=metadata,
                                  hparams_changes={"window": window} if window else None)
        return writer.finish()


def main(argv=None, prog: str | None = None) -> int:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    add_source_arguments(parser, checkpoint_help="(no MELA-TTS checkpoint is published; not supported)",
                         config_default="tiny", config_help="preset for --random-init (tiny, qwen2-0.5b)")
    args = parser.parse_args(argv)
    weights = weights_provenance(parser, args)
    if args.checkpoint:
        raise ExportError("mela-tts: no checkpoint format exists (no official release); use --random-init")
    model, parts, window = build(args.config, args.seed)
    provenance = {"family": "mela_tts", "config": args.config, "weights": weights}
    tokenizer = tiny_tokenizer_json(min(100, model.config.tos_token)).encode()
    out = export_mela_tts(model, parts, args.out, window=window, precisions=tuple(args.precision), name=args.name,
                          provenance=provenance, overwrite=args.overwrite, tokenizer=tokenizer)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
