"""Unit seq2seq, torch-free: phoneme / character ids -> semantic unit ids on a bundle's ``unit-seq2seq`` component
(stage S1 of the semantic-token cascades; ``export/unit_seq2seq.py`` writes it).

    src (S,) -> graph ``encode`` -> cross.<i>.key|value (once)
    BOS at position 0, then per token i: graph ``step`` (token, position, length, KV buffers, cross) -> logits
    -> ``FrameRules.masked`` -> ``unit_rules.choose`` (seed, step = step_offset + i) -> unit i

Stops at EOS (not yielded), ``rules.max_tokens``, ``options.max_length`` or when the target positions
(``n_tgt_ctx``) run out; a caller that needs exactly N units (Make-A-Voice's singing: one per phone frame) passes
``min_frames = max_frames = N``. The tokens equal the reference ``UnitSeq2Seq.generate`` with the same draws.
"""
from __future__ import annotations

from typing import Iterator

import numpy as np

from ..errors import InvalidInput
from ..hparams.unit_seq2seq import UnitSeq2SeqHParams
from .generation import GenerationOptions, KVGroups
from .unit_rules import FrameRules, check_prefix, options_sampler, rule_tokens

KV_START = 64  # cache slots allocated first; doubled when full (a step reads every slot)


class UnitSeq2SeqRunner:
    """``sessions``: the owning model's ``GraphSessions`` (``.get("<component>/<graph>")``)."""

    def __init__(self, sessions, component: str, hparams: UnitSeq2SeqHParams):
        self.sessions, self.component, self.hparams = sessions, component, hparams
        self._cross = hparams.cross_names()

    def _source(self, src) -> np.ndarray:
        hp = self.hparams
        ids = check_prefix(src, hp.n_src_vocab, 1, "the source")
        if ids.size > hp.n_src_ctx:
            raise InvalidInput(f"the source has {ids.size} ids; the model reads at most {hp.n_src_ctx}: shorten it")
        return ids

    def _check_rules(self, rules: FrameRules) -> None:
        hp = self.hparams
        if rules.end != hp.eos or any(hi > hp.n_units for _, hi in rules.ranges):
            raise InvalidInput(f"the rules must allow unit ids below {hp.n_units} and end at EOS {hp.eos}")
        if rules.k * rules.min_frames > hp.n_tgt_ctx:
            raise InvalidInput(f"{rules.k * rules.min_frames} units asked for; the model generates at most "
                               f"{hp.n_tgt_ctx}: shorten the input")

    def generate(self, src: np.ndarray, rules: FrameRules, options: GenerationOptions, *,
                 step_offset: int = 0) -> Iterator[int]:
        """Unit ids for source ids ``src`` (S,), never EOS. ``options``: temperature (None / 0: greedy), top_k,
        top_p, seed, max_length; ``step_offset``: the sampler's step of the first unit (``STAGE_STEPS * stage``).
        Input is checked before the first graph runs."""
        hp = self.hparams
        ids = self._source(src)
        self._check_rules(rules)
        cap = min(rules.max_tokens, hp.n_tgt_ctx)
        if options.max_length is not None:
            cap = min(cap, options.max_length)
        return self._loop(ids, rules, options, step_offset, cap)

    def _loop(self, ids, rules, options, step_offset, cap) -> Iterator[int]:
        hp = self.hparams
        out = self.sessions.get(f"{self.component}/encode").run({"src": ids[None]})
        cross = {n: out[n] for n in self._cross}
        step_graph = self.sessions.get(f"{self.component}/step")
        kv = KVGroups(hp.kv, capacity=KV_START, limit=cap)  # cap tokens: BOS and all but the last are fed

        def run(token: int, position: int) -> np.ndarray:
            kv.make_room(1)
            res = step_graph.run({**kv.feeds(), **cross, "token": np.array([[token]], np.int64),
                                  "position": np.array([position], np.int64),
                                  "length": np.array([kv.length], np.int64)})
            kv.append(res)
            return res["logits"]

        def step(state, token, i):
            state["logits"] = run(token, i + 1)
            return state

        yield from rule_tokens(lambda: {"logits": run(hp.bos, 0)}, step, rules, options_sampler(options, step_offset),
                               cap)
