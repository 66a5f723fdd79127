"""AudioLDM 2's denoiser: a latent-diffusion UNet whose spatial transformers attend to two conditioning sequences
(diffusers' ``AudioLDM2UNet2DConditionModel``).

    t (B,) -> sinusoid (width C0, [cos, sin]) -> Linear-SiLU-Linear -> temb (B, 4 C0)
    sample (B, C, H, W) -> conv_in -> down blocks -> mid block -> up blocks -> GroupNorm, SiLU, conv_out -> (B, C, H, W)

    down block:  per layer a ResNet block (temb added) then, in a CrossAttn block, one spatial transformer per
                 ``cross_attention_dim`` entry, in order; a stride-2 conv except in the last block. Every layer's
                 output (and conv_in's, and each downsample's) is kept as a skip.
    mid block:   ResNet, the transformers, ResNet.
    up block:    per layer concat(x, next skip) -> ResNet -> transformers; nearest x2 + conv to the skip's size
                 except in the last block (so H and W need not divide by 2^blocks).

Which sequence a transformer attends is diffusers' rule, by entry index j within the block's list: a None entry is
an extra self-attention layer; entries 0 and 1 attend ``encoder_hidden_states`` (with ``encoder_attention_mask``),
entries 2 and later ``encoder_hidden_states_1`` (with ``encoder_attention_mask_1``). The published lists are
[None, 768, 1024] (base, music: self, GPT-2's generated 768-d states, Flan-T5's 1024-d states) and
[None, 768, 1024, None] (large). The pipeline passes only the T5 mask; masks become an additive -10000 key bias.

Names follow diffusers but for ``downsamplers.0`` -> ``downsample``, ``upsamplers.0`` -> ``upsample`` and the
transformer renames of blocks/spatial_transformer.py (convert/audioldm2_unet.py).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .blocks.cross_attention import key_padding_bias
from .blocks.dit import TimestepMLP, timestep_embedding
from .blocks.spatial_transformer import SpatialTransformer
from .blocks.unet2d import Downsample2D, ResnetBlock2D, Upsample2D

DOWN_BLOCKS = ("DownBlock2D", "CrossAttnDownBlock2D")
UP_BLOCKS = ("UpBlock2D", "CrossAttnUpBlock2D")

# diffusers config keys whose only supported value is what every published AudioLDM 2 UNet has
_FIXED = {
    "class_embed_type": None, "num_class_embeds": None, "class_embeddings_concat": False,
    "projection_class_embeddings_input_dim": None, "time_embedding_type": "positional", "time_embedding_dim": None,
    "time_embedding_act_fn": None, "timestep_post_act": None, "time_cond_proj_dim": None,
    "num_attention_heads": None, "resnet_time_scale_shift": "default", "mid_block_type": "UNetMidBlock2DCrossAttn",
    "mid_block_scale_factor": 1, "conv_in_kernel": 3, "conv_out_kernel": 3, "only_cross_attention": False,
}
_IGNORED = {"upcast_attention"}  # read and dropped: it changes nothing in float32


def _per_block(value, n: int, name: str) -> tuple:
    values = tuple(value) if isinstance(value, (list, tuple)) else (value,) * n
    if len(values) != n:
        raise ValueError(f"{name} has {len(values)} entries for {n} blocks")
    return values


@dataclass
class AudioLDM2UNetConfig:
    """Per-block fields take one value for every block or a sequence of one per down block (as diffusers); they are
    stored as tuples. ``attention_heads`` is diffusers' ``attention_head_dim``, which (a misnomer there) is the
    number of heads. ``cross_attention_dim``: an int (one entry, every block), a flat sequence (one entry per block)
    or a sequence of per-block lists, entries being context widths or None (self-attention)."""

    in_channels: int = 8
    out_channels: int = 8
    block_out_channels: tuple[int, ...] = (128, 256, 384, 640)
    down_block_types: tuple[str, ...] = ("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D",
                                         "CrossAttnDownBlock2D")
    up_block_types: tuple[str, ...] = ("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D")
    layers_per_block: int | tuple[int, ...] = 2
    transformer_layers_per_block: int | tuple[int, ...] = 1
    attention_heads: int | tuple[int, ...] = 8
    cross_attention_dim: Any = ((None, 768, 1024),) * 4
    norm_num_groups: int = 32
    norm_eps: float = 1e-5
    flip_sin_to_cos: bool = True
    freq_shift: int = 0
    downsample_padding: int = 1
    use_linear_projection: bool = False
    sample_size: int | None = 256  # latent height trained on (the pipeline's default length); not used here

    def __post_init__(self):
        n = len(self.block_out_channels)
        self.block_out_channels = tuple(self.block_out_channels)
        self.down_block_types, self.up_block_types = tuple(self.down_block_types), tuple(self.up_block_types)
        if len(self.down_block_types) != n or len(self.up_block_types) != n:
            raise ValueError(f"{n} blocks need {n} down and {n} up block types")
        if not set(self.down_block_types) <= set(DOWN_BLOCKS) or not set(self.up_block_types) <= set(UP_BLOCKS):
            raise ValueError(f"supported blocks: {DOWN_BLOCKS} / {UP_BLOCKS}, got {self.down_block_types} / "
                             f"{self.up_block_types}")
        self.layers_per_block = _per_block(self.layers_per_block, n, "layers_per_block")
        self.transformer_layers_per_block = _per_block(self.transformer_layers_per_block, n,
                                                       "transformer_layers_per_block")
        self.attention_heads = _per_block(self.attention_heads, n, "attention_heads")
        dims = self.cross_attention_dim
        if isinstance(dims, (list, tuple)) and len(dims) == n and all(isinstance(d, (list, tuple)) for d in dims):
            self.cross_attention_dim = tuple(tuple(d) for d in dims)
        elif isinstance(dims, (list, tuple)) and all(d is None or isinstance(d, int) for d in dims):
            self.cross_attention_dim = tuple((d,) for d in _per_block(dims, n, "cross_attention_dim"))
        elif isinstance(dims, int):
            self.cross_attention_dim = ((dims,),) * n
        else:
            raise ValueError(f"cannot read cross_attention_dim {dims!r} for {n} blocks")
        if self.downsample_padding not in (0, 1):
            raise ValueError(f"downsample_padding {self.downsample_padding} is not supported (0 or 1)")
        if self.norm_num_groups is None:
            raise ValueError("norm_num_groups None (no output norm) is not supported")
        for i, ch in enumerate(self.block_out_channels):
            if ch % self.norm_num_groups:
                raise ValueError(f"norm_num_groups {self.norm_num_groups} does not divide {ch} channels")
            if self.has_attention(i) and ch % self.attention_heads[i]:
                raise ValueError(f"{self.attention_heads[i]} heads do not divide {ch} channels")

    def has_attention(self, block: int) -> bool:
        """Whether the down block ``block``, the up block mirroring it or (the last) the mid block has transformers."""
        n = len(self.block_out_channels)
        return self.down_block_types[block] == "CrossAttnDownBlock2D" or block == n - 1 or \
            self.up_block_types[n - 1 - block] == "CrossAttnUpBlock2D"

    @property
    def time_embed_dim(self) -> int:
        return 4 * self.block_out_channels[0]

    @classmethod
    def from_diffusers(cls, config: Mapping[str, Any]) -> "AudioLDM2UNetConfig":
        """From an ``AudioLDM2UNet2DConditionModel`` config (unet/config.json); anything the published checkpoints do
        not use raises ValueError."""
        for key, supported in _FIXED.items():
            value = config.get(key, supported)
            if key == "only_cross_attention" and isinstance(value, (list, tuple)):
                value = any(value)
            if value != supported:
                raise ValueError(f"{key}={value!r} is not supported (AudioLDM 2 uses {supported!r})")
        if config.get("act_fn", "silu") not in ("silu", "swish"):
            raise ValueError(f"act_fn={config['act_fn']!r} is not supported (AudioLDM 2 uses 'silu')")
        known = set(cls.__dataclass_fields__) - {"attention_heads"} | {"attention_head_dim", "act_fn"}
        unknown = sorted(k for k in config if not k.startswith("_") and k not in known | set(_FIXED) | _IGNORED)
        if unknown:
            raise ValueError(f"unsupported config keys {unknown}")
        kwargs = {k: config[k] for k in cls.__dataclass_fields__ if k in config}
        # diffusers' own defaults where AudioLDM 2's differ from ours
        kwargs.setdefault("in_channels", 4)
        kwargs.setdefault("out_channels", 4)
        kwargs.setdefault("block_out_channels", (320, 640, 1280, 1280))
        kwargs.setdefault("down_block_types", ("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",))
        kwargs.setdefault("up_block_types", ("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3)
        kwargs.setdefault("cross_attention_dim", 1280)
        kwargs.setdefault("sample_size", None)
        kwargs["attention_heads"] = config.get("attention_head_dim", 8)
        return cls(**kwargs)

    def to_dict(self) -> dict[str, Any]:
        """The diffusers config (``AudioLDM2UNet2DConditionModel(**to_dict())``); ``from_diffusers`` inverts it."""
        def compact(values: tuple):
            return values[0] if len(set(values)) == 1 else list(values)

        return {"in_channels": self.in_channels, "out_channels": self.out_channels,
                "block_out_channels": list(self.block_out_channels), "down_block_types": list(self.down_block_types),
                "up_block_types": list(self.up_block_types), "layers_per_block": compact(self.layers_per_block),
                "transformer_layers_per_block": compact(self.transformer_layers_per_block),
                "attention_head_dim": compact(self.attention_heads),
                "cross_attention_dim": [list(d) for d in self.cross_attention_dim],
                "norm_num_groups": self.norm_num_groups, "norm_eps": self.norm_eps, "act_fn": "silu",
                "flip_sin_to_cos": self.flip_sin_to_cos, "freq_shift": self.freq_shift,
                "downsample_padding": self.downsample_padding, "use_linear_projection": self.use_linear_projection,
                "mid_block_type": "UNetMidBlock2DCrossAttn", "sample_size": self.sample_size}

    @classmethod
    def base(cls) -> "AudioLDM2UNetConfig":
        """cvssp/audioldm2 unet/config.json (diffusers 0.20 conversion of the original ``audioldm2-full``; 8 latent
        channels, 256 x 16 latents for 10.24 s). ~347M parameters."""
        return cls()

    @classmethod
    def music(cls) -> "AudioLDM2UNetConfig":
        """cvssp/audioldm2-music: the base architecture (the original repo builds ``audioldm2-music-665k`` from the
        same basic config; diffusers' docs list the same 350M UNet), other weights."""
        return cls()

    @classmethod
    def large(cls) -> "AudioLDM2UNetConfig":
        """cvssp/audioldm2-large: the original ``-large-`` config sets context_dim [768, 1024, None] and
        transformer_depth 2 (haoheliu/AudioLDM2 audioldm2/utils.py), which diffusers' conversion turns into
        [None, 768, 1024, None] per block (extra self-attention first). ~718M parameters = 2.87 GB in float32, the
        size of the published unet weights (diffusers' docs: a 750M UNet)."""
        return cls(transformer_layers_per_block=2, cross_attention_dim=((None, 768, 1024, None),) * 4)

    @classmethod
    def tiny(cls) -> "AudioLDM2UNetConfig":
        """Test size with the published structure: a plain first block, self + two cross entries, 8 heads."""
        return cls(in_channels=4, out_channels=4, block_out_channels=(16, 32, 48), down_block_types=(
            "DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"), up_block_types=(
            "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"), layers_per_block=2, attention_heads=4,
            cross_attention_dim=((None, 12, 20),) * 3, norm_num_groups=8, sample_size=16)


Condition = tuple[torch.Tensor | None, torch.Tensor | None]  # (context (B, S, D), key bias (B, 1, 1, S))


def _transformers(cfg: AudioLDM2UNetConfig, block: int, channels: int, layers: int) -> nn.ModuleList:
    """``layers`` groups of one spatial transformer per ``cross_attention_dim`` entry, flat (diffusers' layout)."""
    return nn.ModuleList(
        SpatialTransformer(channels, cfg.attention_heads[block], dim, cfg.transformer_layers_per_block[block],
                           cfg.norm_num_groups, cfg.use_linear_projection)
        for _ in range(layers) for dim in cfg.cross_attention_dim[block])


def _routes(dims: Sequence[int | None]) -> list[int | None]:
    """diffusers' rule: a None entry is self-attention, entries 0 and 1 read condition 0, later ones condition 1."""
    return [None if dim is None else min(j // 2, 1) for j, dim in enumerate(dims)]


def _attend(x: torch.Tensor, transformers, routes: Sequence[int | None],
            conditions: Sequence[Condition]) -> torch.Tensor:
    for transformer, route in zip(transformers, routes):
        context, bias = (None, None) if route is None else conditions[route]
        x = transformer(x, context, bias)
    return x


class DownBlock(nn.Module):
    def __init__(self, cfg: AudioLDM2UNetConfig, block: int, in_channels: int, out_channels: int):
        super().__init__()
        n = cfg.layers_per_block[block]
        self.resnets = nn.ModuleList(
            ResnetBlock2D(in_channels if j == 0 else out_channels, out_channels, cfg.norm_num_groups, cfg.norm_eps,
                          cfg.time_embed_dim) for j in range(n))
        cross = cfg.down_block_types[block] == "CrossAttnDownBlock2D"
        self.attentions = _transformers(cfg, block, out_channels, n) if cross else None
        self.routes = _routes(cfg.cross_attention_dim[block])
        last = block == len(cfg.block_out_channels) - 1
        self.downsample = None if last else Downsample2D(out_channels, cfg.downsample_padding)

    def forward(self, x: torch.Tensor, temb: torch.Tensor, conditions: Sequence[Condition],
                skips: list[torch.Tensor]) -> torch.Tensor:
        k = len(self.routes)
        for j, resnet in enumerate(self.resnets):
            x = resnet(x, temb)
            if self.attentions is not None:
                x = _attend(x, self.attentions[j * k:(j + 1) * k], self.routes, conditions)
            skips.append(x)
        if self.downsample is not None:
            x = self.downsample(x)
            skips.append(x)
        return x


class MidBlock(nn.Module):
    def __init__(self, cfg: AudioLDM2UNetConfig, channels: int):
        super().__init__()
        block = len(cfg.block_out_channels) - 1
        self.resnets = nn.ModuleList(
            ResnetBlock2D(channels, channels, cfg.norm_num_groups, cfg.norm_eps, cfg.time_embed_dim) for _ in range(2))
        self.attentions = _transformers(cfg, block, channels, 1)
        self.routes = _routes(cfg.cross_attention_dim[block])

    def forward(self, x: torch.Tensor, temb: torch.Tensor, conditions: Sequence[Condition]) -> torch.Tensor:
        x = _attend(self.resnets[0](x, temb), self.attentions, self.routes, conditions)
        return self.resnets[1](x, temb)


class UpBlock(nn.Module):
    """Up block ``i`` mirrors down block ``n - 1 - i``: one more layer, each consuming one skip."""

    def __init__(self, cfg: AudioLDM2UNetConfig, i: int):
        super().__init__()
        chs = list(reversed(cfg.block_out_channels))
        block = len(chs) - 1 - i  # the down block mirrored
        prev_channels, out_channels, skip_in = chs[max(i - 1, 0)], chs[i], chs[min(i + 1, len(chs) - 1)]
        n = cfg.layers_per_block[block] + 1
        self.resnets = nn.ModuleList(
            ResnetBlock2D((prev_channels if j == 0 else out_channels) + (skip_in if j == n - 1 else out_channels),
                          out_channels, cfg.norm_num_groups, cfg.norm_eps, cfg.time_embed_dim) for j in range(n))
        cross = cfg.up_block_types[i] == "CrossAttnUpBlock2D"
        self.attentions = _transformers(cfg, block, out_channels, n) if cross else None
        self.routes = _routes(cfg.cross_attention_dim[block])
        self.upsample = Upsample2D(out_channels) if i < len(chs) - 1 else None

    def forward(self, x: torch.Tensor, temb: torch.Tensor, conditions: Sequence[Condition],
                skips: list[torch.Tensor]) -> torch.Tensor:
        k = len(self.routes)
        for j, resnet in enumerate(self.resnets):
            x = resnet(torch.cat((x, skips.pop()), dim=1), temb)
            if self.attentions is not None:
                x = _attend(x, self.attentions[j * k:(j + 1) * k], self.routes, conditions)
        if self.upsample is not None:
            x = self.upsample(x, size=skips[-1].shape[-2:])
        return x


class AudioLDM2UNet(nn.Module):
    def __init__(self, cfg: AudioLDM2UNetConfig):
        super().__init__()
        self.cfg = cfg
        chs = cfg.block_out_channels
        self.conv_in = nn.Conv2d(cfg.in_channels, chs[0], 3, padding=1)
        self.time_embedding = TimestepMLP(chs[0], cfg.time_embed_dim)
        self.down_blocks = nn.ModuleList(DownBlock(cfg, i, chs[max(i - 1, 0)], ch) for i, ch in enumerate(chs))
        self.mid_block = MidBlock(cfg, chs[-1])
        self.up_blocks = nn.ModuleList(UpBlock(cfg, i) for i in range(len(chs)))
        self.conv_norm_out = nn.GroupNorm(cfg.norm_num_groups, chs[0], eps=cfg.norm_eps)
        self.conv_out = nn.Conv2d(chs[0], cfg.out_channels, 3, padding=1)

    def forward(self, sample: torch.Tensor, timestep: torch.Tensor, encoder_hidden_states: torch.Tensor,
                encoder_hidden_states_1: torch.Tensor | None = None,
                encoder_attention_mask_1: torch.Tensor | None = None,
                encoder_attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        """sample (B, C, H, W) noisy latents, timestep (B,) (or one for all), encoder_hidden_states (B, S0, D0)
        (GPT-2's generated states), encoder_hidden_states_1 (B, S1, D1) (Flan-T5's; None: reuse the first),
        masks (B, S) of 1 = token / 0 = padding or None -> predicted noise (B, C, H, W). The pipeline batches the
        unconditional and conditional halves of classifier-free guidance together."""
        t = timestep.reshape(-1).expand(sample.shape[0])
        temb = self.time_embedding(timestep_embedding(
            t, self.cfg.block_out_channels[0], 1.0, flip_sin_to_cos=self.cfg.flip_sin_to_cos,
            freq_shift=self.cfg.freq_shift, diffusers_order=True).to(sample.dtype))
        if encoder_hidden_states_1 is None:  # as diffusers: the second sequence falls back to the first, mask kept
            encoder_hidden_states_1 = encoder_hidden_states
        conditions = ((encoder_hidden_states, key_padding_bias(encoder_attention_mask, sample.dtype)),
                      (encoder_hidden_states_1, key_padding_bias(encoder_attention_mask_1, sample.dtype)))
        x = self.conv_in(sample)
        skips = [x]
        for block in self.down_blocks:
            x = block(x, temb, conditions, skips)
        x = self.mid_block(x, temb, conditions)
        for block in self.up_blocks:
            x = block(x, temb, conditions, skips)
        return self.conv_out(F.silu(self.conv_norm_out(x)))
