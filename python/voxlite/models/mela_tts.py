"""MELA-TTS: a codec-free autoregressive TTS that generates 80-bin log-mel (50 Hz) directly, chunk by chunk.

Built from the paper's description (there is no official code); what it leaves open is chosen here and marked
"ours". One LM step is one chunk of ``chunk_size`` = 8 mel frames (6.25 Hz):

    [speaker, utterance, text tokens ..., TOS] --(Qwen2 LM, causal, KV cache)--> h at every position
    mu = lm_to_dit(h)                      (the chunk condition)      stop = stop_head(h)  (one logit, binary)
    chunk = Euler solve (t: 1 -> 0, uniform, 10 steps) of the local DiT velocity v(x, t | mu, previous chunk),
            CFG with the unconditional half at mu = 0
    next LM input: downsample(chunk) (a Conv1d stack: 8 frames x 80 bins -> one LM vector)

Pieces:

- LM: the shared ``blocks.transformer.Transformer`` as Qwen2 (RMSNorm, SwiGLU, GQA, RoPE theta 1e6, q/k/v biases).
  The turn-of-speech token (``tos_token``) is a row of the text embedding table (Qwen2's vocabulary has unused
  rows past its tokenizer's ids); no LM head (no text is predicted).
- Conditions (ours: both as the two leading LM positions, before the text): a pretrained speaker embedding
  (``speaker_dim``, given by the caller, e.g. a 192-d ECAPA vector) through a Linear, and a learnable utterance
  embedding: a bidirectional transformer over the prompt mel, mean-pooled over valid frames, then a Linear
  (training: a random segment of the prompt, ``random_segment``). Leading positions rather than an adaptive norm
  keep the LM a plain Qwen2 and put the conditions in the KV cache once. A missing speaker embedding or prompt is a
  zero vector (what training's condition dropout teaches the model).
- Local DiT: VoxCPM's ``PrefixDiT`` as it is, at feature size ``n_mels`` and patch ``chunk_size``: tokens
  [mu + temb, previous chunk (8), x (8)], i.e. the paper's 8 + 8 = 16 frames plus the condition token; velocity
  convention (x, t, mu, cond) and t from 1 (noise) to 0 (data) as VoxCPM: x_t = (1 - t) x + t z, v = z - x.
- Stop: label 1 on the LM output that predicts the last chunk (as VoxCPM's stop head: generation stops after
  emitting the chunk that output produced, with no LM step after it), 0 on outputs that predict earlier chunks.
- Sequences (``interleave``): offline, all text then TOS then the chunks. Streaming (CosyVoice 2's layout at chunk
  rate): N text tokens, M chunks, N text tokens, ..., the last text tokens then TOS then the remaining chunks.
  Outputs whose next input is not a chunk (text positions, and "filling" positions: the last chunk of a group,
  followed by text) have no target and are excluded from the losses; at inference the runtime feeds the next text
  group after every M chunks, so the filling decision is the schedule's, not the model's. Defaults (ours):
  N:M = 5:4, i.e. 0.64 s of speech per 5 text tokens, CosyVoice 2's 0.6 s per 5 tokens (5:15 at 25 Hz) at
  6.25 Hz, so text stays ahead of speech. One model serves both modes (``training_losses`` takes the mode per item).
- Representation alignment (training only): the LM outputs that predict chunks, upsampled 6.25 -> 25 Hz by a time
  alignment module (transposed conv, stride 4, then a conv) and projected to the ASR width, pulled toward a frozen
  ASR encoder's 25 Hz features with 1 - cosine (``repa_loss``).

Exported graphs (``export.mela_tts``): ``utterance`` (prompt mel -> utterance embedding), ``prefill``
(speaker, utterance, first text tokens -> mu, stop, K/V), ``text`` (more text tokens on fixed-size KV buffers,
streaming), ``step`` (a chunk on the buffers), ``locdit`` (CFG halves batched). ``generate`` is the reference driver
the pipeline is held to, with noise ``kernels.noise.standard_normal(seed, chunk_index, (1, P, n_mels))``.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .blocks.dit import PrefixDiT
from ..pipelines.mela_tts import text_groups  # torch-free: the runtime's schedule is the reference's
from .blocks.qwen2 import Qwen2Config as LMConfig  # the LM: Qwen2 (transformers' Qwen2Config names)
from .blocks.transformer import KV, Transformer, TransformerConfig, append_kv

__all__ = ["LMConfig", "StackConfig", "MelaTTSConfig", "MelaTTS", "Layout", "interleave", "text_groups",
           "MelDownsampler", "UtteranceEncoder", "TimeAlignment", "random_segment", "TEXT", "TOS", "SPEECH"]

TEXT, TOS, SPEECH = 0, 1, 2  # kinds of sequence positions after the two condition positions
N_COND = 2  # leading condition positions: speaker, utterance


@dataclass
class StackConfig:
    """A small bidirectional transformer (the local DiT, the utterance encoder)."""
    dim: int
    ffn_dim: int
    n_layers: int
    n_heads: int
    n_kv_heads: int
    head_dim: int | None = None


@dataclass
class MelaTTSConfig:
    lm: LMConfig = field(default_factory=LMConfig)
    # ours (not in the description): DiT and utterance-encoder sizes, downsampler width, ASR width
    dit: StackConfig = field(default_factory=lambda: StackConfig(768, 3072, 6, 12, 12))
    utterance: StackConfig = field(default_factory=lambda: StackConfig(512, 2048, 4, 8, 8))
    n_mels: int = 80
    chunk_size: int = 8  # mel frames per LM step: 50 Hz / 8 = 6.25 Hz
    mel_rate: float = 50.0
    downsample_channels: int = 512
    speaker_dim: int = 192
    tos_token: int = 151935  # turn of speech: an unused row of Qwen2's embedding table (ours)
    max_positions: int = 4096  # KV cache positions (conditions + text + TOS + chunks)
    text_per_group: int = 5  # streaming N:M (ours, see the module docstring)
    chunks_per_group: int = 4
    asr_dim: int = 512  # the frozen ASR encoder's feature width (training only)
    asr_rate: float = 25.0
    align_dim: int = 512
    utterance_segment: tuple[int, int] = (100, 300)  # training: prompt segment length range in frames (2-6 s)
    cfg_dropout: float = 0.1  # training: P(mu = 0) for CFG's unconditional branch
    condition_dropout: float = 0.1  # training: P(speaker / utterance embedding = 0), each on its own
    stop_weight: float = 1.0
    repa_weight: float = 1.0

    def __post_init__(self):
        if isinstance(self.lm, dict):
            self.lm = LMConfig(**self.lm)
        for name in ("dit", "utterance"):
            if isinstance(getattr(self, name), dict):
                setattr(self, name, StackConfig(**getattr(self, name)))
        self.utterance_segment = tuple(int(v) for v in self.utterance_segment)
        if not 0 <= self.tos_token < self.lm.vocab_size:
            raise ValueError(f"tos_token {self.tos_token} is outside the vocabulary ({self.lm.vocab_size})")
        if self.chunk_size < 1 or self.text_per_group < 1 or self.chunks_per_group < 1:
            raise ValueError("chunk_size, text_per_group and chunks_per_group must be positive")
        factor = self.chunk_size * self.asr_rate / self.mel_rate
        if abs(factor - round(factor)) > 1e-9 or round(factor) < 1:
            raise ValueError(f"ASR frames per chunk must be a whole number, got {factor} "
                             f"({self.chunk_size} frames at {self.mel_rate} Hz, ASR at {self.asr_rate} Hz)")

    @property
    def align_factor(self) -> int:
        """ASR frames per chunk: 8 frames at 50 Hz = 0.16 s = 4 frames at 25 Hz."""
        return int(round(self.chunk_size * self.asr_rate / self.mel_rate))

    def to_dict(self) -> dict:
        d = asdict(self)
        d["utterance_segment"] = list(d["utterance_segment"])
        return d

    @classmethod
    def from_dict(cls, data: dict) -> "MelaTTSConfig":
        data = dict(data)
        return cls(lm=LMConfig(**data.pop("lm")), dit=StackConfig(**data.pop("dit")),
                   utterance=StackConfig(**data.pop("utterance")), **data)

    @classmethod
    def qwen2_0_5b(cls) -> "MelaTTSConfig":
        """Qwen2-0.5B LM (896 wide, 24 layers, 14 heads / 2 KV heads, FFN 4864, vocab 151936, theta 1e6, eps 1e-6,
        q/k/v biases); the other sizes are ours."""
        return cls()

    @classmethod
    def tiny(cls) -> "MelaTTSConfig":
        """Test size with nothing trivial: 2 KV heads for 4 query heads, head_dim != width / heads in the DiT, real
        mel geometry (80 bins, chunk 8), a 3:2 streaming ratio so short texts cross group boundaries."""
        lm = LMConfig(hidden_size=48, intermediate_size=70, num_hidden_layers=3, num_attention_heads=4,
                      num_key_value_heads=2, vocab_size=128, rope_theta=1e4, rms_norm_eps=1e-6)
        return cls(lm=lm, dit=StackConfig(44, 53, 2, 4, 2, head_dim=12),
                   utterance=StackConfig(30, 41, 2, 2, 1, head_dim=10), downsample_channels=32, speaker_dim=16,
                   tos_token=127, max_positions=96, text_per_group=3, chunks_per_group=2, asr_dim=24, align_dim=20,
                   utterance_segment=(10, 30))

    # ---------------------------------------------------------------- transformer stacks

    def lm_transformer_config(self) -> TransformerConfig:
        return self.lm.transformer_config()

    def _local(self, c: StackConfig) -> TransformerConfig:
        return TransformerConfig(dim=c.dim, ffn_dim=c.ffn_dim, n_layers=c.n_layers, n_heads=c.n_heads,
                                 n_kv_heads=c.n_kv_heads, head_dim=c.head_dim, norm_eps=self.lm.rms_norm_eps,
                                 causal=False, rope_theta=10000.0)

    def dit_transformer_config(self) -> TransformerConfig:
        return self._local(self.dit)

    def utterance_transformer_config(self) -> TransformerConfig:
        return self._local(self.utterance)


# ---------------------------------------------------------------- sequence layouts


@dataclass
class Layout:
    """One item's sequence after the condition positions: ``kinds[p]`` (TEXT / TOS / SPEECH), ``index[p]`` (text
    token or chunk index; -1 for TOS), ``target[p]`` (the chunk the output at p predicts, -1: none) and ``stop[p]``
    (stop label of that output: 1 last chunk, 0 earlier chunk, -1 excluded)."""
    kinds: list[int]
    index: list[int]
    target: list[int]
    stop: list[int]

    @property
    def filling(self) -> list[int]:
        """Positions of filling outputs: a chunk followed by text (no target; excluded from the losses)."""
        return [p for p, k in enumerate(self.kinds) if k == SPEECH and p + 1 < len(self.kinds)
                and self.kinds[p + 1] == TEXT]


def interleave(n_text: int, n_chunks: int, text_per_group: int | None = None,
               chunks_per_group: int | None = None) -> Layout:
    """Offline (``text_per_group`` None): text, TOS, chunks. Streaming: N text, M chunks, ..., last text, TOS, the
    remaining chunks (a text shorter than N is one group: the offline layout)."""
    if (text_per_group is None) != (chunks_per_group is None):
        raise ValueError("give both text_per_group and chunks_per_group (streaming) or neither (offline)")
    kinds, index = [], []
    c = 0
    groups = text_groups(n_text, text_per_group)
    for g, (s, e) in enumerate(groups):
        kinds += [TEXT] * (e - s)
        index += list(range(s, e))
        if g + 1 < len(groups):
            take = min(chunks_per_group, n_chunks - c)
            kinds += [SPEECH] * take
            index += list(range(c, c + take))
            c += take
    kinds.append(TOS)
    index.append(-1)
    kinds += [SPEECH] * (n_chunks - c)
    index += list(range(c, n_chunks))
    target = [index[p + 1] if p + 1 < len(kinds) and kinds[p + 1] == SPEECH else -1 for p in range(len(kinds))]
    stop = [-1 if t < 0 else int(t == n_chunks - 1) for t in target]
    return Layout(kinds, index, target, stop)


def random_segment(mel: torch.Tensor, min_frames: int, max_frames: int, generator: torch.Generator | None = None
                   ) -> torch.Tensor:
    """A random contiguous segment (L, n_mels) of ``mel`` (T, n_mels), min_frames <= L <= max_frames (capped by T):
    the utterance encoder sees a different part of the prompt every time, so it learns the voice, not the words."""
    T = mel.shape[0]
    hi = max(1, min(max_frames, T))
    lo = max(1, min(min_frames, hi))
    length = int(torch.randint(lo, hi + 1, (1,), generator=generator))
    start = int(torch.randint(0, T - length + 1, (1,), generator=generator))
    return mel[start:start + length]


# ---------------------------------------------------------------- modules


class MelDownsampler(nn.Module):
    """Chunks (N, P, n_mels) -> LM vectors (N, out_dim): stride-2 convs (k 3) while the length is even and > 2, then
    one conv over what is left (8 -> 4 -> 2 -> 1). Chunk-local: the step sees only its own chunk."""

    def __init__(self, n_mels: int, chunk_size: int, channels: int, out_dim: int):
        super().__init__()
        convs, length, c_in = [], chunk_size, n_mels
        while length > 2 and length % 2 == 0:
            convs.append(nn.Conv1d(c_in, channels, 3, stride=2, padding=1))
            c_in, length = channels, length // 2
        self.convs = nn.ModuleList(convs)
        self.out = nn.Conv1d(c_in, out_dim, kernel_size=length)

    def forward(self, chunks: torch.Tensor) -> torch.Tensor:
        x = chunks.transpose(1, 2)  # (N, n_mels, P)
        for conv in self.convs:
            x = F.silu(conv(x))
        return self.out(x)[..., 0]


class UtteranceEncoder(nn.Module):
    """Prompt mel (B, F, n_mels) [+ valid-frame mask (B, F)] -> utterance embedding (B, out_dim): a bidirectional
    transformer, mean pooling over the valid frames, a Linear to the LM width."""

    def __init__(self, n_mels: int, cfg: TransformerConfig, out_dim: int):
        super().__init__()
        self.in_proj = nn.Linear(n_mels, cfg.dim)
        self.encoder = Transformer(cfg)
        self.out_proj = nn.Linear(cfg.dim, out_dim)

    def forward(self, mel: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        if mask is None:
            h, _ = self.encoder(self.in_proj(mel))
            return self.out_proj(h.mean(dim=1))
        valid = mask.to(torch.bool)
        h, _ = self.encoder(self.in_proj(mel), mask=valid[:, None, None, :])
        w = valid.to(h.dtype)[..., None]
        return self.out_proj((h * w).sum(dim=1) / w.sum(dim=1).clamp(min=1.0))


class TimeAlignment(nn.Module):
    """LM outputs at chunk rate (B, K, H) -> (B, K * factor, asr_dim): a transposed conv (kernel = stride = factor)
    spreads each chunk over its ASR frames, a kernel-3 conv smooths across chunk borders, a Linear projects."""

    def __init__(self, lm_dim: int, dim: int, factor: int, asr_dim: int):
        super().__init__()
        self.up = nn.ConvTranspose1d(lm_dim, dim, kernel_size=factor, stride=factor)
        self.conv = nn.Conv1d(dim, dim, 3, padding=1)
        self.proj = nn.Linear(dim, asr_dim)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        x = F.silu(self.up(h.transpose(1, 2)))
        x = F.silu(self.conv(x))
        return self.proj(x.transpose(1, 2))


class MelaTTS(nn.Module):
    def __init__(self, config: MelaTTSConfig):
        super().__init__()
        self.config = c = config
        H = c.lm.hidden_size
        self.lm = Transformer(c.lm_transformer_config())
        self.downsample = MelDownsampler(c.n_mels, c.chunk_size, c.downsample_channels, H)
        self.speaker_proj = nn.Linear(c.speaker_dim, H)
        self.utterance_encoder = UtteranceEncoder(c.n_mels, c.utterance_transformer_config(), H)
        self.lm_to_dit = nn.Linear(H, c.dit.dim)
        self.stop_head = nn.Linear(H, 1)
        self.loc_dit = PrefixDiT(c.n_mels, c.dit_transformer_config())
        self.align = TimeAlignment(H, c.align_dim, c.align_factor, c.asr_dim)  # training only, not exported

    # ---------------------------------------------------------------- pieces

    def heads(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """LM outputs (..., H) -> DiT condition mu (..., H_dit) and stop logit (..., 1)."""
        return self.lm_to_dit(h), self.stop_head(h)

    def utterance(self, prompt_mel: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Prompt mel (B, F, n_mels) -> utterance embedding (B, H)."""
        return self.utterance_encoder(prompt_mel, mask)

    def conditions(self, speaker: torch.Tensor, utterance: torch.Tensor) -> torch.Tensor:
        """speaker (B, speaker_dim), utterance (B, H) -> the two leading LM inputs (B, 2, H)."""
        return torch.stack((self.speaker_proj(speaker), utterance), dim=1)

    # ---------------------------------------------------------------- the exported graphs

    def prefill(self, speaker: torch.Tensor, utterance: torch.Tensor, text_tokens: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor, KV]:
        """[speaker, utterance, text_tokens (B, T) (ending with TOS when all text is in)] -> mu (B, H_dit),
        stop_logit (B, 1) of the last position, K/V of all 2 + T positions."""
        x = torch.cat((self.conditions(speaker, utterance), self.lm.embed(text_tokens)), dim=1)
        h, kv = self.lm(x)
        mu, stop = self.heads(h[:, -1])
        return mu, stop, kv

    def feed_text(self, text_tokens: torch.Tensor, kv: KV) -> tuple[torch.Tensor, torch.Tensor, KV]:
        """Streaming: the next text group (B, T) after the cache -> (mu, stop of its last position, K/V of the T)."""
        h, new = self.lm(self.lm.embed(text_tokens), past=kv)
        mu, stop = self.heads(h[:, -1])
        return mu, stop, new

    def feed_text_buffer(self, text_tokens: torch.Tensor, length: torch.Tensor, cache: tuple[torch.Tensor, ...]
                         ) -> tuple[torch.Tensor, torch.Tensor, KV]:
        """``feed_text`` on fixed-size buffers (one (2, B, Hkv, capacity, Dh) per layer, the first ``length`` slots
        filled; ``Transformer.forward_buffer``)."""
        h, new = self.lm.forward_buffer(self.lm.embed(text_tokens), length, tuple(cache))
        mu, stop = self.heads(h[:, -1])
        return mu, stop, new

    def step(self, chunk: torch.Tensor, kv: KV) -> tuple[torch.Tensor, torch.Tensor, KV]:
        """The chunk just generated (B, P, n_mels) at position L = cache length -> (mu, stop, K/V of L)."""
        h, new = self.lm(self.downsample(chunk)[:, None], past=kv)
        mu, stop = self.heads(h[:, 0])
        return mu, stop, new

    def step_buffer(self, chunk: torch.Tensor, length: torch.Tensor, cache: tuple[torch.Tensor, ...]
                    ) -> tuple[torch.Tensor, torch.Tensor, KV]:
        """``step`` on fixed-size buffers (the exported step; VoxCPM's contract)."""
        h, new = self.lm.forward_buffer(self.downsample(chunk)[:, None], length, tuple(cache))
        mu, stop = self.heads(h[:, 0])
        return mu, stop, new

    def velocity(self, x: torch.Tensor, t: torch.Tensor, mu: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """Local DiT velocity: x (B, P, n_mels) at t (B,) given mu (B, H_dit) and the previous chunk (B, P, n_mels).
        CFG's unconditional branch is mu = 0."""
        return self.loc_dit(x, mu, t, cond)

    # ---------------------------------------------------------------- reference driver

    @torch.no_grad()
    def sample_chunk(self, mu: torch.Tensor, cond: torch.Tensor, noise: torch.Tensor, *, n_steps: int = 10,
                     cfg: float = 2.0) -> torch.Tensor:
        """One chunk (B, P, n_mels) from noise: Euler, t from 1 to 0 on a uniform grid, standard CFG with both halves
        batched (``voxlite.kernels.solvers.integrate_flow``, as the pipeline)."""
        from voxlite.kernels import solvers

        B = mu.shape[0]
        mu2 = torch.cat((mu, torch.zeros_like(mu)))
        cond2 = torch.cat((cond, cond))

        def fn(x: np.ndarray, t: float):
            xt = torch.from_numpy(x)
            v = self.velocity(torch.cat((xt, xt)), torch.full((2 * B,), t), mu2, cond2)
            return v[:B].numpy(), v[B:].numpy()

        ts = solvers.fm_timesteps(n_steps, schedule="uniform")
        x = solvers.integrate_flow(fn, noise.to(torch.float32).numpy(), ts, cfg_scale=cfg)
        return torch.from_numpy(x)

    @torch.no_grad()
    def generate(self, text_tokens: Sequence[int], speaker: torch.Tensor | None = None,
                 prompt_mel: torch.Tensor | None = None, *, seed: int = 0, max_chunks: int = 200,
                 min_chunks: int = 2, n_steps: int = 10, cfg: float = 2.0, streaming: bool = False,
                 text_per_group: int | None = None, chunks_per_group: int | None = None) -> Iterator[torch.Tensor]:
        """Yield chunks (1, P, n_mels) of one item. ``speaker`` (speaker_dim,) or (1, speaker_dim), None: zeros;
        ``prompt_mel`` (F, n_mels) or (1, F, n_mels), None: a zero utterance embedding. ``streaming``: the
        interleaved layout (N:M from the config unless given), else offline. Chunk i starts from
        ``standard_normal(seed, i, (1, P, n_mels))``. Stops after chunk i when the text has all been read (TOS fed),
        i + 1 >= min_chunks and the stop logit of the state that produced chunk i is > 0 (P(stop) > 0.5)."""
        from voxlite.kernels.noise import standard_normal

        c = self.config
        P, M = c.chunk_size, c.n_mels
        text = [int(t) for t in text_tokens]
        n_group = (text_per_group or c.text_per_group) if streaming else None
        per_group = (chunks_per_group or c.chunks_per_group) if streaming else None
        groups = text_groups(len(text), n_group)
        speaker = torch.zeros(1, c.speaker_dim) if speaker is None else speaker.reshape(1, -1).to(torch.float32)
        utterance = (torch.zeros(1, c.lm.hidden_size) if prompt_mel is None
                     else self.utterance(prompt_mel.reshape(1, -1, M).to(torch.float32)))

        def tokens(g: int) -> torch.Tensor:
            s, e = groups[g]
            return torch.tensor([text[s:e] + ([c.tos_token] if g + 1 == len(groups) else [])], dtype=torch.int64)

        g = 0
        mu, stop, kv = self.prefill(speaker, utterance, tokens(0))
        cond = torch.zeros(1, P, M)
        in_group = 0
        for i in range(max_chunks):
            z = torch.from_numpy(standard_normal(seed, i, (1, P, M)))
            chunk = self.sample_chunk(mu, cond, z, n_steps=n_steps, cfg=cfg)
            yield chunk
            text_done = g + 1 == len(groups)
            if (text_done and i + 1 >= min_chunks and float(stop[0, 0]) > 0) or i + 1 == max_chunks:
                return
            mu, stop, new = self.step(chunk, kv)
            kv = append_kv(kv, new)
            cond = chunk
            in_group += 1
            if not text_done and in_group == per_group:  # the filling output: read the next text group instead
                g += 1
                mu, stop, new = self.feed_text(tokens(g), kv)
                kv = append_kv(kv, new)
                in_group = 0

    # ---------------------------------------------------------------- training

    def cfm_loss(self, mu: torch.Tensor, target: torch.Tensor, cond: torch.Tensor, t: torch.Tensor,
                 noise: torch.Tensor, frame_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Conditional flow matching on chunks: mu (N, H_dit), target / cond / noise (N, P, n_mels), t (N,) in [0, 1],
        frame_mask (N, P) (1 on real frames). x_t = (1 - t) target + t noise; the DiT regresses v = noise - target
        (the direction the Euler solve from t = 1 to 0 integrates). Mean squared error over valid frames."""
        tt = t[:, None, None]
        x_t = (1 - tt) * target + tt * noise
        err = (self.velocity(x_t, t, mu, cond) - (noise - target)).square().mean(dim=-1)  # (N, P)
        if frame_mask is None:
            return err.mean()
        return (err * frame_mask).sum() / frame_mask.sum().clamp(min=1.0)

    def repa_loss(self, lm_hidden: torch.Tensor, asr_features: torch.Tensor, chunk_mask: torch.Tensor | None = None,
                  asr_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Representation alignment: lm_hidden (B, K, H) (the LM outputs that predict chunks 0..K-1, in order) ->
        time alignment (K * factor frames at 25 Hz) -> 1 - cos against the frozen ASR features (B, A, asr_dim),
        averaged over frames valid in both (chunk_mask (B, K), asr_mask (B, A); the shorter length wins)."""
        pred = self.align(lm_hidden)  # (B, K * f, asr_dim)
        n = min(pred.shape[1], asr_features.shape[1])
        pred, feats = pred[:, :n], asr_features[:, :n].to(pred.dtype)
        valid = torch.ones(pred.shape[:2], dtype=pred.dtype)
        if chunk_mask is not None:
            valid = valid * chunk_mask.to(pred.dtype).repeat_interleave(self.config.align_factor, dim=1)[:, :n]
        if asr_mask is not None:
            valid = valid * asr_mask.to(pred.dtype)[:, :n]
        loss = 1 - F.cosine_similarity(pred, feats, dim=-1, eps=1e-8)
        return (loss * valid).sum() / valid.sum().clamp(min=1.0)

    def training_losses(self, speaker: torch.Tensor, text: Sequence[torch.Tensor], mel: Sequence[torch.Tensor], *,
                        streaming: Sequence[bool] | bool = False, prompt_mel: Sequence[torch.Tensor] | None = None,
                        asr: Sequence[torch.Tensor] | None = None, generator: torch.Generator | None = None
                        ) -> dict[str, torch.Tensor]:
        """Teacher-forced losses of a batch: speaker (B, speaker_dim); per item text tokens (T_i,), target mel
        (F_i, n_mels) (padded to whole chunks, padding masked), ``streaming`` per item (one model, both layouts),
        ``prompt_mel`` (default: the item's own mel; a random segment is encoded), ``asr`` features (A_i, asr_dim)
        at 25 Hz (None: no alignment loss). Returns cfm, stop, repa and total (weighted sum)."""
        c = self.config
        P, M, B = c.chunk_size, c.n_mels, len(text)
        modes = [streaming] * B if isinstance(streaming, bool) else list(streaming)

        def keep(n: int) -> torch.Tensor:  # condition dropout: 0 drops the item's condition
            return (torch.rand(n, generator=generator) >= c.condition_dropout).to(torch.float32)[:, None]

        spk = speaker.to(torch.float32) * keep(B)
        sources = mel if prompt_mel is None else prompt_mel
        prompts = [random_segment(p, *c.utterance_segment, generator) for p in sources]
        F_max = max(p.shape[0] for p in prompts)
        prompt = torch.stack([F.pad(p, (0, 0, 0, F_max - p.shape[0])) for p in prompts])
        pmask = torch.stack([torch.arange(F_max) < p.shape[0] for p in prompts])
        utt = self.utterance(prompt, pmask) * keep(B)
        cond_embeds = self.conditions(spk, utt)  # (B, 2, H)

        items, seqs = [], []
        for b in range(B):
            frames = mel[b].to(torch.float32)
            K = -(-frames.shape[0] // P)
            chunks = F.pad(frames, (0, 0, 0, K * P - frames.shape[0])).reshape(K, P, M)
            fmask = (torch.arange(K * P) < frames.shape[0]).to(torch.float32).reshape(K, P)
            layout = interleave(len(text[b]), K, *((c.text_per_group, c.chunks_per_group) if modes[b] else
                                                   (None, None)))
            kinds = torch.tensor(layout.kinds)
            index = torch.tensor(layout.index).clamp(min=0)
            tokens = torch.where(kinds == TEXT, text[b].to(torch.int64)[index.clamp(max=len(text[b]) - 1)],
                                 torch.full_like(kinds, c.tos_token))
            speech = self.downsample(chunks)[index.clamp(max=K - 1)]  # (S, H)
            x = torch.where((kinds == SPEECH)[:, None], speech, self.lm.embed(tokens))
            seqs.append(torch.cat((cond_embeds[b], x)))
            items.append((layout, chunks, fmask))
        S_max = max(s.shape[0] for s in seqs)
        h, _ = self.lm(torch.stack([F.pad(s, (0, 0, 0, S_max - s.shape[0])) for s in seqs]))  # right padding: causal

        tgt, prev, fm, stop_y, per_item = [], [], [], [], []
        for b, (layout, chunks, fmask) in enumerate(items):
            pos = [p for p, t in enumerate(layout.target) if t >= 0]
            order = sorted(pos, key=lambda p: layout.target[p])
            k = torch.tensor([layout.target[p] for p in order])
            hb = h[b, N_COND + torch.tensor(order)]  # the outputs that predict chunks 0..K-1, in order
            tgt.append(chunks[k])
            prev.append(torch.cat((torch.zeros(1, P, M), chunks[:-1]))[k])
            fm.append(fmask[k])
            stop_y.append(torch.tensor([layout.stop[p] for p in order], dtype=torch.float32))
            per_item.append(hb)
        hid, tgt, prev, fm = torch.cat(per_item), torch.cat(tgt), torch.cat(prev), torch.cat(fm)
        mu, stop_logit = self.heads(hid)
        mu = mu * (torch.rand(mu.shape[0], generator=generator) >= c.cfg_dropout).to(mu.dtype)[:, None]
        t = torch.rand(mu.shape[0], generator=generator)
        z = torch.randn(tgt.shape, generator=generator)
        losses = {"cfm": self.cfm_loss(mu, tgt, prev, t, z, fm),
                  "stop": F.binary_cross_entropy_with_logits(stop_logit[:, 0], torch.cat(stop_y))}
        if asr is not None:
            K_max = max(x.shape[0] for x in per_item)
            lm_h = torch.stack([F.pad(x, (0, 0, 0, K_max - x.shape[0])) for x in per_item])
            cmask = torch.stack([torch.arange(K_max) < x.shape[0] for x in per_item])
            A_max = max(a.shape[0] for a in asr)
            feats = torch.stack([F.pad(a.to(torch.float32), (0, 0, 0, A_max - a.shape[0])) for a in asr])
            amask = torch.stack([torch.arange(A_max) < a.shape[0] for a in asr])
            losses["repa"] = self.repa_loss(lm_h, feats, cmask, amask)
        else:
            losses["repa"] = torch.zeros(())
        losses["total"] = losses["cfm"] + c.stop_weight * losses["stop"] + c.repa_weight * losses["repa"]
        return losses
