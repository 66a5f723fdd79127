"""The runtime loop of a decoder-only unit language model component (kind ``unit-lm``): one stage of a
semantic-token cascade, torch-free.

    prefix ids (L,) -> prefill -> logits (1, V) + KV of L positions               (KVGroups "lm")
    token i: rules.masked(logits, i) -> unit_rules.choose(seed, step_offset + i) -> id; the end id stops the stage
             step(id, position L + i, KV buffers) -> logits of token i + 1

The caller (a cascade pipeline) builds the prefix and the ``FrameRules``; this loop is the reference's
``UnitLM.generate`` (``models/unit_lm.py``) token for token: the same mask, the same sampler draw, the same caps.
"""
from __future__ import annotations

from typing import Iterator

import numpy as np

from ..errors import InvalidInput
from ..hparams.unit_lm import UnitLMHParams
from .generation import GenerationOptions, KVGroups
from .unit_rules import FrameRules, check_prefix, options_sampler, rule_tokens

KV_START_TOKENS = 128  # the cache starts with this many free slots after the prefix and doubles when full
MAX_STEP_OFFSET = 2 ** 63  # the sampler's step is below 2**64: offset + tokens must stay there


def whole_frames(tokens: int, k: int) -> int:
    """The largest multiple of ``k`` not above ``tokens`` (0 if negative): a cut frame would not decode."""
    return max(0, tokens - tokens % k)


class UnitLMRunner:
    def __init__(self, sessions, component: str, hparams: UnitLMHParams):
        """``sessions``: a ``GraphSessions`` (or anything whose ``get("<component>/<graph>")`` gives a session with
        ``run(feeds) -> dict``); ``component``: the unit-lm component's name in the bundle."""
        self.sessions = sessions
        self.component = component
        self.hparams = hparams

    def max_tokens(self, prefix_len: int, rules: FrameRules, options: GenerationOptions) -> int:
        """How many tokens a generation after a prefix of ``prefix_len`` ids may yield at most: ``rules.max_tokens``,
        ``options.max_length`` and the positions the prefix leaves (``n_ctx - prefix_len``), the last two rounded
        down to whole frames of ``rules.k`` tokens."""
        cap = min(rules.max_tokens, self.hparams.n_ctx - prefix_len)
        if options.max_length is not None:
            cap = min(cap, options.max_length)
        return whole_frames(cap, rules.k)

    def generate(self, prefix: np.ndarray, rules: FrameRules, options: GenerationOptions, *,
                 step_offset: int = 0) -> Iterator[int]:
        """Ids generated after ``prefix`` (1-D ids < n_vocab), one at a time, the end id never included. Stops at
        ``rules.end`` (allowed at frame boundaries once ``rules.min_frames`` frames are complete), after
        ``rules.max_tokens`` tokens, after ``options.max_length`` TOKENS (generated ids, not frames; rounded down
        to whole frames of ``rules.k``), or when prefix and output fill the model's ``n_ctx`` positions (also
        whole frames). Token i is ``choose(masked logits, temperature, top_k, top_p, seed, step=step_offset + i)``:
        greedy when ``options.temperature`` is 0 or None (resolve the options against defaults first). Options this
        loop cannot honour (min_p, repetition_penalty) are refused; the others (cfg, steps, ...) do not apply.

        Input is checked before anything runs: a malformed or empty prefix, ids out of range, a prefix leaving less
        than one frame of positions, rules naming ids past the vocabulary raise InvalidInput."""
        hp = self.hparams
        k = rules.k
        L = int(np.asarray(prefix).size)
        ids = check_prefix(prefix, hp.n_vocab, whole_frames(hp.n_ctx - L, k))
        top = max(max(hi for _, hi in rules.ranges) - 1, rules.end)
        if top >= hp.n_vocab:
            raise InvalidInput(f"the frame rules allow ids up to {top}; the model has {hp.n_vocab}")
        if options.min_p not in (None, 0, 0.0) or options.repetition_penalty not in (None, 1, 1.0):
            raise InvalidInput("a unit LM samples with temperature, top_k and top_p only: leave min_p and "
                               "repetition_penalty unset")
        if isinstance(step_offset, bool) or not isinstance(step_offset, (int, np.integer)) or \
                not 0 <= step_offset < MAX_STEP_OFFSET:
            raise InvalidInput(f"step_offset must be an integer in 0..{MAX_STEP_OFFSET - 1}, got {step_offset!r}")
        cap = self.max_tokens(L, rules, options)
        if cap < 1:  # only max_length can get here: the prefix check guaranteed a frame of positions
            raise InvalidInput(f"max_length {options.max_length} is less than one frame ({k} tokens)")
        prefill_session = self.sessions.get(f"{self.component}/prefill")
        step_session = self.sessions.get(f"{self.component}/step")
        return self._tokens(ids, rules, options, int(step_offset), cap, prefill_session, step_session)

    def _tokens(self, ids: np.ndarray, rules: FrameRules, options: GenerationOptions, step_offset: int, cap: int,
                prefill_session, step_session) -> Iterator[int]:
        L = ids.size

        def prefill():
            out = prefill_session.run({"ids": ids[None]})
            # the last token is never fed back: the cache holds at most L + cap - 1 positions
            kv = KVGroups(self.hparams.kv, capacity=L + KV_START_TOKENS, limit=L + cap)
            kv.append(out)
            return {"logits": out["logits"], "kv": kv}

        def step(state, token, i):
            kv = state["kv"]
            kv.make_room(1)
            out = step_session.run({**kv.feeds(), "token": np.array([[token]], np.int64),
                                    "position": np.array([L + i], np.int64),
                                    "length": np.array([kv.length], np.int64)})
            kv.append(out)
            state["logits"] = out["logits"]
            return state

        return rule_tokens(prefill, step, rules, options_sampler(options, step_offset), cap)
