"""SpeechX task prompting: the exact token sequences of each task, built and checked (numpy only, no graphs).

SpeechX is VALL-E with task prompting: one codec language model, many tasks. The autoregressive (AR) model predicts
EnCodec codebook 1 frame by frame after a prefix of [text ids ; acoustic prompt frames]; the non-autoregressive
(NAR) model predicts codebooks 2..n_q. This module only builds what goes into that prefix; the loop that runs the
graphs reads a :class:`TaskSequence`.

Token convention
----------------
- An acoustic frame is a row of ``n_q`` (8 for EnCodec 24 kHz, 75 frames a second) code ids in ``0..N-1``, where
  ``N = n_audio_tokens`` (1024). Code arrays are ``(T, n_q)``: one row a frame, one column a codebook.
- In the AR audio table, id ``N`` is end-of-speech (and pad) and id ``N + 1`` is BOS.
- The SpeechX task tokens follow: ``task_token_id(name, N) = N + 2 + TASK_TOKENS.index(name)``, i.e. with N = 1024
  ``<ns>`` 1026, ``<sr>`` 1027, ``<tse>`` 1028, ``<soe>`` 1029, ``<mask>`` 1030, ``<eoe>`` 1031.
- A task token takes one frame position, and that frame holds the task token id in every one of the ``n_q``
  codebook columns (so the NAR embedding tables of a SpeechX bundle have rows for these ids too).

Task layouts (C(x): the codes (T, n_q) of audio x; G2P(text): the text ids)
-------------------------------------------------------------------------
============================ ============================ ====================================== ====================
task (``TASKS``)             text prompt                  acoustic prompt                        output
============================ ============================ ====================================== ====================
noise-suppression            G2P(text) or none            ``<ns>``, C(s+n)                       C(s)
speech-removal               G2P(text) or none            ``<sr>``, C(s+n)                       C(n)
target-speaker-extraction    G2P(text) or none            C(s1'), ``<tse>``, C(s1+s2)            C(s1)
zero-shot-tts                G2P(prompt transcript+text)  C(s)                                   C(s')
speech-editing               G2P(edited transcript)       C(s_pre), ``<soe>``, ``<mask>``,       C(s_pre), C(s_edit),
                                                          ``<eoe>``, C(s_post)                   C(s_post)
============================ ============================ ====================================== ====================

Clean and noisy speech editing share one layout (``speech-editing``): the model keeps whatever recording
conditions the segments around the edit have. s1' is an enrolment recording of the target speaker, s1+s2 the
mixture. For editing, the output's first ``len(s_pre)`` frames are known: the runtime forces them (teacher-forces
codebook 1 and keeps all n_q codebooks of those frames) and generates from there: ``TaskSequence.forced``.

Each builder checks its inputs and raises :class:`~voxlite.errors.InvalidInput` naming the argument at fault.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..errors import InvalidInput
from .generation import _integer

TASK_TOKENS = ("ns", "sr", "tse", "soe", "mask", "eoe")
TASKS = ("noise-suppression", "speech-removal", "target-speaker-extraction", "zero-shot-tts", "speech-editing")
N_Q = 8  # EnCodec 24 kHz at 6 kbps, as VALL-E uses it
N_AUDIO_TOKENS = 1024
FRAME_RATE = 75.0  # EnCodec 24 kHz: 24000 / 320 frames a second
EDIT_MARGIN = 8  # frames (about 0.1 s at 75 Hz) added on each side of an estimated edit span
_LIMIT = 2**31 - 1 - 2 - len(TASK_TOKENS)  # every id fits int32 (graph inputs)
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")


def task_token_id(name: str, n_audio_tokens: int = N_AUDIO_TOKENS) -> int:
    """The id of task token ``name`` ("ns", "sr", "tse", "soe", "mask", "eoe"; "<ns>" is read as "ns")."""
    _integer(n_audio_tokens, "n_audio_tokens", 1, _LIMIT)
    key = name[1:-1] if isinstance(name, str) and name.startswith("<") and name.endswith(">") else name
    if key not in TASK_TOKENS:
        raise InvalidInput(f"unknown SpeechX task token {name!r}; the task tokens are: {', '.join(TASK_TOKENS)}")
    return int(n_audio_tokens) + 2 + TASK_TOKENS.index(key)


@dataclass(frozen=True, eq=False)
class TaskSequence:
    """What a SpeechX (or VALL-E) generation starts from; arrays are int64 and read-only.

    - ``text_ids`` (S,): the text prompt; empty when the task is run without text (enhancement tasks only).
    - ``prompt_text_len``: how many of the first ``text_ids`` are the acoustic prompt's transcript (zero-shot TTS;
      for models with language embeddings), else 0.
    - ``prompt`` (P, n_q): the acoustic prompt, task-token frames included, in order.
    - ``forced`` (F, n_q): output frames known in advance, which the runtime forces before it samples; (0, n_q)
      except for speech editing, where it is C(s_pre).
    """

    task: str
    text_ids: np.ndarray
    prompt_text_len: int
    prompt: np.ndarray
    forced: np.ndarray

    def __post_init__(self):
        if self.task not in TASKS:
            raise InvalidInput(f"task must be one of {', '.join(TASKS)}, got {self.task!r}")
        text = _text(self.text_ids, "text_ids", required=False)
        prompt = np.asarray(self.prompt)
        if prompt.ndim != 2 or prompt.shape[1] < 1 or not np.issubdtype(prompt.dtype, np.integer):
            raise InvalidInput(f"prompt must be a 2-D (frames, n_q) integer array, got {prompt.dtype} {prompt.shape}")
        n_q = prompt.shape[1]
        forced = np.asarray(self.forced)
        if forced.ndim == 1 and forced.size == 0:  # [] for "nothing forced"
            forced = np.zeros((0, n_q), np.int64)
        if forced.ndim != 2 or forced.shape[1] != n_q or not np.issubdtype(forced.dtype, np.integer):
            raise InvalidInput(f"forced must be a (frames, {n_q}) integer array like prompt, "
                               f"got {forced.dtype} {forced.shape}")
        _integer(self.prompt_text_len, "prompt_text_len", 0, len(text))
        for name, value in (("text_ids", text), ("prompt", prompt), ("forced", forced)):
            value = np.array(value, dtype=np.int64)
            value.setflags(write=False)
            object.__setattr__(self, name, value)
        object.__setattr__(self, "prompt_text_len", int(self.prompt_text_len))

    @property
    def n_q(self) -> int:
        return self.prompt.shape[1]


# -- checks ----------------------------------------------------------------------------------------------------
def _sizes(n_q, n_audio_tokens) -> None:
    _integer(n_q, "n_q", 1, 4096)
    _integer(n_audio_tokens, "n_audio_tokens", 1, _LIMIT)


def _array(value, name: str) -> np.ndarray:
    try:
        return np.asarray(value)
    except (ValueError, TypeError) as e:  # ragged nested lists
        raise InvalidInput(f"{name} is not an array: {e}") from None


def _codes(codes, name: str, n_q: int, n_audio_tokens: int) -> np.ndarray:
    """``codes`` as int64 (T, n_q), T >= 1, ids in 0..N-1; InvalidInput naming ``name`` otherwise."""
    if codes is None:
        raise InvalidInput(f"{name} is missing: pass its codec codes, an integer array (frames, {n_q})")
    a = _array(codes, name)
    if a.ndim != 2:
        raise InvalidInput(f"{name} must be a 2-D array of codec codes (frames, {n_q}), got {a.ndim}-D shape "
                           f"{a.shape}")
    if a.shape[1] != n_q:
        hint = f"; a ({n_q}, frames) array must be transposed" if a.shape[0] == n_q else ""
        raise InvalidInput(f"{name} must have n_q = {n_q} columns (frames, {n_q}), got shape {a.shape}{hint}")
    if a.shape[0] == 0:
        raise InvalidInput(f"{name} is empty (0 frames): the task needs this audio")
    if not np.issubdtype(a.dtype, np.integer):
        raise InvalidInput(f"{name} must hold integer code ids, got dtype {a.dtype}")
    lo, hi = int(a.min()), int(a.max())
    if lo < 0 or hi >= n_audio_tokens:
        frame = int(np.argwhere((a < 0) | (a >= n_audio_tokens))[0][0])
        raise InvalidInput(f"{name} holds code id {lo if lo < 0 else hi} (first bad one at frame {frame}); code ids "
                           f"are 0..{n_audio_tokens - 1} (n_audio_tokens = {n_audio_tokens})")
    return a.astype(np.int64)


def _text(text_ids, name: str, *, required: bool) -> np.ndarray:
    """``text_ids`` as int64 (S,), ids >= 0; None or empty is allowed unless ``required``."""
    a = np.zeros(0, np.int64) if text_ids is None else _array(text_ids, name)
    if a.ndim != 1:
        raise InvalidInput(f"{name} must be a 1-D array of text ids, got {a.ndim}-D shape {a.shape}")
    if a.size == 0:
        if required:
            raise InvalidInput(f"{name} is empty: this task needs text (nothing to say)")
        return np.zeros(0, np.int64)
    if not np.issubdtype(a.dtype, np.integer):
        raise InvalidInput(f"{name} must hold integer ids, got dtype {a.dtype}")
    if int(a.min()) < 0:
        raise InvalidInput(f"{name} holds a negative id ({int(a.min())}) at position {int(np.argmin(a))}")
    return a.astype(np.int64)


def _task_frame(name: str, n_q: int, n_audio_tokens: int) -> np.ndarray:
    return np.full((1, n_q), task_token_id(name, n_audio_tokens), np.int64)


def _no_forced(n_q: int) -> np.ndarray:
    return np.zeros((0, n_q), np.int64)


# -- the tasks -------------------------------------------------------------------------------------------------
def _enhancement(task: str, token: str, noisy, text_ids, n_q: int, n_audio_tokens: int) -> TaskSequence:
    _sizes(n_q, n_audio_tokens)
    noisy = _codes(noisy, "noisy", n_q, n_audio_tokens)
    text = _text(text_ids, "text_ids", required=False)
    prompt = np.concatenate([_task_frame(token, n_q, n_audio_tokens), noisy])
    return TaskSequence(task, text, 0, prompt, _no_forced(n_q))


def noise_suppression(noisy, text_ids=None, *, n_q: int = N_Q, n_audio_tokens: int = N_AUDIO_TOKENS) -> TaskSequence:
    """Noise suppression: text G2P(text) or none; prompt ``<ns>``, C(s+n); the output is C(s).

    ``noisy``: codes (T, n_q) of the noisy speech. ``text_ids``: its transcript's ids, optional (it helps: the
    paper's WER is 2.48 with text, 6.76 without)."""
    return _enhancement("noise-suppression", "ns", noisy, text_ids, n_q, n_audio_tokens)


def speech_removal(noisy, text_ids=None, *, n_q: int = N_Q, n_audio_tokens: int = N_AUDIO_TOKENS) -> TaskSequence:
    """Speech removal: text G2P(text) or none; prompt ``<sr>``, C(s+n); the output is C(n), the background alone.

    ``noisy``: codes (T, n_q) of the speech with its background. ``text_ids``: the speech's transcript, optional."""
    return _enhancement("speech-removal", "sr", noisy, text_ids, n_q, n_audio_tokens)


def target_speaker_extraction(enrolment, mixture, text_ids=None, *, n_q: int = N_Q,
                              n_audio_tokens: int = N_AUDIO_TOKENS) -> TaskSequence:
    """Target speaker extraction: text G2P(text) or none; prompt C(s1'), ``<tse>``, C(s1+s2); the output is C(s1).

    ``enrolment``: codes of a recording of the target speaker alone (s1'). ``mixture``: codes of the mixture of the
    target speaker and another (s1+s2); it must be at least as long as the enrolment (a shorter one is refused:
    most often the two arguments are swapped). ``text_ids``: the target speaker's words, optional."""
    _sizes(n_q, n_audio_tokens)
    enrolment = _codes(enrolment, "enrolment", n_q, n_audio_tokens)
    mixture = _codes(mixture, "mixture", n_q, n_audio_tokens)
    if len(mixture) < len(enrolment):
        raise InvalidInput(f"mixture ({len(mixture)} frames) is shorter than enrolment ({len(enrolment)} frames): "
                           "the enrolment is a sample of the target speaker, the mixture the audio to extract from; "
                           "swapped?")
    text = _text(text_ids, "text_ids", required=False)
    prompt = np.concatenate([enrolment, _task_frame("tse", n_q, n_audio_tokens), mixture])
    return TaskSequence("target-speaker-extraction", text, 0, prompt, _no_forced(n_q))


def zero_shot_tts(prompt, prompt_text_ids, text_ids, *, n_q: int = N_Q,
                  n_audio_tokens: int = N_AUDIO_TOKENS) -> TaskSequence:
    """Zero-shot TTS (plain VALL-E): text G2P(prompt transcript + text); prompt C(s); the output is C(s').

    ``prompt``: codes of the voice prompt (3-10 s is what VALL-E was trained for). ``prompt_text_ids``: the ids of
    its transcript (required: without it the model cannot tell where the prompt's words end). ``text_ids``: the
    ids of the new text (required). ``prompt_text_len`` of the result is ``len(prompt_text_ids)``."""
    _sizes(n_q, n_audio_tokens)
    codes = _codes(prompt, "prompt", n_q, n_audio_tokens)
    before = _text(prompt_text_ids, "prompt_text_ids", required=True)
    text = _text(text_ids, "text_ids", required=True)
    return TaskSequence("zero-shot-tts", np.concatenate([before, text]), len(before), codes, _no_forced(n_q))


def speech_editing(source, edit_start: int, edit_end: int, text_ids, *, n_q: int = N_Q,
                   n_audio_tokens: int = N_AUDIO_TOKENS) -> TaskSequence:
    """Speech editing (clean or noisy: one layout): text G2P(edited transcript); prompt C(s_pre), ``<soe>``,
    ``<mask>``, ``<eoe>``, C(s_post); the output is C(s_pre), C(s_edit), C(s_post), its first len(s_pre) frames
    forced (``TaskSequence.forced`` = C(s_pre)).

    ``source``: codes (T, n_q) of the recording to edit. Frames ``[edit_start, edit_end)`` are replaced:
    s_pre = source[:edit_start], s_post = source[edit_end:], ``0 <= edit_start <= edit_end <= T``.
    ``text_ids``: the whole edited transcript (required), not just the new words.

    Edge cases: ``edit_start == edit_end`` is an insertion (nothing removed); an empty s_pre (``edit_start == 0``)
    or an empty s_post (``edit_end == T``) is allowed, the task tokens then open or close the prompt; but an edit
    covering the whole source (0, T) is refused: nothing of the recording would be left to keep the voice from
    (use zero-shot TTS with a prompt instead)."""
    _sizes(n_q, n_audio_tokens)
    codes = _codes(source, "source", n_q, n_audio_tokens)
    frames = len(codes)
    for name, value in (("edit_start", edit_start), ("edit_end", edit_end)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise InvalidInput(f"{name} must be an integer frame index, got {value!r}")
    start, end = int(edit_start), int(edit_end)
    if not 0 <= start <= frames:
        raise InvalidInput(f"edit_start must be a frame index in 0..{frames} (the source has {frames} frames), "
                           f"got {start}")
    if not start <= end <= frames:
        raise InvalidInput(f"edit_end must be a frame index in edit_start..{frames} = {start}..{frames}, got {end}")
    if start == 0 and end == frames:
        raise InvalidInput(f"the edit span (0, {frames}) covers the whole source: nothing of the recording is kept "
                           "to take the voice from; shorten the span or use zero-shot TTS")
    text = _text(text_ids, "text_ids", required=True)
    marks = [_task_frame(t, n_q, n_audio_tokens) for t in ("soe", "mask", "eoe")]
    prompt = np.concatenate([codes[:start], *marks, codes[end:]])
    return TaskSequence("speech-editing", text, 0, prompt, codes[:start])


# -- edit spans ------------------------------------------------------------------------------------------------
def _words(text: str) -> list[str]:
    return _WORD.findall(text.replace("’", "'"))


def edit_span_from_words(transcript: str, old: str, frames: int, *,
                         count_units: Callable[[str], int] | None = None, margin: int = EDIT_MARGIN,
                         occurrence: int | None = None) -> tuple[int, int]:
    """An ESTIMATE of the frames ``[start, end)`` that hold the words ``old`` of ``transcript`` (the source
    recording's transcript, ``frames`` long), for when no alignment is at hand. An explicit span in seconds
    (:func:`edit_span_from_seconds`) is better whenever one is known.

    ``old`` is found in ``transcript`` as whole words, any case, punctuation ignored (InvalidInput if it is not
    there; if it is there more than once, ``occurrence`` (0 for the first) says which one). The span is placed
    by assuming speech time proportional to each word's size: its letters and digits, or ``count_units(word)``
    when given (a phoneme counter such as ``EnglishG2P.count``, far closer to duration), spread evenly over all
    ``frames``. Silence at the ends and pauses are not seen, so the span is widened by ``margin`` frames on each
    side (8: about 0.1 s at 75 Hz) and clipped to ``0..frames``: regenerating a little of the neighbours is
    harmless (their words are in the edited transcript) where leaving half an old word is not."""
    for name, value in (("transcript", transcript), ("old", old)):
        if not isinstance(value, str):
            raise InvalidInput(f"{name} must be a str, got {type(value).__name__}")
    _integer(frames, "frames", 1, _LIMIT)
    _integer(margin, "margin", 0, _LIMIT)
    words, target = _words(transcript), [w.casefold() for w in _words(old)]
    if not words:
        raise InvalidInput(f"transcript has no words: {transcript!r}")
    if not target:
        raise InvalidInput(f"old has no words: {old!r}; name the words to replace")
    folded, n = [w.casefold() for w in words], len(target)
    hits = [i for i in range(len(words) - n + 1) if folded[i:i + n] == target]
    if not hits:
        raise InvalidInput(f"old {old!r} is not in the transcript {transcript!r} (whole words, any case)")
    if occurrence is None:
        if len(hits) > 1:
            raise InvalidInput(f"old {old!r} is in the transcript {len(hits)} times; pass occurrence "
                               f"(0..{len(hits) - 1}) to say which")
        occurrence = 0
    _integer(occurrence, "occurrence", 0, len(hits) - 1)
    sizes = []
    for w in words:
        size = count_units(w) if count_units is not None else len(re.sub(r"\W", "", w))
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 0:
            raise InvalidInput(f"count_units({w!r}) must return an integer >= 0, got {size!r}")
        sizes.append(int(size))
    edges = np.concatenate([[0], np.cumsum(sizes)])
    if edges[-1] == 0:
        raise InvalidInput(f"count_units counts nothing in the transcript {transcript!r}")
    first = hits[occurrence]
    start = math.floor(edges[first] * frames / edges[-1]) - int(margin)
    end = math.ceil(edges[first + n] * frames / edges[-1]) + int(margin)
    return max(start, 0), min(end, int(frames))


def edit_span_from_seconds(start: float, end: float, frames: int, *,
                           frame_rate: float = FRAME_RATE) -> tuple[int, int]:
    """The frames ``[start_frame, end_frame)`` covering ``start``..``end`` seconds of a source ``frames`` long:
    the start rounded down and the end up to whole frames (so the span holds all of it), clipped to the source.
    ``start == end`` is an insertion point. An end more than one frame past the source's end is refused."""
    _integer(frames, "frames", 1, _LIMIT)
    if isinstance(frame_rate, bool) or not isinstance(frame_rate, (int, float, np.integer, np.floating)) \
            or not math.isfinite(frame_rate) or frame_rate <= 0:
        raise InvalidInput(f"frame_rate must be a positive number, got {frame_rate!r}")
    for name, value in (("start", start), ("end", end)):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
                or not math.isfinite(value) or value < 0:
            raise InvalidInput(f"{name} must be a finite number of seconds >= 0, got {value!r}")
    if end < start:
        raise InvalidInput(f"end ({end} s) is before start ({start} s)")
    duration = frames / frame_rate
    if end > duration + 1 / frame_rate:
        raise InvalidInput(f"end ({end} s) is after the end of the source ({duration:.3f} s, {frames} frames)")
    eps = 1e-6  # seconds * frame_rate is 15.000000000000002 for 0.2 * 75: not the start of frame 16
    first = min(math.floor(start * frame_rate + eps), frames)
    last = min(max(math.ceil(end * frame_rate - eps), first), frames)
    return first, last
