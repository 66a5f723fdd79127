"""UniAudio's language model: a MegaByte-style two-level transformer over frames of ``r`` codec tokens (r = 3).

One joint vocabulary holds special tokens, the 3 codebooks of the audio codec (codebook l at
``audio_offset + audio_bins * l ..``) and the non-acoustic tokens (phones, semantic units, ...); every non-acoustic
token is repeated r times, so any sequence is a run of frames of r ids. Input x (B, L), L = r T:

    global (over frames, width C):
        xg    = [global_sos] * r ++ x[:, :-r]                        one frame shift: frame t sees frames < t
        e_t   = concat(E_g(xg[t, 0]), ..., E_g(xg[t, r-1]))          r embeddings of width C / r side by side
        e_t   = W_t5 f_t  for frames of a continuous segment          (T5 features replace the frame, see below)
        h     = Norm(Blocks_g(e + P_g[0 .. T-1]))                    learned absolute positions, causal
    global -> local (per frame t and local position l):
        g_tl  = W_gl h_t[l C/r : (l+1) C/r] + b_gl                   one projection shared by the r chunks
    local (over the r positions of one frame, same width and heads, min(8, n_layers // 2) blocks):
        ids   = [local_sos, x_t0, .., x_t(r-2)]
        z     = Norm(Blocks_l(E_l(ids) + g_t + P_l[0 .. r-1]))       causal over r positions
        logits[t, l] = lm_head(z_l)                                  predicts x_tl itself (no further shift)

Blocks are pre-norm (LayerNorm, eps 1e-5) with biases, exact-GELU MLP of width 4C and no rotary positions: the
shared ``blocks.transformer`` stack. The official key projection has no bias (a key bias would add ``q . b`` to a
whole row of scores, which softmax ignores), so ours drops that parameter; its q and k are each scaled by
``head_dim ** -0.25``, i.e. the usual ``1 / sqrt(head_dim)`` on the scores.

Continuous segments (the T5 text features of TTM, TTA, InstructTTS, ...): the sequence holds ``<continuous_token>``
placeholders over tokens [s, e); the frames s // r + 1 .. e // r (shifted by the global shift) take
``W_t5 feats[::r]`` (the features are given per token, each row repeated r times) instead of their embedding.

Prefix LM (``prefix_lm=True``, not UniAudio's training default): the loss mask shifted right by one frame and read
once per frame gives the first / last target frame (start, end); key k is visible to query q iff
(k <= q or k < start) and k <= end. The local stack is always causal.

Inference (``generate``) reproduces the official search: a prefix pass fills the global KV cache; then per frame one
global step at the next position on the previous frame (first: the prefix's ``<audio_start>`` frame) and r local
steps from ``local_sos`` with their own cache. At local step l only codebook l's ids and ``<audio_end>`` are allowed,
``<audio_end>`` not before ``minlen`` frames; scores are ``log_softmax`` over the whole vocabulary, then top-k;
greedy takes the best, sampling draws from ``softmax(top-k log-probs / temperature)`` through an injectable ``draw``.
``<audio_end>`` may come at any local step: generation stops there and the result keeps the whole frames apart from
the cut one (the official detokenizer would fail on it).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Callable, NamedTuple, Sequence

import torch
from torch import nn

from .blocks.transformer import KV, Transformer, TransformerConfig, append_kv


@dataclass
class UniAudioConfig:
    """The official ``MegaByteModel`` constructor arguments plus the joint-vocabulary layout ``generate`` needs.

    Presets: ``v1()`` is the released UniAudio checkpoint (16 layers, 12 heads, width 768, 8000 frame positions,
    4213 ids: 128 specials, 3 x 1024 codec ids + 1 mask id, phones, semantic units, singing tokens); ``tiny()`` the
    random-weight parity configuration (3 layers, 4 heads, width 72, 23 codes per codebook, 241 ids). The egs
    training recipe (24 layers, 16 heads, width 1536) is ``UniAudioConfig(n_layer=24, n_head=16, n_state=1536)``.
    """

    n_vocab: int = 4213
    n_ctx: int = 8000  # global (frame) positions
    n_state: int = 768
    n_head: int = 12
    n_layer: int = 16  # global blocks; the local stack has min(8, n_layer // 2)
    prefix_lm: bool = False
    na_repeat: int = 3  # tokens per frame = codebooks
    local_sos: int = 24  # <mega_local>
    global_sos: int = 23  # <mega_global>
    # joint-vocabulary layout (from the token list)
    audio_offset: int = 128  # id of code 0 of codebook 0
    audio_bins: int = 1024  # codes per codebook
    audio_start: int = 8  # <audio_start>
    audio_end: int = 9  # <audio_end>
    continuous_dim: int = 768  # T5 feature width (the ``text_t5`` mapping)
    norm_eps: float = 1e-5

    def __post_init__(self):
        if self.n_state % self.na_repeat:
            raise ValueError(f"n_state {self.n_state} must split into na_repeat {self.na_repeat} chunks")
        if self.n_state % self.n_head:
            raise ValueError(f"n_state {self.n_state} must split into {self.n_head} heads")
        if self.n_local_layers < 1:
            raise ValueError(f"n_layer {self.n_layer} gives no local layer (min(8, n_layer // 2))")
        if self.audio_offset + self.audio_bins * self.na_repeat > self.n_vocab:
            raise ValueError("the codec ids do not fit the vocabulary")

    @property
    def n_local_layers(self) -> int:
        return min(8, self.n_layer // 2)

    @property
    def chunk(self) -> int:  # width of one token's global embedding
        return self.n_state // self.na_repeat

    def stack(self, n_layers: int) -> TransformerConfig:
        return TransformerConfig(dim=self.n_state, ffn_dim=4 * self.n_state, n_layers=n_layers, n_heads=self.n_head,
                                 n_kv_heads=self.n_head, norm_eps=self.norm_eps, causal=True, use_rope=False,
                                 norm="layer", mlp="gelu", bias=True)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def v1(cls) -> "UniAudioConfig":
        return cls()

    @classmethod
    def tiny(cls) -> "UniAudioConfig":
        return cls(n_vocab=241, n_ctx=101, n_state=72, n_head=4, n_layer=3, audio_bins=23)


class ContinuousSegment(NamedTuple):
    """Continuous features replacing the frames of tokens [start, end) of batch item ``batch``: ``feats``
    (end - start, continuous_dim), one row per token (each frame's row repeated ``na_repeat`` times)."""
    batch: int
    start: int
    end: int
    feats: torch.Tensor
    kind: str = "text_t5"


@dataclass
class UniAudioGeneration:
    """One ``generate`` run. ``tokens`` are the official result tokens (generated ids up to and including the first
    ``<audio_end>``; a run that reached ``maxlen`` without one gets ``na_repeat`` of them appended, as the official
    loop does). ``frames`` holds the complete generated frames (joint ids), ``partial`` the ids of a frame that
    ``<audio_end>`` cut short (0 .. na_repeat-1 of them; ``n_partial_codebooks``). Per local step: ``local_logits``
    (raw head output), ``scores`` (log-prob of the chosen id after masking), and for sampling ``probs`` (the top-k
    distribution drawn from) and ``draws`` (the index drawn into it)."""
    tokens: torch.Tensor
    frames: torch.Tensor
    partial: torch.Tensor
    ended: bool
    local_logits: torch.Tensor
    scores: torch.Tensor
    prefix_global_to_local: torch.Tensor  # (P, r, C)
    step_global_to_local: torch.Tensor  # (n_frames_stepped, r, C)
    probs: torch.Tensor | None = None
    draws: torch.Tensor | None = None
    config: UniAudioConfig | None = field(default=None, repr=False)

    @property
    def n_partial_codebooks(self) -> int:
        return int(self.partial.numel())

    @property
    def codes(self) -> torch.Tensor:
        """(F, r) per-codebook codes of the complete frames."""
        c = self.config
        return self.frames - c.audio_offset - c.audio_bins * torch.arange(c.na_repeat)


def prefix_lm_mask(loss_mask: torch.Tensor, na_repeat: int) -> torch.Tensor:
    """(B, L) bool loss mask -> (B, 1, T, T) bool global attention pattern of the prefix LM (True = may attend)."""
    B, L = loss_mask.shape
    shifted = torch.cat((loss_mask.new_zeros(B, na_repeat), loss_mask[:, :-na_repeat]), dim=1)[:, ::na_repeat]
    T = shifted.shape[1]
    if not bool(shifted.any(dim=1).all()):
        raise ValueError("prefix_lm needs at least one target frame per item (after the one-frame shift)")
    idx = torch.arange(T, device=loss_mask.device)
    start = torch.where(shifted, idx, T).min(dim=1).values  # first target frame
    end = torch.where(shifted, idx, -1).max(dim=1).values  # last target frame
    k, q = idx[None, None, :], idx[None, :, None]
    visible = ((k <= q) | (k < start[:, None, None])) & (k <= end[:, None, None])  # (B, T, T)
    return visible[:, None]


def _drop_key_bias(stack: Transformer) -> None:
    for layer in stack.layers:
        layer.self_attn.k_proj.register_parameter("bias", None)


class UniAudioLM(nn.Module):
    def __init__(self, config: UniAudioConfig):
        super().__init__()
        self.config = c = config
        self.global_embed = nn.Embedding(c.n_vocab, c.chunk)
        self.global_pos = nn.Embedding(c.n_ctx, c.n_state)
        self.global_stack = Transformer(c.stack(c.n_layer))
        self.global_to_local = nn.Linear(c.chunk, c.n_state)
        self.local_embed = nn.Embedding(c.n_vocab, c.n_state)
        self.local_pos = nn.Embedding(c.na_repeat, c.n_state)
        self.local_stack = Transformer(c.stack(c.n_local_layers))
        self.lm_head = nn.Linear(c.n_state, c.n_vocab, bias=False)
        self.continuous = nn.ModuleDict({"text_t5": nn.Linear(c.continuous_dim, c.n_state)})
        _drop_key_bias(self.global_stack)
        _drop_key_bias(self.local_stack)

    # ----------------------------------------------------------------------------------------------- pieces
    def global_input(self, x: torch.Tensor, conti_segments: Sequence[ContinuousSegment] | None = None,
                     start: int = 0) -> torch.Tensor:
        """Flat ids x (B, r T) already shifted (frame t = the global input at position start + t) -> (B, T, C)."""
        c = self.config
        B, L = x.shape
        if L % c.na_repeat:
            raise ValueError(f"sequence length {L} is not a multiple of na_repeat {c.na_repeat}")
        T = L // c.na_repeat
        h = self.global_embed(x).reshape(B, T, c.n_state)
        if conti_segments:
            h = h.clone()
            for seg in conti_segments:
                first = seg.start // c.na_repeat + 1 - start  # the +1 is the global shift
                feats = self.continuous[seg.kind](seg.feats[::c.na_repeat].to(h.dtype))
                last = min(seg.end // c.na_repeat + 1 - start, T)
                lo = max(first, 0)
                if last > lo:
                    h[seg.batch, lo:last] = feats[lo - first:last - first]
        return h + self.global_pos.weight[start:start + T]

    def split_global(self, h: torch.Tensor) -> torch.Tensor:
        """Global outputs (B, T, C) -> per local position (B, T, r, C)."""
        c = self.config
        return self.global_to_local(h.reshape(*h.shape[:-1], c.na_repeat, c.chunk))

    def local_input(self, x: torch.Tensor, g2l: torch.Tensor) -> torch.Tensor:
        """Teacher-forced local inputs: x (B, T, r) frames, g2l (B, T, r, C) -> (B, T, r, C)."""
        c = self.config
        ids = torch.cat((torch.full_like(x[..., :1], c.local_sos), x[..., :-1]), dim=-1)
        return self.local_embed(ids) + g2l + self.local_pos.weight

    @staticmethod
    def _run(stack: Transformer, x: torch.Tensor, mask: torch.Tensor | None, hidden: dict | None,
             name: str) -> torch.Tensor:
        if hidden is None:
            return stack(x, mask=mask)[0]
        for i, layer in enumerate(stack.layers):
            x, _, _ = layer(x, None, None, None, mask)
            hidden[f"{name}_layer{i}"] = x
        return stack.norm(x)

    # ------------------------------------------------------------------------------------------ teacher-forced
    def forward(self, x: torch.Tensor, conti_segments: Sequence[ContinuousSegment] | None = None,
                prefix_lm: bool | None = None, loss_mask: torch.Tensor | None = None,
                hidden: dict | None = None) -> torch.Tensor:
        """x (B, r T) flat joint ids -> logits (B, r T, n_vocab); logit i predicts x[:, i] (teacher forcing).

        ``prefix_lm`` None: the config's; True needs ``loss_mask`` (B, r T). ``hidden``: a dict to fill with
        ``global_input``, ``global_layer{i}``, ``global_ln``, ``global_to_local``, ``local_input``,
        ``local_layer{i}`` (local tensors (B, T, r, C))."""
        c = self.config
        B, L = x.shape
        T = L // c.na_repeat
        if T > c.n_ctx:
            raise ValueError(f"{T} frames exceed n_ctx {c.n_ctx}")
        prefix_lm = c.prefix_lm if prefix_lm is None else prefix_lm
        mask = None
        if prefix_lm:
            if loss_mask is None:
                raise ValueError("prefix_lm needs the loss mask")
            mask = prefix_lm_mask(loss_mask.bool(), c.na_repeat)
        xg = torch.cat((torch.full_like(x[:, :c.na_repeat], c.global_sos), x[:, :-c.na_repeat]), dim=1)
        h = self.global_input(xg, conti_segments)
        if hidden is not None:
            hidden["global_input"] = h
        h = self._run(self.global_stack, h, mask, hidden, "global")
        g2l = self.split_global(h)  # (B, T, r, C)
        z = self.local_input(x.reshape(B, T, c.na_repeat), g2l)
        if hidden is not None:
            hidden.update(global_ln=h, global_to_local=g2l, local_input=z)
        z = self._run(self.local_stack, z.reshape(B * T, c.na_repeat, c.n_state), None, hidden, "local")
        if hidden is not None:
            for i in range(c.n_local_layers):
                hidden[f"local_layer{i}"] = hidden[f"local_layer{i}"].reshape(B, T, c.na_repeat, c.n_state)
        return self.lm_head(z).reshape(B, L, c.n_vocab)

    # ------------------------------------------------------------------------------------------ cached steps
    def global_prefix(self, prefix: torch.Tensor, conti_segments: Sequence[ContinuousSegment] | None = None
                      ) -> tuple[torch.Tensor, KV]:
        """Prefix pass: prefix (B, r P) ending with the frame the first step reads. Runs the global stack over the
        shifted prefix (positions 0 .. P-1; the last prefix frame is not an input yet) and returns the
        global-to-local outputs (B, P, r, C) and the global KV cache."""
        c = self.config
        xg = torch.cat((torch.full_like(prefix[:, :c.na_repeat], c.global_sos), prefix[:, :-c.na_repeat]), dim=1)
        h, cache = self.global_stack(self.global_input(xg, conti_segments))
        return self.split_global(h), cache

    def global_step(self, frame: torch.Tensor, pos: int, past: KV | None) -> tuple[torch.Tensor, KV]:
        """One frame (B, r) of ids as the global input at position ``pos`` (the cache holds 0 .. pos-1) ->
        global-to-local (B, r, C) and the new positions' keys / values."""
        if pos >= self.config.n_ctx:
            raise ValueError(f"global position {pos} is beyond n_ctx {self.config.n_ctx}")
        h, present = self.global_stack(self.global_input(frame, start=pos), past=past)
        return self.split_global(h)[:, 0], present

    def local_step(self, ids: torch.Tensor, g2l: torch.Tensor, index: int, past: KV | None
                   ) -> tuple[torch.Tensor, KV]:
        """Local position ``index``: ids (B,) (``local_sos`` at 0, else the previous local token), g2l (B, C) that
        position's global-to-local vector -> logits (B, n_vocab) and the new keys / values."""
        z = self.local_embed(ids) + g2l + self.local_pos.weight[index]
        z, present = self.local_stack(z[:, None], past=past)
        return self.lm_head(z[:, 0]), present

    # ------------------------------------------------------------------------------------------ export steps
    def prefill_frames(self, frames: torch.Tensor, features: torch.Tensor, feature_mask: torch.Tensor
                       ) -> tuple[torch.Tensor, KV]:
        """``global_prefix`` in graph form: frames (B, P, r) ids (ending with the frame the first step reads),
        features (B, P, continuous_dim) and feature_mask (B, P) (1 on frames that are a continuous segment's
        placeholders: their global input is ``W_t5 features`` instead of their embedding) -> global-to-local
        (B, P, r, C) and the global KV of positions 0 .. P-1."""
        c = self.config
        B, P, _ = frames.shape
        sos = torch.full_like(frames[:, :1], c.global_sos)
        xg = torch.cat((sos, frames[:, :-1]), dim=1)  # the one-frame shift
        h = self.global_embed(xg).reshape(B, P, c.n_state)
        feats = torch.cat((torch.zeros_like(features[:, :1]), features[:, :-1]), dim=1)
        mask = torch.cat((torch.zeros_like(feature_mask[:, :1]), feature_mask[:, :-1]), dim=1)
        h = torch.where(mask[..., None] > 0.5, self.continuous["text_t5"](feats), h)
        h = h + self.global_pos.weight[:P]
        h, cache = self.global_stack(h)
        return self.split_global(h), cache

    def global_step_buffer(self, frame: torch.Tensor, length: torch.Tensor, cache: tuple[torch.Tensor, ...]
                           ) -> tuple[torch.Tensor, KV]:
        """``global_step`` with the past in fixed-size buffers (one (2, B, H, capacity, Dh) per layer, ``length``
        (1,) of them filled): frame (B, r) at global position ``length`` -> global-to-local (B, r, C), new K/V."""
        c = self.config
        B = frame.shape[0]
        h = self.global_embed(frame).reshape(B, 1, c.n_state) + self.global_pos(length.reshape(1, 1))
        h, present = self.global_stack.forward_buffer(h, length, cache)
        return self.split_global(h)[:, 0], present

    def allowed_rows(self, index: torch.Tensor) -> torch.Tensor:
        """Joint ids local step ``index`` ((1,) int64) may emit, in the order of ``local_step_buffer``'s logits:
        codebook ``index``'s ``audio_bins`` ids, then ``<audio_end>``."""
        c = self.config
        codes = c.audio_offset + c.audio_bins * index.reshape(1) + torch.arange(c.audio_bins, device=index.device)
        return torch.cat((codes, torch.full_like(codes[:1], c.audio_end)))

    def local_step_buffer(self, token: torch.Tensor, index: torch.Tensor, g2l: torch.Tensor,
                          cache: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, KV]:
        """``local_step`` with the past (local positions 0 .. index-1) in fixed-size buffers, returning only the
        logits of the ids the step may emit (``allowed_rows(index)``: (B, audio_bins + 1)); the full-vocabulary
        normalisation of the reference's log-softmax is a per-row constant, which top-k and the temperature
        softmax ignore."""
        c = self.config
        z = self.local_embed(token) + g2l + self.local_pos(index.reshape(1))
        z, present = self.local_stack.forward_buffer(z[:, None], index, cache)
        # every codebook's rows at once, then the step's: the head rows are then one constant matrix (which int8
        # quantizes) instead of rows gathered per step (3x the head's multiply-adds, a few % of the step)
        rows = torch.cat([self.allowed_rows(torch.tensor([l])) for l in range(c.na_repeat)])
        logits = (z[:, 0] @ self.lm_head.weight[rows].t()).reshape(z.shape[0], c.na_repeat, c.audio_bins + 1)
        return logits.index_select(1, index.reshape(1))[:, 0], present

    # ------------------------------------------------------------------------------------------ generation
    def allowed_ids(self, index: int) -> torch.Tensor:
        """Ids local step ``index`` may emit (codebook ``index`` and ``<audio_end>``) as a bool (n_vocab,) mask."""
        c = self.config
        allowed = torch.zeros(c.n_vocab, dtype=torch.bool)
        lo = c.audio_offset + c.audio_bins * index
        allowed[lo:lo + c.audio_bins] = True
        allowed[c.audio_end] = True
        return allowed

    @torch.no_grad()
    def generate(self, prefix_ids: torch.Tensor, *, mode: str = "greedy", topk: int = 30, temperature: float = 1.0,
                 minlen: int = 0, maxlen: int | None = None, draw: Callable[[torch.Tensor], int] | None = None,
                 generator: torch.Generator | None = None,
                 conti_segments: Sequence[ContinuousSegment] | None = None,
                 draw_with_ids: Callable[[torch.Tensor, torch.Tensor], int] | None = None) -> UniAudioGeneration:
        """Generate audio frames after ``prefix_ids`` (r P,) (the conditioning sequence up to and including the
        ``<audio_start>`` frame).

        ``minlen`` / ``maxlen`` count frames: ``<audio_end>`` is forbidden in frames 0 .. minlen-2 (a run has at
        least ``minlen`` frames counting the one that ends it); at most ``maxlen`` frames are generated (None or more
        than the context allows: up to global position n_ctx - 1, i.e. n_ctx - P frames). ``mode`` "greedy" takes
        the best id, "sampling" draws an index into the top-``topk`` distribution with ``draw(probs) -> int``
        (default ``torch.multinomial`` with ``generator``); ``draw_with_ids(probs, ids) -> int``, if given, is used
        instead and also sees the joint ids of the top-k entries (to replay a sampler that walks ids in index order).

        Differences from the official loop, none of which the parity configuration reaches: the global attention is
        causal whatever ``config.prefix_lm`` says (the official prefix-LM inference fails on an empty mask); the
        context cap counts frames (the official one mixes frames and tokens); a frame cut short by
        ``<audio_end>`` is returned apart (``partial``) instead of breaking the detokenizer."""
        if mode not in ("greedy", "sampling"):
            raise ValueError(f"mode must be 'greedy' or 'sampling', got {mode!r}")
        c = self.config
        r = c.na_repeat
        prefix_ids = prefix_ids.reshape(-1)
        if prefix_ids.numel() % r or prefix_ids.numel() == 0:
            raise ValueError(f"prefix length {prefix_ids.numel()} is not a positive multiple of {r}")
        P = prefix_ids.numel() // r
        room = c.n_ctx - P
        maxlen = room if maxlen is None else min(maxlen, room)
        if maxlen < 1:
            raise ValueError(f"no room to generate: {P} prefix frames, n_ctx {c.n_ctx}, maxlen {maxlen}")
        if draw is None:
            def draw(p: torch.Tensor) -> int:
                return int(torch.multinomial(p, 1, generator=generator))
        allowed = [self.allowed_ids(l) for l in range(r)]

        prefix_g2l, cache = self.global_prefix(prefix_ids[None], conti_segments)
        prev = prefix_ids[-r:][None]
        tokens: list[int] = []
        logits_out, scores, probs_out, draws, step_g2l = [], [], [], [], []
        ended = False
        for i in range(maxlen):
            g2l, present = self.global_step(prev, P + i, cache)
            cache = append_kv(cache, present)
            step_g2l.append(g2l[0])
            local_past: KV | None = None
            token = torch.tensor([c.local_sos])
            frame: list[int] = []
            for l in range(r):
                logits, present = self.local_step(token, g2l[:, l], l, local_past)
                local_past = append_kv(local_past, present)
                logits_out.append(logits[0])
                logp = torch.log_softmax(logits[0].float(), dim=-1)
                ok = allowed[l].clone()
                if i + 1 < minlen:
                    ok[c.audio_end] = False
                logp = logp.masked_fill(~ok, float("-inf"))
                values, indices = logp.topk(min(topk, c.n_vocab))
                if mode == "greedy":
                    k = 0
                else:
                    p = torch.softmax(values / temperature, dim=-1)
                    k = draw_with_ids(p, indices) if draw_with_ids is not None else draw(p)
                    probs_out.append(p)
                    draws.append(k)
                chosen = int(indices[k])
                scores.append(values[k])
                frame.append(chosen)
                tokens.append(chosen)
                token = torch.tensor([chosen])
                if chosen == c.audio_end:
                    ended = True
                    break
            if ended:
                break
            prev = torch.tensor([frame])
        n_whole = len(tokens) // r if not ended else (len(tokens) - 1) // r
        body = tokens[:-1] if ended else tokens
        frames = torch.tensor(body[:n_whole * r], dtype=torch.long).reshape(n_whole, r)
        partial = torch.tensor(body[n_whole * r:], dtype=torch.long)
        if not ended:
            tokens = tokens + [c.audio_end] * r
        return UniAudioGeneration(
            tokens=torch.tensor(tokens, dtype=torch.long), frames=frames, partial=partial, ended=ended,
            local_logits=torch.stack(logits_out), scores=torch.stack(scores),
            prefix_global_to_local=prefix_g2l[0], step_global_to_local=torch.stack(step_g2l),
            probs=torch.stack(probs_out) if probs_out else None,
            draws=torch.tensor(draws, dtype=torch.long) if draws else None, config=c)
