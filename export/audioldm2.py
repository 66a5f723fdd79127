"""Export AudioLDM 2 (text to sound, music, or speech by latent diffusion) to a voxlite bundle
(``model_type: "audioldm2"``).

    python -m export audioldm2 --checkpoint ~/models/audioldm2 --out bundles/audioldm2 --precision fp32 int8

``--checkpoint`` is a local copy of a published checkpoint directory in diffusers' layout (cvssp/audioldm2, -large,
-music, -speech-gigaspeech, -speech-ljspeech: ``model_index.json`` and one folder per component; see
``voxlite.convert.audioldm2``). Nothing is downloaded.

Components and graphs (each verified against the PyTorch reference before the bundle is written: fp32 within
``FP32_MAX_ABS``; quantized variants within the SNR bounds in ``MIN_SNR_DB``):

- ``text`` (``audioldm2-prompt``; the two tokenizers as files):
  ``clap_text``: ``input_ids``, ``attention_mask`` (B, S) int64 -> ``embedding`` (B, P) (CLAP's text features);
  ``second_encoder``: ``input_ids``, ``attention_mask`` (B, S) -> ``hidden`` (B, S, D) (T5, or VITS' text encoder).
- ``lm`` (``audioldm2-lm``): ``prefill``: ``clap`` (B, P), ``hidden`` (B, S, D), ``mask`` (B, S) -> the projection
  model's framed prompt through GPT-2: ``last`` (B, 1, C) and ``present.lm.<i>.key|value`` (B, H, S + 5, Dh);
  ``step``: ``embed`` (1, 1, C) at ``position`` (1,), ``length`` (1,), ``cache.lm.<i>`` (2, 1, H, capacity, Dh)
  -> ``last``, ``present...`` (the LOA loop on fixed KV buffers; masked prompt keys are dropped from the cache).
- ``unet`` (``audioldm2-unet``): ``unet``: ``sample`` (2B, C, h, w), ``timestep`` (1,) float, ``loa`` (2B, 8, C),
  ``text`` (2B, S, D), ``text_mask`` (2B, S) -> ``noise`` (2B, C, h, w): CFG's unconditional and conditional
  passes in one call.
- ``decoder`` (``audioldm2-decoder``): ``decode``: ``latents`` (B, C, h, w) -> ``waveform`` (B, h * f * hop).
- ``ranker`` (``clap-audio``, optional): ``clap_audio``: ``features`` -> ``embedding`` (B, P), to order several
  waveforms per prompt by text-audio similarity.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import torch
from torch import nn

from voxlite.bundle import BundleWriter
from voxlite.hparams import (AudioLDM2DecoderHParams, AudioLDM2LMHParams, AudioLDM2PromptHParams,
                             AudioLDM2UNetHParams, ClapAudioHParams, KVGroup)

from . import ExportError
from .graphs import Bounds, MethodModule, check_precisions, jsonable, kv_buffers, write_graphs

FP32_MAX_ABS = 1e-4
# SNR (dB) of each quantized graph's output against fp32 on the verify inputs (measured values in the README)
MIN_SNR_DB = {"fp16": 30.0, "int8": {"embedding": 20.0, "hidden": 20.0, "last": 20.0, "noise": 20.0,
                                      "waveform": 15.0}}
BOUNDS = Bounds(FP32_MAX_ABS, MIN_SNR_DB)
# graphs kept in float: attention-heavy prompt encoders run once per prompt (int8 saves little there) and the
# decoder's convolutions lose too much at 8 bits (see the README's table)
FLOAT_ONLY = ("clap_text", "second_encoder", "decode", "clap_audio")
VITS_TOKENIZER_FILES = ("vocab.json", "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json")


class _Prefill(nn.Module):
    """The projection model's framed prompt ([sos, CLAP, eos, sos, T5 / VITS, eos]) through GPT-2."""

    def __init__(self, projection, gpt2):
        super().__init__()
        self.projection, self.gpt2 = projection, gpt2

    def forward(self, clap, hidden, mask):
        ones = torch.ones(clap.shape[0], 1, dtype=mask.dtype)
        embeds, prompt_mask = self.projection(clap[:, None], hidden, ones, mask)
        last, kv = self.gpt2(embeds, attention_mask=prompt_mask)
        return (last[:, -1:], *kv)


class _Step(nn.Module):
    def __init__(self, gpt2):
        super().__init__()
        self.gpt2 = gpt2

    def forward(self, embed, position, length, *cache):
        last, kv = self.gpt2.forward_buffer(embed, length, tuple(cache), position=position)
        return (last, *kv)


class _UNet(nn.Module):
    def __init__(self, unet):
        super().__init__()
        self.unet = unet

    def forward(self, sample, timestep, loa, text, text_mask):
        return self.unet(sample, timestep.expand(sample.shape[0]), loa, text, text_mask)


class _Decode(nn.Module):
    def __init__(self, vae, vocoder):
        super().__init__()
        self.vae, self.vocoder = vae, vocoder

    def forward(self, latents):
        return self.vocoder(self.vae.latents_to_mel(latents).transpose(1, 2))


def cache_names(n_layers: int) -> list[str]:
    return [f"cache.lm.{i}" for i in range(n_layers)]


def present_names(n_layers: int) -> list[str]:
    return [f"present.lm.{i}.{kv}" for i in range(n_layers) for kv in ("key", "value")]


def _dims(ckpt) -> dict:
    proj = ckpt.projection
    return {"clap": proj.projection.in_features, "second": proj.projection_1.in_features,
            "lm": proj.projection.out_features}


def _forward(model: nn.Module) -> nn.Module:
    return MethodModule(model, model.forward)


def _vocab(model: nn.Module) -> int:
    c = model.config
    return int(getattr(c, "vocab", None) or c.vocab_size)


def text_specs(ckpt, g: torch.Generator) -> dict:
    clap_vocab, second_vocab = _vocab(ckpt.clap_text), _vocab(ckpt.second_encoder)
    ids = torch.randint(3, clap_vocab, (2, 7), generator=g)
    ids[:, 0] = 0
    mask = torch.ones(2, 7, dtype=torch.long)
    mask[1, 5:] = 0
    ids2 = torch.randint(3, second_vocab, (2, 6), generator=g)
    mask2 = torch.ones(2, 6, dtype=torch.long)
    mask2[1, 4:] = 0
    seq = {"input_ids": {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "tokens"}}
    names = ["input_ids", "attention_mask"]
    return {
        "clap_text": (_forward(ckpt.clap_text), (ids, mask), names, ["embedding"], {**seq, "embedding": {0: "batch"}}),
        "second_encoder": (_forward(ckpt.second_encoder), (ids2, mask2), names, ["hidden"],
                           {**seq, "hidden": {0: "batch", 1: "tokens"}}),
    }


def lm_specs(ckpt, g: torch.Generator) -> tuple[dict, AudioLDM2LMHParams]:
    d = _dims(ckpt)
    gpt = ckpt.language_model
    c = gpt.config
    S = 6
    clap = torch.randn(2, d["clap"], generator=g)
    hidden = torch.randn(2, S, d["second"], generator=g)
    mask = torch.ones(2, S, dtype=torch.long)
    mask[0, 4:] = 0
    prefill = _Prefill(ckpt.projection, gpt)
    with torch.no_grad():
        _, *kv = prefill(clap[:1], hidden[:1], mask[:1])
    T = S + 5  # [sos, CLAP, eos, sos_1, S tokens, eos_1]
    cache = kv_buffers(kv, T, g)
    embed = torch.randn(1, 1, c.dim, generator=g)
    present = present_names(c.n_layers)
    caches = cache_names(c.n_layers)
    specs = {
        "prefill": (prefill, (clap, hidden, mask), ["clap", "hidden", "mask"], ["last", *present],
                    {"clap": {0: "batch"}, "hidden": {0: "batch", 1: "tokens"}, "mask": {0: "batch", 1: "tokens"},
                     "last": {0: "batch"}, **{n: {0: "batch", 2: "positions"} for n in present}}),
        "step": (_Step(gpt), (embed, torch.tensor([T + 2]), torch.tensor([T]), *cache),
                 ["embed", "position", "length", *caches], ["last", *present], {n: {3: "capacity"} for n in caches}),
    }
    hp = AudioLDM2LMHParams(kv={"lm": KVGroup(n_layers=c.n_layers, n_kv_heads=c.n_heads,
                                              head_dim=c.dim // c.n_heads)},
                            max_positions=c.n_positions, max_new_tokens=8)
    hp.check()
    return specs, hp


def unet_spec(ckpt, hp: AudioLDM2UNetHParams, g: torch.Generator) -> dict:
    d = _dims(ckpt)
    # 12 latent rows: divisible by the UNet's downsampling in the tiny and published configs
    sample = torch.randn(2, hp.latent_channels, 12, hp.latent_width, generator=g)
    loa = torch.randn(2, 8, d["lm"], generator=g)
    text = torch.randn(2, 5, d["second"], generator=g)
    mask = torch.ones(2, 5, dtype=torch.long)
    mask[0, 3:] = 0
    return {"unet": (_UNet(ckpt.unet), (sample, torch.tensor([501.0]), loa, text, mask),
                     ["sample", "timestep", "loa", "text", "text_mask"], ["noise"],
                     {"sample": {0: "batch", 2: "frames"}, "loa": {0: "batch", 1: "loa"},
                      "text": {0: "batch", 1: "tokens"}, "text_mask": {0: "batch", 1: "tokens"},
                      "noise": {0: "batch", 2: "frames"}})}


def decode_spec(ckpt, hp: AudioLDM2UNetHParams, g: torch.Generator) -> dict:
    latents = torch.randn(1, hp.latent_channels, 4, hp.latent_width, generator=g)
    return {"decode": (_Decode(ckpt.vae, ckpt.vocoder), (latents,), ["latents"], ["waveform"],
                       {"latents": {0: "batch", 2: "frames"}, "waveform": {0: "batch", 1: "samples"}})}


def unet_hparams(ckpt, default_steps: int | None = None) -> AudioLDM2UNetHParams:
    vae_cfg, voc_cfg, sched = ckpt.vae.cfg, ckpt.vocoder.cfg, ckpt.scheduler
    factor = vae_cfg.downsample_factor
    if voc_cfg.n_mels % factor:
        raise ExportError(f"the vocoder's {voc_cfg.n_mels} mel bins are not a multiple of the VAE's x{factor}")
    unet_cfg = ckpt.unet.cfg
    sample_size = getattr(unet_cfg, "sample_size", None) or 128
    fps = voc_cfg.sample_rate / voc_cfg.hop_length
    kw = dict(latent_channels=vae_cfg.latent_channels, latent_width=voc_cfg.n_mels // factor, vae_factor=factor,
              frames_per_second=fps, default_seconds=round(sample_size * factor / fps, 4),
              config=jsonable(unet_cfg.to_dict()) if hasattr(unet_cfg, "to_dict") else {})
    if sched:
        if sched.get("_class_name", "DDIMScheduler") not in ("DDIMScheduler", "DPMSolverMultistepScheduler",
                                                               "PNDMScheduler", "LMSDiscreteScheduler"):
            raise ExportError(f"scheduler {sched.get('_class_name')!r} is not a DDIM-family schedule")
        if sched.get("trained_betas") is not None:
            raise ExportError("schedulers with trained_betas are not supported")
        kw.update(n_train_timesteps=int(sched.get("num_train_timesteps", 1000)),
                  beta_schedule=sched.get("beta_schedule", "scaled_linear"),
                  beta_start=float(sched.get("beta_start", 0.0015)), beta_end=float(sched.get("beta_end", 0.0195)),
                  prediction_type=sched.get("prediction_type", "epsilon"),
                  set_alpha_to_one=bool(sched.get("set_alpha_to_one", False)),
                  steps_offset=int(sched.get("steps_offset", 1)),
                  timestep_spacing=sched.get("timestep_spacing", "leading"))
    if default_steps:
        kw["default_steps"] = default_steps
    hp = AudioLDM2UNetHParams(**kw)
    hp.check()
    return hp


def export_audioldm2(ckpt, out: str | Path, *, precisions=("fp32",), name: str | None = None,
                     provenance: dict | None = None, overwrite: bool = False, openvino_ir: bool = False,
                     default_steps: int | None = None, log=print) -> Path:
    """Write the bundle from a read checkpoint (``voxlite.convert.audioldm2.read_checkpoint``)."""
    precisions = check_precisions(precisions)
    g = torch.Generator().manual_seed(4321)
    d = _dims(ckpt)
    u_hp = unet_hparams(ckpt, default_steps)
    voc = ckpt.vocoder.cfg
    dec_hp = AudioLDM2DecoderHParams(sample_rate=voc.sample_rate, hop_length=voc.hop_length, mel_bins=voc.n_mels)
    prompt_hp = AudioLDM2PromptHParams(second_encoder=ckpt.second_kind, clap_max_length=ckpt.max_lengths["clap"],
                                       second_max_length=ckpt.max_lengths["second"],
                                       second_pad_id=ckpt.second_pad_id)
    lm, lm_hp = lm_specs(ckpt, g)
    capabilities = ["text-to-speech"] if ckpt.second_kind == "vits" else ["text-to-audio"]
    # narrow models (the tests' tiny ones) lose too much to dynamic int8's one scale per activation: per-block scales
    narrow = d["lm"] < 256 or ckpt.unet.cfg.block_out_channels[0] < 64
    common = dict(tmp=None, bounds=BOUNDS, precisions=precisions, log=log, float_only=FLOAT_ONLY,
                  int8_blockwise=("prefill", "step", "unet") if narrow else (),
                  openvino_ir=openvino_ir, metadata={"family": "audioldm2", "sample_rate": voc.sample_rate})
    with BundleWriter(out, model_type="audioldm2", name=name or "audioldm2", sample_rate=voc.sample_rate,
                      default_precision="fp32", capabilities=capabilities, provenance=provenance or {},
                      overwrite=overwrite) as writer, tempfile.TemporaryDirectory() as tmp:
        common["tmp"] = tmp
        writer.component("text", kind="audioldm2-prompt", hparams=prompt_hp.to_json())
        writer.add_component_file("text", "clap_tokenizer", ckpt.tokenizers["clap"], "clap.tokenizer.json")
        if ckpt.second_kind == "t5":
            writer.add_component_file("text", "second_tokenizer", ckpt.tokenizers["second"], "t5.tokenizer.json")
        else:  # VitsTokenizer's folder as saved (the runtime reads it with VitsCharTokenizer.from_dir)
            for fname in VITS_TOKENIZER_FILES:
                path = Path(ckpt.tokenizers["second"]) / fname
                if path.is_file():
                    writer.add_component_file("text", f"vits_{fname.split('.')[0]}", path,
                                              f"vits_tokenizer/{fname}")
        write_graphs(writer, text_specs(ckpt, g), component="text", **common)
        writer.component("lm", kind="audioldm2-lm", hparams=lm_hp.to_json())
        write_graphs(writer, lm, component="lm", shared_data="weights", **common)
        writer.component("unet", kind="audioldm2-unet", hparams=u_hp.to_json())
        # the UNet's convolutions stay float in int8: ONNX Runtime's ConvInteger is slower than its float convs on
        # CPUs without VNNI (base size, 1 thread: 10.5 s per call with them, 4.4 s without, fp32 5.3 s)
        write_graphs(writer, unet_spec(ckpt, u_hp, g), component="unet", int8_keep_float=("Conv",), **common)
        writer.component("decoder", kind="audioldm2-decoder", hparams=dec_hp.to_json())
        write_graphs(writer, decode_spec(ckpt, u_hp, g), component="decoder", **common)
        if ckpt.clap_audio is not None:
            ranker_hp = ClapAudioHParams(feature=dict(ckpt.feature_extractor))
            writer.component("ranker", kind="clap-audio", hparams=ranker_hp.to_json())
            write_graphs(writer, ranker_spec(ckpt, g), component="ranker", **common)
        return writer.finish()


def ranker_spec(ckpt, g: torch.Generator) -> dict:
    from voxlite.dsp.clap_features import feature_shape

    features = torch.randn(2, *feature_shape(ckpt.feature_extractor), generator=g)
    return {"clap_audio": (_forward(ckpt.clap_audio), (features,), ["features"], ["embedding"],
                           {"features": {0: "batch"}, "embedding": {0: "batch"}})}


def main(argv=None, prog: str | None = None) -> int:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", required=True, help="a local AudioLDM 2 checkpoint directory "
                        "(diffusers layout: model_index.json + one folder per component)")
    parser.add_argument("--out", required=True, help="bundle directory to write")
    parser.add_argument("--precision", nargs="+", default=["fp32"], help="fp32 fp16 int8 (fp32 always)")
    parser.add_argument("--name", help="bundle name (default: audioldm2)")
    parser.add_argument("--no-ranker", action="store_true", help="leave out CLAP's audio tower (no ranking of "
                        "several waveforms per prompt)")
    parser.add_argument("--openvino-ir", action="store_true", help="also write OpenVINO IR of each float graph")
    parser.add_argument("--default-steps", type=int, help="denoising steps when the user gives none (200)")
    parser.add_argument("--overwrite", action="store_true")
    args = parser.parse_args(argv)
    from voxlite.convert.audioldm2 import read_checkpoint

    with tempfile.TemporaryDirectory() as work:
        try:
            ckpt = read_checkpoint(args.checkpoint, work, ranker=not args.no_ranker)
        except (FileNotFoundError, ValueError) as e:
            raise ExportError(str(e)) from None
        provenance = {"family": "audioldm2", "checkpoint": Path(args.checkpoint).name,
                      "second_encoder": ckpt.second_kind}
        out = export_audioldm2(ckpt, args.out, precisions=tuple(args.precision), name=args.name,
                               provenance=provenance, overwrite=args.overwrite, openvino_ir=args.openvino_ir,
                               default_steps=args.default_steps)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
