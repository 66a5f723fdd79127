"""Helpers every converter uses: weight-norm folding and strict state-dict loading."""
from __future__ import annotations

import os
from typing import Mapping

import torch


def fold_weight_norm(g: torch.Tensor, v: torch.Tensor, dim: int = 0) -> torch.Tensor:
    """w = g * v / ||v||, the norm taken over every axis but ``dim`` (torch's weight_norm, default dim 0)."""
    axes = [a for a in range(v.dim()) if a != dim]
    return g * v / v.norm(dim=axes, keepdim=True)


def fold_weight_norms(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Replace every weight-norm pair by a plain ``weight``.

    Handles both spellings: ``X.weight_g`` / ``X.weight_v`` (torch.nn.utils.weight_norm) and
    ``X.parametrizations.weight.original0`` / ``original1`` (torch.nn.utils.parametrizations.weight_norm).
    """
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        if key.endswith(".weight_v") or key.endswith(".parametrizations.weight.original1"):
            continue
        if key.endswith(".weight_g"):
            prefix = key[: -len(".weight_g")]
            out[f"{prefix}.weight"] = fold_weight_norm(value, state[f"{prefix}.weight_v"])
        elif key.endswith(".parametrizations.weight.original0"):
            prefix = key[: -len(".parametrizations.weight.original0")]
            out[f"{prefix}.weight"] = fold_weight_norm(value, state[f"{prefix}.parametrizations.weight.original1"])
        else:
            out[key] = value
    return out


def load_strict(module: torch.nn.Module, state: Mapping[str, torch.Tensor]) -> None:
    """load_state_dict(strict) with shape checks and an error that lists what did not match."""
    own = module.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    wrong = sorted(k for k in set(own) & set(state) if tuple(own[k].shape) != tuple(state[k].shape))
    if missing or unexpected or wrong:
        details = []
        if missing:
            details.append(f"missing {missing[:8]}{' ...' if len(missing) > 8 else ''}")
        if unexpected:
            details.append(f"unexpected {unexpected[:8]}{' ...' if len(unexpected) > 8 else ''}")
        if wrong:
            details.append("shape " + ", ".join(f"{k}: {tuple(state[k].shape)} vs {tuple(own[k].shape)}"
                                                for k in wrong[:8]))
        raise ValueError("converted state dict does not fit the reference model: " + "; ".join(details))
    module.load_state_dict(dict(state), strict=True)


def read_state_dict(path: str | os.PathLike, nested_key: str | None = None) -> dict[str, torch.Tensor]:
    """A checkpoint file as a state dict: ``.safetensors`` or a torch pickle read with ``weights_only`` (no code
    runs); ``nested_key`` unwraps checkpoints that keep the weights under one key (e.g. ``"generator"``)."""
    if str(path).endswith(".safetensors"):
        from safetensors.torch import load_file

        return load_file(str(path))
    state = torch.load(path, map_location="cpu", weights_only=True)
    if nested_key is not None and nested_key in state:
        state = state[nested_key]
    return state


WEIGHT_FILES = ("model.safetensors", "diffusion_pytorch_model.safetensors", "pytorch_model.bin",
                "diffusion_pytorch_model.bin")


def read_component_dir(directory: str | os.PathLike) -> tuple[dict, dict[str, torch.Tensor]]:
    """A local transformers / diffusers component folder (one folder of a checkpoint such as cvssp/audioldm2):
    its parsed ``config.json`` and its weights (the first of ``WEIGHT_FILES`` present). Nothing is downloaded."""
    import json
    from pathlib import Path

    directory = Path(directory)
    config_path = directory / "config.json"
    if not config_path.is_file():
        raise FileNotFoundError(f"{directory}: no config.json (not a transformers / diffusers component folder)")
    config = json.loads(config_path.read_text())
    for name in WEIGHT_FILES:
        if (directory / name).is_file():
            return config, read_state_dict(directory / name)
        index = directory / f"{name}.index.json"
        if index.is_file():  # sharded: {"weight_map": {key: shard file}}
            state: dict[str, torch.Tensor] = {}
            for shard in sorted(set(json.loads(index.read_text())["weight_map"].values())):
                state.update(read_state_dict(directory / shard))
            return config, state
    raise FileNotFoundError(f"{directory}: no weights ({', '.join(WEIGHT_FILES)}, or their .index.json shards)")
