"""Export MELA-TTS to a voxlite bundle (``model_type: "mela_tts"``).

    python -m export mela-tts --config tiny --random-init --seed 0 --out /tmp/tiny-mela
    python -m export mela-tts --config tiny --random-init --seed 0 --vocoder default-voice --out /tmp/tiny-mela-24k

There is no released checkpoint: ``--random-init`` builds a preset (``tiny``; ``qwen2-0.5b`` for sizes and speed)
with random weights. ``--vocoder`` picks what turns its mel into audio:

- ``random`` (default): a Vocos over the paper's log-mel (80 bins, 50 Hz: 16 kHz audio, hop 320, n_fft 1280, HTK mel
  without norm, ln with floor 1e-7, Vocos' mel conventions) at random weights. A chunk of 8 frames is 0.16 s: the
  LM runs at 6.25 Hz, as in the paper.
- ``default-voice``: the trained Vocos of the embedded default voice (``voxlite/voices/default``; or ``--vocoder
  PATH``: any bundle whose ``codec`` component is a mel vocoder). Its ``codec`` component is carried into the new
  bundle unchanged (``BundleWriter.copy_component``: the graphs as stored, i.e. an fp32 mel front end and an int8
  decoder, hparams with its streaming window, the files' sha256), and the model's mel is that codec's latents:
  ``n_mels`` = its ``latent_dim`` (100), ``mel_rate`` = sample rate / hop (24000 / 256 = 93.75 Hz). Those latents
  are the *normalised* log-mel (HTK mel, ln with floor 1e-7, then per-bin ``(mel - mean) / std``: the encoder graph
  normalises, the decoder graph de-normalises; ``export.default_voice``), so a checkpoint for this bundle is trained
  on the codec encoder's output, which is also what the pipeline's prompt-mel front end (``encode_prompt``) feeds
  the utterance encoder. A chunk of 8 frames then lasts 8 * 256 / 24000 = 85.3 ms: the LM runs at 11.7 Hz, not
  6.25 Hz, and the streaming 3:2 / 5:4 text:chunk ratios hold less speech per text group. The training-only
  representation alignment needs a whole number of ASR frames per chunk: ``asr_rate`` becomes 23.4375 Hz (2 per
  chunk; the 25 Hz ASR features are resampled to it). The bundle sets no ``default_precision`` (the decoder has
  only its int8 variant): loading it at ``precision="fp32"`` fails; the default (or ``"int8"``) runs the LM at the
  asked precision and the vocoder as stored.

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
the mel front end, decoder = the vocoder, streamed in windows covering its receptive field; with ``default-voice``
the LM's weights file is ``graphs/lm.data``, as the carried codec brings its own ``graphs/weights.data``) and ``text``
(hf-tokenizers tokenizer.json: Qwen2's for a checkpoint, a tiny BPE for --random-init).
"""
from __future__ import annotations

import argparse
import dataclasses
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


VOCODERS = ("random", "default-voice")  # or the path of a bundle whose codec component is a mel vocoder


def vocoder_bundle(vocoder):
    """``"default-voice"`` (the embedded voice), a bundle path or an open ``Bundle`` -> the ``Bundle`` whose
    ``codec`` component (a mel vocoder) a MELA-TTS bundle carries."""
    from voxlite.bundle import open_bundle
    from voxlite.bundle.reader import Bundle
    from voxlite.voices import EMBEDDED

    if isinstance(vocoder, Bundle):
        bundle = vocoder
    else:
        path = EMBEDDED if vocoder == "default-voice" else Path(vocoder)
        if not path.exists():
            raise ExportError(f"vocoder {str(vocoder)!r}: not {' / '.join(VOCODERS)} and no bundle at that path")
        bundle = open_bundle(path)
    codec = bundle.manifest.components.get("codec")
    if codec is None or codec.kind != "codec" or codec.hparams.get("kind") != "mel":
        raise ExportError(f"bundle {bundle.name!r} has no mel vocoder (a 'codec' component of kind 'mel')")
    if not bundle.sample_rate:
        raise ExportError(f"bundle {bundle.name!r} has no sample_rate")
    return bundle


def codec_mel_config(config, bundle):
    """The MelaTTSConfig ``config`` over ``bundle``'s codec latents: n_mels = its latent_dim, mel_rate = sample
    rate / hop; asr_rate (training only) moved to the nearest rate with a whole number of frames per chunk."""
    hp = bundle.component("codec").hparams
    mel_rate = bundle.sample_rate / hp["hop_length"]
    factor = max(1, round(config.chunk_size * config.asr_rate / mel_rate))
    return dataclasses.replace(config, n_mels=hp["latent_dim"], mel_rate=mel_rate,
                               asr_rate=factor * mel_rate / config.chunk_size)


def build(config: str, seed: int, vocoder="random"):
    """(MelaTTS with random weights, its vocoder, the codec's streaming window). ``vocoder``: "random" -> (its
    CodecParts, its window); "default-voice" or a bundle (path) -> (that ``Bundle``, None: its codec component,
    window included, is carried as it is; the model's mel follows it, ``codec_mel_config``)."""
    from voxlite.models.mela_tts import MelaTTS, MelaTTSConfig

    presets = {"tiny": MelaTTSConfig.tiny, "qwen2-0.5b": MelaTTSConfig.qwen2_0_5b}
    if config not in presets:
        raise ExportError(f"unknown mela-tts preset {config!r}; presets: {', '.join(presets)}")
    model_config = presets[config]()
    carried = None if vocoder == "random" else vocoder_bundle(vocoder)
    if carried is not None:
        model_config = codec_mel_config(model_config, carried)
    torch.manual_seed(seed)
    model = MelaTTS(model_config)
    randomize(model, seed)
    model.eval()
    if carried is not None:
        return model, carried, None
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


def export_mela_tts(model, vocoder, out: str | Path, *, window: dict | None = None,
                    precisions=("fp32",), name: str | None = None, provenance: dict | None = None,
                    overwrite: bool = False, tokenizer: str | Path | bytes | None = None, log=print) -> Path:
    """Write the bundle: components ``lm``, ``codec`` and, with a ``tokenizer`` (tokenizer.json), ``text``;
    capabilities text-to-speech and voice-cloning (a prompt recording conditions the utterance embedding; MELA-TTS
    takes no prompt transcript).

    ``vocoder``: ``CodecParts`` (the random Vocos: exported at ``precisions``, ``window``: its streaming window), or
    ``"default-voice"`` / a bundle path / a ``Bundle``, whose ``codec`` component is carried unchanged
    (``BundleWriter.copy_component``); the model's mel (``n_mels``, ``mel_rate``) must then be that codec's
    (``build(..., vocoder=...)`` makes it so)."""
    precisions = check_precisions(precisions)
    carried = None if isinstance(vocoder, CodecParts) else vocoder_bundle(vocoder)
    if carried is not None:
        hp, c = carried.component("codec").hparams, model.config
        rate = carried.sample_rate / hp["hop_length"]
        if (c.n_mels, c.mel_rate) != (hp["latent_dim"], rate):
            raise ExportError(f"the model's mel ({c.n_mels} bins at {c.mel_rate} Hz) is not the vocoder's "
                              f"({hp['latent_dim']} at {rate} Hz, bundle {carried.name!r}): build the model with "
                              "export.mela_tts.codec_mel_config")
        if window is not None:
            raise ExportError("window: a carried codec keeps its own")
        sample_rate = carried.sample_rate
        provenance = {**(provenance or {}), "vocoder": {"bundle": carried.name, "component": "codec",
                                                        "manifest_sha256": carried.manifest_sha256}}
    else:
        sample_rate = vocoder.sample_rate
    specs, hparams = mela_specs(model)
    # a carried codec's graphs may need no fp32 variant (the default voice's decoder is int8 only)
    with BundleWriter(out, model_type="mela_tts", name=name or "mela-tts", sample_rate=sample_rate,
                      default_precision=None if carried is not None else "fp32",
                      capabilities=["text-to-speech", "voice-cloning"], provenance=provenance or {},
                      overwrite=overwrite) as writer:
        if tokenizer is not None:
            write_text_component(writer, "hf-tokenizers", tokenizer)
        if carried is not None:  # first: a path it brings that the LM's weights file would take is refused there
            writer.copy_component(carried, "codec")
        writer.component("lm", kind="mela-tts-lm", hparams=hparams.to_json())
        metadata = {"family": "mela_tts", "sample_rate": sample_rate}
        shared = "weights" if carried is None else "lm"  # the default voice's codec brings graphs/weights.data
        with tempfile.TemporaryDirectory() as tmp:
            # prefill, text and step hold the same LM layers: one weights file keeps each tensor once
            write_graphs(writer, specs, tmp, precisions=precisions, bounds=MELA_BOUNDS, log=log,
                         shared_data=shared, metadata=metadata, component="lm", float_only=FLOAT_ONLY)
            if carried is None:
                write_codec_component(writer, vocoder, tmp, precisions=precisions, bounds=MELA_BOUNDS, log=log,
                                      shared_data=shared, metadata=metadata,
                                      hparams_changes={"window": window} if window else None)
        return writer.finish()


def main(argv=None, prog: str | None = None) -> int:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    add_source_arguments(parser, checkpoint_help="(no MELA-TTS checkpoint is published; not supported)",
                         config_default="tiny", config_help="preset for --random-init (tiny, qwen2-0.5b)")
    parser.add_argument("--vocoder", default="random", metavar="{random,default-voice,BUNDLE}",
                        help="random: a random Vocos over the paper's 80-bin 50 Hz mel (default); default-voice: "
                             "carry the embedded default voice's trained Vocos (100-bin 93.75 Hz mel, 24 kHz) and "
                             "take the model's mel from it; or the path of a bundle whose codec is a mel vocoder")
    args = parser.parse_args(argv)
    weights = weights_provenance(parser, args)
    if args.checkpoint:
        raise ExportError("mela-tts: no checkpoint format exists (no official release); use --random-init")
    model, parts, window = build(args.config, args.seed, args.vocoder)
    provenance = {"family": "mela_tts", "config": args.config, "weights": weights}
    tokenizer = tiny_tokenizer_json(min(100, model.config.tos_token)).encode()
    out = export_mela_tts(model, parts, args.out, window=window, precisions=tuple(args.precision), name=args.name,
                          provenance=provenance, overwrite=args.overwrite, tokenizer=tokenizer)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
