"""VoxCPM AudioVAE (voxcpm 2.0.3 ``audio_vae.py`` / ``audio_vae_v2.py``) -> ``voxlite.models.wavevae.WaveVAE``.

The checkpoint keeps the VAE in ``audiovae.safetensors`` / ``audiovae.pth`` (keys as below); VoxCPM merges it under
``audio_vae.`` when it loads the whole model, so both spellings are accepted. Official layout (``nn.Sequential``
indices, weight-normed convs as ``weight_g`` / ``weight_v``):

    encoder.block.0                         input conv             -> encoder.conv_in.conv
    encoder.block.{i}.block.{0,1,2}         residual units         -> encoder.blocks.{i-1}.res_units.{0,1,2}
        .block.{0,1,2,3}                    snake, conv7, snake, conv1 -> snake1, conv1.conv, snake2, conv2.conv
    encoder.block.{i}.block.3 / .4          snake, strided conv    -> encoder.blocks.{i-1}.snake / .down.conv
    encoder.fc_mu / fc_logvar               3-tap convs            -> encoder.fc_mu.conv / fc_logvar.conv
    decoder.model.0 [, .1]                  input conv [depthwise, then pointwise] -> decoder.conv_in.conv
                                                                      [, decoder.pointwise_in.conv]
    decoder.model.{k}.block.0 / .1          snake, transposed conv -> decoder.blocks.{b}.snake / .up.convtr
    decoder.model.{k}.block.{2,3,4}         residual units         -> decoder.blocks.{b}.res_units.{0,1,2}
    decoder.model.{last-1} / {last}         snake, output conv     -> decoder.snake_out / conv_out.conv  (then Tanh)
    decoder.sr_cond_model.{k}.scale_embed / bias_embed (v2)        -> decoder.blocks.{b}.sr_scale / sr_bias
    decoder.sr_bin_boundaries (v2 buffer)                           dropped: the boundaries live in WaveVAEConfig
"""
from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path

import torch

from .common import fold_weight_norms, load_strict

PREFIX = "audio_vae."
_RES = {"0": "snake1.alpha", "1": "conv1.conv", "2": "snake2.alpha", "3": "conv2.conv"}


def _res_unit(rest: str) -> str:
    """``block.{k}.<param>`` inside a residual unit -> ``snake1.alpha`` / ``conv1.conv.weight`` ..."""
    m = re.fullmatch(r"block\.(\d)\.(.+)", rest)
    if not m or m.group(1) not in _RES:
        raise KeyError(rest)
    target = _RES[m.group(1)]
    return target if target.endswith("alpha") else f"{target}.{m.group(2)}"


def strip_prefix(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Keys of a whole VoxCPM state dict (``audio_vae.`` entries kept, prefix removed) or of ``audiovae.*`` as is."""
    if any(k.startswith(PREFIX) for k in state):
        return {k[len(PREFIX):]: v for k, v in state.items() if k.startswith(PREFIX)}
    return dict(state)


def convert_state_dict(official_state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    state = fold_weight_norms(strip_prefix(official_state))
    # decoder layout: which top-level indices are upsampling blocks, which come before and after them
    top: dict[int, set[str]] = {}
    for key in state:
        m = re.fullmatch(r"decoder\.model\.(\d+)\.(.+)", key)
        if m:
            top.setdefault(int(m.group(1)), set()).add(m.group(2))
    blocks = sorted(i for i, rest in top.items() if any(r.startswith("block.") for r in rest))
    if not blocks:
        raise KeyError("no decoder blocks found: not a VoxCPM AudioVAE state dict")
    block_of = {k: b for b, k in enumerate(blocks)}
    head = [i for i in sorted(top) if i < blocks[0]]
    tail = [i for i in sorted(top) if i > blocks[-1]]
    if len(head) not in (1, 2) or len(tail) != 2:
        raise KeyError(f"unexpected decoder layout: inputs {head}, outputs {tail}")
    head_names = ["conv_in.conv"] if len(head) == 1 else ["conv_in.conv", "pointwise_in.conv"]
    fixed = {**dict(zip(head, head_names)), tail[0]: "snake_out", tail[1]: "conv_out.conv"}

    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        new = None
        if m := re.fullmatch(r"encoder\.block\.0\.(.+)", key):
            new = f"encoder.conv_in.conv.{m.group(1)}"
        elif m := re.fullmatch(r"encoder\.block\.(\d+)\.block\.(\d)\.(.+)", key):
            i, j, rest = int(m.group(1)) - 1, int(m.group(2)), m.group(3)
            if j < 3:
                new = f"encoder.blocks.{i}.res_units.{j}.{_res_unit(rest)}"
            elif j == 3:
                new = f"encoder.blocks.{i}.snake.{rest}"
            elif j == 4:
                new = f"encoder.blocks.{i}.down.conv.{rest}"
        elif m := re.fullmatch(r"encoder\.(fc_mu|fc_logvar)\.(.+)", key):
            new = f"encoder.{m.group(1)}.conv.{m.group(2)}"
        elif m := re.fullmatch(r"decoder\.model\.(\d+)\.(.+)", key):
            k, rest = int(m.group(1)), m.group(2)
            if k in fixed:
                new = f"decoder.{fixed[k]}.{rest}"
            elif (m2 := re.fullmatch(r"block\.(\d)\.(.+)", rest)) and k in block_of:
                b, j, tail_key = block_of[k], int(m2.group(1)), m2.group(2)
                if j == 0:
                    new = f"decoder.blocks.{b}.snake.{tail_key}"
                elif j == 1:
                    new = f"decoder.blocks.{b}.up.convtr.{tail_key}"
                elif tail_key.startswith("linear."):
                    raise ValueError("AudioVAE with use_noise_block=True is not supported")
                elif j <= 4:
                    new = f"decoder.blocks.{b}.res_units.{j - 2}.{_res_unit(tail_key)}"
        elif m := re.fullmatch(r"decoder\.sr_cond_model\.(\d+)\.(scale_embed|bias_embed)\.weight", key):
            b = block_of[int(m.group(1))]
            new = f"decoder.blocks.{b}.{'sr_scale' if m.group(2) == 'scale_embed' else 'sr_bias'}"
        elif key == "decoder.sr_bin_boundaries":
            continue
        if new is None:
            raise KeyError(f"unexpected AudioVAE key {key!r}")
        out[new] = value
    return out


def load_official(path, config: dict | None = None):
    """A VoxCPM checkpoint directory (``config.json`` + ``audiovae.safetensors`` or ``audiovae.pth``), or an
    AudioVAE state-dict file with ``config`` given as the ``audio_vae_config`` dict -> ``WaveVAE`` (eval mode)."""
    from voxlite.models.wavevae import WaveVAE, WaveVAEConfig

    path = Path(path)
    v2 = None
    if path.is_dir():
        cfg_file = path / "config.json"
        full = json.loads(cfg_file.read_text()) if cfg_file.exists() else {}
        if config is None:
            config = full.get("audio_vae_config")
        if full.get("architecture") is not None:
            v2 = full["architecture"] == "voxcpm2"
        candidates = [path / "audiovae.safetensors", path / "audiovae.pth"]
        path = next((p for p in candidates if p.exists()), None)
        if path is None:
            raise FileNotFoundError(f"no audiovae.safetensors or audiovae.pth in {candidates[0].parent}")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        state = load_file(str(path), device="cpu")
    else:
        state = torch.load(path, map_location="cpu", weights_only=True)
        state = state.get("state_dict", state)
    if v2 is None and any(k.startswith(("decoder.sr_cond_model.", f"{PREFIX}decoder.sr_cond_model.")) for k in state):
        v2 = True
    model = WaveVAE(WaveVAEConfig.from_voxcpm(config, v2=v2))
    load_strict(model, convert_state_dict(state))
    return model.eval()
