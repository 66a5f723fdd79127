"""The native sentence splitter / chunker (csrc/text/sentences.cpp, shared with the C API) against its reference
(tests/reference/sentences.py), and the shared noise (csrc/noise.h) against tests/reference/noise.py."""
from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from tests.reference import noise as noise_ref
from tests.reference import sentences as ref
from voxlite.kernels.noise import standard_normal
from voxlite.text import sentences as native

ROOT = Path(__file__).resolve().parents[1]
PIECES = ["Dr.", "Mr. Smith", "e.g.", "etc.", "U.S.", "a.m.", "J.", "No.", "Jan.", "It ended.", "Really?!", "Wow!",
          "\"Quoted.\"", "(aside.)", "'single.'", "你好。", "真的吗？", "「引用。」", "hello", "world", ",", ";", ":",
          "，", "、", "word,word", "x" * 30, "\n", "\t", "  ", "Sept.", "vs.", "i.e.", "cf.", "Ph.D.", "a", "B", "3.5",
          "end.\n.", "…", "é.", "Σ.", "ǅ.", "Straße."]


def _texts(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        k = rng.randint(1, 14)
        out.append("".join(rng.choice(PIECES) + rng.choice(["", " ", "  ", "\n", " "]) for _ in range(k)))
    return out


def _corpus() -> list[str]:
    lines = []
    for f in sorted((ROOT / "recipes" / "default_voice").glob("eval_sentences*.txt")):
        lines += [ln for ln in f.read_text(encoding="utf-8").splitlines() if ln.strip()]
    # whole files too: many sentences at once
    lines += [f.read_text(encoding="utf-8") for f in sorted((ROOT / "recipes" / "default_voice").glob("eval_sentences*.txt"))]
    return lines


def test_split_sentences_matches_reference():
    texts = _corpus() + _texts(4000)
    bad = [t for t in texts if native.split_sentences(t) != ref.split_sentences(t)]
    assert not bad, f"{len(bad)} of {len(texts)} differ, e.g. {bad[:3]!r}"


@pytest.mark.parametrize("limit", [1, 3, 8, 40, 150])
def test_chunk_text_matches_reference(limit):
    def words(s: str) -> int:
        return len(s.split()) + s.count(",")

    texts = _corpus() + _texts(800, seed=limit)
    for count in (len, words):
        bad = [t for t in texts if native.chunk_text(t, limit, count) != ref.chunk_text(t, limit, count)]
        assert not bad, f"{len(bad)} of {len(texts)} differ ({count.__name__}, {limit}), e.g. {bad[:2]!r}"


def test_chunk_text_refusals_and_errors_from_count():
    with pytest.raises(ValueError):
        native.chunk_text("Hello.", 0)

    def boom(s: str) -> int:
        raise KeyError("from count")

    with pytest.raises(KeyError):
        native.chunk_text("Hello. World.", 5, boom)
    with pytest.raises((ValueError, UnicodeError)):
        native.split_sentences("bad \ud800 surrogate")


@pytest.mark.parametrize("seed,stream,n", [(0, 0, 800), (7, 3, 1), (2**63 - 1, 12345, 101), (5, 2**64 - 1, 64)])
def test_noise_matches_reference(seed, stream, n):
    got = standard_normal(seed, stream, n)
    want = noise_ref.standard_normal(seed, stream, n)
    assert got.dtype == np.float32 and got.shape == (n,)
    # equal where NumPy's float64 log / cos / sin are libm's (x86-64 glibc); allow an ulp elsewhere
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)


def test_noise_is_standard_normal_and_counter_based():
    x = standard_normal(1, 0, 200_000)
    assert abs(float(x.mean())) < 0.01 and abs(float(x.std()) - 1) < 0.01
    assert standard_normal(1, 5, (2, 3)).shape == (2, 3)
    np.testing.assert_array_equal(standard_normal(3, 9, 10)[:4], standard_normal(3, 9, 4))
    assert not np.array_equal(standard_normal(3, 9, 4), standard_normal(3, 10, 4))
    with pytest.raises(ValueError):
        standard_normal(-1, 0, 3)
