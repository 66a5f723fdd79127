"""VALL-E (and VALL-E X, SpeechX): a codec language model over EnCodec tokens.

    text ids x (S,) (+ language ids, VALL-E X)        prompt codes C (P, 8)         codes so far
    AR  : [ E_x(x) + a_x PE(0..S-1) ; E_a([BOS, C[:, 0], c_1 ..]) + a_a PE(0..) ]  -> prefix-LM transformer
          (text attends text, audio attends text and earlier audio) -> linear -> codebook-1 logits (N codes + EOS)
    NAR : stage l = 1..7 predicts codebook l+1 for all frames at once:
          [ E'_x(x) + PE ; sum_{j<=l'} E'_j(C[:, j]) ++ sum_{j<l} E'_j(c[:, j]) + PE ]  -> bidirectional transformer
          whose every LayerNorm is adaptive on the stage embedding s_l -> linear_l -> codebook logits (frames after
          the prompt); l' = 7 (the whole prompt, ``prefix_mode`` 1) or l' = l - 1 (``prefix_mode`` 0)

PE is the sinusoidal table (sin on even, cos on odd channels) scaled by a learned scalar ``alpha`` per stream; text
and audio count positions separately from 0. Both stacks are pre-norm GPT layers (``blocks.transformer`` with
LayerNorm, biases, ReLU MLP and no RoPE). Language embeddings (VALL-E X: en 0, zh 1, ja 2) are added per text token.

Audio ids: 0..N-1 codes, N end-of-speech (AR output) / pad, N+1 BOS (AR input); SpeechX task tokens
(``<ns> <sr> <tse> <soe> <mask> <eoe>``) follow at N+2.. in every audio table (``n_task_tokens`` > 0).

Inference (``generate``): prefill [text ; BOS + prompt codebook 1], then sample codebook-1 tokens with a KV cache
until EOS or more than 16 frames per text token; then the 7 NAR stages greedily. ``sample`` is a callable so the
same loop runs with the native sampler or a test's replayed draws.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Callable

import torch
from torch import nn

from .blocks.transformer import KV, Transformer, TransformerConfig, append_kv

LANGUAGES = ("en", "zh", "ja")  # VALL-E X language ids


@dataclass
class VallEConfig:
    dim: int = 1024
    n_heads: int = 16
    n_layers: int = 12
    n_text_tokens: int = 2048
    n_audio_tokens: int = 1024  # EnCodec codebook size N
    n_quantizers: int = 8
    n_languages: int = 3  # VALL-E X (en, zh, ja); 0: VALL-E without language embeddings
    prefix_mode: int = 1  # NAR prompt: 1 all its codebooks at every stage (VALL-E X), 0 those below the stage
    n_task_tokens: int = 0  # SpeechX: 6 task tokens after BOS in every audio table
    ffn_mult: int = 4
    norm_eps: float = 1e-5

    def __post_init__(self):
        if self.prefix_mode not in (0, 1):
            raise ValueError(f"prefix_mode {self.prefix_mode} is not supported (0 or 1; modes 2 and 4 only differ "
                             "in training)")
        if self.n_quantizers < 2:
            raise ValueError("VALL-E needs at least 2 quantizers (AR codebook 1, NAR the rest)")
        if self.dim % self.n_heads or (self.dim // self.n_heads) % 2:
            raise ValueError(f"dim {self.dim} must split into {self.n_heads} heads of even width")

    @property
    def eos(self) -> int:
        return self.n_audio_tokens

    @property
    def bos(self) -> int:
        return self.n_audio_tokens + 1

    @property
    def n_audio_rows(self) -> int:
        """Rows of the AR audio table: N codes, EOS / pad, BOS, task tokens."""
        return self.n_audio_tokens + 2 + self.n_task_tokens

    def nar_rows(self, j: int) -> int:
        """Rows of NAR audio table j: the official tables hold N (+1 pad row for codebook 1); with task tokens every
        table reaches the task ids."""
        if self.n_task_tokens:
            return self.n_audio_rows
        return self.n_audio_tokens + (1 if j == 0 else 0)

    def stack(self, causal: bool, adaptive: bool) -> TransformerConfig:
        return TransformerConfig(dim=self.dim, ffn_dim=self.dim * self.ffn_mult, n_layers=self.n_layers,
                                 n_heads=self.n_heads, n_kv_heads=self.n_heads, norm_eps=self.norm_eps,
                                 causal=causal, use_rope=False, norm="layer", mlp="relu", bias=True,
                                 adaptive_norm=adaptive)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "VallEConfig":
        return cls(**data)

    @classmethod
    def vallex(cls) -> "VallEConfig":
        """The published VALL-E X: 1024 wide, 16 heads, 12 layers each for AR and NAR (~370M parameters)."""
        return cls()

    @classmethod
    def tiny(cls, **overrides) -> "VallEConfig":
        return cls(**{"dim": 32, "n_heads": 2, "n_layers": 2, "n_text_tokens": 80, "n_audio_tokens": 64,
                      **overrides})


def sinusoid(positions: torch.Tensor, dim: int) -> torch.Tensor:
    """(T,) positions -> (T, dim): sin(p w_i) on channel 2i, cos(p w_i) on 2i+1, w_i = 10000^(-2i/dim)."""
    w = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32, device=positions.device)
                  * -(math.log(10000.0) / dim))
    arg = positions.to(torch.float32)[:, None] * w[None, :]
    return torch.stack((arg.sin(), arg.cos()), dim=-1).reshape(positions.shape[0], dim)


def prefix_mask(n_text: int | torch.Tensor, n_total: int | torch.Tensor) -> torch.Tensor:
    """(n_total, n_total) boolean: position i attends j if j < n_text (the text, seen by all) or j <= i (causal)."""
    idx = torch.arange(n_total)
    return (idx[None, :] <= idx[:, None]) | (idx[None, :] < n_text)


class VallE(nn.Module):
    def __init__(self, config: VallEConfig):
        super().__init__()
        c = self.config = config
        n_q = c.n_quantizers
        self.ar_text_embedding = nn.Embedding(c.n_text_tokens, c.dim)
        self.ar_audio_embedding = nn.Embedding(c.n_audio_rows, c.dim)
        self.ar_text_alpha = nn.Parameter(torch.ones(1))
        self.ar_audio_alpha = nn.Parameter(torch.ones(1))
        self.ar_decoder = Transformer(c.stack(causal=True, adaptive=False))
        self.ar_predict = nn.Linear(c.dim, c.n_audio_tokens + 1, bias=False)

        self.nar_text_embedding = nn.Embedding(c.n_text_tokens, c.dim)
        self.nar_audio_embeddings = nn.ModuleList(nn.Embedding(c.nar_rows(j), c.dim) for j in range(n_q))
        self.nar_text_alpha = nn.Parameter(torch.ones(1))
        self.nar_audio_alpha = nn.Parameter(torch.ones(1))
        self.nar_stage_embeddings = nn.Parameter(torch.randn(n_q - 1, c.dim))
        self.nar_decoder = Transformer(c.stack(causal=False, adaptive=True))
        self.nar_predict = nn.ModuleList(nn.Linear(c.dim, c.n_audio_tokens, bias=False) for _ in range(n_q - 1))
        if c.n_languages:
            self.ar_language_embedding = nn.Embedding(c.n_languages, c.dim)
            self.nar_language_embedding = nn.Embedding(c.n_languages, c.dim)

    # ------------------------------------------------------------------ embeddings

    def _text(self, text: torch.Tensor, language: torch.Tensor | None, ar: bool) -> torch.Tensor:
        """text, language (B, S) -> (B, S, C) with positions 0..S-1."""
        emb = (self.ar_text_embedding if ar else self.nar_text_embedding)(text)
        if self.config.n_languages:
            if language is None:
                raise ValueError("this VALL-E has language embeddings: pass a language id per text token")
            emb = emb + (self.ar_language_embedding if ar else self.nar_language_embedding)(language)
        alpha = self.ar_text_alpha if ar else self.nar_text_alpha
        return emb + alpha * sinusoid(torch.arange(text.shape[1], device=text.device), self.config.dim)

    def _ar_audio(self, tokens: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        """tokens (B, T) at audio positions (T,) -> (B, T, C)."""
        return self.ar_audio_embedding(tokens) + self.ar_audio_alpha * sinusoid(positions, self.config.dim)

    # ------------------------------------------------------------------ AR

    def ar_hidden(self, text: torch.Tensor, language: torch.Tensor | None, audio: torch.Tensor
                  ) -> tuple[torch.Tensor, KV]:
        """The AR stack over [text ; audio] with the prefix mask. audio (B, T) starts with BOS. Returns the hidden
        states of the audio positions (B, T, C) and every position's keys / values."""
        S, T = text.shape[1], audio.shape[1]
        x = torch.cat((self._text(text, language, ar=True),
                       self._ar_audio(audio, torch.arange(T, device=audio.device))), dim=1)
        h, kv = self.ar_decoder(x, mask=prefix_mask(S, S + T).to(x.device))
        return h[:, S:], kv

    def ar_logits(self, text: torch.Tensor, language: torch.Tensor | None, audio: torch.Tensor) -> torch.Tensor:
        """Teacher-forced codebook-1 logits (B, T, N + 1) after each audio position (BOS first)."""
        return self.ar_predict(self.ar_hidden(text, language, audio)[0])

    def ar_prefill(self, text: torch.Tensor, language: torch.Tensor | None, audio: torch.Tensor
                   ) -> tuple[torch.Tensor, KV]:
        """Logits after the last audio position (B, N + 1) and the cache of all S + T positions."""
        h, kv = self.ar_hidden(text, language, audio)
        return self.ar_predict(h[:, -1]), kv

    def ar_step(self, token: torch.Tensor, position: torch.Tensor, past: KV) -> tuple[torch.Tensor, KV]:
        """One codebook-1 token (B, 1) at audio position ``position`` (1,) after ``past`` -> logits (B, N + 1) and its
        keys / values."""
        h, kv = self.ar_decoder(self._ar_audio(token, position), pos=None, past=past)
        return self.ar_predict(h[:, -1]), kv

    def ar_step_buffer(self, token: torch.Tensor, position: torch.Tensor, length: torch.Tensor,
                       cache: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, KV]:
        """``ar_step`` with the past in fixed-size buffers (one (2, B, H, capacity, Dh) per layer, ``length`` of
        them filled): what the exported step graph computes."""
        h, kv = self.ar_decoder.forward_buffer(self._ar_audio(token, position), length, cache)
        return self.ar_predict(h[:, -1]), kv

    # ------------------------------------------------------------------ NAR

    def nar_logits(self, text: torch.Tensor, language: torch.Tensor | None, prompt: torch.Tensor,
                   codes: torch.Tensor, stage: torch.Tensor) -> torch.Tensor:
        """Logits (B, T, N) of codebook ``stage`` + 1 (stage 1..n_q-1, a tensor of shape () or (1,)) for the T frames
        after the prompt. prompt (B, P, n_q); codes (B, T, n_q) hold the codebooks below ``stage`` (the rest is
        ignored)."""
        c = self.config
        stage = stage.reshape(-1)[:1]
        below = torch.arange(c.n_quantizers, device=codes.device) < stage  # (n_q,) codebooks already known
        prompt_used = below if c.prefix_mode == 0 else torch.ones_like(below)
        y_prompt = sum(self.nar_audio_embeddings[j](prompt[..., j]) * prompt_used[j].to(torch.float32)
                       for j in range(c.n_quantizers))
        y_new = sum(self.nar_audio_embeddings[j](codes[..., j]) * below[j].to(torch.float32)
                    for j in range(c.n_quantizers))
        y = torch.cat((y_prompt, y_new), dim=1)
        y = y + self.nar_audio_alpha * sinusoid(torch.arange(y.shape[1], device=y.device), c.dim)
        x = torch.cat((self._text(text, language, ar=False), y), dim=1)
        cond = self.nar_stage_embeddings[stage - 1]  # (1, C)
        h, _ = self.nar_decoder(x, cond=cond.expand(x.shape[0], -1))
        weight = torch.stack([p.weight for p in self.nar_predict])[stage - 1][0]  # (N, C)
        return h[:, text.shape[1] + prompt.shape[1]:] @ weight.t()

    # ------------------------------------------------------------------ generation

    @torch.no_grad()
    def generate(self, text: torch.Tensor, language: torch.Tensor | None, prompt: torch.Tensor,
                 sample: Callable[[torch.Tensor], int], max_frames: int | None = None,
                 forced: torch.Tensor | None = None) -> torch.Tensor:
        """text, language (1, S); prompt (1, P, n_q); ``sample(logits (N + 1,)) -> token``. Returns the generated
        codes (1, T, n_q). The AR stops at EOS or once more than ``16 S`` frames (VALL-E X's cap; or
        ``max_frames``) would be produced. ``forced`` (F, n_q): the first F output frames' codebook 1 is given
        (SpeechX editing), not sampled."""
        c = self.config
        cap = 16 * text.shape[1] if max_frames is None else max_frames
        audio = torch.cat((torch.tensor([[c.bos]]), prompt[..., 0]), dim=1)
        logits, kv = self.ar_prefill(text, language, audio)
        tokens: list[int] = []
        n_forced = 0 if forced is None else forced.shape[0]
        while True:
            token = int(forced[len(tokens), 0]) if len(tokens) < n_forced else sample(logits[0])
            # VALL-E X checks the cap before appending: the frame that would exceed it is dropped
            if token == c.eos or len(tokens) + 1 > cap:
                break
            tokens.append(token)
            position = torch.tensor([audio.shape[1] + len(tokens) - 1])
            logits, new = self.ar_step(torch.tensor([[token]]), position, kv)
            kv = append_kv(kv, new)
        codes = torch.zeros(1, len(tokens), c.n_quantizers, dtype=torch.long)
        codes[0, :, 0] = torch.tensor(tokens, dtype=torch.long)
        for stage in range(1, c.n_quantizers):
            logits = self.nar_logits(text, language, prompt, codes, torch.tensor([stage]))
            codes[0, :, stage] = logits[0].argmax(-1)
        return codes
