"""The energy score: a strictly proper scoring rule for a sampler, estimated from two samples per target.

    ES(P, y) = E ||X - y|| - 1/2 E ||X - X'||,     X, X' ~ P independent

is minimised in expectation only by P = the distribution y is drawn from (Gneiting & Raftery 2007; exponent 1, any
exponent in (0, 2) would do). So a generator trained on it learns to draw one plausible patch, not the median of the
patches it cannot tell apart, which is what an L1 head learns (the smeared transitions of the default voice's prior).
SLED and CALM train continuous autoregressive heads this way.

The default voice's head scores a patch (P frames x D bins) twice: the whole patch (the joint, so a sample's frames
belong together) and each frame (the marginals, whose norm is not drowned by the patch's 800 dimensions). The sum of
a strictly proper score and proper ones is strictly proper. Norms are divided by sqrt(dimensions), so either term
reads as an RMS distance.
"""
from __future__ import annotations

import math

import torch

EPS = 1e-8  # inside the square root: a finite gradient where two samples (or a sample and y) coincide


def _norm(x: torch.Tensor, dims: tuple[int, ...]) -> torch.Tensor:
    n = math.prod(x.shape[d] for d in dims)
    return torch.sqrt(x.square().sum(dim=dims) / n + EPS)


def energy_score(samples: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean energy score of ``samples`` (2, M, P, D), two independent draws per target, against ``target``
    (M, P, D): whole-patch term + mean per-frame term, averaged over the M patches (a scalar)."""
    if samples.shape[0] != 2 or samples.shape[1:] != target.shape or target.dim() != 3:
        raise ValueError(f"samples {tuple(samples.shape)} must be (2, *target) with target (M, P, D), "
                         f"got target {tuple(target.shape)}")
    terms = []
    for dims in ((-2, -1), (-1,)):  # the patch, then each frame
        fit = (_norm(samples[0] - target, dims) + _norm(samples[1] - target, dims)) / 2
        spread = _norm(samples[0] - samples[1], dims)
        terms.append((fit - spread / 2).mean())
    return terms[0] + terms[1]
