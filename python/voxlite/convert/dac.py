"""descript-audio-codec (DAC 1.0.0) checkpoint -> ``voxlite.models.dac.DACCodec`` state dict.

Official layout (``nn.Sequential`` indices, weight-normed convs as ``weight_g`` / ``weight_v``):

    encoder.block.0                      input conv            -> encoder.conv_in
    encoder.block.{i}.block.{0,1,2}      residual units        -> encoder.blocks.{i-1}.res_units.{0,1,2}
        .block.{0,1,2,3}                 snake, conv7, snake, conv1  -> snake1, conv1, snake2, conv2
    encoder.block.{i}.block.3 / .4       snake, strided conv   -> encoder.blocks.{i-1}.snake / .down
    encoder.block.{n+1} / {n+2}          snake, output conv    -> encoder.snake_out / conv_out
    quantizer.quantizers.{q}.in_proj / out_proj / codebook     -> quantizer.{in,out}_proj_{weight,bias}[q], codebooks[q]
    decoder.model.0                      input conv            -> decoder.conv_in
    decoder.model.{i}.block.0 / .1       snake, transposed conv -> decoder.blocks.{i-1}.snake / .up
    decoder.model.{i}.block.{2,3,4}      residual units        -> decoder.blocks.{i-1}.res_units.{0,1,2}
    decoder.model.{n+1} / {n+2}          snake, output conv    -> decoder.snake_out / conv_out  (then Tanh)
"""
from __future__ import annotations

import re
from collections.abc import Mapping

import torch

from .common import fold_weight_norms, load_strict

_RES = ("snake1", "conv1", "snake2", "conv2")


def _top_indices(state: Mapping[str, torch.Tensor], prefix: str) -> tuple[set[int], set[int]]:
    """Indices under ``prefix`` and the subset that are blocks (hold a nested ``.block.``)."""
    pat = re.compile(re.escape(prefix) + r"(\d+)\.(.*)")
    all_idx, block_idx = set(), set()
    for key in state:
        m = pat.match(key)
        if m:
            all_idx.add(int(m.group(1)))
            if m.group(2).startswith("block."):
                block_idx.add(int(m.group(1)))
    return all_idx, block_idx


def _res_unit(rest: str) -> str:
    """``block.{k}.<param>`` inside a residual unit -> ``snake1.alpha`` / ``conv1.weight`` ..."""
    m = re.fullmatch(r"block\.(\d)\.(.+)", rest)
    if not m:
        raise KeyError(rest)
    return f"{_RES[int(m.group(1))]}.{m.group(2)}"


def _map_encoder(key: str, n_blocks: int) -> str:
    m = re.fullmatch(r"encoder\.block\.(\d+)\.(.+)", key)
    i, rest = int(m.group(1)), m.group(2)
    if i == 0:
        return f"encoder.conv_in.{rest}"
    if i == n_blocks + 1:
        return f"encoder.snake_out.{rest}"
    if i == n_blocks + 2:
        return f"encoder.conv_out.{rest}"
    m = re.fullmatch(r"block\.(\d)\.(.+)", rest)
    j, tail = int(m.group(1)), m.group(2)
    if j < 3:
        return f"encoder.blocks.{i - 1}.res_units.{j}.{_res_unit(tail)}"
    return f"encoder.blocks.{i - 1}.{'snake' if j == 3 else 'down'}.{tail}"


def _map_decoder(key: str, n_blocks: int) -> str:
    m = re.fullmatch(r"decoder\.model\.(\d+)\.(.+)", key)
    i, rest = int(m.group(1)), m.group(2)
    if i == 0:
        return f"decoder.conv_in.{rest}"
    if i == n_blocks + 1:
        return f"decoder.snake_out.{rest}"
    if i == n_blocks + 2:
        return f"decoder.conv_out.{rest}"
    m = re.fullmatch(r"block\.(\d)\.(.+)", rest)
    j, tail = int(m.group(1)), m.group(2)
    if j >= 2:
        return f"decoder.blocks.{i - 1}.res_units.{j - 2}.{_res_unit(tail)}"
    return f"decoder.blocks.{i - 1}.{'snake' if j == 0 else 'up'}.{tail}"


def convert_state_dict(official_state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Official ``DAC.state_dict()`` (or a checkpoint's ``state_dict``) -> ``DACCodec`` state dict."""
    state = fold_weight_norms(official_state)
    _, enc_blocks = _top_indices(state, "encoder.block.")
    _, dec_blocks = _top_indices(state, "decoder.model.")
    out: dict[str, torch.Tensor] = {}
    quant: dict[str, dict[int, torch.Tensor]] = {}
    for key, value in state.items():
        if key.startswith("encoder."):
            out[_map_encoder(key, len(enc_blocks))] = value
        elif key.startswith("decoder."):
            out[_map_decoder(key, len(dec_blocks))] = value
        elif key.startswith("quantizer.quantizers."):
            m = re.fullmatch(r"quantizer\.quantizers\.(\d+)\.(in_proj\.weight|in_proj\.bias|out_proj\.weight|"
                             r"out_proj\.bias|codebook\.weight)", key)
            if not m:
                raise KeyError(f"unexpected quantizer key {key!r}")
            name = {"in_proj.weight": "in_proj_weight", "in_proj.bias": "in_proj_bias",
                    "out_proj.weight": "out_proj_weight", "out_proj.bias": "out_proj_bias",
                    "codebook.weight": "codebooks"}[m.group(2)]
            if name.endswith("proj_weight"):
                value = value[..., 0]  # 1x1 conv (out, in, 1) -> linear (out, in)
            quant.setdefault(name, {})[int(m.group(1))] = value
        else:
            raise KeyError(f"unexpected DAC key {key!r}")
    for name, per_stage in quant.items():
        if sorted(per_stage) != list(range(len(per_stage))):
            raise KeyError(f"quantizer stages missing for {name}: {sorted(per_stage)}")
        out[f"quantizer.{name}"] = torch.stack([per_stage[q] for q in range(len(per_stage))])
    return out


def load_official(path, map_location: str = "cpu"):
    """A DAC 1.0.0 ``weights*.pth`` (``{"metadata": {"kwargs": ...}, "state_dict": ...}``) -> ``DACCodec``."""
    from voxlite.models.dac import DACCodec, DACConfig

    ckpt = torch.load(path, map_location=map_location, weights_only=True)
    cfg = DACConfig.from_official_kwargs(ckpt["metadata"]["kwargs"])
    model = DACCodec(cfg)
    load_strict(model, convert_state_dict(ckpt["state_dict"]))
    return model.eval()
