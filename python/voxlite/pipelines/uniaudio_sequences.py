"""UniAudio task sequences: the exact flat token stream its LM reads, built per task (numpy only, no graphs).

UniAudio (Yang et al., 2023) runs one decoder-only LM over a *joint vocabulary* for 11+ audio tasks. Everything
it reads is one flat id sequence grouped in **frames of 3 tokens** (one global-transformer position each):

- a codec frame is the 3 RVQ codes of 20 ms of 16 kHz audio, codebook ``c`` offset by ``c * bins`` inside the audio
  range: ``id = audio_base + c * bins + code``; AudioTokenizer's flat layout (``code + bins * c``, frame-major) is
  ``id - audio_base``. The last audio id (``audio_base + 3 * bins``) is the speech-edit mask;
- every other token (phone, semantic, sing phone / midi, task id, markers, T5 placeholders) is repeated 3 times to
  fill a frame.

One sequence (``build_sequence``) is::

    <start>x3  <{task}_task>x3  seg(key_1) ... seg(key_n)  <end>x3
    seg(key) = <{type}_start>x3  data(key)  <{type}_end>x3

with the keys / types of ``TASK_FORMATS[task]``, whose last key is the target (``loss_key``). The loss mask is True
on the target segment, markers included, and on the final ``<end>`` frame. T5 text (type ``text_t5``) is continuous:
its rows become ``<continuous_token>`` placeholders (3 per row) and travel separately as a
:class:`ContinuousSegment` (token range in the final sequence, features with every row repeated 3 times).
``build_prefix`` gives the inference prefix: everything up to and including the target's start marker.

The joint-vocabulary offsets are **read from the token list** a checkpoint stores (``UniAudioVocabulary.
from_token_list``): special tokens are looked up by name, and each discrete modality is the contiguous run of
``<{type}_0>``, ``<{type}_1>``, ... entries; nothing is hard-coded, so a checkpoint trained with other tokenizers
enabled (BPE text, 512 semantic clusters, ...) gets its own offsets. ``audio_prompt`` has no ids of its own: it
uses the audio range.

Inputs (per key, by type): ``audio`` / ``audio_prompt``: codec codes ``(3, T)`` (``-1`` marks a masked frame in a
corrupted input), or the flat AudioTokenizer layout ``(3T,)`` (where ``3 * bins`` is the mask id); ``phone``,
``semantic``, ``sing_phone``, ``sing_midi``: 1-D tokenizer indices (for ``tts``, ``plain_tts`` and
``phone_to_semantic`` consecutive repeats are merged, as UniAudio's phone tokenizer does for those tasks);
``text_t5``: float T5 encoder rows ``(L, D)``. What the official data loader does before this point (picking a 3 s
prompt from another utterance of the speaker, choosing the words to mask for speech edit) is the caller's choice.
Invalid input raises :class:`~voxlite.errors.InvalidInput` naming the argument.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import NamedTuple, Sequence

import numpy as np

from ..errors import InvalidInput

FRAME = 3  # tokens per LM frame = codebooks per codec frame (non_acoustic_repeat)


@dataclass(frozen=True)
class TaskFormat:
    keys: tuple[str, ...]
    types: tuple[str, ...]
    loss_key: str
    dedup_phones: bool = False  # the phone tokenizer merges consecutive repeats (no durations) for this task


def _fmt(pairs: str, dedup: bool = False) -> TaskFormat:
    items = [p.split(":") for p in pairs.split()]
    return TaskFormat(tuple(k for k, _ in items), tuple(t for _, t in items), items[-1][0], dedup)


# task -> segments in order (key:type); the last key is the target. The task-id token is ``<{task}_task>``.
TASK_FORMATS: dict[str, TaskFormat] = {
    "tts": _fmt("phone_seq:phone prompt_seq:audio_prompt audio_seq:audio", dedup=True),
    "plain_tts": _fmt("phone_seq:phone audio_seq:audio", dedup=True),
    "phone_to_semantic": _fmt("phone_seq:phone semantic_seq:semantic", dedup=True),
    "semantic_to_acoustic": _fmt("semantic_seq:semantic audio_seq:audio"),
    "VC": _fmt("semantic_seq:semantic prompt_seq:audio_prompt audio_seq:audio"),
    "SE": _fmt("noise_seq:audio audio_seq:audio"),
    "Spex": _fmt("noise_seq:audio prompt_seq:audio_prompt audio_seq:audio"),
    "Speech_RIR": _fmt("noise_seq:audio audio_seq:audio"),
    "TSS": _fmt("text_t5_seq:text_t5 audio_seq:audio"),
    "TTM": _fmt("text_t5_seq:text_t5 audio_seq:audio"),
    "Audit": _fmt("text_t5_seq:text_t5 audio_source_seq:audio audio_seq:audio"),
    "InstructTTS": _fmt("phone_seq:phone text_t5_seq:text_t5 audio_seq:audio"),
    "sing": _fmt("sing_phone_seq:sing_phone sing_midi_seq:sing_midi prompt_seq:audio_prompt audio_seq:audio"),
    "speech_edit": _fmt("phone_seq:phone corrupted_audio_seq:audio audio_seq:audio"),
    # need tokenizers the public recipes do not enable (BPE text, sv_bool): built if the token list has them
    "lm": _fmt("text_seq:text"),
    "asr": _fmt("semantic_seq:semantic text_seq:text"),
    "SV": _fmt("audio_seq:audio prompt_seq:audio_prompt sv_bool_seq:sv_bool"),
}
TASKS = tuple(TASK_FORMATS)
AUDIO_TYPES = ("audio", "audio_prompt")
CONTINUOUS_TYPES = ("text_t5",)
_DATA_TOKEN = re.compile(r"<(.+)_(\d+)>")


@dataclass(frozen=True)
class ContinuousSegment:
    """Continuous features spliced into the sequence: token range [start, end) of its placeholders, and the
    features with each row repeated 3 times ((end - start, D), one row per placeholder token)."""

    start: int
    end: int
    type: str
    features: np.ndarray


class UniAudioSequence(NamedTuple):
    ids: np.ndarray  # (L,) int64, L a multiple of 3
    loss_mask: np.ndarray  # (L,) bool
    continuous_segments: list[ContinuousSegment]


class UniAudioVocabulary:
    """Ids of UniAudio's joint vocabulary, found in a checkpoint's token list."""

    def __init__(self, token_list: Sequence[str]):
        if isinstance(token_list, (str, bytes)) or not all(isinstance(t, str) for t in token_list):
            raise InvalidInput("token_list must be a sequence of token strings")
        self.token_list = tuple(token_list)
        self._index: dict[str, int] = {}
        for i, token in enumerate(self.token_list):
            self._index.setdefault(token, i)
        ranges: dict[str, tuple[int, int]] = {}
        i, n = 0, len(self.token_list)
        while i < n:
            m = _DATA_TOKEN.fullmatch(self.token_list[i])
            if m is None or int(m.group(2)) != 0:
                i += 1
                continue
            kind, j = m.group(1), i + 1
            while j < n and self.token_list[j] == f"<{kind}_{j - i}>":
                j += 1
            if kind in ranges:
                raise InvalidInput(f"token_list has two runs of <{kind}_N> tokens")
            ranges[kind] = (i, j)
            i = j
        self.ranges = ranges  # modality -> [start, end) ids
        for name in ("<pad>", "<start>", "<end>", "<continuous_token>"):
            self.special(name)
        if "audio" in ranges:
            size = ranges["audio"][1] - ranges["audio"][0]
            if size % FRAME != 1:
                raise InvalidInput(f"the audio range has {size} ids: expected {FRAME} codebooks x bins + 1 mask id")
            self.bins = size // FRAME
        else:
            self.bins = 0

    @classmethod
    def from_token_list(cls, token_list: Sequence[str]) -> "UniAudioVocabulary":
        return cls(token_list)

    def __len__(self) -> int:
        return len(self.token_list)

    # -- lookups ---------------------------------------------------------------------------------------------
    def special(self, name: str) -> int:
        """The id of a named token such as ``<audio_start>``; InvalidInput if the token list lacks it."""
        try:
            return self._index[name]
        except KeyError:
            raise InvalidInput(f"the token list has no {name} token") from None

    def has(self, name: str) -> bool:
        return name in self._index

    def data_range(self, kind: str) -> tuple[int, int]:
        """[start, end) ids of a discrete modality (``audio_prompt`` shares ``audio``'s)."""
        kind = "audio" if kind == "audio_prompt" else kind
        if kind in CONTINUOUS_TYPES:
            raise InvalidInput(f"{kind} is continuous: it has no ids")
        try:
            return self.ranges[kind]
        except KeyError:
            raise InvalidInput(f"the token list has no {kind} tokens (<{kind}_0> ...): "
                               f"the checkpoint was trained without that tokenizer") from None

    def type_bias(self, kind: str) -> int:
        """The offset added to a ``kind`` tokenizer's output (0 for continuous types), as UniAudio's type_bias."""
        return 0 if kind in CONTINUOUS_TYPES else self.data_range(kind)[0]

    @property
    def audio_mask_id(self) -> int:
        """The speech-edit mask id: the audio range's last id (AudioTokenizer's ``3 * bins``)."""
        return self.data_range("audio")[1] - 1

    def codebook_range(self, codebook: int) -> tuple[int, int]:
        """[start, end) joint ids of one codebook: what generation step ``codebook`` of a frame may emit
        (besides ``<audio_end>``)."""
        if not 0 <= codebook < FRAME:
            raise InvalidInput(f"codebook must be in 0..{FRAME - 1}, got {codebook!r}")
        base = self.data_range("audio")[0] + codebook * self.bins
        return base, base + self.bins

    def task_id(self, task: str) -> int:
        return self.special(f"<{task}_task>")

    def names(self, ids) -> list[str]:
        return [self.token_list[int(i)] for i in np.asarray(ids).reshape(-1)]

    def audio_codes(self, ids) -> np.ndarray:
        """Generated audio ids (whole frames, no markers) -> codec codes (3, T); InvalidInput on other ids."""
        a = np.asarray(ids, dtype=np.int64).reshape(-1)
        if a.size % FRAME:
            raise InvalidInput(f"audio ids must be whole frames of {FRAME}, got {a.size} ids")
        codes = a.reshape(-1, FRAME).T - np.array([self.codebook_range(c)[0] for c in range(FRAME)])[:, None]
        if codes.size and (codes.min() < 0 or codes.max() >= self.bins):
            raise InvalidInput("audio ids outside their codebook's range (a marker, a mask, or a misplaced code)")
        return codes

    # -- sequences ------------------------------------------------------------------------------------------
    def build_sequence(self, task: str, **inputs) -> UniAudioSequence:
        """The collated training / teacher-forcing sequence of one example: (ids, loss_mask, continuous)."""
        fmt = _format(task)
        return self._build(task, fmt, fmt.keys, inputs, close=True)

    def build_prefix(self, task: str, **inputs) -> UniAudioSequence:
        """The inference prefix: every input but the target, then the target's start marker (generation continues
        from there, one frame of 3 codes at a time, until ``<audio_end>``)."""
        fmt = _format(task)
        return self._build(task, fmt, fmt.keys[:-1], inputs, close=False)

    def _build(self, task: str, fmt: TaskFormat, keys: tuple[str, ...], inputs: dict, close: bool
               ) -> UniAudioSequence:
        unknown = sorted(set(inputs) - set(keys))
        if unknown:
            extra = " (the target is generated: build_prefix takes no target)" if fmt.loss_key in unknown else ""
            raise InvalidInput(f"{task} takes {', '.join(keys)}; unexpected {', '.join(unknown)}{extra}")
        missing = [k for k in keys if inputs.get(k) is None]
        if missing:
            raise InvalidInput(f"{task} needs {', '.join(keys)}; missing {', '.join(missing)}")
        ids: list[np.ndarray] = [self._frame("<start>"), self._frame(f"<{task}_task>")]
        mask: list[bool] = [False, False]  # per frame
        continuous: list[ContinuousSegment] = []
        pos = 2 * FRAME
        for key, kind in zip(fmt.keys, fmt.types):
            target = key == fmt.loss_key
            start, end = self._frame(f"<{kind}_start>"), self._frame(f"<{kind}_end>")
            if target and not close:
                ids.append(start)
                mask.append(True)
                break
            body, feats = self._data(task, key, kind, inputs[key], fmt)
            if feats is not None:
                continuous.append(ContinuousSegment(pos + FRAME, pos + FRAME + body.size, kind, feats))
            ids += [start, body, end]
            mask += [target] * (2 + body.size // FRAME)
            pos += body.size + 2 * FRAME
        if close:
            ids.append(self._frame("<end>"))
            mask.append(True)
        flat = np.concatenate(ids).astype(np.int64)
        loss = np.repeat(np.array(mask, dtype=bool), FRAME)
        assert flat.size == loss.size and flat.size % FRAME == 0
        return UniAudioSequence(flat, loss, continuous)

    def _frame(self, name: str) -> np.ndarray:
        return np.full(FRAME, self.special(name), dtype=np.int64)

    def _data(self, task: str, key: str, kind: str, value, fmt: TaskFormat
              ) -> tuple[np.ndarray, np.ndarray | None]:
        """(token ids of the segment's body, features of a continuous segment or None)."""
        if kind in CONTINUOUS_TYPES:
            feats = _array(value, key)
            if feats.ndim != 2 or feats.shape[0] == 0 or feats.shape[1] == 0:
                raise InvalidInput(f"{key} must be a 2-D ({kind} rows, features) float array, got shape "
                                   f"{feats.shape}")
            if not np.issubdtype(feats.dtype, np.floating) or not np.isfinite(feats).all():
                raise InvalidInput(f"{key} must hold finite floats, got {feats.dtype}")
            placeholder = self.special("<continuous_token>")
            return (np.full(feats.shape[0] * FRAME, placeholder, np.int64),
                    np.repeat(feats.astype(np.float32), FRAME, axis=0))
        if kind in AUDIO_TYPES:
            return self._audio(key, value), None
        base, stop = self.data_range(kind)
        tokens = _integers(value, key, 1)
        if tokens.size == 0:
            raise InvalidInput(f"{key} is empty")
        if tokens.min() < 0 or tokens.max() >= stop - base:
            raise InvalidInput(f"{key}: {kind} indices must be in 0..{stop - base - 1}, got "
                               f"{tokens.min()}..{tokens.max()}")
        if kind == "phone" and fmt.dedup_phones:
            tokens = tokens[np.r_[True, tokens[1:] != tokens[:-1]]]
        return np.repeat(tokens + base, FRAME), None

    def _audio(self, key: str, value) -> np.ndarray:
        base, _ = self.data_range("audio")
        a = _array(value, key)
        if a.ndim == 2:  # codec codes (3, T); -1 = masked
            if a.shape[0] != FRAME:
                hint = "; a (T, 3) array must be transposed" if a.ndim == 2 and a.shape[1] == FRAME else ""
                raise InvalidInput(f"{key} must be codec codes ({FRAME}, frames), got shape {a.shape}{hint}")
            codes = _integers(a, key, 2)
            if codes.size and (codes.min() < -1 or codes.max() >= self.bins):
                raise InvalidInput(f"{key}: codes must be in 0..{self.bins - 1} (or -1 for a masked code)")
            flat = (codes + np.arange(FRAME)[:, None] * self.bins).T.reshape(-1)
            flat[codes.T.reshape(-1) < 0] = FRAME * self.bins
        elif a.ndim == 1:  # AudioTokenizer's flat layout
            flat = _integers(a, key, 1)
            if flat.size % FRAME:
                raise InvalidInput(f"{key}: flat audio tokens must be whole frames of {FRAME}, got {flat.size}")
            if flat.size:
                codebook = np.tile(np.arange(FRAME), flat.size // FRAME)
                ok = (flat // self.bins == codebook) | (flat == FRAME * self.bins)
                if flat.min() < 0 or not ok.all():
                    raise InvalidInput(f"{key}: flat token k of a frame must be in [k * {self.bins}, (k + 1) * "
                                       f"{self.bins}) (or the mask id {FRAME * self.bins})")
        else:
            raise InvalidInput(f"{key} must be codec codes ({FRAME}, frames) or flat tokens, got shape {a.shape}")
        if flat.size == 0:
            raise InvalidInput(f"{key} is empty")
        return flat.astype(np.int64) + base


def _format(task: str) -> TaskFormat:
    if task not in TASK_FORMATS:
        raise InvalidInput(f"unknown UniAudio task {task!r}; tasks: {', '.join(TASKS)}")
    return TASK_FORMATS[task]


def _array(value, name: str) -> np.ndarray:
    try:
        return np.asarray(value)
    except (ValueError, TypeError) as e:  # ragged nested lists
        raise InvalidInput(f"{name} is not an array: {e}") from None


def _integers(value, name: str, ndim: int) -> np.ndarray:
    a = _array(value, name)
    if a.ndim != ndim:
        raise InvalidInput(f"{name} must be a {ndim}-D integer array, got shape {a.shape}")
    if a.size and not np.issubdtype(a.dtype, np.integer):
        raise InvalidInput(f"{name} must hold integers, got dtype {a.dtype}")
    return a.astype(np.int64)


def build_sequence(vocab: UniAudioVocabulary, task: str, **inputs) -> UniAudioSequence:
    """Module-level form of :meth:`UniAudioVocabulary.build_sequence`."""
    return vocab.build_sequence(task, **inputs)


def split_frames(ids) -> np.ndarray:
    """(L,) flat ids -> (L / 3, 3) frames."""
    a = np.asarray(ids).reshape(-1)
    if a.size % FRAME:
        raise InvalidInput(f"a UniAudio sequence is whole frames of {FRAME}, got {a.size} ids")
    return a.reshape(-1, FRAME)
