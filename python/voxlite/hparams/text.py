"""Hyper-parameters of a text front-end component (kind ``text``)."""
from __future__ import annotations

from dataclasses import dataclass

from .base import HParams


@dataclass(frozen=True)
class TextHParams(HParams):
    type: str  # the front end: a key of voxlite.text.FRONT_ENDS ("hf-tokenizers", "voxlite-g2p-en", ...)
