"""Export VoxCPM (0.5B / 1.5) to a voxlite bundle (``model_type: "voxcpm"``).

    python -m export voxcpm --checkpoint ~/models/VoxCPM-0.5B --out bundles/voxcpm-0.5b --precision fp32 int8
    python -m export voxcpm --config tiny --random-init --seed 0 --out /tmp/tiny-voxcpm

``--checkpoint DIR`` builds the model from the directory's own config.json (``VoxCPMConfig.from_official``: sizes,
LongRoPE factors, LocDiT / CFM settings) and its AudioVAE from ``audio_vae_config`` in the same file; no preset is
involved.

Graphs (each verified against the PyTorch reference before the bundle is written; fp32 within 1e-4 max abs, int8
within the SNR bounds in ``MIN_SNR_DB``):

- ``prefill``: ``text_tokens`` (B, T) int64, ``text_mask`` / ``audio_mask`` (B, T) float32 (1 on text / audio
  positions), ``audio_feats`` (B, T, P, D) -> ``mu`` (B, H_dit), ``stop_logits`` (B, 2) and ``present.<lm>.<i>.key`` /
  ``.value`` (B, Hkv, T, Dh) for every layer of both LMs (``lm`` = ``base`` (TSLM) then ``residual`` (RALM)).
- ``step``: ``patch`` (B, P, D), ``length`` (1,) int64 (L, the positions filled so far) and ``cache.<lm>.<i>``
  (2, B, Hkv, capacity, Dh) for every layer: the runtime's fixed-size cache buffers as they are
  (``KVCache.buffer(i)``: keys then values; slots >= L are ignored, whatever they hold) -> ``mu``, ``stop_logits``,
  ``present.<lm>.<i>.key`` / ``.value`` (B, Hkv, 1, Dh): position L, which the runtime writes to slot L
  (``KVCache.append``). Nothing of length L is copied per step (hparams ``step_kv: "buffer"``). Models with
  rate-scaled audio positions (``audio_position_rate`` > 0, the default voice) also take ``position`` (B,) float32.
- models with a prior head (``config.prior_head``, voxlite's small voices): prefill and step also output ``prior``
  (B, P, D), the patch estimate a shallow solve (hparams ``flow_start`` < 1) starts from.
- ``locdit``: one velocity evaluation with CFG's two halves batched: ``x`` (B, P, D), ``t`` (B,), ``mu`` (B, H_dit),
  ``cond`` (B, P, D) -> ``velocity`` (2B, P, D), rows [0, B) conditional, [B, 2B) unconditional (mu = 0).
- the AudioVAE as a causal codec (``export.codec``'s WaveVAE path): ``encoder``, ``decoder``, ``decoder_stream``.

prefill and step each hold LocEnc and both LMs (prefill also the text embedding): VoxCPM-0.5B's fp32 prefill is
~2.2 GiB, past ONNX's 2 GiB protobuf limit, so graphs carry their weights in an external-data file. The bundle keeps
every graph's weights in one ``graphs/weights.data`` holding each distinct tensor once (``BundleWriter.add_graph``'s
``shared_data``): the LM layers common to prefill and step, and the convolutions common to decoder and decoder_stream,
are stored once.

Components: ``lm`` (kind ``voxcpm-lm``: the three graphs above; ``voxlite.hparams.VoxCPMLMHParams``: ``patch_size``,
``feat_dim``, ``dit_dim``, ``vocab_size``, ``audio_start_token``, ``kv`` (``base`` / ``residual`` KV groups),
``max_positions`` (cache capacity), ``step_kv`` (the step graph's cache contract: ``"buffer"``; a bundle without it
has the older past-K/V step and is refused with a BundleError asking for a re-export), generation defaults (``cfg``:
voxcpm's inference default, not the checkpoint's ``cfm_config.inference_cfg_rate``, which its inference never reads;
``steps``, ``sway_coef``, ``zero_init_ratio``, ``flow_start``, ``stop_threshold`` (argmax rule), ``min_len``,
``max_len`` (``min(int(ratio * n_target_tokens + offset), cap)``))), ``codec`` (the AudioVAE: ``CodecHParams``) and,
with a tokenizer, ``text``.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import torch
from torch import nn

from voxlite.bundle import BundleWriter
from voxlite.hparams import KVGroup, TextHParams, VoxCPMLMHParams
from voxlite.pipelines.voxcpm import STEP_KV  # the step cache contract the pipeline runs

from . import ExportError
from .codec import CODEC_BOUNDS, FP32_MAX_ABS, CodecParts, wavevae_model_parts, wavevae_parts, write_codec_component
from .graphs import (Bounds, add_source_arguments, check_precisions, graph_precision, kv_buffers, weights_provenance,
                     write_graphs)

# Quantized bounds (SNR dB against the fp32 reference on the verify inputs). Measured at the tiny random config:
# int8 locdit velocity ~11.5 dB (dynamic int8 on 44-wide random layers; the codec int8 bound is 10 dB too), prefill /
# step mu ~8 dB: mu sits behind the FSQ, whose rounding turns small upstream errors into whole-level flips, so its
# bound is lower. KV outputs and stop logits are logged only.
# The prior head (a linear map of mu) amplifies some of mu's int8 error: on the default voice (step 10,974) the
# prefill's prior measured 4.6 dB on the verify input (random prompt patches, which that voice never takes) against
# mu's 9.7, the step's 11.4 dB; its held-out WER with int8 priors was 16.2 % against fp32's 18.4 % (30 sentences).
MIN_SNR_DB = {"fp16": {"mu": 20.0, "prior": 20.0, "velocity": 30.0},
              "int8": {"mu": 5.0, "prior": 3.0, "velocity": 10.0}}
# the AudioVAE's graphs are held to the codec bounds
VOXCPM_BOUNDS = Bounds(FP32_MAX_ABS, MIN_SNR_DB,
                       graphs={g: CODEC_BOUNDS for g in ("encoder", "decoder", "decoder_stream")})

# Generation defaults, as voxcpm 2.0.3 (VoxCPM.generate / VoxCPMModel._generate / UnifiedCFM). cfg is generate's
# ``cfg_value`` default (2.0): the checkpoints' ``cfm_config.inference_cfg_rate`` is never read by its inference.
# flow_start: where the LocDiT solve starts (1: from noise; < 1: shallow, from the prior head's patch; voxlite only).
GENERATION = {"cfg": 2.0, "steps": 10, "sway_coef": 1.0, "zero_init_ratio": 0.04, "min_len": 2,
              "stop_rule": "argmax", "max_len_ratio": 6.0, "max_len_offset": 10, "max_len_cap": 2000,
              "flow_start": 1.0}


def cache_names(n_base: int, n_res: int) -> list[str]:
    return [f"cache.{lm}.{i}" for lm, n in (("base", n_base), ("residual", n_res)) for i in range(n)]


def _kv_names(prefix: str, n_base: int, n_res: int) -> list[str]:
    names = []
    for lm, n in (("base", n_base), ("residual", n_res)):
        for i in range(n):
            names += [f"{prefix}.{lm}.{i}.key", f"{prefix}.{lm}.{i}.value"]
    return names


def _heads_out(model, mu, stop, kv) -> tuple:
    """A prefill / step graph's outputs: mu, stop_logits, the prior head's patch (models with one), K/V."""
    prior = (model.prior(mu),) if model.prior_proj is not None else ()
    return (mu, stop, *prior, *kv)


class _Prefill(nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, text_tokens, text_mask, audio_feats, audio_mask):
        return _heads_out(self.model, *self.model.prefill(text_tokens, text_mask, audio_feats, audio_mask))


class _Step(nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, patch, length, *cache):
        return _heads_out(self.model, *self.model.step_buffer(patch, length, tuple(cache)))


class _StepAt(nn.Module):
    """The step of a model with rate-scaled audio positions: the RoPE position is an input (B,) float32."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, patch, length, position, *cache):
        return _heads_out(self.model, *self.model.step_buffer(patch, length, tuple(cache), position))


class LocDiTWithCFG(nn.Module):
    """CFG's conditional and unconditional (mu = 0) evaluations of a model's ``velocity`` in one batch, as
    ``VoxCPM.sample_patch`` (and MELA-TTS's ``sample_chunk``) combine them."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x, t, mu, cond):
        mu2 = torch.cat((mu, torch.zeros_like(mu)))
        return self.model.velocity(torch.cat((x, x)), torch.cat((t, t)), mu2, torch.cat((cond, cond)))


def randomize(model: nn.Module, seed: int) -> None:
    """Random-init export: RMSNorm gains start at 1; spread them so a wrong graph cannot hide behind them."""
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight") or name.endswith("layernorm.weight"):
                p.copy_(1 + 0.3 * torch.randn(p.shape, generator=g))


def build(checkpoint: str | None, config: str, seed: int):
    """(VoxCPM, CodecParts of its AudioVAE)."""
    from voxlite.models.voxcpm import VoxCPM, VoxCPMConfig

    if checkpoint:
        from voxlite.convert.voxcpm import load_official

        model, vae = load_official(checkpoint)  # sizes from the directory's config.json
        vae_parts = wavevae_model_parts(vae, "checkpoint config.json")
    else:
        presets = {"tiny": (VoxCPMConfig.tiny, "tiny")}
        if config not in presets:
            raise ExportError(f"--random-init needs a preset config ({', '.join(presets)}); real sizes need LongRoPE "
                              "factors from a checkpoint's config.json")
        make, vae_preset = presets[config]
        torch.manual_seed(seed)
        model = VoxCPM(make())
        randomize(model, seed)
        vae_parts = wavevae_parts(None, vae_preset, seed)
    model.eval()
    if model.config.dit_mean_mode:
        raise ExportError("mean-flow LocDiT (dit_mean_mode) is not exported yet: the locdit graph feeds no dt")
    if vae_parts.latent_dim != model.config.feat_dim:
        raise ExportError(f"AudioVAE latent_dim {vae_parts.latent_dim} != VoxCPM feat_dim {model.config.feat_dim}")
    return model, vae_parts


def voxcpm_specs(model) -> tuple[dict, dict]:
    cfg = model.config
    P, D, H = cfg.patch_size, cfg.feat_dim, cfg.dit.hidden_dim
    n_base, n_res = cfg.lm.num_hidden_layers, cfg.residual_lm_num_layers
    g = torch.Generator().manual_seed(4321)
    # verify prompt: 5 text tokens + audio_start, then 3 prompt patches (official layout)
    n_text, n_audio = 6, 3
    T = n_text + n_audio
    tokens = torch.zeros(1, T, dtype=torch.int64)
    tokens[0, :n_text - 1] = torch.randint(3, cfg.lm.vocab_size, (n_text - 1,), generator=g)
    tokens[0, n_text - 1] = cfg.audio_start_token if cfg.audio_start_token < cfg.lm.vocab_size else 1
    text_mask = torch.zeros(1, T)
    text_mask[0, :n_text] = 1
    audio_mask = 1 - text_mask
    feats = torch.zeros(1, T, P, D)
    feats[0, n_text:] = torch.randn(n_audio, P, D, generator=g)
    with torch.no_grad():
        _, _, kv = model.prefill(tokens, text_mask, feats, audio_mask)
    cache = kv_buffers(kv, T, g)  # the step's fixed-size caches: T prefill positions, then noise
    length = torch.tensor([T], dtype=torch.int64)
    patch = torch.randn(1, P, D, generator=g)
    x = torch.randn(1, P, D, generator=g)
    mu = torch.randn(1, H, generator=g)
    t = torch.tensor([0.7])

    present = _kv_names("present", n_base, n_res)
    caches = cache_names(n_base, n_res)
    kv_axes = {n: {0: "batch", 2: "positions"} for n in present}
    heads = ["mu", "stop_logits", *(["prior"] if cfg.prior_head else [])]
    head_axes = {n: {0: "batch"} for n in heads}
    specs = {
        "prefill": (_Prefill(model), (tokens, text_mask, feats, audio_mask),
                    ["text_tokens", "text_mask", "audio_feats", "audio_mask"], [*heads, *present],
                    {"text_tokens": {0: "batch", 1: "positions"}, "text_mask": {0: "batch", 1: "positions"},
                     "audio_feats": {0: "batch", 1: "positions"}, "audio_mask": {0: "batch", 1: "positions"},
                     **head_axes, **{n: kv_axes[n] for n in present}}),
        "step": (_Step(model), (patch, length, *cache), ["patch", "length", *caches],
                 [*heads, *present],
                 {"patch": {0: "batch"}, **head_axes,
                  **{n: {1: "batch", 3: "capacity"} for n in caches},
                  **{n: {0: "batch", 2: "new_positions"} for n in present}}),
        "locdit": (LocDiTWithCFG(model), (x, t, mu, patch), ["x", "t", "mu", "cond"], ["velocity"],
                   {"x": {0: "batch"}, "t": {0: "batch"}, "mu": {0: "batch"}, "cond": {0: "batch"},
                    "velocity": {0: "batch2", 1: "patch"}}),
    }
    if cfg.audio_position_rate:  # the step takes its RoPE position: (audio patches before it + 0.5) * rate
        module, args, ins, outs, axes = specs["step"]
        position = torch.tensor([(n_audio + 0.5) * cfg.audio_position_rate])
        specs["step"] = (_StepAt(model), (args[0], args[1], position, *args[2:]),
                         [ins[0], ins[1], "position", *ins[2:]], outs, {**axes, "position": {0: "batch"}})
    base_cfg = cfg.base_lm_config()
    kv = KVGroup(n_layers=1, n_kv_heads=base_cfg.n_kv_heads, head_dim=base_cfg.kv_head_dim)
    hparams = VoxCPMLMHParams(
        patch_size=P, feat_dim=D, dit_dim=H, lm_dim=cfg.lm.hidden_size, vocab_size=cfg.lm.vocab_size,
        audio_start_token=cfg.audio_start_token, audio_end_token=cfg.audio_end_token,
        kv={"base": kv.replace(n_layers=n_base), "residual": kv.replace(n_layers=n_res)},
        max_positions=cfg.max_length, step_kv=STEP_KV, **GENERATION,
        audio_position_rate=float(cfg.audio_position_rate), config=cfg.to_dict())
    hparams.check()
    return specs, hparams


def tiny_tokenizer_json(vocab_size: int = 100) -> str:
    """A tiny Llama-style BPE tokenizer (``▁`` word marks, ``<unk>`` / ``<s>`` / ``</s>``, a ``<s>`` post-processor,
    multi-character CJK merges) trained in memory on a few Latin / CJK lines, for --random-init bundles and tests.
    Ids stay below ``vocab_size`` (keep it under the model's audio_start_token)."""
    from tokenizers import Tokenizer, decoders, models, normalizers, processors, trainers

    corpus = ["hello world. this is a test!", "你好世界。你好吗？我很好。", "The voice says hello, 世界!",
              "世界你好 hello"] * 20
    tok = Tokenizer(models.BPE(unk_token="<unk>", fuse_unk=True))
    tok.normalizer = normalizers.Sequence([normalizers.Prepend("\u2581"), normalizers.Replace(" ", "\u2581")])
    tok.decoder = decoders.Sequence([decoders.Replace("\u2581", " "), decoders.Strip(" ", 1, 0)])
    tok.train_from_iterator(corpus, trainers.BpeTrainer(vocab_size=vocab_size, show_progress=False,
                                                        special_tokens=["<unk>", "<s>", "</s>"]))
    tok.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", 1)])
    assert tok.get_vocab_size() <= vocab_size
    return tok.to_str()


def export_voxcpm(model, vae_parts: CodecParts, out: str | Path, *, precisions=("fp32",), name: str | None = None,
                  provenance: dict | None = None, overwrite: bool = False, log=print,
                  tokenizer: str | Path | bytes | None = None, tokenizer_kind: str = "hf-tokenizers",
                  letter_to_sound: str | Path | None = None, voice_cloning: bool = True,
                  lm_hparams: dict | None = None, codec_hparams: dict | None = None,
                  graph_metadata: dict | None = None, keep_fp32: bool = True, float_only=(), int8_keep_float=(),
                  int8_blockwise=(), int8_weight_only=()) -> Path:
    """Write the bundle: components ``lm`` (prefill / step / locdit), ``codec`` (the AudioVAE, or a vocoder) and,
    with a ``tokenizer``, ``text``; capabilities text-to-speech and, with ``voice_cloning``, voice-cloning.

    ``tokenizer``: the checkpoint's tokenizer.json (path or bytes) for the ``hf-tokenizers`` front end (text input
    needs it); or, with ``tokenizer_kind="voxlite-g2p-en"``, a ``voxlite.text.lexicon`` file, and
    ``letter_to_sound`` its exported graph for words the lexicon lacks (run on the CPU, one thread). ``lm_hparams`` /
    ``codec_hparams``: fields of the components' typed hparams to set (e.g. generation defaults; a decoder's
    streaming ``window``). ``graph_metadata``: per-graph manifest metadata of the lm graphs (``max_threads``).
    ``float_only``: lm graphs that get no int8 variant (a small model whose int8 activations lose too much; its fp32
    weights are small). ``int8_keep_float``: node-name substrings of the lm graphs left float in their int8
    variants (``to_int8``'s ``keep_float``). ``int8_blockwise``: graphs whose int8 variant has block-wise scales
    (``to_int8_blockwise``), ``int8_weight_only`` graphs whose int8 variant has block-wise weights and float
    activations: lm graph names (prefill, step, locdit) and codec graph names (decoder)."""
    precisions = check_precisions(precisions)
    specs, hparams = voxcpm_specs(model)
    if lm_hparams:
        hparams = VoxCPMLMHParams.from_json({**hparams.to_json(), **lm_hparams}, "lm hparams")
    if voice_cloning and not hparams.voice_prompt:
        raise ExportError("voice_cloning needs an lm that takes a voice prompt (lm_hparams voice_prompt: true)")
    capabilities = ["text-to-speech"] + (["voice-cloning"] if voice_cloning else [])
    # without fp32 variants each graph runs the one it has (pick_precision's fallback), so no default is named
    # the writer aborts (nothing half-written stays) if anything in the block raises
    with BundleWriter(out, model_type="voxcpm", name=name or "voxcpm", sample_rate=vae_parts.sample_rate,
                      default_precision="fp32" if keep_fp32 else None, capabilities=capabilities,
                      provenance=provenance or {}, overwrite=overwrite) as writer:
        if tokenizer is not None:
            write_text_component(writer, tokenizer_kind, tokenizer, letter_to_sound=letter_to_sound)
        writer.component("lm", kind="voxcpm-lm", hparams=hparams.to_json())
        metadata = {"family": "voxcpm", "sample_rate": vae_parts.sample_rate}
        with tempfile.TemporaryDirectory() as tmp:
            # one weights file for every graph: prefill and step hold the same LocEnc and LM layers, decoder and
            # decoder_stream the same convolutions; each distinct tensor is stored once
            write_graphs(writer, specs, tmp, precisions=precisions, bounds=VOXCPM_BOUNDS, log=log, shared_data="weights",
                         metadata=metadata, keep_fp32=keep_fp32, component="lm", graph_metadata=graph_metadata,
                         float_only=tuple(float_only), int8_keep_float=tuple(int8_keep_float),
                         int8_blockwise=tuple(int8_blockwise), int8_weight_only=tuple(int8_weight_only))
            write_codec_component(writer, vae_parts, tmp, precisions=precisions, hparams_changes=codec_hparams,
                                  bounds=VOXCPM_BOUNDS, log=log, shared_data="weights", metadata=metadata,
                                  keep_fp32=keep_fp32, int8_blockwise=tuple(int8_blockwise),
                                  int8_weight_only=tuple(int8_weight_only))
        return writer.finish()


def write_text_component(writer: BundleWriter, kind: str, source: str | Path | bytes, *,
                         letter_to_sound: str | Path | None = None, component: str = "text") -> None:
    """A text front-end component: ``kind`` (a key of ``voxlite.text.frontends.FRONT_ENDS``), its main file, and for
    the English G2P optionally the letter-to-sound graph (its precision as the graph was stamped)."""
    from voxlite.text.frontends import FILE_ROLES, FRONT_ENDS

    if kind not in FRONT_ENDS:
        raise ExportError(f"unknown text front end {kind!r} (known: {', '.join(sorted(FRONT_ENDS))})")
    writer.component(component, kind="text", hparams=TextHParams(type=kind).to_json())
    filename = "lexicon.json" if kind == "voxlite-g2p-en" else "tokenizer.json"
    writer.add_component_file(component, FILE_ROLES[kind], source, filename)
    if letter_to_sound is not None:
        if kind != "voxlite-g2p-en":
            raise ExportError("a letter-to-sound graph goes with the voxlite-g2p-en front end")
        precision = graph_precision(letter_to_sound)
        # a few dozen positions per unknown word: the CPU, one thread, whatever backend runs the rest
        writer.add_graph("letter_to_sound", precision, letter_to_sound, component=component,
                         metadata={"placement": "cpu", "max_threads": 1})


def main(argv=None, prog: str | None = None) -> int:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    add_source_arguments(parser, checkpoint_help="official checkpoint directory (config.json + weights + audiovae); "
                         "the model's sizes come from its config.json", config_default="tiny",
                         config_help="preset for --random-init (tiny)")
    args = parser.parse_args(argv)
    weights = weights_provenance(parser, args)
    model, vae_parts = build(args.checkpoint, args.config, args.seed)
    provenance = {"family": "voxcpm", "config": "checkpoint" if args.checkpoint else args.config, "weights": weights}
    if args.checkpoint:
        tok_path = Path(args.checkpoint) / "tokenizer.json"
        tokenizer = tok_path if tok_path.is_file() else None
        if tokenizer is None:
            print(f"warning: {tok_path} not found; the bundle takes token ids only (no text input)", file=sys.stderr)
    else:
        tokenizer = tiny_tokenizer_json(min(100, model.config.audio_start_token)).encode()
    out = export_voxcpm(model, vae_parts, args.out, precisions=tuple(args.precision), name=args.name,
                        provenance=provenance, overwrite=args.overwrite, tokenizer=tokenizer)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
