"""VoxCPM (0.5B / 1.5): tokenizer-free TTS, a hierarchical autoregressive flow-matching model over WaveVAE latents.

One generation step turns the LM state into the next patch of P latent frames (B, P, D):

    text tokens + prompt patches --(embed / LocEnc)--> TSLM (MiniCPM-4, causal, KV cache)
        -> FSQ on audio positions -> lm_hidden                      (the semantic-prosodic skeleton)
        -> RALM (residual LM, causal, KV cache) on lm_hidden + patch embedding -> residual_hidden
    mu = lm_to_dit(lm_hidden) + res_to_dit(residual_hidden);   stop = stop_head(silu(stop_proj(lm_hidden)))
    patch = ODE solve of the LocDiT velocity v(x, t | mu, previous patch) from noise (t = 1) to data (t = 0)
    next LM input: enc_to_lm(LocEnc(patch)) -> TSLM step -> FSQ -> RALM step on (fsq + embedding) -> mu, stop

The module holds no generation state and no solver (the loop belongs to the caller, so it ports to C++ and to
graphs). Its pieces are the graphs an exported bundle needs:

    prefill(text_tokens, text_mask, audio_feats, audio_mask) -> (mu, stop_logits, kv)
    step(patch, kv)                                         -> (mu, stop_logits, kv_new)
    step_buffer(patch, length, cache)                       -> (mu, stop_logits, kv_new)   (the exported step)
    velocity(x, t, mu, cond[, dt])                          -> v          (evaluated 2 x n_steps per patch with CFG)
    prior(mu)                                               -> patch      (voxlite's prior head, ``config.prior_head``)

``kv`` is a flat tuple: the TSLM's ``(k_0, v_0, ..., k_{N-1}, v_{N-1})`` then the RALM's, each (B, Hkv, L, Dh);
``step`` returns the new position only (append it: ``append_kv``); the position is the cache length. ``step_buffer``
is the same step reading fixed-size per-layer buffers (2, B, Hkv, capacity, Dh) of which the first ``length`` slots
count, so a runtime passes its preallocated cache as is (O(1) copies per step) instead of the past. ``generate`` is
the reference driver (Euler with sway sampling, CFG-Zero*, via ``voxlite.kernels.solvers``), matching the official
``VoxCPMModel._inference`` draw for draw when given the same noise.

Official layout differences: the LocDiT works on (B, C, P) there and on (B, P, C) here; module names differ
(``feat_encoder`` -> ``loc_enc``, ``feat_decoder.estimator`` -> ``loc_dit``, ``fsq_layer`` -> ``fsq``), see
``voxlite.convert.voxcpm``. The AudioVAE is ``voxlite.models.wavevae``.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .blocks.attention import longrope_scaling
from .blocks.dit import PrefixDiT
from .blocks.fsq import ScalarQuantizer
from .blocks.transformer import KV, Transformer, TransformerConfig, append_kv

__all__ = ["LMConfig", "LocalConfig", "VoxCPMConfig", "LocEnc", "VoxCPM", "append_kv"]


@dataclass
class LMConfig:
    """The checkpoint's ``lm_config`` (MiniCPM-4); LocEnc, LocDiT and the RALM copy it and override their sizes."""
    hidden_size: int = 1024
    intermediate_size: int = 4096
    num_hidden_layers: int = 24
    num_attention_heads: int = 16
    num_key_value_heads: int = 2  # shared by every stack, LocEnc and LocDiT included
    vocab_size: int = 73448
    rms_norm_eps: float = 1e-5
    rope_theta: float = 10000.0
    max_position_embeddings: int = 32768
    rope_short_factor: tuple[float, ...] | None = None  # LongRoPE, one per frequency (head_dim / 2); config.json only
    rope_long_factor: tuple[float, ...] | None = None
    rope_original_max_position_embeddings: int = 32768
    use_mup: bool = True  # MiniCPM muP (residuals * scale_depth / sqrt(n_layers), text embeddings * scale_emb);
    # True when config.json omits it, as the official MiniCPM4Config
    scale_emb: float = 12.0
    scale_depth: float = 1.4
    dim_model_base: int = 256  # muP width base; training only (logit scaling), kept to round-trip config.json
    kv_channels: int | None = None  # head_dim override; None: hidden_size // num_attention_heads
    no_rope: bool = False

    def __post_init__(self):
        for name in ("rope_short_factor", "rope_long_factor"):
            value = getattr(self, name)
            if value is not None:
                setattr(self, name, tuple(float(v) for v in value))


@dataclass
class LocalConfig:
    """``encoder_config`` / ``dit_config``: the width of a local (per-patch, bidirectional) transformer."""
    hidden_dim: int = 1024
    ffn_dim: int = 4096
    num_heads: int = 16
    num_layers: int = 4
    kv_channels: int | None = None  # replaces the LM's kv_channels (also when None), as VoxCPMModel does


@dataclass
class VoxCPMConfig:
    lm: LMConfig = field(default_factory=LMConfig)
    encoder: LocalConfig = field(default_factory=LocalConfig)
    dit: LocalConfig = field(default_factory=LocalConfig)
    patch_size: int = 2  # latent frames per LM step: 2 at 25 Hz -> 12.5 Hz LM (VoxCPM1.5: 4 -> 6.25 Hz)
    feat_dim: int = 64  # WaveVAE latent channels
    residual_lm_num_layers: int = 6
    scalar_quantization_latent_dim: int = 256
    scalar_quantization_scale: int = 9
    max_length: int = 4096  # KV cache positions the official model allocates
    dit_mean_mode: bool = False  # mean-flow LocDiT (feeds dt); VoxCPM-0.5B / 1.5 do not
    cfm: dict = field(default_factory=lambda: {"sigma_min": 1e-6, "solver": "euler", "t_scheduler": "log-norm",
                                               "inference_cfg_rate": 2.0})  # dit_config.cfm_config, kept verbatim
    audio_start_token: int = 101  # appended after the text; tokens of audio positions are 0
    audio_end_token: int = 102
    # 0: positions 0 .. T-1 along [text ; audio] (VoxCPM). r > 0 (voxlite's small voices): text token i sits at
    # position i and audio patch k at (k + 0.5) * r, r = the corpus's text tokens per patch: a speaking-rate prior
    # under which text and audio that belong together are close in RoPE distance, so alignment forms 2-3x faster
    # on small data (measured on a 5.5M-parameter prefix LM). The step graph then takes the position as an input.
    audio_position_rate: float = 0.0
    # voxlite's small voices: a linear head mu -> patch (its L1 loss trains the LM on every patch's content) whose
    # output is the prior a shallow flow solve starts from (``flow_start`` < 1; DiffSinger's shallow diffusion).
    # VoxCPM has none; with it the prefill and step graphs also output ``prior``.
    prior_head: bool = False

    # ---------------------------------------------------------------- construction

    @classmethod
    def from_official(cls, config: dict) -> "VoxCPMConfig":
        """From a VoxCPM (``architecture`` "voxcpm") checkpoint's ``config.json`` dict."""
        if config.get("architecture", "voxcpm") != "voxcpm":
            raise ValueError(f"not a VoxCPM-0.5B / 1.5 config: architecture {config.get('architecture')!r}")
        lm = dict(config["lm_config"])
        rope = lm.pop("rope_scaling", None) or {}
        known = {f for f in LMConfig.__dataclass_fields__}
        lm_cfg = LMConfig(**{k: v for k, v in lm.items() if k in known},
                          rope_short_factor=rope.get("short_factor"), rope_long_factor=rope.get("long_factor"),
                          rope_original_max_position_embeddings=rope.get(
                              "original_max_position_embeddings", lm.get("max_position_embeddings", 32768)))

        def local(d: dict) -> LocalConfig:
            return LocalConfig(**{k: d[k] for k in LocalConfig.__dataclass_fields__ if k in d})

        dit = dict(config["dit_config"])
        top = {k: config[k] for k in ("patch_size", "feat_dim", "residual_lm_num_layers",
                                      "scalar_quantization_latent_dim", "scalar_quantization_scale", "max_length",
                                      "dit_mean_mode") if k in config}
        return cls(lm=lm_cfg, encoder=local(config["encoder_config"]), dit=local(dit),
                   cfm=dict(dit.get("cfm_config") or cls().cfm), **top)

    def to_official(self) -> dict:
        """The ``config.json`` layout (without ``audio_vae_config``, device and dtype)."""
        lm = asdict(self.lm)
        short, long_, orig = lm.pop("rope_short_factor"), lm.pop("rope_long_factor"), \
            lm.pop("rope_original_max_position_embeddings")
        if lm["kv_channels"] is None:
            del lm["kv_channels"]
        lm = {"bos_token_id": 1, "eos_token_id": 2, **lm}
        if short is not None or long_ is not None:
            lm["rope_scaling"] = {"type": "longrope", "short_factor": list(short or long_),
                                  "long_factor": list(long_ or short), "original_max_position_embeddings": orig}

        def local(c: LocalConfig) -> dict:
            d = asdict(c)
            return d if d["kv_channels"] is not None else {k: v for k, v in d.items() if k != "kv_channels"}

        return {"architecture": "voxcpm", "lm_config": lm, "encoder_config": local(self.encoder),
                "dit_config": {**local(self.dit), "cfm_config": dict(self.cfm)}, "patch_size": self.patch_size,
                "feat_dim": self.feat_dim, "residual_lm_num_layers": self.residual_lm_num_layers,
                "scalar_quantization_latent_dim": self.scalar_quantization_latent_dim,
                "scalar_quantization_scale": self.scalar_quantization_scale, "max_length": self.max_length,
                "dit_mean_mode": self.dit_mean_mode}

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "VoxCPMConfig":
        data = dict(data)
        return cls(lm=LMConfig(**data.pop("lm")), encoder=LocalConfig(**data.pop("encoder")),
                   dit=LocalConfig(**data.pop("dit")), **data)

    @classmethod
    def voxcpm_0_5b(cls) -> "VoxCPMConfig":
        """openbmb/VoxCPM-0.5B sizes: MiniCPM-4 0.5B TSLM (1024 wide, 24 layers, 16 heads / 2 KV heads, FFN 4096,
        vocab 73448, 32768 positions, theta 1e4), 6-layer RALM, 4-layer LocEnc and LocDiT (1024 / 4096 / 16 heads),
        patch 2, FSQ 256 x 19 levels, max_length 4096 (as reported for the published config.json; the file itself
        was not available here).

        Not established: the LongRoPE factors (32 per set) and ``use_mup``. The factors are None, so this preset
        describes sizes but cannot build a model: use ``from_official(config.json)`` for real weights.
        """
        return cls()

    @classmethod
    def tiny(cls) -> "VoxCPMConfig":
        """Test size with nothing trivial: odd widths, 2 KV heads for 4 / 2 query heads, head_dim 12 everywhere
        (LongRoPE long factors active: 64 > 32 positions, magnitude scale != 1), kv_channels != width / heads in
        LocEnc and LocDiT, muP on, patch 3."""
        lm = LMConfig(hidden_size=48, intermediate_size=70, num_hidden_layers=3, num_attention_heads=4,
                      num_key_value_heads=2, vocab_size=120, rope_theta=500.0, max_position_embeddings=64,
                      rope_short_factor=(0.9, 1.1, 1.5, 2.0, 3.0, 5.0),
                      rope_long_factor=(1.0, 1.3, 1.9, 2.6, 4.1, 7.0), rope_original_max_position_embeddings=32,
                      use_mup=True, scale_emb=3.5, scale_depth=1.4, dim_model_base=16)
        return cls(lm=lm, encoder=LocalConfig(30, 41, 2, 2, kv_channels=12),
                   dit=LocalConfig(44, 53, 4, 2, kv_channels=12), patch_size=3, feat_dim=5, residual_lm_num_layers=2,
                   scalar_quantization_latent_dim=7, scalar_quantization_scale=9, max_length=64)

    # ---------------------------------------------------------------- the four transformer stacks

    def _stack(self, **overrides) -> TransformerConfig:
        lm = self.lm
        factors, mscale = None, 1.0
        if not lm.no_rope:
            if lm.rope_short_factor is None and lm.rope_long_factor is None:
                raise ValueError("VoxCPMConfig has no LongRoPE factors: build it from the checkpoint's config.json "
                                 "(VoxCPMConfig.from_official)")
            factors, mscale = longrope_scaling(lm.rope_short_factor or lm.rope_long_factor,
                                               lm.rope_long_factor or lm.rope_short_factor,
                                               lm.max_position_embeddings, lm.rope_original_max_position_embeddings)
        base = TransformerConfig(
            dim=lm.hidden_size, ffn_dim=lm.intermediate_size, n_layers=lm.num_hidden_layers,
            n_heads=lm.num_attention_heads, n_kv_heads=lm.num_key_value_heads, head_dim=lm.kv_channels,
            vocab_size=lm.vocab_size, norm_eps=lm.rms_norm_eps, causal=True, use_rope=not lm.no_rope,
            rope_theta=lm.rope_theta, rope_factors=factors, rope_mscale=mscale, use_mup=lm.use_mup,
            scale_depth=lm.scale_depth, scale_emb=lm.scale_emb)
        return replace(base, **overrides)

    def base_lm_config(self) -> TransformerConfig:
        return self._stack()

    def residual_lm_config(self) -> TransformerConfig:
        return self._stack(n_layers=self.residual_lm_num_layers, vocab_size=0)

    def _local(self, c: LocalConfig) -> TransformerConfig:
        return self._stack(dim=c.hidden_dim, ffn_dim=c.ffn_dim, n_heads=c.num_heads, n_layers=c.num_layers,
                           head_dim=c.kv_channels, vocab_size=0, causal=False)

    def encoder_transformer_config(self) -> TransformerConfig:
        return self._local(self.encoder)

    def dit_transformer_config(self) -> TransformerConfig:
        return self._local(self.dit)


class LocEnc(nn.Module):
    """Patch encoder: [CLS, in_proj(frame_1..P)] -> bidirectional transformer -> the CLS output, one vector a patch."""

    def __init__(self, feat_dim: int, cfg: TransformerConfig):
        super().__init__()
        self.special_token = nn.Parameter(torch.randn(1, 1, 1, cfg.dim))  # the CLS token
        self.in_proj = nn.Linear(feat_dim, cfg.dim)
        self.encoder = Transformer(cfg)

    def forward(self, feats: torch.Tensor) -> torch.Tensor:  # (B, T, P, D) -> (B, T, H)
        B, T, P, _ = feats.shape
        x = self.in_proj(feats)  # (B, T, P, H)
        x = torch.cat((self.special_token.expand(B, T, 1, -1), x), dim=2)  # (B, T, 1 + P, H)
        h, _ = self.encoder(x.reshape(B * T, P + 1, -1))
        return h[:, 0].reshape(B, T, -1)


class VoxCPM(nn.Module):
    def __init__(self, config: VoxCPMConfig):
        super().__init__()
        self.config = config
        lm_dim = config.lm.hidden_size
        dit_dim = config.dit.hidden_dim
        self.base_lm = Transformer(config.base_lm_config())  # TSLM, with the text embedding
        self.residual_lm = Transformer(config.residual_lm_config())  # RALM
        self.loc_enc = LocEnc(config.feat_dim, config.encoder_transformer_config())
        self.loc_dit = PrefixDiT(config.feat_dim, config.dit_transformer_config())
        self.fsq = ScalarQuantizer(lm_dim, lm_dim, config.scalar_quantization_latent_dim,
                                   config.scalar_quantization_scale)
        self.enc_to_lm_proj = nn.Linear(config.encoder.hidden_dim, lm_dim)
        self.lm_to_dit_proj = nn.Linear(lm_dim, dit_dim)
        self.res_to_dit_proj = nn.Linear(lm_dim, dit_dim)
        self.stop_proj = nn.Linear(lm_dim, lm_dim)
        self.stop_head = nn.Linear(lm_dim, 2, bias=False)  # logits (continue, stop)
        self.prior_proj = nn.Linear(dit_dim, config.patch_size * config.feat_dim) if config.prior_head else None

    # ---------------------------------------------------------------- pieces

    @property
    def n_kv(self) -> int:
        """Entries of the flat KV tuple: 2 per TSLM layer, then 2 per RALM layer."""
        return 2 * (len(self.base_lm.layers) + len(self.residual_lm.layers))

    def split_kv(self, kv: KV) -> tuple[KV, KV]:
        n = 2 * len(self.base_lm.layers)
        return tuple(kv[:n]), tuple(kv[n:])

    def embed_patches(self, feats: torch.Tensor) -> torch.Tensor:  # (B, T, P, D) -> (B, T, H_lm)
        return self.enc_to_lm_proj(self.loc_enc(feats))

    def heads(self, lm_hidden: torch.Tensor, residual_hidden: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(..., H_lm) x 2 -> DiT condition mu (..., H_dit) and stop logits (..., 2)."""
        mu = self.lm_to_dit_proj(lm_hidden) + self.res_to_dit_proj(residual_hidden)
        stop = self.stop_head(F.silu(self.stop_proj(lm_hidden)))
        return mu, stop

    def prior(self, mu: torch.Tensor) -> torch.Tensor:
        """The prior head's estimate of the patch mu conditions: (..., H_dit) -> (..., P, D)."""
        if self.prior_proj is None:
            raise ValueError("this VoxCPM has no prior head (config.prior_head)")
        return self.prior_proj(mu).unflatten(-1, (self.config.patch_size, self.config.feat_dim))

    def lm_states(self, text_tokens: torch.Tensor, text_mask: torch.Tensor, audio_feats: torch.Tensor,
                  audio_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, KV]:
        """Both LMs over a whole prefix: lm_hidden (B, T, H) (FSQ'd on audio positions), residual_hidden (B, T, H),
        and the caches of all T positions.

        text_tokens (B, T) int (anything on audio positions; the official fills 0), text_mask / audio_mask (B, T)
        with 1 on text / audio positions, audio_feats (B, T, P, D) (anything on text positions; official: zeros).
        """
        tmask = text_mask.to(audio_feats.dtype)[..., None]  # (B, T, 1)
        amask = audio_mask.to(audio_feats.dtype)[..., None]
        feat_embed = self.embed_patches(audio_feats)  # (B, T, H)
        x = tmask * self.base_lm.embed(text_tokens) + amask * feat_embed
        pos = self.positions(text_mask, audio_mask)
        h, kv_base = self.base_lm(x, pos)
        h = self.fsq(h) * amask + h * tmask
        r, kv_res = self.residual_lm(h + amask * feat_embed, pos)
        return h, r, kv_base + kv_res

    def positions(self, text_mask: torch.Tensor, audio_mask: torch.Tensor) -> torch.Tensor | None:
        """(B, T) RoPE positions with ``audio_position_rate`` (text: 0, 1, ...; audio patch k: (k + 0.5) * r), else
        None (0 .. T-1)."""
        rate = self.config.audio_position_rate
        if not rate:
            return None
        t = text_mask.to(torch.float32)
        a = audio_mask.to(torch.float32)
        return t * (torch.cumsum(t, dim=1) - 1) + a * (torch.cumsum(a, dim=1) - 0.5) * rate

    # ---------------------------------------------------------------- the exported graphs

    def prefill(self, text_tokens: torch.Tensor, text_mask: torch.Tensor, audio_feats: torch.Tensor,
                audio_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, KV]:
        """Prompt -> (mu (B, H_dit), stop_logits (B, 2), kv) for the first patch; inputs as ``lm_states``."""
        h, r, kv = self.lm_states(text_tokens, text_mask, audio_feats, audio_mask)
        mu, stop = self.heads(h[:, -1], r[:, -1])
        return mu, stop, kv

    def step(self, patch: torch.Tensor, kv: KV, position: torch.Tensor | None = None
             ) -> tuple[torch.Tensor, torch.Tensor, KV]:
        """Feed the patch just generated (B, P, D) at cache index L = cache length -> (mu, stop_logits, kv of L only).
        ``position`` (B,): its RoPE position, needed with ``audio_position_rate`` ((audio patches so far + 0.5) * r);
        default L."""
        past_base, past_res = self.split_kv(kv)
        e = self.embed_patches(patch[:, None])  # (B, 1, H)
        pos = None if position is None else position.to(torch.float32)[:, None]  # (B, 1)
        h, kv_base = self.base_lm(e, pos, past=past_base)
        h = self.fsq(h)
        r, kv_res = self.residual_lm(h + e, pos, past=past_res)
        mu, stop = self.heads(h[:, 0], r[:, 0])
        return mu, stop, kv_base + kv_res

    def step_buffer(self, patch: torch.Tensor, length: torch.Tensor, cache: tuple[torch.Tensor, ...],
                    position: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, KV]:
        """``step`` against fixed-size caches: ``cache`` one (2, B, Hkv, capacity, Dh) buffer per layer (TSLM layers,
        then RALM layers; ``KVCache.buffer``), the first ``length`` (int64 (1,)) slots holding positions
        0 .. length-1, the rest ignored. The patch goes to position ``length``. Same outputs as ``step(patch, kv)`` on
        those ``length`` positions; the caller writes the returned K/V to slot ``length`` (``KVCache.append``)."""
        n_base = len(self.base_lm.layers)
        e = self.embed_patches(patch[:, None])  # (B, 1, H)
        pos = None if position is None else position.to(torch.float32)[:, None]  # (B, 1), as ``step``
        h, kv_base = self.base_lm.forward_buffer(e, length, tuple(cache[:n_base]), pos)
        h = self.fsq(h)
        r, kv_res = self.residual_lm.forward_buffer(h + e, length, tuple(cache[n_base:]), pos)
        mu, stop = self.heads(h[:, 0], r[:, 0])
        return mu, stop, kv_base + kv_res

    def velocity(self, x: torch.Tensor, t: torch.Tensor, mu: torch.Tensor, cond: torch.Tensor,
                 dt: torch.Tensor | None = None) -> torch.Tensor:
        """LocDiT velocity: x (B, P, D) at time t (B,) given mu (B, H_dit) and the previous patch cond (B, P, D).
        CFG's unconditional branch is mu = 0 (same x, t, cond)."""
        return self.loc_dit(x, mu, t, cond, dt)

    # ---------------------------------------------------------------- reference driver

    @torch.no_grad()
    def sample_patch(self, mu: torch.Tensor, cond: torch.Tensor, noise: torch.Tensor, *, n_steps: int = 10,
                     cfg_value: float = 2.0, sway_coef: float = 1.0, flow_start: float = 1.0) -> torch.Tensor:
        """One patch (B, P, D) from noise (B, P, D): Euler from t = 1 to 0 on a sway grid, CFG-Zero* (zero velocity
        for the first max(1, int(0.04 * (n_steps + 1))) steps, then projected CFG), as VoxCPM's ``UnifiedCFM``.
        ``flow_start`` < 1 (a model with a prior head): from ``solvers.shallow_start(prior(mu), noise, flow_start)``
        on the same grid scaled into [flow_start, 0], without zero-velocity steps (the state is not pure noise);
        0: the prior itself, no solve."""
        if flow_start == 0:
            return self.prior(mu)
        from voxlite.kernels import solvers

        B = mu.shape[0]
        mu2 = torch.cat((mu, torch.zeros_like(mu)))
        cond2 = torch.cat((cond, cond))

        def fn(x: np.ndarray, t: float):
            xt = torch.from_numpy(x).to(mu.dtype)
            v = self.velocity(torch.cat((xt, xt)), torch.full((2 * B,), t, dtype=mu.dtype), mu2, cond2)
            return v[:B].numpy(), v[B:].numpy()

        ts = solvers.shallow_timesteps(n_steps, flow_start, schedule="sway", sway_coef=sway_coef)
        x0 = noise.detach().to(torch.float32).numpy()
        zero_init = max(1, int(len(ts) * 0.04))
        if flow_start < 1:
            x0 = solvers.shallow_start(self.prior(mu).to(torch.float32).numpy(), x0, flow_start)
            zero_init = 0
        x = solvers.integrate_flow(fn, x0, ts, cfg_scale=cfg_value, cfg_mode="zero_star", zero_init_steps=zero_init)
        return torch.from_numpy(x).to(mu.dtype)

    @torch.no_grad()
    def generate(self, text_tokens: torch.Tensor, text_mask: torch.Tensor, audio_feats: torch.Tensor,
                 audio_mask: torch.Tensor, *, max_len: int = 2000, min_len: int = 2, n_steps: int = 10,
                 cfg_value: float = 2.0, sway_coef: float = 1.0, noise: torch.Tensor | None = None,
                 generator: torch.Generator | None = None, stop: bool = True, flow_start: float = 1.0
                 ) -> torch.Tensor:
        """Generated patches (B, N, P, D), N <= max_len, as the official ``_inference`` (without its prompt-context
        patches). The first patch is conditioned on the last prompt patch ``audio_feats[:, -1]`` (zeros without a
        prompt). After patch i the stop head of the state that produced it is read: stop (batch item 0's argmax) when
        ``stop`` and i > min_len. ``noise`` (max_len, B, P, D): the initial states (else drawn from ``generator``).
        Latents for the WaveVAE: ``patches.flatten(1, 2).transpose(1, 2)`` (B, D, N * P).
        """
        B, _, P, D = audio_feats.shape
        mu, stop_logits, kv = self.prefill(text_tokens, text_mask, audio_feats, audio_mask)
        cond = audio_feats[:, -1]
        patches = []
        for i in range(max_len):
            z = noise[i] if noise is not None else torch.randn(B, P, D, generator=generator, dtype=audio_feats.dtype)
            patch = self.sample_patch(mu, cond, z, n_steps=n_steps, cfg_value=cfg_value, sway_coef=sway_coef,
                                      flow_start=flow_start)
            patches.append(patch)
            cond = patch
            if stop and i > min_len and int(stop_logits[0].argmax()) == 1:
                break
            if i + 1 < max_len:  # the official runs one more LM step after the last patch; nothing reads it
                position = None
                if self.config.audio_position_rate:
                    n_audio = audio_mask.to(torch.float32).sum(dim=1) + i  # audio patches before this one
                    position = (n_audio + 0.5) * self.config.audio_position_rate
                mu, stop_logits, new = self.step(patch, kv, position)
                kv = append_kv(kv, new)
        return torch.stack(patches, dim=1)
