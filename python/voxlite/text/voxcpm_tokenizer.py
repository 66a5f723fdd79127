"""VoxCPM's text tokenization, as voxcpm 2.0.3 does it, on the ``tokenizers`` library alone (no torch/transformers).

The official pipeline (``VoxCPM._generate`` -> ``VoxCPMModel._generate_with_prompt_cache``):

- whitespace: newlines become spaces, then every run of whitespace one space (``re.sub(r"\\s+", " ", text)``);
  its optional ``normalize=True`` text normaliser (wetext) is off by default and not reproduced;
- the checkpoint's ``LlamaTokenizerFast`` ``tokenize(text)``: no special tokens (no ``<s>``);
- ``mask_multichar_chinese_tokens``: a token whose text, with every ``▁`` removed, is a vocabulary entry of two or
  more characters all in U+4E00..U+9FFF is replaced by its single characters (the ``▁`` is dropped with it), each
  looked up in the vocabulary (unknown -> the unk id);
- with a voice prompt the transcript and the target are concatenated as strings, ``prompt_text + target_text``
  (no separator), and tokenized together; the generation length limit counts the target's tokens alone.

The tokenizer is the checkpoint's ``tokenizer.json`` as written (what transformers 4.x's ``LlamaTokenizerFast``
loads, and what other VoxCPM ports load with the Rust ``tokenizers``). Note: transformers 5's
``LlamaTokenizerFast.from_pretrained`` rebuilds the pipeline from the vocabulary and merges (Metaspace pre-tokenizer,
byte fallback, no normalizer), which can differ from tokenizer.json on characters outside the vocabulary.
"""
from __future__ import annotations

import os
import re

from ..errors import BundleError, InvalidInput

_WS = re.compile(r"\s+")


def _all_cjk(token: str) -> bool:
    return all("\u4e00" <= c <= "\u9fff" for c in token)


def clean_text(text: str) -> str:
    """The official whitespace handling (applied to the target text before tokenization)."""
    return _WS.sub(" ", text.replace("\n", " "))


def read_tokenizer(path: str | os.PathLike):
    """A ``tokenizers.Tokenizer`` from a tokenizer.json, its failures as BundleError."""
    try:
        from tokenizers import Tokenizer
    except ImportError:  # pragma: no cover - a declared dependency
        raise BundleError("the 'tokenizers' package is needed for text input (pip install tokenizers)") from None
    try:
        return Tokenizer.from_file(str(path))
    except Exception as e:  # the tokenizers library raises plain Exceptions on bad JSON
        raise BundleError(f"cannot load tokenizer {path}: {e}") from None


class VoxCPMTokenizer:
    def __init__(self, tokenizer):
        """``tokenizer``: a ``tokenizers.Tokenizer`` (the checkpoint's tokenizer.json)."""
        self._tok = tokenizer
        vocab = tokenizer.get_vocab(with_added_tokens=True)
        self._vocab = vocab
        self._multichar = {t for t in vocab if len(t) >= 2 and _all_cjk(t)}
        self._unk = self._unk_id()

    def _unk_id(self) -> int | None:
        model = self._tok.model
        unk = getattr(model, "unk_token", None)
        return self._vocab.get(unk) if unk else None

    @classmethod
    def from_file(cls, path: str | os.PathLike) -> "VoxCPMTokenizer":
        return cls(read_tokenizer(path))

    @classmethod
    def from_component(cls, bundle, component: str, sessions=None) -> "VoxCPMTokenizer":
        """The text front end of a bundle's ``hf-tokenizers`` text component (its ``tokenizer`` file)."""
        from .frontends import FILE_ROLES

        return cls.from_file(bundle.component_file(component, FILE_ROLES["hf-tokenizers"]))

    @classmethod
    def from_str(cls, json_text: str) -> "VoxCPMTokenizer":
        from tokenizers import Tokenizer

        return cls(Tokenizer.from_str(json_text))

    def tokenize(self, text: str) -> list[str]:
        """Token strings after splitting multi-character CJK tokens (``CharTokenizerWrapper.tokenize``)."""
        if not isinstance(text, str):
            raise InvalidInput(f"text must be a string, got {type(text).__name__}")
        out = []
        for token in self._tok.encode(text, add_special_tokens=False).tokens:
            clean = token.replace("\u2581", "")
            if clean in self._multichar:
                out.extend(clean)
            else:
                out.append(token)
        return out

    def encode(self, text: str) -> list[int]:
        """Token ids as ``CharTokenizerWrapper.__call__`` (``convert_tokens_to_ids``: unknown -> unk id)."""
        ids = []
        for token in self.tokenize(text):
            i = self._vocab.get(token, self._unk)
            if i is None:
                raise InvalidInput(f"token {token!r} is not in the vocabulary and the tokenizer has no unk token")
            ids.append(i)
        return ids

    def encode_pair(self, target: str, prompt_text: str | None = None) -> tuple[list[int], int]:
        """(ids of ``prompt_text + target`` (whitespace-cleaned target), number of target-only tokens)."""
        target = clean_text(target)
        target_ids = self.encode(target)
        if prompt_text is None:
            return target_ids, len(target_ids)
        return self.encode(prompt_text + target), len(target_ids)

    def count(self, text: str) -> int:
        return len(self.encode(text))
