"""transformers' ``VitsTokenizer`` (5.x) without transformers: a character table (``vocab.json``) and its options.

What ``tokenizer(text)`` does, step by step, reproduced here:

1. ``normalize``: scanning left to right, a vocabulary entry (or added token) that starts here is kept verbatim (the
   first one in table order wins, so upper-case entries survive); any other character is lower-cased.
2. ``language == "ron"``: ``ț`` -> ``ţ``.
3. ``is_uroman`` and a non-ASCII character present: romanised with ``uroman`` (transformers only warns when uroman
   is missing; this raises ``FrontendUnavailable`` instead, as unromanised text would be silent garbage).
4. ``phonemize``: ``phonemizer.phonemize(text, language="en-us", backend="espeak", strip=True,
   preserve_punctuation=True, with_stress=True)``, then whitespace runs -> one space (``FrontendUnavailable`` when
   phonemizer or espeak is missing). Otherwise, with ``normalize``: characters not in the vocabulary are dropped
   and the ends stripped.
5. The text is cut at added tokens (pad, unk and any the config adds; earliest, then longest match), honouring their
   ``lstrip`` / ``rstrip`` / ``single_word`` flags; an added token stays one token, every other piece is split into
   characters, and with ``add_blank`` each piece becomes ``[b, c1, b, c2, ..., b]`` (b = vocabulary id 0's
   character), so an added token inside the text sits between two blanks rather than interleaved.
6. Ids: added tokens, then the vocabulary, else the unk id. Special tokens missing from the vocabulary get new ids
   after it, unk before pad. No BOS / EOS. Truncation and padding (pad id, right side) as requested.

AudioLDM 2's speech checkpoints in diffusers layout are ``anhnct/audioldm2_gigaspeech`` and
``anhnct/audioldm2_ljspeech`` (diffusers' AudioLDM 2 docs table, its TTS example and its ``test_audioldm2_tts``; no
``cvssp/audioldm2-speech-*`` diffusers repos are referenced). The hub listing of audioldm2_ljspeech's ``tokenizer_2/``
shows added_tokens.json, special_tokens_map.json, tokenizer_config.json (650 B) and vocab.json (413 B); the file
contents were not available to check here, so phonemize / add_blank / normalize are NOT read from them. What is
established, from the original inference code of these checkpoints (haoheliu/AudioLDM2 ``pipeline.py``,
``latent_diffusion/util.py``): the transcription is phonemized by VITS' ``english_cleaners2`` (espeak en-us via
phonemizer, punctuation kept, with stress: what ``phonemize=True`` calls), mapped character by character onto VITS'
178 symbols (pad ``_`` = 0) plus ``♪☎☒☝⚠``, with ``⚠`` (182) appended and 0-padding to 310, and no blanks. diffusers'
``encode_prompt`` mirrors this by replacing each row's first id 0 with 182 (``mark_end``), which only lands after the
text when ``add_blank`` is off (with blanks the first 0 is the leading blank): so add_blank=false and phonemize=true
are implied; normalize is unknown. (A 413-byte vocab.json seems too small for 178 symbols: check the real file.)
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from ..errors import FrontendUnavailable, InvalidInput

AUDIOLDM2_END_ID = 182  # "⚠" in AudioLDM 2's phoneme table: ends a transcription

_UNSET_LENGTH = int(1e20)
_NON_ASCII = re.compile(r"[^\x00-\x7F]")
_WHITESPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class AddedToken:
    content: str
    lstrip: bool = False
    rstrip: bool = False
    single_word: bool = False


def _phonemize(text: str) -> str:
    try:
        import phonemizer
    except ImportError as e:
        raise FrontendUnavailable("this VITS tokenizer phonemizes (phonemize=true), which needs the `phonemizer` "
                                  "package and the espeak-ng library: pip install phonemizer; apt-get install "
                                  "espeak-ng") from e
    try:
        return phonemizer.phonemize(text, language="en-us", backend="espeak", strip=True,
                                    preserve_punctuation=True, with_stress=True)
    except RuntimeError as e:  # phonemizer's "espeak not installed on your system"
        raise FrontendUnavailable(f"phonemizer could not run espeak ({e}): apt-get install espeak-ng") from e


_UROMAN = None


def _romanize(text: str) -> str:
    global _UROMAN
    if _UROMAN is None:
        try:
            import uroman
        except ImportError as e:
            raise FrontendUnavailable("this VITS tokenizer romanises non-ASCII text (is_uroman=true), which needs "
                                      "the `uroman` package: pip install uroman") from e
        _UROMAN = uroman.Uroman()  # loading its tables is slow: once
    return _UROMAN.romanize_string(text)


def _token_content(value: Any) -> str | None:
    return value.get("content") if isinstance(value, Mapping) else value


class VitsCharTokenizer:
    def __init__(self, vocab: Mapping[str, int], *, pad_token: str = "<pad>", unk_token: str = "<unk>",
                 language: str | None = None, add_blank: bool = True, normalize: bool = True,
                 phonemize: bool = True, is_uroman: bool = False,
                 added_tokens: Mapping[int, AddedToken] | None = None, model_max_length: int | None = None):
        """Arguments as ``VitsTokenizer``'s (same defaults); ``added_tokens``: a config's ``added_tokens_decoder``."""
        self.vocab = dict(vocab)
        self.language, self.add_blank, self.normalize = language, add_blank, normalize
        self.phonemize, self.is_uroman, self.model_max_length = phonemize, is_uroman, model_max_length
        self.added: dict[str, int] = {}
        self._flags: dict[str, AddedToken] = {}
        for index, token in sorted((added_tokens or {}).items()):
            self._add(token, index)
        known = {**self.vocab, **self.added}
        new_ids = iter(range(len(known), len(known) + 2))
        for special in (unk_token, pad_token):  # transformers' order: unk before pad
            if special not in self.added:
                self._add(AddedToken(special), known[special] if special in known else next(new_ids))
        self.unk_id, self.pad_id = self.added[unk_token], self.added[pad_token]
        self.blank = {i: s for s, i in self.vocab.items()}.get(0)  # vocabulary id 0's character (None: unk)
        self._words = self._by_first_char(list(self.vocab) + sorted(self.added, key=self.added.get))
        self._added_by_first = self._by_first_char(sorted(self.added, key=len, reverse=True))

    def _add(self, token: AddedToken, index: int) -> None:
        self.added[token.content] = index
        self._flags[token.content] = token

    @staticmethod
    def _by_first_char(words: Iterable[str]) -> dict[str, list[str]]:
        table: dict[str, list[str]] = {}
        for word in words:
            if word:
                table.setdefault(word[0], []).append(word)
        return table

    @classmethod
    def from_dir(cls, directory: str | Path) -> "VitsCharTokenizer":
        """A saved VitsTokenizer folder: vocab.json, plus tokenizer_config.json / special_tokens_map.json /
        added_tokens.json when present."""
        directory = Path(directory)

        def read(name: str) -> dict:
            path = directory / name
            return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}

        config, special = read("tokenizer_config.json"), read("special_tokens_map.json")
        added = {index: AddedToken(content) for content, index in read("added_tokens.json").items()}
        for index, token in config.get("added_tokens_decoder", {}).items():
            added[int(index)] = AddedToken(token["content"], bool(token.get("lstrip")), bool(token.get("rstrip")),
                                           bool(token.get("single_word")))
        options = {k: config[k] for k in ("language", "add_blank", "normalize", "phonemize", "is_uroman")
                   if k in config}
        length = config.get("model_max_length")
        if isinstance(length, int) and length < _UNSET_LENGTH:  # transformers saves 1e30 for "none"
            options["model_max_length"] = length
        for name in ("pad_token", "unk_token"):
            content = _token_content(config.get(name, special.get(name)))
            if content is not None:
                options[name] = content
        vocab = json.loads((directory / "vocab.json").read_text(encoding="utf-8"))
        return cls(vocab, added_tokens=added, **options)

    def _normalize_text(self, text: str) -> str:
        out, i = [], 0
        while i < len(text):
            word = next((w for w in self._words.get(text[i], ()) if text.startswith(w, i)), None)
            out.append(word if word is not None else text[i].lower())
            i += len(word) if word is not None else 1
        return "".join(out)

    def prepare(self, text: str, normalize: bool | None = None) -> str:
        """Steps 1-4: the string that is then split into tokens."""
        normalize = self.normalize if normalize is None else normalize
        if normalize:
            text = self._normalize_text(text)
        if self.language == "ron":
            text = text.replace("ț", "ţ")
        if self.is_uroman and _NON_ASCII.search(text):
            text = _romanize(text)
        if self.phonemize:
            return _WHITESPACE.sub(" ", _phonemize(text))
        if normalize:
            text = "".join(c for c in text if c in self.vocab).strip()
        return text

    def _split_on_added(self, text: str) -> list[str]:
        pieces, start, i = [], 0, 0
        while i < len(text):
            match = next((t for t in self._added_by_first.get(text[i], ()) if text.startswith(t, i)), None)
            if match is None:
                i += 1
                continue
            pieces += [p for p in (text[start:i], match) if p]
            start = i = i + len(match)
        return pieces + ([text[start:]] if start < len(text) else [])

    def _apply_flags(self, pieces: list[str]) -> list[str]:
        """transformers' lstrip / rstrip / single_word handling around added tokens, on the pieces in place."""
        for i, piece in enumerate(pieces):
            flags = self._flags.get(piece)
            if flags is None:
                continue
            left = pieces[i - 1] if i > 0 else None
            right = pieces[i + 1] if i < len(pieces) - 1 else None
            if flags.rstrip and right:
                pieces[i + 1] = right.lstrip()
            if flags.lstrip and left:
                pieces[i - 1] = left.rstrip()
            if flags.single_word:
                if left and left[-1] != " ":
                    pieces[i - 1] += piece
                    pieces[i] = ""
                elif right and right[0] != " ":
                    pieces[i + 1] = piece + pieces[i + 1]
                    pieces[i] = ""
        return pieces

    def _characters(self, piece: str) -> list[str | None]:
        if not self.add_blank:
            return list(piece)
        out: list[str | None] = [self.blank] * (2 * len(piece) + 1)
        out[1::2] = piece
        return out

    def tokenize(self, text: str, normalize: bool | None = None) -> list[str | None]:
        tokens: list[str | None] = []
        for piece in self._apply_flags(self._split_on_added(self.prepare(text, normalize))):
            if piece:
                tokens += [piece] if piece in self.added else self._characters(piece)
        return tokens

    def token_id(self, token: str | None) -> int:
        return self.added.get(token, self.vocab.get(token, self.unk_id))

    def encode(self, text: str, max_length: int | None = None) -> list[int]:
        """Ids of one text, cut to ``max_length`` when given."""
        ids = [self.token_id(t) for t in self.tokenize(text)]
        return ids if max_length is None else ids[:max_length]

    def __call__(self, texts: str | Sequence[str], padding: str = "max_length", max_length: int | None = None
                 ) -> dict[str, list[list[int]]]:
        """As ``tokenizer(texts, padding=..., max_length=..., truncation=True)``: ``padding`` "max_length" (to
        ``max_length``, default ``model_max_length``), "longest" or "none"; returns input_ids / attention_mask."""
        if padding not in ("max_length", "longest", "none"):
            raise InvalidInput(f"padding must be 'max_length', 'longest' or 'none', not {padding!r}")
        texts = [texts] if isinstance(texts, str) else list(texts)
        limit = max_length if max_length is not None else self.model_max_length
        rows = [self.encode(t, limit) for t in texts]
        # like transformers, "max_length" without any length pads nothing
        width = {"max_length": limit or 0, "longest": max(map(len, rows), default=0), "none": 0}[padding]
        return {"input_ids": [r + [self.pad_id] * (width - len(r)) for r in rows],
                "attention_mask": [[1] * len(r) + [0] * (width - len(r)) for r in rows]}


def mark_end(input_ids: Sequence[Sequence[int]], attention_mask: Sequence[Sequence[int]],
             end_id: int = AUDIOLDM2_END_ID) -> tuple[list[list[int]], list[list[int]]]:
    """diffusers' AudioLDM 2 step after tokenizing a transcription: in each row the first id equal to 0 becomes
    ``end_id`` and its mask 1 (a row with no 0 is left alone). Returns new lists."""
    ids, mask = [list(r) for r in input_ids], [list(r) for r in attention_mask]
    for row, row_mask in zip(ids, mask):
        if 0 in row:
            at = row.index(0)
            row[at], row_mask[at] = end_id, 1
    return ids, mask
