"""Official EnCodec (``encodec`` 0.1.1 ``EncodecModel``) state dict -> ``RVQCodec``.

Official layout -> ours:
- ``{encoder,decoder}.model.<i>.conv.conv.weight_g / weight_v`` (weight norm) -> ``...<i>.conv.weight`` folded;
  ``.convtr.convtr.`` likewise -> ``.convtr.``; the inner ``.conv.norm.`` / ``.convtr.norm.`` (GroupNorm of
  the 48 kHz model) -> ``.norm.``. Residual blocks keep ``block.<j>`` / ``shortcut``; LSTMs keep ``lstm.*``.
- ``quantizer.vq.layers.<q>._codebook.embed`` (K, D) -> row q of ``quantizer.codebooks`` (n_q, K, D);
  the training buffers ``inited``, ``cluster_size``, ``embed_avg`` are dropped.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Mapping

import torch

from voxlite.convert.common import fold_weight_norms, load_strict
from voxlite.models.rvq_codec import RVQCodec, RVQCodecConfig

_CODEBOOK = re.compile(r"^quantizer\.vq\.layers\.(\d+)\._codebook\.(embed|embed_avg|cluster_size|inited)$")
_RENAMES = ((".conv.conv.", ".conv."), (".convtr.convtr.", ".convtr."), (".conv.norm.", ".norm."),
            (".convtr.norm.", ".norm."))


def convert_state_dict(official_state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    if any(k.endswith("weight_orig") for k in official_state):
        raise NotImplementedError("spectral_norm checkpoints are not supported (no published EnCodec uses it)")
    state = fold_weight_norms(official_state)
    out: dict[str, torch.Tensor] = {}
    codebooks: dict[int, torch.Tensor] = {}
    for key, value in state.items():
        m = _CODEBOOK.match(key)
        if m:
            if m.group(2) == "embed":
                codebooks[int(m.group(1))] = value
            continue
        if key.startswith("quantizer."):
            raise ValueError(f"unexpected quantizer key {key!r} (EnCodec codebooks have no projection)")
        for old, new in _RENAMES:
            key = key.replace(old, new)
        out[key] = value
    if codebooks:
        if sorted(codebooks) != list(range(len(codebooks))):
            raise ValueError(f"codebook layers are not 0..n-1: {sorted(codebooks)}")
        out["quantizer.codebooks"] = torch.stack([codebooks[q] for q in range(len(codebooks))])
    return out


def load_official(checkpoint: str | Path | Mapping[str, torch.Tensor],
                  config: RVQCodecConfig | None = None) -> RVQCodec:
    """A local official checkpoint (path or loaded state dict) -> RVQCodec in eval mode. Nothing is downloaded.

    ``config`` defaults to EnCodec 24 kHz; pass ``RVQCodecConfig.encodec_48khz()`` for the 48 kHz checkpoint.
    """
    state = checkpoint if isinstance(checkpoint, Mapping) else torch.load(checkpoint, map_location="cpu")
    model = RVQCodec(config or RVQCodecConfig.encodec_24khz())
    load_strict(model, convert_state_dict(state))
    return model.eval()
