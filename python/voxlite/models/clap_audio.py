"""CLAP's audio tower (HTSAT, unfused): log-mel features -> one L2-normalised embedding per clip, the audio half of
``ClapModel.get_audio_features``; with the text tower's embeddings it reproduces ``logits_per_text``, by which
AudioLDM 2 ranks its candidate waveforms.

    input_features (B, 1, T, n_mels)                         T <= spec_size * r, r = spec_size // n_mels
    -> BatchNorm over the mel bins (running statistics)
    -> bicubic (align_corners) resize of the time axis to spec_size * r          (1001 -> 1024 frames at 48 kHz)
    -> fold into a square image: r consecutive time chunks stacked along the height
         (B, 1, r * n_mels, spec_size)  = (B, 1, 256, 256): row = chunk * n_mels + bin, column = frame in chunk
    -> patch embedding: Conv2d(1, C, patch, stride) -> tokens (B, (256/4)^2, C) -> LayerNorm
    -> Swin stages (blocks/swin.py): windows of 8, every other block shifted, patch merging between stages
         (64x64, C) -> (32x32, 2C) -> (16x16, 4C) -> (8x8, 8C)
    -> LayerNorm -> mean over all tokens
    -> projection: Linear -> ReLU -> Linear -> L2 normalise                                     (B, projection_dim)

HTSAT's pooling regroups the final grid by frequency before its average pool, but an average over every position
does not depend on their order, so it is the plain token mean here.

Similarity: ``logits_per_text = exp(logit_scale_t) * text_embeds @ audio_embeds.T`` (both L2-normalised);
``logits_per_audio`` uses ``logit_scale_a``. Both scales are kept here (``ClapModel`` stores them beside the
towers) and :func:`clap_similarity` applies one.

The fused variant (laion/clap-htsat-fused: four mel channels, attentional feature fusion of local crops) is not
implemented and is refused. Parameter names are ours; convert/clap_audio.py maps transformers' ``ClapModel`` keys.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Mapping

import torch
import torch.nn.functional as F
from torch import nn

from .blocks.swin import MLP, SwinStage, activation

_LOGIT_SCALE_INIT = math.log(1 / 0.07)  # CLIP's temperature, transformers' logit_scale_init_value


def _pair(value) -> tuple[int, int]:
    return (int(value), int(value)) if isinstance(value, int) else (int(value[0]), int(value[1]))


@dataclass(frozen=True)
class ClapAudioConfig:
    """Field names are transformers' ``ClapAudioConfig`` keys; the defaults are its defaults, which are the
    published laion/clap-htsat-unfused sizes (its config.json sets none of them)."""

    num_mel_bins: int = 64
    spec_size: int = 256  # side of the square image the mel is folded into
    window_size: int = 8
    patch_size: tuple[int, int] = (4, 4)
    patch_stride: tuple[int, int] = (4, 4)
    patch_embeds_hidden_size: int = 96  # width of the first stage; doubles at every patch merging
    depths: tuple[int, ...] = (2, 2, 6, 2)
    num_attention_heads: tuple[int, ...] = (4, 8, 16, 32)
    mlp_ratio: float = 4.0
    qkv_bias: bool = True
    hidden_act: str = "gelu"
    layer_norm_eps: float = 1e-5  # the Swin blocks' LayerNorms (patch embedding, merging and final norm: 1e-5)
    enable_patch_layer_norm: bool = True
    projection_dim: int = 512
    projection_hidden_act: str = "relu"

    def __post_init__(self):
        object.__setattr__(self, "patch_size", _pair(self.patch_size))
        object.__setattr__(self, "patch_stride", _pair(self.patch_stride))
        object.__setattr__(self, "depths", tuple(int(d) for d in self.depths))
        object.__setattr__(self, "num_attention_heads", tuple(int(h) for h in self.num_attention_heads))
        if len(self.depths) != len(self.num_attention_heads):
            raise ValueError(f"{len(self.depths)} stage depths but {len(self.num_attention_heads)} head counts")
        if self.spec_size % self.num_mel_bins:
            raise ValueError(f"spec_size {self.spec_size} must be a multiple of num_mel_bins {self.num_mel_bins}")
        (kh, kw), (sh, sw) = self.patch_size, self.patch_stride
        for k, s in ((kh, sh), (kw, sw)):
            if (self.spec_size + (k - s) // 2 * 2 - k) // s + 1 != self.spec_size // s:
                raise ValueError(f"patch {self.patch_size} / stride {self.patch_stride} does not tile a "
                                 f"{self.spec_size}-pixel image into spec_size // stride patches")
        activation(self.hidden_act), activation(self.projection_hidden_act)  # unknown names fail here

    @property
    def freq_ratio(self) -> int:
        """r: how many time chunks are stacked to make the image square."""
        return self.spec_size // self.num_mel_bins

    @property
    def max_frames(self) -> int:
        """Longest mel (frames) the tower takes; shorter ones are stretched to it."""
        return self.spec_size * self.freq_ratio

    @property
    def grid(self) -> tuple[int, int]:
        return self.spec_size // self.patch_stride[0], self.spec_size // self.patch_stride[1]

    @property
    def hidden_size(self) -> int:
        """Width after the last stage (transformers' ``hidden_size`` must equal it)."""
        return self.patch_embeds_hidden_size * 2 ** (len(self.depths) - 1)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_transformers(cls, config: Mapping[str, Any] | Any) -> "ClapAudioConfig":
        """From a ``ClapConfig`` dict (a text_encoder/config.json: ``audio_config`` plus the shared projection
        keys) or a bare ``ClapAudioConfig`` dict. Missing keys take transformers' defaults."""
        if hasattr(config, "to_dict"):
            config = config.to_dict()
        audio = dict(config.get("audio_config") or {}) if "audio_config" in config else dict(config)
        if audio.get("enable_fusion", False):
            raise NotImplementedError("CLAP with enable_fusion=True (e.g. laion/clap-htsat-fused) is not supported: "
                                      "only the unfused audio tower (laion/clap-htsat-unfused, AudioLDM 2's) is")
        if audio.get("patch_embed_input_channels", 1) != 1 or not audio.get("flatten_patch_embeds", True):
            raise NotImplementedError("only one input channel and flattened patch embeddings are supported")
        for top in ("projection_dim", "projection_hidden_act"):  # ClapConfig overrides the towers' values
            if top in config and "audio_config" in config:
                audio[top] = config[top]
        names = {f for f in cls.__dataclass_fields__}
        cfg = cls(**{k: (tuple(v) if isinstance(v, list) else v) for k, v in audio.items() if k in names})
        if "hidden_size" in audio and audio["hidden_size"] != cfg.hidden_size:
            raise ValueError(f"audio hidden_size {audio['hidden_size']} != patch_embeds_hidden_size * "
                             f"2**(stages - 1) = {cfg.hidden_size}")
        return cfg

    @classmethod
    def htsat_unfused(cls) -> "ClapAudioConfig":
        """laion/clap-htsat-unfused: HTSAT-tiny (96 wide, depths 2-2-6-2), 512-d projection."""
        return cls()

    @classmethod
    def audioldm2(cls) -> "ClapAudioConfig":
        """The CLAP in cvssp/audioldm2 and audioldm2-large's ``text_encoder/`` (and MusicLDM's): HTSAT-base
        (128 wide, depths 2-2-12-2), not the clap-htsat-unfused sizes."""
        return cls(patch_embeds_hidden_size=128, depths=(2, 2, 12, 2))

    @classmethod
    def tiny(cls, **overrides) -> "ClapAudioConfig":
        """16 mel bins folded 4x into a 64x64 image, 16x16 tokens, windows of 4: the first two stages shift, the
        last (4x4) is one unshifted window."""
        base = dict(num_mel_bins=16, spec_size=64, window_size=4, patch_embeds_hidden_size=8, depths=(2, 2, 2),
                    num_attention_heads=(1, 2, 4), projection_dim=12)
        return cls(**{**base, **overrides})


class PatchEmbed(nn.Module):
    def __init__(self, cfg: ClapAudioConfig):
        super().__init__()
        padding = tuple((k - s) // 2 for k, s in zip(cfg.patch_size, cfg.patch_stride))
        self.proj = nn.Conv2d(1, cfg.patch_embeds_hidden_size, cfg.patch_size, cfg.patch_stride, padding)
        self.norm = nn.LayerNorm(cfg.patch_embeds_hidden_size) if cfg.enable_patch_layer_norm else nn.Identity()

    def forward(self, image: torch.Tensor) -> torch.Tensor:  # (B, 1, S, S) -> (B, grid tokens, C)
        return self.norm(self.proj(image).flatten(2).transpose(1, 2))


class ClapAudioEncoder(nn.Module):
    def __init__(self, cfg: ClapAudioConfig):
        super().__init__()
        self.cfg = cfg
        self.mel_norm = nn.BatchNorm2d(cfg.num_mel_bins)
        self.patch_embed = PatchEmbed(cfg)
        height, width = cfg.grid
        stages = []
        for i, (depth, heads) in enumerate(zip(cfg.depths, cfg.num_attention_heads)):
            last = i == len(cfg.depths) - 1
            stages.append(SwinStage(cfg.patch_embeds_hidden_size * 2 ** i, (height >> i, width >> i), depth, heads,
                                    cfg.window_size, merge=not last, mlp_ratio=cfg.mlp_ratio,
                                    qkv_bias=cfg.qkv_bias, act=cfg.hidden_act, eps=cfg.layer_norm_eps))
        self.stages = nn.ModuleList(stages)
        self.norm = nn.LayerNorm(cfg.hidden_size)
        self.projection = MLP(cfg.hidden_size, cfg.projection_dim, cfg.projection_hidden_act, cfg.projection_dim)
        # ClapModel's temperatures (log scale), used by clap_similarity, not by forward
        self.logit_scale_a = nn.Parameter(torch.tensor(_LOGIT_SCALE_INIT))
        self.logit_scale_t = nn.Parameter(torch.tensor(_LOGIT_SCALE_INIT))

    def mel_image(self, input_features: torch.Tensor) -> torch.Tensor:
        """(B, 1, T, n_mels) -> the normalised mel folded into (B, 1, spec_size, spec_size)."""
        cfg = self.cfg
        if input_features.dim() != 4 or input_features.shape[1] != 1 or input_features.shape[3] != cfg.num_mel_bins:
            raise ValueError(f"input_features must be (B, 1, frames, {cfg.num_mel_bins}), "
                             f"got {tuple(input_features.shape)}")
        frames = input_features.shape[2]
        if frames > cfg.max_frames:
            raise ValueError(f"{frames} frames exceed the tower's {cfg.max_frames}")
        x = self.mel_norm(input_features.transpose(1, 3)).transpose(1, 3)  # BatchNorm over the mel bins
        if frames < cfg.max_frames:  # HTSAT stretches the time axis to fill the image
            x = F.interpolate(x, size=(cfg.max_frames, cfg.num_mel_bins), mode="bicubic", align_corners=True)
        b, r = x.shape[0], cfg.freq_ratio
        x = x.reshape(b, r, cfg.max_frames // r, cfg.num_mel_bins).permute(0, 1, 3, 2)  # (B, r, bins, frames/r)
        return x.reshape(b, 1, r * cfg.num_mel_bins, cfg.max_frames // r)

    def forward(self, input_features: torch.Tensor) -> torch.Tensor:
        """(B, 1, T, n_mels) log-mel (dB) features -> (B, projection_dim), L2-normalised."""
        x = self.patch_embed(self.mel_image(input_features))
        for stage in self.stages:
            x = stage(x)
        pooled = self.norm(x).mean(dim=1)
        return F.normalize(self.projection(pooled), dim=-1)

    @property
    def text_logit_scale(self) -> torch.Tensor:
        """exp(logit_scale_t): the factor of ``logits_per_text``."""
        return self.logit_scale_t.exp()

    @property
    def audio_logit_scale(self) -> torch.Tensor:
        """exp(logit_scale_a): the factor of ``logits_per_audio``."""
        return self.logit_scale_a.exp()


def clap_similarity(text_features: torch.Tensor, audio_features: torch.Tensor,
                    logit_scale: torch.Tensor | float) -> torch.Tensor:
    """(Nt, D) text and (Na, D) audio embeddings, both L2-normalised (the towers' outputs) -> (Nt, Na) logits
    ``logit_scale * text @ audio.T``; with ``encoder.text_logit_scale`` this is ``ClapModel``'s
    ``logits_per_text`` (transpose it, with ``audio_logit_scale``, for ``logits_per_audio``)."""
    return torch.matmul(text_features, audio_features.t()) * logit_scale
