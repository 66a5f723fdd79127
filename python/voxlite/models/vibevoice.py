"""VibeVoice: a Qwen2.5 decoder LM with a per-token diffusion head ("next-token diffusion") over the acoustic
sigma-VAE's 7.5 Hz latents, fed back through the semantic tokenizer (``models.vibevoice_tokenizer``).

    prompt ids (script, voice prompts as placeholder tokens) -> embeddings; placeholder i <- acoustic_connector(z_i)
        with z = (mean [+ sigma-VAE noise] + bias) * scale of the voice prompt's latents
    LM (shared ``blocks.transformer``: RMSNorm, GQA, RoPE, SwiGLU, q/k/v biases) -> h_t
    control logits: the LM head's rows of the four tokens the loop may emit (speech start / end, diffusion, eos);
        greedy (the official generation takes the argmax, sampling is not supported)
    on "diffusion": z_t = DPM-Solver++(2M) from noise, v-prediction, cosine schedule, 10 steps, CFG between h_t and
        an unconditional branch (the same LM run on [speech_start, the loop's own inputs ...], its own KV cache)
        audio_t = acoustic decoder (streaming) (z_t / scale - bias); s_t = semantic encoder (streaming) (audio_t)
        next input = acoustic_connector(z_t) + semantic_connector(s_t)
    on another control token: next input = its token embedding; eos ends the generation

Diffusion head (per latent, a stack of adaLN-modulated SwiGLU blocks):

    x = noisy_proj(x_t);  c = cond_proj(h) + t_mlp(sinusoid(t))
    per layer: shift, scale, gate = ada(silu(c));  x = x + gate * ffn(rmsnorm(x) * (1 + scale) + shift)
    final: shift, scale = ada(silu(c));  out = proj(rmsnorm_noaffine(x) * (1 + scale) + shift)   (the velocity)

The connectors are ``linear -> RMSNorm(1e-6) -> linear``. Weight names follow transformers 5.x
(``VibeVoiceForConditionalGeneration``); ``convert.vibevoice`` also reads Microsoft's ``vibevoice`` layout.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Callable, Iterator

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .blocks.qwen2 import Qwen2Config
from .blocks.transformer import KV, RMSNorm, Transformer, TransformerConfig, append_kv
from .vibevoice_tokenizer import VibeVoiceAcousticTokenizer, VibeVoiceSemanticTokenizer, VibeVoiceTokenizerConfig


@dataclass
class DiffusionHeadConfig:
    num_layers: int = 4
    ffn_dim: int = 4608  # the head's SwiGLU width (3x the LM width in the published models)
    rms_norm_eps: float = 1e-5
    frequency_embedding_size: int = 256
    max_period: float = 10000.0


@dataclass
class NoiseSchedule:
    """The diffusion head's sampler: diffusers ``DPMSolverMultistepScheduler`` (dpmsolver++, order 2, linspace
    timesteps, final sigma 0, lower-order final) over a cosine (``squaredcos_cap_v2``) schedule, v-prediction."""

    n_train: int = 1000
    beta_schedule: str = "squaredcos_cap_v2"
    prediction_type: str = "v_prediction"
    steps: int = 10


@dataclass
class VibeVoiceConfig:
    lm: Qwen2Config = field(default_factory=lambda: Qwen2Config(  # Qwen2.5-1.5B
        hidden_size=1536, intermediate_size=8960, num_hidden_layers=28, num_attention_heads=12,
        num_key_value_heads=2, tie_word_embeddings=True))
    head: DiffusionHeadConfig = field(default_factory=DiffusionHeadConfig)
    acoustic: VibeVoiceTokenizerConfig = field(default_factory=lambda: VibeVoiceTokenizerConfig.preset("acoustic"))
    semantic: VibeVoiceTokenizerConfig = field(default_factory=lambda: VibeVoiceTokenizerConfig.preset("semantic"))
    schedule: NoiseSchedule = field(default_factory=NoiseSchedule)
    # Qwen2 special tokens the processor reuses: <|vision_start|>, <|vision_end|>, <|vision_pad|>, <|endoftext|>
    speech_start_id: int = 151652
    speech_end_id: int = 151653
    speech_diffusion_id: int = 151654
    eos_id: int = 151643
    cfg_scale: float = 1.3  # the official demos' guidance

    @property
    def control_ids(self) -> tuple[int, int, int, int]:
        """The tokens the loop may emit, in the order of ``control_logits``' columns."""
        return (self.speech_start_id, self.speech_end_id, self.speech_diffusion_id, self.eos_id)

    @property
    def acoustic_dim(self) -> int:
        return self.acoustic.vae_dim

    @property
    def semantic_dim(self) -> int:
        return self.semantic.vae_dim

    def lm_transformer_config(self) -> TransformerConfig:
        return self.lm.transformer_config()

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "VibeVoiceConfig":
        d = dict(d)

        def tok(x):
            x = dict(x)
            for k in ("encoder_ratios", "encoder_depths", "decoder_ratios", "decoder_depths"):
                if x.get(k) is not None:
                    x[k] = tuple(x[k])
            return VibeVoiceTokenizerConfig(**x)

        return cls(lm=Qwen2Config(**d.pop("lm")), head=DiffusionHeadConfig(**d.pop("head")),
                   acoustic=tok(d.pop("acoustic")), semantic=tok(d.pop("semantic")),
                   schedule=NoiseSchedule(**d.pop("schedule")), **d)

    @classmethod
    def vibevoice_1_5b(cls) -> "VibeVoiceConfig":
        """The published VibeVoice-1.5B architecture (Qwen2.5-1.5B, 4-layer head, 64-d acoustic, 128-d semantic)."""
        return cls()

    @classmethod
    def tiny(cls) -> "VibeVoiceConfig":
        """Tests: every part small; ids inside a 300-token vocabulary."""
        ac = VibeVoiceTokenizerConfig.preset("tiny", vae_dim=8)
        se = VibeVoiceTokenizerConfig.preset("tiny", vae_dim=6, fix_std=0.0, std_dist_type="none")
        return cls(lm=Qwen2Config(hidden_size=32, intermediate_size=48, num_hidden_layers=2,
                                        num_attention_heads=4, num_key_value_heads=2, vocab_size=300,
                                        tie_word_embeddings=False),
                   head=DiffusionHeadConfig(num_layers=2, ffn_dim=40, frequency_embedding_size=16),
                   acoustic=ac, semantic=se, schedule=NoiseSchedule(steps=5),
                   speech_start_id=290, speech_end_id=291, speech_diffusion_id=292, eos_id=293)


class SpeechConnector(nn.Module):
    """linear -> RMSNorm -> linear: an acoustic latent or semantic feature frame -> one LM input embedding."""

    def __init__(self, in_dim: int, dim: int):
        super().__init__()
        self.linear_1 = nn.Linear(in_dim, dim)
        self.norm = RMSNorm(dim, 1e-6)
        self.linear_2 = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear_2(self.norm(self.linear_1(x)))


def timestep_embedding(t: torch.Tensor, dim: int, max_period: float) -> torch.Tensor:
    """(N,) -> (N, dim): [cos(t f), sin(t f)], f_i = max_period^(-i / (dim/2)) (the official order: cos first)."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32) / half)
    args = t.to(torch.float32)[:, None] * freqs[None]
    return torch.cat((torch.cos(args), torch.sin(args)), dim=-1)


class _SwiGLU(nn.Module):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.gate_proj = nn.Linear(dim, hidden, bias=False)
        self.up_proj = nn.Linear(dim, hidden, bias=False)
        self.down_proj = nn.Linear(hidden, dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class HeadLayer(nn.Module):
    """x + gate * ffn(rmsnorm(x) * (1 + scale) + shift), (shift, scale, gate) from the condition."""

    def __init__(self, dim: int, ffn_dim: int, eps: float):
        super().__init__()
        self.ffn = _SwiGLU(dim, ffn_dim)
        self.norm = RMSNorm(dim, eps)
        self.modulation = nn.Linear(dim, 3 * dim, bias=False)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        shift, scale, gate = self.modulation(F.silu(c)).chunk(3, dim=-1)
        return x + gate * self.ffn(self.norm(x) * (1 + scale) + shift)


class DiffusionHead(nn.Module):
    """(x_t (N, D), t (N,), h (N, H)) -> model output (N, D) (v-prediction)."""

    def __init__(self, dim: int, latent_dim: int, cfg: DiffusionHeadConfig):
        super().__init__()
        self.cfg = cfg
        ffn = cfg.ffn_dim
        self.noisy_proj = nn.Linear(latent_dim, dim, bias=False)
        self.cond_proj = nn.Linear(dim, dim, bias=False)
        self.t_fc1 = nn.Linear(cfg.frequency_embedding_size, dim, bias=False)
        self.t_fc2 = nn.Linear(dim, dim, bias=False)
        self.layers = nn.ModuleList(HeadLayer(dim, ffn, cfg.rms_norm_eps) for _ in range(cfg.num_layers))
        self.final_modulation = nn.Linear(dim, 2 * dim, bias=False)
        self.final_proj = nn.Linear(dim, latent_dim, bias=False)

    def forward(self, x: torch.Tensor, t: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        temb = timestep_embedding(t, self.cfg.frequency_embedding_size, self.cfg.max_period)
        c = self.cond_proj(h) + self.t_fc2(F.silu(self.t_fc1(temb)))
        y = self.noisy_proj(x)
        for layer in self.layers:
            y = layer(y, c)
        shift, scale = self.final_modulation(F.silu(c)).chunk(2, dim=-1)
        y = y * torch.rsqrt(y.pow(2).mean(-1, keepdim=True) + self.cfg.rms_norm_eps)  # no gain (ONNX has no rms_norm)
        y = y * (1 + scale) + shift
        return self.final_proj(y)


@dataclass
class GeneratedStep:
    """One step of ``VibeVoice.generate``: the control token it chose and, for a diffusion token, the latent (the LM's
    scale, (1, D)), the audio it decoded to (1, 1, hop) and the semantic features of that audio (1, D_sem)."""

    token: int
    latent: torch.Tensor | None = None
    audio: torch.Tensor | None = None
    semantic: torch.Tensor | None = None


NoiseFn = Callable[[int, tuple[int, ...]], torch.Tensor]  # (latent index, shape) -> the solve's initial noise


class VibeVoice(nn.Module):
    def __init__(self, config: VibeVoiceConfig):
        super().__init__()
        self.config = config
        c = config
        self.lm = Transformer(c.lm_transformer_config())
        dim = c.lm.hidden_size
        self.lm_head = None if c.lm.tie_word_embeddings else nn.Linear(dim, c.lm.vocab_size, bias=False)
        self.acoustic_connector = SpeechConnector(c.acoustic_dim, dim)
        self.semantic_connector = SpeechConnector(c.semantic_dim, dim)
        self.head = DiffusionHead(dim, c.acoustic_dim, c.head)
        self.acoustic = VibeVoiceAcousticTokenizer(c.acoustic)
        self.semantic = VibeVoiceSemanticTokenizer(c.semantic)
        # the LM's latent scale: z_lm = (z_vae + bias) * scale (checkpoint values; 1 / 0 before training)
        self.register_buffer("latent_scale", torch.tensor(1.0))
        self.register_buffer("latent_bias", torch.tensor(0.0))

    # -- pieces ---------------------------------------------------------------------------------------------------
    def head_weight(self) -> torch.Tensor:
        return self.lm.embed_tokens.weight if self.lm_head is None else self.lm_head.weight

    def control_logits(self, h: torch.Tensor) -> torch.Tensor:
        """(..., H) -> (..., 4): the LM head's logits of ``config.control_ids`` (the only tokens the loop allows)."""
        rows = self.head_weight()[list(self.config.control_ids)]
        return h @ rows.t()

    def to_lm_latent(self, z_vae: torch.Tensor) -> torch.Tensor:
        return (z_vae + self.latent_bias) * self.latent_scale

    def to_vae_latent(self, z_lm: torch.Tensor) -> torch.Tensor:
        return z_lm / self.latent_scale - self.latent_bias

    def prompt_embeds(self, input_ids: torch.Tensor, speech_latents: torch.Tensor | None,
                      speech_mask: torch.Tensor | None) -> torch.Tensor:
        """input_ids (B, T); speech_latents (B, T, D) LM-scale latents read at positions where speech_mask (B, T) is
        true (the voice prompts' placeholder tokens) -> (B, T, H)."""
        e = self.lm.embed(input_ids)
        if speech_latents is None:
            return e
        return torch.where(speech_mask[..., None].bool(), self.acoustic_connector(speech_latents), e)

    def feedback(self, latent: torch.Tensor, semantic: torch.Tensor) -> torch.Tensor:
        """The next LM input after a diffusion step: (B, D) LM-scale latent, (B, D_sem) -> (B, H)."""
        return self.acoustic_connector(latent) + self.semantic_connector(semantic)

    def lm_forward(self, embeds: torch.Tensor, past: KV | None = None) -> tuple[torch.Tensor, torch.Tensor, KV]:
        """(B, T, H) -> last hidden state (B, H), its control logits (B, 4), the new positions' K/V."""
        h, present = self.lm(embeds, past=past)
        last = h[:, -1]
        return last, self.control_logits(last), present

    def lm_forward_buffer(self, embeds: torch.Tensor, length: torch.Tensor, cache: tuple[torch.Tensor, ...]
                          ) -> tuple[torch.Tensor, torch.Tensor, KV]:
        """``lm_forward`` with the past in fixed-size buffers (``Transformer.forward_buffer``)."""
        h, present = self.lm.forward_buffer(embeds, length, cache)
        last = h[:, -1]
        return last, self.control_logits(last), present

    def guided_velocity(self, x: torch.Tensor, t: torch.Tensor, cond: torch.Tensor, uncond: torch.Tensor,
                        cfg_scale: float) -> torch.Tensor:
        """CFG over one batched head call: rows [cond; uncond]."""
        out = self.head(torch.cat((x, x)), torch.cat((t, t)), torch.cat((cond, uncond)))
        c, u = out.chunk(2)
        return u + cfg_scale * (c - u)

    def sample_latent(self, cond: torch.Tensor, uncond: torch.Tensor, noise: torch.Tensor, *,
                      cfg_scale: float, steps: int) -> torch.Tensor:
        """DPM-Solver++(2M) with the native solver kernels from ``noise`` (B, D) -> LM-scale latent (B, D)."""
        from voxlite.kernels import solvers

        s = self.config.schedule
        abar = solvers.alphas_cumprod(solvers.betas(s.n_train, schedule=s.beta_schedule))
        ts = solvers.diffusion_timesteps(s.n_train, steps, "linspace", variant="dpmsolver")

        def model_fn(x: np.ndarray, t: int) -> np.ndarray:
            xt = torch.from_numpy(x)
            tt = torch.full((x.shape[0],), float(t))
            return self.guided_velocity(xt, tt, cond, uncond, cfg_scale).numpy()

        x = solvers.sample_dpmpp_2m(model_fn, noise.numpy(), ts, abar, prediction_type=s.prediction_type)
        return torch.from_numpy(x)

    # -- generation -----------------------------------------------------------------------------------------------
    @torch.no_grad()
    def generate(self, input_ids: torch.Tensor, speech_latents: torch.Tensor | None = None,
                 speech_mask: torch.Tensor | None = None, *, noise: NoiseFn, cfg_scale: float | None = None,
                 steps: int | None = None, max_new_tokens: int = 100,
                 reset_decoders_at_speech_end: bool = True) -> Iterator[GeneratedStep]:
        """Greedy generation for one script (B = 1), yielding each step as it is made. ``noise(i, (1, D))``: the
        initial noise of the i-th latent. Ends at eos or after ``max_new_tokens`` steps.

        The unconditional branch is the LM on [speech_start, the inputs the conditional branch read since its
        prompt, at the steps that made latents ...]: it steps only when a latent is made (with the input the
        conditional branch read at that step), and starts again from speech_start when the LM emits speech_start.
        At speech_end the streaming decoders (acoustic and semantic) start again from zero states, as Microsoft's
        package does (``reset_decoders_at_speech_end=False``: transformers' port, which keeps them)."""
        c = self.config
        cfg_scale = c.cfg_scale if cfg_scale is None else cfg_scale
        steps = c.schedule.steps if steps is None else steps
        start = self.lm.embed(torch.tensor([[c.speech_start_id]]))
        h, logits, kv = self.lm_forward(self.prompt_embeds(input_ids, speech_latents, speech_mask))
        neg_kv: KV | None = None
        neg_input = start
        ac_state = self.acoustic.initial_state(1)
        se_state = self.semantic.encoder_initial_state(1)
        n_latents = 0
        for _ in range(max_new_tokens):
            token = c.control_ids[int(logits[0].argmax())]
            if token == c.speech_start_id:
                neg_kv, neg_input = None, start
            if token == c.speech_end_id and reset_decoders_at_speech_end:
                ac_state = self.acoustic.initial_state(1)
                se_state = self.semantic.encoder_initial_state(1)
            if token == c.speech_diffusion_id:
                neg_h, _, neg_new = self.lm_forward(neg_input, neg_kv)
                neg_kv = append_kv(neg_kv, neg_new)
                z = self.sample_latent(h, neg_h, noise(n_latents, (1, c.acoustic_dim)), cfg_scale=cfg_scale,
                                       steps=steps)
                n_latents += 1
                audio, ac_state = self.acoustic.stream(self.to_vae_latent(z)[:, :, None], ac_state)
                sem, se_state = self.semantic.encode_stream(audio, se_state)
                sem = sem[:, :, -1]
                nxt = self.feedback(z, sem)[:, None]
                yield GeneratedStep(token, z, audio, sem)
            else:
                nxt = self.lm.embed(torch.tensor([[token]]))
                yield GeneratedStep(token)
            if token == c.eos_id:
                return
            h, logits, new = self.lm_forward(nxt, kv)
            kv = append_kv(kv, new)
            neg_input = nxt
