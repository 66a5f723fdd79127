"""Export a codec (RVQ: EnCodec / SoundStream, DAC; continuous: WaveVAE = VoxCPM's AudioVAE, VibeVoice's acoustic
sigma-VAE; vocoders: Vocos,
HiFi-GAN, BigVGAN, whose "latents" are the log-mel frames of the shared front end) to a voxlite bundle.

    python export/codec.py --family encodec --checkpoint encodec_24khz-d7cc33bc.th --out bundles/encodec24
    python export/codec.py --family encodec --config tiny --random-init --seed 0 --out /tmp/tiny-codec

Graphs (each in every requested precision, each verified against the PyTorch reference before the bundle is
written): ``encoder`` (audio -> latents), ``decoder`` (latents -> audio) and, for causal codecs,
``decoder_stream_init`` (first latent chunk -> initial states) + ``decoder_stream`` (latent chunk + states ->
audio chunk + new states). RVQ codebooks are stored as tensors and run by the native kernel, not in a graph.
"""
from __future__ import annotations

import argparse
import dataclasses
import math
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from torch import nn

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from export.common import (PRECISIONS, compare, export_onnx, stamp_metadata, to_fp16, to_int8,  # noqa: E402
                           to_int8_blockwise, to_openvino_ir)
from voxlite.bundle import BundleWriter  # noqa: E402
from voxlite.models.blocks.conv import SConv1d  # noqa: E402

# Bounds every exported variant must meet against the fp32 PyTorch reference on the verify input.
FP32_MAX_ABS = 1e-4
MIN_SNR_DB = {"fp16": 30.0, "int8": 10.0}


@dataclasses.dataclass
class CodecParts:
    """What the exporter needs from a family: torch modules and facts."""

    family: str
    kind: str  # "rvq" (codes) | "vae" (continuous latents) | "mel" (vocoder: log-mel frames)
    sample_rate: int
    channels: int
    hop_length: int
    latent_dim: int
    encoder: nn.Module  # (B, channels, S) with S a multiple of hop -> latents (B, D, S / hop)
    decoder: nn.Module  # (B, D, T) -> (B, channels, ~T * hop)
    config: dict
    rvq: nn.Module | None = None  # voxlite.models.blocks.rvq.ResidualVQ
    stream: "StreamAdapter | None" = None  # causal decoders only
    decoder_min_frames: int = 1
    int8_keep_float: tuple[str, ...] = ()  # node-name substrings left in float in int8 graphs
    float_only: tuple[str, ...] = ()  # graphs exported without an int8 variant (they run fp32 in int8 mode)


class StreamAdapter:
    """One streaming interface over the families' decoders: initial states from the first chunk, then steps."""

    def __init__(self, init, step, names, min_first_frames: int, zero_init: bool):
        self.init, self.step, self.names, self.min_first_frames = init, step, names, min_first_frames
        self.zero_init = zero_init  # initial states are zeros: no init graph, the pipeline makes them


class _Call(nn.Module):
    """Wrap a bound method as a module (what torch.onnx.export traces)."""

    def __init__(self, owner: nn.Module, fn):
        super().__init__()
        self.owner = owner
        self.fn = fn

    def forward(self, *args):
        return self.fn(*args)


# -- families ----------------------------------------------------------------------------------------------
def encodec_parts(checkpoint: str | None, config: str, seed: int) -> CodecParts:
    from voxlite.models.rvq_codec import RVQCodec, RVQCodecConfig

    cfg = {"tiny": RVQCodecConfig.tiny, "encodec_24khz": RVQCodecConfig.encodec_24khz,
           "encodec_48khz": RVQCodecConfig.encodec_48khz}[config]()
    if cfg.segment is not None or cfg.normalize:
        raise SystemExit("segmented / normalised EnCodec (48 kHz) is not exported yet: its encode runs per segment")
    if checkpoint:
        from voxlite.convert.encodec import load_official

        model = load_official(checkpoint, cfg)
    else:
        torch.manual_seed(seed)
        model = RVQCodec(cfg)
        _randomize(model, seed)
    model.eval()
    dec = model.decoder
    stream = None
    if cfg.causal:
        stream = StreamAdapter(lambda z: tuple(dec.initial_state(z.shape[0], z)), dec.stream, dec.state_names(),
                               dec.min_first_chunk(), zero_init=cfg.pad_mode == "zeros")
    return CodecParts("encodec", "rvq", cfg.sample_rate, cfg.channels, cfg.hop_length, cfg.dimension,
                      model.encoder, dec, _jsonable(dataclasses.asdict(cfg)), model.quantizer, stream,
                      decoder_min_frames=min_frames_for(dec, upsampling=True))


def dac_parts(checkpoint: str | None, config: str, seed: int) -> CodecParts:
    from voxlite.models.dac import DACCodec, DACConfig

    if checkpoint:
        from voxlite.convert.dac import load_official

        model = load_official(checkpoint)
        cfg = model.config
    else:
        cfg = DACConfig.preset(config)
        torch.manual_seed(seed)
        model = DACCodec(cfg)
        _randomize(model, seed)
    model.eval()
    return CodecParts("dac", "rvq", cfg.sample_rate, 1, cfg.hop_length, cfg.latent_dim,
                      _Call(model, model.encode_latents), _Call(model, model.decode_latents),
                      _jsonable(dataclasses.asdict(cfg)), model.quantizer)


def wavevae_parts(checkpoint: str | None, config: str, seed: int) -> CodecParts:
    from voxlite.models.wavevae import WaveVAE, WaveVAEConfig

    if checkpoint:
        from voxlite.convert.voxcpm_audiovae import load_official

        model = load_official(checkpoint)
        cfg = model.config
    else:
        cfg = WaveVAEConfig.preset(config)
        torch.manual_seed(seed)
        model = WaveVAE(cfg)
    model.eval()
    if cfg.output_sample_rate != cfg.sample_rate:
        raise SystemExit("WaveVAEs whose output rate differs from their input rate (VoxCPM2) are not exported yet")
    names = [f"decoder.state_{i}" for i in range(len(model.decoder.state_shapes()))]
    stream = StreamAdapter(lambda z: model.initial_state(z.shape[0], dtype=z.dtype), model.stream, names, 1, zero_init=True)
    return CodecParts("wavevae", "vae", cfg.sample_rate, 1, cfg.hop_length, cfg.latent_dim,
                      _Call(model, model.encode), _Call(model, model.decode), _jsonable(dataclasses.asdict(cfg)),
                      None, stream)


def vibevoice_parts(checkpoint: str | None, config: str, seed: int) -> CodecParts:
    """VibeVoice's acoustic sigma-VAE: latents are the encoder mean (the LM applies its own scale / bias)."""
    from voxlite.models.vibevoice_tokenizer import VibeVoiceAcousticTokenizer, VibeVoiceTokenizerConfig

    if checkpoint:
        from voxlite.convert.vibevoice_tokenizer import load_official

        model = load_official(checkpoint, "acoustic")
        cfg = model.config
    else:
        cfg = VibeVoiceTokenizerConfig.preset(config)
        torch.manual_seed(seed)
        model = VibeVoiceAcousticTokenizer(cfg)
    model.eval()
    stream = StreamAdapter(lambda z: model.initial_state(z.shape[0], dtype=z.dtype), model.stream,
                           model.state_names(), 1, zero_init=True)
    return CodecParts("vibevoice", "vae", cfg.sample_rate, cfg.channels, cfg.hop_length, cfg.latent_dim,
                      _Call(model, model.encode), _Call(model, model.decode), _jsonable(dataclasses.asdict(cfg)),
                      None, stream)


class _Mono(nn.Module):
    """Adapt mel front ends and vocoders to the codec graph layout: audio (B, 1, S) in and out."""

    def __init__(self, inner: nn.Module, squeeze_input: bool = False, unsqueeze_output: bool = False):
        super().__init__()
        self.inner, self.squeeze_input, self.unsqueeze_output = inner, squeeze_input, unsqueeze_output

    def forward(self, x):
        y = self.inner(x[:, 0] if self.squeeze_input else x)
        return y[:, None] if self.unsqueeze_output else y


def _mel_parts(family: str, vocoder: nn.Module, mel_cfg, config: dict) -> CodecParts:
    """A vocoder as a codec whose 'latents' are log-mel frames: encoder = the shared mel front end."""
    from voxlite.models.blocks.mel import MelSpectrogram

    vocoder.eval()
    encoder = _Mono(MelSpectrogram(mel_cfg), squeeze_input=True)
    out = vocoder(torch.zeros(1, mel_cfg.n_mels, 4))
    decoder = _Mono(vocoder, unsqueeze_output=out.dim() == 2)
    # The mel front end is a DFT-basis conv feeding a log: int8 weights there cost more than they save.
    return CodecParts(family, "mel", mel_cfg.sample_rate, 1, mel_cfg.hop_length, mel_cfg.n_mels, encoder, decoder,
                      {**config, "mel": mel_cfg.to_dict()}, float_only=("encoder",))


def _tiny_mel(sample_rate: int, hop: int, n_mels: int):
    from voxlite.dsp.mel import MelConfig

    return MelConfig(sample_rate, 8 * hop, hop, n_mels, padding="same", mag_eps=1e-9)


def vocos_parts(checkpoint: str | None, config: str, seed: int) -> CodecParts:
    from voxlite.models.vocos import Vocos, VocosConfig

    if checkpoint and Path(checkpoint).is_dir():  # official layout: the size comes from its config.yaml
        from voxlite.convert.vocos import load_official_dir

        model = load_official_dir(checkpoint)
        cfg = model.cfg
    else:
        cfg = {"tiny": VocosConfig.tiny, "mel_24khz": VocosConfig.mel_24khz}[config]()
        if checkpoint:
            from voxlite.convert.vocos import load_official

            model = load_official(checkpoint, cfg)
        else:
            torch.manual_seed(seed)
            model = Vocos(cfg)
    parts = _mel_parts("vocos", model, cfg.mel, _jsonable(dataclasses.asdict(cfg)))
    # the head's magnitudes go through exp(): int8 there is audible. The input conv reads the mel itself: in int8
    # it cost the default voice's decoder 11 dB of SNR (38.9 -> 27.2 dB) and ran slower than in float (ConvInteger)
    parts.int8_keep_float = ("/head/", "/embed/")
    return parts


def hifigan_parts(checkpoint: str | None, config: str, seed: int) -> CodecParts:
    from voxlite.dsp.mel import MelConfig
    from voxlite.models.hifigan import HiFiGAN, HiFiGANConfig

    cfg = {"tiny": HiFiGANConfig.tiny, "audioldm2": HiFiGANConfig.audioldm2}[config]()
    if checkpoint:
        from voxlite.convert.hifigan import load_official

        model = load_official(checkpoint, cfg)
    else:
        torch.manual_seed(seed)
        model = HiFiGAN(cfg)
    mel = cfg.mel if cfg.mel is not None else (
        MelConfig.preset("audioldm2-16khz-64band") if config == "audioldm2" else
        _tiny_mel(cfg.sample_rate, cfg.hop_length, cfg.n_mels))
    return _mel_parts("hifigan", model, mel, _jsonable(dataclasses.asdict(cfg)))


def bigvgan_parts(checkpoint: str | None, config: str, seed: int) -> CodecParts:
    from voxlite.dsp.mel import MelConfig
    from voxlite.models.bigvgan import BigVGAN, BigVGANConfig

    cfg = {"tiny": BigVGANConfig.tiny, "v2_24khz_100band_256x": BigVGANConfig.v2_24khz_100band_256x}[config]()
    if checkpoint:
        from voxlite.convert.bigvgan import load_official
        from voxlite.convert.common import read_state_dict

        model = load_official(read_state_dict(checkpoint, "generator"), cfg.to_h())
    else:
        torch.manual_seed(seed)
        model = BigVGAN(cfg)
    mel = MelConfig.preset("bigvgan-24khz-100band") if config != "tiny" else \
        _tiny_mel(cfg.sampling_rate, cfg.hop_size, cfg.num_mels)
    return _mel_parts("bigvgan", model, mel, _jsonable(dataclasses.asdict(cfg)))


FAMILIES = {"encodec": encodec_parts, "dac": dac_parts, "wavevae": wavevae_parts, "vibevoice": vibevoice_parts,
            "vocos": vocos_parts, "hifigan": hifigan_parts, "bigvgan": bigvgan_parts}
DEFAULT_CONFIGS = {"encodec": "encodec_24khz", "dac": "44khz", "wavevae": "voxcpm-0.5b", "vibevoice": "acoustic",
                   "vocos": "mel_24khz", "hifigan": "audioldm2", "bigvgan": "v2_24khz_100band_256x"}


def _randomize(model: nn.Module, seed: int) -> None:
    """Random-init export (tests, benchmarks): spread codebooks so every code is used."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "codebooks" in name:
                p.copy_(torch.randn(p.shape, generator=g) * 0.5)


def _jsonable(d: dict) -> dict:
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in d.items()}


# -- minimum lengths (reflect padding needs inputs longer than the padding) ------------------------------------
def min_frames_for(module: nn.Module, *, upsampling: bool) -> int:
    """Fewest input frames for which every reflect-padded conv of a decoder (upsampling) sees more samples
    than its padding; the exported graph is exact from there on (shorter inputs are refused by the pipeline)."""
    need, scale = 1, 1  # scale: samples per input frame at the current layer
    for m in module.modules():
        if isinstance(m, SConv1d) and m.pad_mode == "reflect" and m.padding_total:
            need = max(need, math.ceil((m.padding_total + 1) / scale))
        elif isinstance(m, nn.ConvTranspose1d) and upsampling:
            scale *= m.stride[0]
    return need


# -- export wrappers ---------------------------------------------------------------------------------------------
class _StreamInit(nn.Module):
    def __init__(self, decoder: nn.Module, adapter: StreamAdapter):
        super().__init__()
        self.decoder, self.adapter = decoder, adapter

    def forward(self, latents):
        return tuple(self.adapter.init(latents))


class _StreamStep(nn.Module):
    def __init__(self, decoder: nn.Module, adapter: StreamAdapter):
        super().__init__()
        self.decoder, self.adapter = decoder, adapter

    def forward(self, latents, *state):
        audio, new = self.adapter.step(latents, tuple(state))
        return (audio, *new)


def _whole_frames_only(module: nn.Module) -> None:
    """Graphs take whole-frame inputs (the pipeline pads), so the length-dependent extra padding is off."""
    for m in module.modules():
        if isinstance(m, SConv1d):
            m.pad_to_full_frames = False


def codec_specs(parts: CodecParts) -> tuple[dict, dict]:
    """The graphs of a codec as export specs ``{name: (module, args, input names, output names, dynamic axes)}``
    and the codec hparams describing them (what ``pipelines/codec.py`` reads). Shared by bundles that embed a
    codec (e.g. VoxCPM's AudioVAE in a voxcpm bundle)."""
    hop, dim, ch = parts.hop_length, parts.latent_dim, parts.channels
    _whole_frames_only(parts.encoder)
    _whole_frames_only(parts.decoder)
    dec_min = max(parts.decoder_min_frames, parts.stream.min_first_frames if parts.stream else 1)
    frames = max(24, dec_min + 5)
    g = torch.Generator().manual_seed(1234)
    wav = torch.randn(1, ch, frames * hop, generator=g) * 0.3
    with torch.no_grad():
        latents = parts.encoder(wav)
        if parts.rvq is not None:
            latents_q = parts.rvq.decode(parts.rvq.encode(latents))
        else:
            latents_q = latents

    specs = {}  # graph name -> (module, args, input names, output names, dynamic axes)
    specs["encoder"] = (parts.encoder, (wav,), ["audio"], ["latents"],
                        {"audio": {0: "batch", 2: "samples"}, "latents": {0: "batch", 2: "frames"}})
    specs["decoder"] = (parts.decoder, (latents_q,), ["latents"], ["audio"],
                        {"latents": {0: "batch", 2: "frames"}, "audio": {0: "batch", 2: "samples"}})
    stream_hparams = {}
    if parts.stream is not None:
        init = _StreamInit(parts.decoder, parts.stream)
        with torch.no_grad():
            state0 = init(latents_q[..., :dec_min + 2])
        n = len(state0)
        state_in = [f"state_{i}" for i in range(n)]
        state_out = [f"new_state_{i}" for i in range(n)]
        if not parts.stream.zero_init:
            specs["decoder_stream_init"] = (init, (latents_q[..., :dec_min + 2],), ["latents"], state_in,
                                            {"latents": {0: "batch", 2: "frames"}, **{s: {0: "batch"} for s in state_in}})
        specs["decoder_stream"] = (_StreamStep(parts.decoder, parts.stream), (latents_q[..., :3], *state0), ["latents", *state_in],
                                   ["audio", *state_out],
                                   {"latents": {0: "batch", 2: "frames"}, "audio": {0: "batch", 2: "samples"},
                                    **{s: {0: "batch"} for s in state_in + state_out}})
        stream_hparams = {
            "stream_states": [{"name": s, "source": src, "shape": ["batch", *t.shape[1:]]}
                              for s, src, t in zip(state_in, parts.stream.names, state0)],
            "stream_min_first_frames": dec_min,
            "stream_init": "zeros" if parts.stream.zero_init else "graph",
        }

    hparams = {"family": parts.family, "kind": parts.kind, "hop_length": hop, "latent_dim": dim, "channels": ch,
               "frame_rate": parts.sample_rate / hop, "decoder_min_frames": dec_min, "config": parts.config, **stream_hparams}
    if parts.rvq is not None:
        hparams.update(n_q=parts.rvq.n_q, codebook_size=parts.rvq.codebook_size, normalize=parts.rvq.normalize)
    return specs, hparams


def write_graphs(writer: BundleWriter, specs: dict, tmp: str | Path, *, precisions=("fp32",),
                 metadata: dict | None = None, int8_keep_float=(), float_only=(), openvino_ir: bool = False,
                 bounds=None, shared_data: str | None = None, keep_fp32: bool = True, int8_blockwise=(),
                 log=print) -> None:
    """Export each spec to ONNX in every precision, verify each variant against the module's own outputs
    (``bounds(graph, precision, output)`` -> ("max_abs" | "snr", value), default the codec bounds) and add it
    (``shared_data``: see ``BundleWriter.add_graph``). ``keep_fp32=False``: a graph that gets a quantized variant
    is stored without its fp32 one (small bundles; fp32 is still exported as the quantizer's input).
    ``int8_blockwise``: graphs whose int8 variant has block-wise weight and activation scales (``to_int8_blockwise``)
    instead of dynamic quantization's one scale per activation tensor."""
    metadata = dict(metadata or {})
    for gname, (module, args, ins, outs, axes) in specs.items():
        fp32 = export_onnx(module, args, Path(tmp) / f"{gname}.onnx", input_names=ins, output_names=outs,
                           dynamic_axes=axes, metadata={"graph": gname, **metadata})
        with torch.no_grad():
            ref = module(*args)
        ref = (ref,) if isinstance(ref, torch.Tensor) else ref
        reference = {o: r.numpy() for o, r in zip(outs, ref)}
        feeds = {i: a.numpy() for i, a in zip(ins, args)}
        quantized = [p for p in precisions if p != "fp32" and not (p == "int8" and gname in float_only)]
        for precision in precisions:
            if precision == "int8" and gname in float_only:
                continue
            if precision == "fp32" and not keep_fp32 and quantized:
                continue
            path = fp32 if precision == "fp32" else Path(tmp) / f"{gname}.{precision}.onnx"
            if precision == "fp16":
                to_fp16(fp32, path)
            elif precision == "int8" and gname in int8_blockwise:
                to_int8_blockwise(fp32, path, keep_float=int8_keep_float)
            elif precision == "int8":
                to_int8(fp32, path, keep_float=int8_keep_float)
            if precision != "fp32":
                stamp_metadata(path, {"graph": gname, "precision": precision})
            _verify(path, feeds, reference, precision, gname, log, bounds=bounds)
            writer.add_graph(gname, precision, path, metadata={k: v for k, v in metadata.items()
                                                                if k == "sample_rate"}, shared_data=shared_data)
            if openvino_ir and precision in ("fp32", "fp16"):
                xml = to_openvino_ir(path, Path(tmp) / f"{gname}.ov-{precision}.xml")
                _verify(xml, feeds, reference, precision, f"{gname} (OpenVINO IR)", log, backend="openvino",
                        bounds=bounds)
                writer.add_openvino_ir(gname, f"ov-{precision}", xml)


def export_codec(parts: CodecParts, out: str | Path, *, precisions=("fp32",), name: str | None = None,
                 provenance: dict | None = None, overwrite: bool = False, openvino_ir: bool = False,
                 log=print) -> Path:
    """Write the bundle. ``openvino_ir`` adds an ``ov-<precision>`` OpenVINO IR variant of each fp32/fp16 graph
    (faster to load on the openvino backend; verified like the rest)."""
    precisions = check_precisions(precisions)
    specs, hparams = codec_specs(parts)
    writer = BundleWriter(out, model_type="codec", name=name or f"{parts.family}-{parts.sample_rate // 1000}khz",
                          sample_rate=parts.sample_rate, hparams=hparams, default_precision="fp32",
                          provenance=provenance or {}, overwrite=overwrite)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            write_graphs(writer, specs, tmp, precisions=precisions,
                         metadata={"family": parts.family, "sample_rate": parts.sample_rate},
                         int8_keep_float=parts.int8_keep_float, float_only=parts.float_only,
                         openvino_ir=openvino_ir, log=log)
        if parts.rvq is not None:
            writer.add_tensor("codebooks", parts.rvq.kernel_codebooks().numpy().astype(np.float32))
            writer.add_tensor("search_codebooks", parts.rvq.codebooks.detach().numpy().astype(np.float32))
            if parts.rvq.projected:
                writer.add_tensor("in_proj_weight", parts.rvq.in_proj_weight.detach().numpy().astype(np.float32))
                writer.add_tensor("in_proj_bias", parts.rvq.in_proj_bias.detach().numpy().astype(np.float32))
        return writer.finish()
    except BaseException:
        writer.abort()
        raise


def check_precisions(precisions) -> tuple[str, ...]:
    for p in precisions:
        if p not in PRECISIONS:
            raise SystemExit(f"unknown precision {p!r}; choose from {PRECISIONS}")
    if "fp32" not in precisions:
        precisions = ("fp32", *precisions)
    return tuple(precisions)


def _codec_bound(gname: str, precision: str, output: str) -> tuple[str, float]:
    return ("max_abs", FP32_MAX_ABS) if precision == "fp32" else ("snr", MIN_SNR_DB[precision])


def _verify(path, feeds, reference, precision, gname, log, backend: str = "cpu", bounds=None) -> None:
    from voxlite.backends import open_session

    got = open_session(path, backend=backend).run(feeds)
    for name, ref in reference.items():
        c = compare(ref, got[name])
        kind, value = (bounds or _codec_bound)(gname, precision, name)
        ok = c.max_abs <= value if kind == "max_abs" else c.snr_db >= value
        log(f"  {gname}.{precision} {name}: {c}{'' if ok else '  <-- out of bounds'}")
        if not ok:
            bound = f"max|err| <= {value}" if kind == "max_abs" else f"SNR >= {value} dB"
            raise SystemExit(f"{gname}.{precision}: output {name!r} fails the bound ({bound}): {c}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--family", required=True, choices=sorted(FAMILIES))
    parser.add_argument("--checkpoint", help="official checkpoint (state dict; vocos: also a directory with "
                        "config.yaml + pytorch_model.bin, whose config.yaml overrides --config); "
                        "omit with --random-init")
    parser.add_argument("--config", default=None, help="preset name (family-specific; e.g. tiny, encodec_24khz)")
    parser.add_argument("--random-init", action="store_true", help="random weights (tests / benchmarks only)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--precision", nargs="+", default=["fp32"], choices=PRECISIONS)
    parser.add_argument("--openvino-ir", action="store_true", help="also write OpenVINO IR variants (ov-fp32, ov-fp16)")
    parser.add_argument("--out", required=True)
    parser.add_argument("--name")
    parser.add_argument("--overwrite", action="store_true")
    args = parser.parse_args(argv)
    if bool(args.checkpoint) == bool(args.random_init):
        parser.error("give exactly one of --checkpoint and --random-init")
    config = args.config or DEFAULT_CONFIGS[args.family]
    torch.set_num_threads(max(1, torch.get_num_threads()))
    parts = FAMILIES[args.family](args.checkpoint, config, args.seed)
    if args.checkpoint and Path(args.checkpoint).is_dir():
        config = "config.yaml"  # a checkpoint directory brings its own config (vocos)
    provenance = {"family": args.family, "config": config,
                  "weights": f"random (seed {args.seed})" if args.random_init else Path(args.checkpoint).name}
    out = export_codec(parts, args.out, precisions=tuple(args.precision), name=args.name, provenance=provenance,
                       overwrite=args.overwrite, openvino_ir=args.openvino_ir)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
