"""A prompt tokenizer on the ``tokenizers`` library alone (no transformers): a checkpoint's ``tokenizer.json`` with
its special tokens (RoBERTa's ``<s> ... </s>``, T5's ``... </s>``), truncated to the model's maximum length as
transformers' fast tokenizers do with ``truncation=True`` (the special tokens are kept, the text is cut)."""
from __future__ import annotations

import os

import numpy as np

from ..errors import BundleError, InvalidInput


class PromptTokens:
    def __init__(self, tokenizer, max_length: int):
        self._tok = tokenizer
        self._tok.no_padding()
        self._tok.enable_truncation(int(max_length))
        self.max_length = int(max_length)

    @classmethod
    def from_file(cls, path: str | os.PathLike, max_length: int) -> "PromptTokens":
        from tokenizers import Tokenizer

        try:
            return cls(Tokenizer.from_file(str(path)), max_length)
        except Exception as e:  # the tokenizers library raises plain Exceptions on bad JSON
            raise BundleError(f"cannot load tokenizer {path}: {e}") from None

    def encode(self, text: str) -> np.ndarray:
        """``text`` -> token ids (n,) int64, special tokens added, at most ``max_length``."""
        if not isinstance(text, str):
            raise InvalidInput(f"prompt must be a string, got {type(text).__name__}")
        return np.asarray(self._tok.encode(text).ids, dtype=np.int64)

    def untruncated_length(self, text: str) -> int:
        """How many ids ``text`` makes before truncation (to tell the user what was cut)."""
        self._tok.no_truncation()
        try:
            return len(self._tok.encode(text).ids)
        finally:
            self._tok.enable_truncation(self.max_length)
