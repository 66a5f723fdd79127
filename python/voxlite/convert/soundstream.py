"""UniAudio's SoundStream codec checkpoint -> ``voxlite.models.soundstream.SoundStream`` (an ``RVQCodec``).

The official state dict has EnCodec's key layout exactly (``{encoder,decoder}.model.<i>.conv.conv.weight_g /
weight_v``, ``...convtr.convtr...``, ``block.<j>`` / ``shortcut`` residual blocks, ``lstm.*``, and
``quantizer.vq.layers.<q>._codebook.{embed, embed_avg, cluster_size, inited}``), so the renaming is
``convert.encodec.convert_state_dict``: weight norm folded, codebooks ``embed`` stacked, the k-means / EMA training
buffers dropped. This module adds what differs around it:

- checkpoint files: the codec trainer saves ``{"codec_model": state_dict, ...}`` (possibly with a ``module.``
  prefix from distributed training); a bare state dict (``.pth`` / ``.safetensors``) works too;
- the config: ``generator.config`` of a ``config.yaml`` beside the checkpoint (the release layout) if present,
  else the sizes the weights fix (n_filters, D, ratios, codebook count and size; non-causal EnCodec otherwise).

Nothing is downloaded, and torch pickles are read with ``weights_only=True`` (no code runs).
"""
from __future__ import annotations

import dataclasses
import math
import re
from pathlib import Path
from typing import Mapping

import torch

from voxlite.convert.common import load_strict
from voxlite.convert.encodec import convert_state_dict as _encodec_convert
from voxlite.models.rvq_codec import RVQCodecConfig
from voxlite.models.soundstream import SAMPLE_RATE, SoundStream, config_from_official

UNIAUDIO_BANDWIDTHS = (0.5, 1.0, 1.5, 2.0, 4.0, 6.0)
_CODEBOOK = re.compile(r"quantizer\.vq\.layers\.(\d+)\._codebook\.embed")
_ENC_CONV = re.compile(r"encoder\.model\.(\d+)\.conv\.conv\.weight(?:_v)?")


def unwrap(checkpoint: Mapping) -> dict[str, torch.Tensor]:
    """The codec's state dict out of a training checkpoint (``codec_model`` key, ``module.`` prefixes)."""
    state = checkpoint
    for key in ("codec_model", "generator", "state_dict", "model"):
        if key in state and isinstance(state[key], Mapping):
            state = state[key]
            break
    out = {}
    for k, v in state.items():
        if not isinstance(v, torch.Tensor):
            continue
        out[k[len("module."):] if k.startswith("module.") else k] = v
    if not any(k.startswith("encoder.model.") for k in out):
        raise ValueError("not a SoundStream state dict (no encoder.model.* weights)")
    return out


def convert_state_dict(official_state: Mapping) -> dict[str, torch.Tensor]:
    """Official SoundStream state dict (or a checkpoint holding one) -> ``SoundStream`` state dict."""
    return _encodec_convert(unwrap(official_state))


def config_from_state(state: Mapping[str, torch.Tensor], sample_rate: int = SAMPLE_RATE) -> RVQCodecConfig:
    """The sizes a SoundStream state dict fixes: n_filters (first conv), ratios (the strided convs, kernel 2r,
    channels doubling), D and codebook size (codebook shape), codebook count. Target bandwidths: UniAudio's
    0.5 / 1 / 1.5 / 2 / 4 / 6 kbps up to what the codebook count allows."""
    state = unwrap(state)
    convs = sorted((int(m.group(1)), v) for k, v in state.items() if (m := _ENC_CONV.fullmatch(k)))
    if not convs:
        raise ValueError("no encoder convolutions in the state dict")
    n_filters = int(convs[0][1].shape[0])
    enc_ratios = [int(w.shape[2]) // 2 for _, w in convs[1:-1]
                  if w.shape[0] == 2 * w.shape[1] and w.shape[2] % 2 == 0 and w.shape[2] > 2]
    books = sorted(int(m.group(1)) for k in state if (m := _CODEBOOK.fullmatch(k)))
    if not books or books != list(range(len(books))):
        raise ValueError(f"codebook layers are not 0..n-1: {books}")
    bins, dim = state["quantizer.vq.layers.0._codebook.embed"].shape
    ratios = tuple(reversed(enc_ratios))
    frame_rate = math.ceil(sample_rate / math.prod(ratios))
    per_q = math.log2(int(bins)) * frame_rate / 1000
    top = len(books) * per_q
    bandwidths = [b for b in UNIAUDIO_BANDWIDTHS if b < top - 1e-9] + [top]
    cfg = config_from_official(dict(n_filters=n_filters, D=int(dim), target_bandwidths=bandwidths,
                                    ratios=list(ratios), sample_rate=sample_rate, bins=int(bins)))
    if cfg.n_q != len(books):  # rounding in the official formula: trust the weights
        cfg = dataclasses.replace(cfg, n_q=len(books))
    return cfg


def _read_yaml_config(path: Path) -> RVQCodecConfig | None:
    """``generator.config`` of an official config.yaml -> RVQCodecConfig (None if the file has no such entry)."""
    import yaml

    data = yaml.safe_load(path.read_text())
    generator = (data or {}).get("generator") or {}
    if generator.get("name", "SoundStream") != "SoundStream" or "config" not in generator:
        return None
    return config_from_official(generator["config"])


def read_checkpoint(checkpoint: str | Path | Mapping) -> tuple[dict[str, torch.Tensor], RVQCodecConfig | None]:
    """(state dict, config from a config.yaml beside the file or in the directory, or None)."""
    if isinstance(checkpoint, Mapping):
        return unwrap(checkpoint), None
    path = Path(checkpoint)
    config = None
    if path.is_dir():
        weights = sorted(p for p in path.iterdir() if p.suffix in (".pth", ".pt", ".ckpt", ".safetensors"))
        if not weights:
            raise FileNotFoundError(f"{path}: no .pth / .pt / .ckpt / .safetensors file")
        yaml_path, path = path / "config.yaml", weights[-1]  # the newest ckpt_<step>.pth sorts last
    else:
        yaml_path = path.with_name("config.yaml")
    if yaml_path.is_file():
        config = _read_yaml_config(yaml_path)
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        raw = load_file(str(path))
    else:
        try:
            raw = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # pickled non-tensor objects (optimizers, configs): not unpickled here
            raise ValueError(f"{path}: cannot be read with weights_only=True ({exc}); re-save its 'codec_model' "
                             "state dict (torch.save(ckpt['codec_model'], ...) or safetensors)") from exc
    return unwrap(raw), config


def load_official(checkpoint: str | Path | Mapping, config: RVQCodecConfig | None = None) -> SoundStream:
    """A local official checkpoint (file, directory with config.yaml, or loaded dict) -> SoundStream in eval mode.

    Config precedence: ``config`` argument, then config.yaml beside the weights, then the weights' shapes."""
    state, yaml_config = read_checkpoint(checkpoint)
    cfg = config or yaml_config or config_from_state(state)
    model = SoundStream(cfg)
    load_strict(model, _encodec_convert(state))
    return model.eval()


__all__ = ["config_from_state", "convert_state_dict", "load_official", "read_checkpoint", "unwrap"]
