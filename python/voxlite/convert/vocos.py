"""Official Vocos (``vocos`` package / charactr checkpoints' pytorch_model.bin) -> voxlite.models.vocos.Vocos.

Official keys: ``backbone.embed``, ``backbone.norm`` (``.scale`` / ``.shift`` embeddings when AdaLayerNorm),
``backbone.convnext.{i}.{dwconv,norm,pwconv1,pwconv2,gamma}``, ``backbone.final_layer_norm``, ``head.out``,
plus buffers we rebuild instead of loading: ``head.istft.window`` (Hann) and the feature extractor's
(``feature_extractor.*``: torchaudio's window and mel filterbank, or EnCodec weights).

A checkpoint directory in the official layout (``config.yaml`` + ``pytorch_model.bin``, as the charactr releases
and our own trained vocoders ship) carries its size in ``config.yaml``: ``config_from_official`` reads it,
``official_config`` / ``to_official_state_dict`` / ``save_official`` write it, ``load_official_dir`` loads it.
"""
from __future__ import annotations

import os
from typing import Mapping

import torch

from ..dsp.mel import MelConfig
from ..models.vocos import Vocos, VocosConfig
from .common import fold_weight_norms, load_strict, read_state_dict

_RENAMES = (("backbone.convnext.", "backbone.blocks."), ("backbone.final_layer_norm.", "backbone.final_norm."))


def convert_state_dict(official_state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    out: dict[str, torch.Tensor] = {}
    for key, value in fold_weight_norms(official_state).items():
        if key.startswith("feature_extractor."):
            continue
        if key == "head.istft.window":
            expected = torch.hann_window(value.numel(), dtype=torch.float64)
            # float16 checkpoints (recipes/default_voice/checkpoints) round it: compare within the dtype's eps
            atol = max(1e-6, 2 * torch.finfo(value.dtype).eps)
            if not torch.allclose(value.double(), expected, atol=atol):
                raise ValueError("head.istft.window is not a periodic Hann window; this converter assumes one")
            continue
        for old, new in _RENAMES:
            if key.startswith(old):
                key = new + key[len(old):]
        out[key] = value
    return out


def load_official(state_or_path: Mapping[str, torch.Tensor] | str | os.PathLike,
                  cfg: VocosConfig | None = None) -> Vocos:
    """Build ours from an official state dict or a pytorch_model.bin / .safetensors path (default: mel-24khz)."""
    state = state_or_path
    if isinstance(state_or_path, (str, os.PathLike)):
        state = read_state_dict(state_or_path)
    model = Vocos(cfg or VocosConfig.mel_24khz())
    load_strict(model, convert_state_dict(state))
    return model.eval()


MEL_FEATURES = "vocos.feature_extractors.MelSpectrogramFeatures"
_WEIGHT_FILES = ("pytorch_model.bin", "model.safetensors")


def _official_mel(args: Mapping) -> MelConfig:
    """The official MelSpectrogramFeatures: torchaudio, htk scale, no norm, magnitude, ln(clip(x, 1e-7))."""
    return MelConfig(int(args.get("sample_rate", 24000)), int(args.get("n_fft", 1024)),
                     int(args.get("hop_length", 256)), int(args.get("n_mels", 100)), mel_scale="htk", norm=None,
                     padding=args.get("padding", "center"), log_floor=1e-7)


def config_from_official(config: Mapping) -> VocosConfig:
    """An official config.yaml (parsed: ``feature_extractor`` / ``backbone`` / ``head`` with ``init_args``)."""
    fe, bb, head = (config[k] for k in ("feature_extractor", "backbone", "head"))
    if not str(bb.get("class_path", "")).endswith("VocosBackbone") or \
            not str(head.get("class_path", "")).endswith("ISTFTHead"):
        raise ValueError(f"unsupported Vocos config: backbone {bb.get('class_path')}, head {head.get('class_path')}")
    b, h = bb["init_args"], head["init_args"]
    if int(h["dim"]) != int(b["dim"]):
        raise ValueError(f"head dim {h['dim']} != backbone dim {b['dim']}")
    mel = _official_mel(fe.get("init_args", {})) if str(fe.get("class_path")) == MEL_FEATURES else None
    return VocosConfig(n_mels=int(b["input_channels"]), dim=int(b["dim"]), intermediate_dim=int(b["intermediate_dim"]),
                       num_layers=int(b["num_layers"]), layer_scale_init_value=b.get("layer_scale_init_value"),
                       adanorm_num_embeddings=b.get("adanorm_num_embeddings"), n_fft=int(h["n_fft"]),
                       hop_length=int(h["hop_length"]), padding=h.get("padding", "same"),
                       sample_rate=mel.sample_rate if mel is not None else 24000, mel=mel)


def official_config(cfg: VocosConfig) -> dict:
    """The config.yaml the official ``Vocos.from_hparams`` reads, for a mel-input config."""
    mel = cfg.mel
    if mel is None or _official_mel({"sample_rate": mel.sample_rate, "n_fft": mel.n_fft,
                                     "hop_length": mel.hop_length, "n_mels": mel.n_mels,
                                     "padding": mel.padding}) != mel or cfg.adanorm_num_embeddings:
        raise ValueError("only mel-input Vocos configs with the official MelSpectrogramFeatures are expressible")
    backbone = {"input_channels": cfg.n_mels, "dim": cfg.dim, "intermediate_dim": cfg.intermediate_dim,
                "num_layers": cfg.num_layers}
    if cfg.layer_scale_init_value is not None:
        backbone["layer_scale_init_value"] = cfg.layer_scale_init_value
    return {
        "feature_extractor": {"class_path": MEL_FEATURES, "init_args": {
            "sample_rate": mel.sample_rate, "n_fft": mel.n_fft, "hop_length": mel.hop_length, "n_mels": mel.n_mels,
            "padding": mel.padding}},
        "backbone": {"class_path": "vocos.models.VocosBackbone", "init_args": backbone},
        "head": {"class_path": "vocos.heads.ISTFTHead", "init_args": {
            "dim": cfg.dim, "n_fft": cfg.n_fft, "hop_length": cfg.hop_length, "padding": cfg.padding}},
    }


def to_official_state_dict(state: Mapping[str, torch.Tensor], n_fft: int,
                           mel: MelConfig | None = None) -> dict[str, torch.Tensor]:
    """Ours -> official key names (the inverse of ``convert_state_dict``), with the buffers the official package's
    strict load expects: the head's Hann window and, given the mel config, the feature extractor's torchaudio
    window and filterbank ((n_freqs, n_mels), as torchaudio's MelScale holds it)."""
    out = {}
    for key, value in state.items():
        for official, ours in _RENAMES:
            if key.startswith(ours):
                key = official + key[len(ours):]
        out[key] = value.detach().clone().contiguous()
    out["head.istft.window"] = torch.hann_window(n_fft)
    if mel is not None:
        out["feature_extractor.mel_spec.spectrogram.window"] = torch.hann_window(mel.n_fft)
        out["feature_extractor.mel_spec.mel_scale.fb"] = torch.from_numpy(mel.filterbank().T.copy())
    return out


def save_official(model: Vocos, directory: str | os.PathLike) -> None:
    """Write ``config.yaml`` + ``pytorch_model.bin`` (official layout), each atomically (tmp file, rename)."""
    import yaml

    os.makedirs(directory, exist_ok=True)
    state = to_official_state_dict(model.state_dict(), model.cfg.n_fft, model.cfg.mel)
    files = {"pytorch_model.bin": lambda f: torch.save(state, f),
             "config.yaml": lambda f: f.write(yaml.safe_dump(official_config(model.cfg), sort_keys=False).encode())}
    for name, write in files.items():
        tmp = os.path.join(directory, f".{name}.tmp")
        with open(tmp, "wb") as f:
            write(f)
        os.replace(tmp, os.path.join(directory, name))


def load_official_dir(directory: str | os.PathLike) -> Vocos:
    """Build ours from an official-layout directory: config.yaml + pytorch_model.bin (or model.safetensors)."""
    import yaml

    with open(os.path.join(directory, "config.yaml")) as f:
        cfg = config_from_official(yaml.safe_load(f))
    for name in _WEIGHT_FILES:
        path = os.path.join(directory, name)
        if os.path.exists(path):
            return load_official(path, cfg)
    raise FileNotFoundError(f"{directory}: no {' or '.join(_WEIGHT_FILES)} beside config.yaml")
