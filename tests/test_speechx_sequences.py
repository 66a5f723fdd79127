"""SpeechX task prompting: every task's sequence token by token, the task token ids, the forced editing prefix,
edit spans from words and seconds, and every bad input refused with InvalidInput naming what is wrong."""
from __future__ import annotations

import numpy as np
import pytest

from voxlite.errors import InvalidInput
from voxlite.pipelines import speechx as sx
from voxlite.text.english_g2p import EnglishG2P

# small examples: N = 16 code ids, n_q = 2 codebooks, so the task tokens are <ns> 18, <sr> 19, <tse> 20,
# <soe> 21, <mask> 22, <eoe> 23 (16 is end-of-speech, 17 BOS)
SMALL = {"n_q": 2, "n_audio_tokens": 16}
NOISY = np.array([[1, 2], [3, 4], [5, 6]])
SOURCE = np.array([[0, 1], [2, 3], [4, 5], [6, 7], [8, 9]])


def _same(actual: np.ndarray, expected) -> None:
    expected = np.asarray(expected, dtype=np.int64).reshape(-1, actual.shape[1]) if actual.ndim == 2 \
        else np.asarray(expected, dtype=np.int64)
    assert actual.dtype == np.int64 and actual.shape == expected.shape, (actual.shape, expected.shape)
    np.testing.assert_array_equal(actual, expected)


def _check(seq: sx.TaskSequence, task, text, prompt_text_len, prompt, forced) -> None:
    assert seq.task == task and seq.prompt_text_len == prompt_text_len
    _same(seq.text_ids, text)
    _same(seq.prompt, prompt)
    assert seq.forced.ndim == 2 and seq.forced.shape[1] == seq.prompt.shape[1] == seq.n_q
    if len(forced):
        _same(seq.forced, forced)
    else:
        assert seq.forced.shape == (0, seq.n_q) and seq.forced.dtype == np.int64


# -- task tokens -----------------------------------------------------------------------------------------------
def test_task_token_ids():
    assert sx.TASK_TOKENS == ("ns", "sr", "tse", "soe", "mask", "eoe")
    assert [sx.task_token_id(t) for t in sx.TASK_TOKENS] == [1026, 1027, 1028, 1029, 1030, 1031]
    assert [sx.task_token_id(t, 16) for t in sx.TASK_TOKENS] == [18, 19, 20, 21, 22, 23]
    assert sx.task_token_id("<mask>", 1024) == 1030
    assert sx.TASKS == ("noise-suppression", "speech-removal", "target-speaker-extraction", "zero-shot-tts",
                        "speech-editing")


@pytest.mark.parametrize("args,match", [
    (("denoise",), "unknown SpeechX task token 'denoise'; the task tokens are: ns, sr, tse, soe, mask, eoe"),
    ((None,), "unknown SpeechX task token None"),
    (("ns", 0), "n_audio_tokens must be an integer"),
    (("ns", 16.0), "n_audio_tokens must be an integer"),
])
def test_task_token_refusals(args, match):
    with pytest.raises(InvalidInput, match=match):
        sx.task_token_id(*args)


# -- the sequences, token by token -----------------------------------------------------------------------------
def test_noise_suppression():
    _check(sx.noise_suppression(NOISY, [7, 8], **SMALL), "noise-suppression", [7, 8], 0,
           [[18, 18], [1, 2], [3, 4], [5, 6]], [])
    _check(sx.noise_suppression(NOISY, **SMALL), "noise-suppression", [], 0, [[18, 18], [1, 2], [3, 4], [5, 6]], [])
    _check(sx.noise_suppression(NOISY, [], **SMALL), "noise-suppression", [], 0,
           [[18, 18], [1, 2], [3, 4], [5, 6]], [])


def test_speech_removal():
    _check(sx.speech_removal(NOISY, np.array([9], np.int32), **SMALL), "speech-removal", [9], 0,
           [[19, 19], [1, 2], [3, 4], [5, 6]], [])
    _check(sx.speech_removal(NOISY, None, **SMALL), "speech-removal", [], 0, [[19, 19], [1, 2], [3, 4], [5, 6]], [])


def test_target_speaker_extraction():
    enrolment, mixture = [[1, 2], [3, 4]], [[5, 6], [7, 8], [9, 10]]
    _check(sx.target_speaker_extraction(enrolment, mixture, [11, 12, 13], **SMALL), "target-speaker-extraction",
           [11, 12, 13], 0, [[1, 2], [3, 4], [20, 20], [5, 6], [7, 8], [9, 10]], [])
    # a mixture as long as the enrolment is fine; no text is fine
    _check(sx.target_speaker_extraction(enrolment, mixture[:2], **SMALL), "target-speaker-extraction", [], 0,
           [[1, 2], [3, 4], [20, 20], [5, 6], [7, 8]], [])


def test_zero_shot_tts():
    seq = sx.zero_shot_tts([[1, 2], [3, 4]], [5, 6], [7], **SMALL)
    _check(seq, "zero-shot-tts", [5, 6, 7], 2, [[1, 2], [3, 4]], [])


def test_speech_editing_replaces_the_span_and_forces_the_prefix():
    seq = sx.speech_editing(SOURCE, 2, 4, [3, 1, 4], **SMALL)
    _check(seq, "speech-editing", [3, 1, 4], 0, [[0, 1], [2, 3], [21, 21], [22, 22], [23, 23], [8, 9]],
           [[0, 1], [2, 3]])


@pytest.mark.parametrize("span,prompt,forced", [
    ((2, 2), [[0, 1], [2, 3], [21, 21], [22, 22], [23, 23], [4, 5], [6, 7], [8, 9]], [[0, 1], [2, 3]]),  # insertion
    ((0, 2), [[21, 21], [22, 22], [23, 23], [4, 5], [6, 7], [8, 9]], []),  # empty s_pre: nothing forced
    ((3, 5), [[0, 1], [2, 3], [4, 5], [21, 21], [22, 22], [23, 23]], [[0, 1], [2, 3], [4, 5]]),  # empty s_post
    ((0, 0), [[21, 21], [22, 22], [23, 23], [0, 1], [2, 3], [4, 5], [6, 7], [8, 9]], []),  # insert at the start
    ((5, 5), [[0, 1], [2, 3], [4, 5], [6, 7], [8, 9], [21, 21], [22, 22], [23, 23]], SOURCE),  # ... at the end
    ((np.int64(1), np.int32(4)), [[0, 1], [21, 21], [22, 22], [23, 23], [8, 9]], [[0, 1]]),
])
def test_speech_editing_edge_spans(span, prompt, forced):
    _check(sx.speech_editing(SOURCE, *span, [1], **SMALL), "speech-editing", [1], 0, prompt, forced)


def test_full_size_sequences_with_eight_codebooks():
    """n_q = 8, N = 1024 (EnCodec 24 kHz as VALL-E uses it), the defaults."""
    noisy = [[0, 1, 2, 3, 4, 5, 6, 7],
             [1023, 1022, 1021, 1020, 1019, 1018, 1017, 1016]]
    _check(sx.noise_suppression(noisy, [40, 41]), "noise-suppression", [40, 41], 0,
           [[1026, 1026, 1026, 1026, 1026, 1026, 1026, 1026],
            [0, 1, 2, 3, 4, 5, 6, 7],
            [1023, 1022, 1021, 1020, 1019, 1018, 1017, 1016]], [])
    _check(sx.speech_removal(noisy), "speech-removal", [], 0,
           [[1027, 1027, 1027, 1027, 1027, 1027, 1027, 1027],
            [0, 1, 2, 3, 4, 5, 6, 7],
            [1023, 1022, 1021, 1020, 1019, 1018, 1017, 1016]], [])
    _check(sx.target_speaker_extraction(noisy[:1], noisy), "target-speaker-extraction", [], 0,
           [[0, 1, 2, 3, 4, 5, 6, 7],
            [1028, 1028, 1028, 1028, 1028, 1028, 1028, 1028],
            [0, 1, 2, 3, 4, 5, 6, 7],
            [1023, 1022, 1021, 1020, 1019, 1018, 1017, 1016]], [])
    _check(sx.zero_shot_tts(noisy, [9], [10, 11]), "zero-shot-tts", [9, 10, 11], 1,
           [[0, 1, 2, 3, 4, 5, 6, 7],
            [1023, 1022, 1021, 1020, 1019, 1018, 1017, 1016]], [])
    source = [[10, 11, 12, 13, 14, 15, 16, 17],
              [20, 21, 22, 23, 24, 25, 26, 27],
              [30, 31, 32, 33, 34, 35, 36, 37]]
    _check(sx.speech_editing(source, 1, 2, [5, 6, 7]), "speech-editing", [5, 6, 7], 0,
           [[10, 11, 12, 13, 14, 15, 16, 17],
            [1029, 1029, 1029, 1029, 1029, 1029, 1029, 1029],
            [1030, 1030, 1030, 1030, 1030, 1030, 1030, 1030],
            [1031, 1031, 1031, 1031, 1031, 1031, 1031, 1031],
            [30, 31, 32, 33, 34, 35, 36, 37]],
           [[10, 11, 12, 13, 14, 15, 16, 17]])


def test_sequences_are_read_only_copies():
    noisy, text = NOISY.copy(), np.array([7, 8])
    seq = sx.noise_suppression(noisy, text, **SMALL)
    noisy[0, 0], text[0] = 9, 9
    _same(seq.prompt[1:], [[1, 2], [3, 4], [5, 6]])
    _same(seq.text_ids, [7, 8])
    for a in (seq.text_ids, seq.prompt, seq.forced):
        with pytest.raises(ValueError):
            a[...] = 0
    with pytest.raises(AttributeError):
        seq.task = "zero-shot-tts"


def test_task_sequence_checks_what_it_is_given():
    ok = sx.TaskSequence("zero-shot-tts", [1, 2], 1, [[0, 1]], [])
    _check(ok, "zero-shot-tts", [1, 2], 1, [[0, 1]], [])
    with pytest.raises(InvalidInput, match="task must be one of noise-suppression, .*got 'tts'"):
        sx.TaskSequence("tts", [1], 0, [[0, 1]], [])
    with pytest.raises(InvalidInput, match=r"prompt_text_len must be an integer in 0\.\.2, got 3"):
        sx.TaskSequence("zero-shot-tts", [1, 2], 3, [[0, 1]], [])
    with pytest.raises(InvalidInput, match=r"prompt must be a 2-D \(frames, n_q\) integer array"):
        sx.TaskSequence("zero-shot-tts", [1], 0, [0, 1], [])
    with pytest.raises(InvalidInput, match=r"forced must be a \(frames, 2\) integer array like prompt"):
        sx.TaskSequence("speech-editing", [1], 0, [[0, 1]], [[0, 1, 2]])


# -- bad input -------------------------------------------------------------------------------------------------
GOOD_TEXT = [1, 2]


@pytest.mark.parametrize("noisy,text,match", [
    (None, GOOD_TEXT, r"noisy is missing"),
    ([1, 2, 3], GOOD_TEXT, r"noisy must be a 2-D array of codec codes \(frames, 2\), got 1-D shape \(3,\)"),
    (np.zeros((1, 3, 2), int), GOOD_TEXT, r"noisy must be a 2-D array.*got 3-D"),
    (np.zeros((3, 3), int), GOOD_TEXT, r"noisy must have n_q = 2 columns \(frames, 2\), got shape \(3, 3\)$"),
    (np.zeros((2, 5), int), GOOD_TEXT, r"got shape \(2, 5\); a \(2, frames\) array must be transposed"),
    (np.zeros((0, 2), int), GOOD_TEXT, r"noisy is empty \(0 frames\)"),
    (np.zeros((3, 2)), GOOD_TEXT, r"noisy must hold integer code ids, got dtype float64"),
    (np.zeros((3, 2), bool), GOOD_TEXT, r"noisy must hold integer code ids, got dtype bool"),
    ([[1, 2], [3, 16]], GOOD_TEXT, r"noisy holds code id 16 \(first bad one at frame 1\); code ids are 0\.\.15 "
                                   r"\(n_audio_tokens = 16\)"),
    ([[1, 2], [-1, 3]], GOOD_TEXT, r"noisy holds code id -1 \(first bad one at frame 1\)"),
    ([[18, 18], [1, 2]], GOOD_TEXT, r"noisy holds code id 18"),  # a task token is not a code
    ([[1, 2], [3]], GOOD_TEXT, r"noisy is not an array"),
    (NOISY, [[1, 2], [3]], r"text_ids is not an array"),
    (NOISY, [[1, 2]], r"text_ids must be a 1-D array of text ids, got 2-D shape \(1, 2\)"),
    (NOISY, [1.0, 2.0], r"text_ids must hold integer ids, got dtype float64"),
    (NOISY, [3, -4], r"text_ids holds a negative id \(-4\) at position 1"),
])
@pytest.mark.parametrize("build", [sx.noise_suppression, sx.speech_removal])
def test_enhancement_refusals(build, noisy, text, match):
    with pytest.raises(InvalidInput, match=match):
        build(noisy, text, **SMALL)


@pytest.mark.parametrize("kwargs,match", [
    ({"n_q": 0, "n_audio_tokens": 16}, r"n_q must be an integer in 1\.\."),
    ({"n_q": 2, "n_audio_tokens": 0}, r"n_audio_tokens must be an integer in 1\.\."),
    ({"n_q": True, "n_audio_tokens": 16}, r"n_q must be an integer"),
])
def test_sizes_refused(kwargs, match):
    with pytest.raises(InvalidInput, match=match):
        sx.noise_suppression(NOISY, **kwargs)


def test_a_mixture_shorter_than_the_enrolment_is_refused():
    with pytest.raises(InvalidInput, match=r"mixture \(2 frames\) is shorter than enrolment \(3 frames\).*swapped"):
        sx.target_speaker_extraction(NOISY, NOISY[:2], **SMALL)


@pytest.mark.parametrize("enrolment,mixture,match", [
    (np.zeros((0, 2), int), NOISY, r"enrolment is empty"),
    (NOISY, np.zeros((0, 2), int), r"mixture is empty"),
    (NOISY[:, :1], NOISY, r"enrolment must have n_q = 2 columns"),
    (NOISY, [[1, 2], [3, 4], [99, 5]], r"mixture holds code id 99 \(first bad one at frame 2\)"),
    (NOISY, NOISY.astype(np.float32), r"mixture must hold integer code ids"),
])
def test_target_speaker_extraction_refusals(enrolment, mixture, match):
    with pytest.raises(InvalidInput, match=match):
        sx.target_speaker_extraction(enrolment, mixture, **SMALL)


@pytest.mark.parametrize("prompt,prompt_text,text,match", [
    (np.zeros((0, 2), int), [1], [2], r"prompt is empty"),
    (NOISY, None, [2], r"prompt_text_ids is empty: this task needs text"),
    (NOISY, [], [2], r"prompt_text_ids is empty"),
    (NOISY, [1], None, r"text_ids is empty: this task needs text"),
    (NOISY, [1], np.zeros(0, np.int64), r"text_ids is empty"),
    (NOISY, [[1]], [2], r"prompt_text_ids must be a 1-D array"),
    (NOISY, [1], "hello", r"text_ids must be a 1-D array"),  # text, not ids
    ([[1, 2, 3]], [1], [2], r"prompt must have n_q = 2 columns"),
])
def test_zero_shot_tts_refusals(prompt, prompt_text, text, match):
    with pytest.raises(InvalidInput, match=match):
        sx.zero_shot_tts(prompt, prompt_text, text, **SMALL)


@pytest.mark.parametrize("source,start,end,text,match", [
    (SOURCE, 1, 2, [], r"text_ids is empty: this task needs text"),
    (SOURCE, 1, 2, None, r"text_ids is empty"),
    (SOURCE, -1, 2, [1], r"edit_start must be a frame index in 0\.\.5 \(the source has 5 frames\), got -1"),
    (SOURCE, 6, 6, [1], r"edit_start must be a frame index in 0\.\.5 .*got 6"),
    (SOURCE, 3, 2, [1], r"edit_end must be a frame index in edit_start\.\.5 = 3\.\.5, got 2"),
    (SOURCE, 3, 6, [1], r"edit_end must be .* 3\.\.5, got 6"),
    (SOURCE, 0, 5, [1], r"the edit span \(0, 5\) covers the whole source.*zero-shot TTS"),
    (SOURCE[:1], 0, 1, [1], r"the edit span \(0, 1\) covers the whole source"),
    (SOURCE, 1.0, 2, [1], r"edit_start must be an integer frame index, got 1\.0"),
    (SOURCE, 1, "2", [1], r"edit_end must be an integer frame index, got '2'"),
    (SOURCE, True, 2, [1], r"edit_start must be an integer frame index, got True"),
    (np.zeros((0, 2), int), 0, 0, [1], r"source is empty"),
    (SOURCE.T, 0, 1, [1], r"source must have n_q = 2 columns"),
])
def test_speech_editing_refusals(source, start, end, text, match):
    with pytest.raises(InvalidInput, match=match):
        sx.speech_editing(source, start, end, text, **SMALL)


def test_refusals_name_the_argument_also_at_full_size():
    with pytest.raises(InvalidInput, match=r"prompt holds code id 1024 .*code ids are 0\.\.1023"):
        sx.zero_shot_tts(np.full((3, 8), 1024), [1], [2])
    with pytest.raises(InvalidInput, match=r"source must have n_q = 8 columns \(frames, 8\), got shape \(3, 4\)"):
        sx.speech_editing(np.zeros((3, 4), int), 1, 2, [1])


# -- edit spans from words -------------------------------------------------------------------------------------
TRANSCRIPT = "The quick, brown fox jumps!"  # letters: 3 + 5 + 5 + 3 + 5 = 21


def test_edit_span_from_words_by_letters():
    # "brown fox" is letters 8..16 of 21: frames floor(8 * 100 / 21) = 38 .. ceil(16 * 100 / 21) = 77
    assert sx.edit_span_from_words(TRANSCRIPT, "brown fox", 100, margin=0) == (38, 77)
    assert sx.edit_span_from_words(TRANSCRIPT, "BROWN  Fox", 100, margin=0) == (38, 77)  # any case, any spacing
    assert sx.edit_span_from_words(TRANSCRIPT, "brown, fox.", 100) == (30, 85)  # the default margin: 8 frames
    assert sx.edit_span_from_words(TRANSCRIPT, "the", 100) == (0, 23)  # clipped at the start: ceil(300/21) + 8
    assert sx.edit_span_from_words(TRANSCRIPT, "jumps", 100, margin=3) == (73, 100)  # and at the end
    assert sx.edit_span_from_words("I don’t know", "don't", 9, margin=0) == (1, 5)  # 1 + 4 + 4 letters


def test_edit_span_from_words_with_a_unit_counter():
    # one unit a word: "fox" is word 3 of 5
    assert sx.edit_span_from_words(TRANSCRIPT, "fox", 100, count_units=lambda w: 1, margin=0) == (60, 80)
    # a phoneme counter: the intended one is the G2P's own
    g2p = EnglishG2P({"the": "ði", "cat": "kˈæt", "hello": "həlˈO", "world": "wˈɜɹld"})
    counts = [g2p.count(w) for w in ("hello", "the", "cat", "world")]
    start, end = sum(counts[:2]), sum(counts[:3])
    expected = (int(np.floor(start * 50 / sum(counts))), int(np.ceil(end * 50 / sum(counts))))
    assert sx.edit_span_from_words("Hello, the cat world.", "cat", 50, count_units=g2p.count, margin=0) == expected
    assert expected != sx.edit_span_from_words("Hello, the cat world.", "cat", 50, margin=0)


def test_edit_span_from_words_occurrences():
    with pytest.raises(InvalidInput, match=r"old 'the' is in the transcript 2 times; pass occurrence \(0\.\.1\)"):
        sx.edit_span_from_words("the cat saw the dog", "the", 15, margin=0)
    assert sx.edit_span_from_words("the cat saw the dog", "the", 15, margin=0, occurrence=0) == (0, 3)
    assert sx.edit_span_from_words("the cat saw the dog", "The", 15, margin=0, occurrence=1) == (9, 12)
    with pytest.raises(InvalidInput, match=r"occurrence must be an integer in 0\.\.1, got 2"):
        sx.edit_span_from_words("the cat saw the dog", "the", 15, occurrence=2)


@pytest.mark.parametrize("transcript,old,frames,kwargs,match", [
    (TRANSCRIPT, "row", 100, {}, r"old 'row' is not in the transcript 'The quick, brown fox jumps!' \(whole words"),
    (TRANSCRIPT, "fox brown", 100, {}, r"old 'fox brown' is not in the transcript"),
    (TRANSCRIPT, "", 100, {}, r"old has no words: ''; name the words to replace"),
    (TRANSCRIPT, " ?! ", 100, {}, r"old has no words"),
    ("", "fox", 100, {}, r"transcript has no words: ''"),
    ("...", "fox", 100, {}, r"transcript has no words"),
    (None, "fox", 100, {}, r"transcript must be a str, got NoneType"),
    (TRANSCRIPT, ["fox"], 100, {}, r"old must be a str, got list"),
    (TRANSCRIPT, "fox", 0, {}, r"frames must be an integer in 1\.\."),
    (TRANSCRIPT, "fox", 10.0, {}, r"frames must be an integer"),
    (TRANSCRIPT, "fox", 100, {"margin": -1}, r"margin must be an integer in 0\.\."),
    (TRANSCRIPT, "fox", 100, {"count_units": lambda w: -1},
     r"count_units\('The'\) must return an integer >= 0, got -1"),
    (TRANSCRIPT, "fox", 100, {"count_units": lambda w: 1.5}, r"count_units\('The'\) must return an integer"),
    (TRANSCRIPT, "fox", 100, {"count_units": lambda w: 0}, r"count_units counts nothing in the transcript"),
])
def test_edit_span_from_words_refusals(transcript, old, frames, kwargs, match):
    with pytest.raises(InvalidInput, match=match):
        sx.edit_span_from_words(transcript, old, frames, **kwargs)


def test_a_span_from_words_feeds_speech_editing():
    source = np.arange(40).reshape(20, 2) % 16
    start, end = sx.edit_span_from_words("one two three four", "two", 20, margin=1)  # letters 3..6 of 15
    assert (start, end) == (3, 9)
    seq = sx.speech_editing(source, start, end, [5, 6, 7, 8], **SMALL)
    _same(seq.forced, source[:3])
    _same(seq.prompt, np.concatenate([source[:3], [[21, 21], [22, 22], [23, 23]], source[9:]]))


# -- edit spans from seconds -----------------------------------------------------------------------------------
@pytest.mark.parametrize("start,end,frames,kwargs,span", [
    (0.2, 0.6, 75, {}, (15, 45)),  # 0.2 * 75 is 15.000000000000002: still frame 15, and the end frame 45
    (1.01, 1.5, 150, {}, (75, 113)),  # 75.75 rounded down, 112.5 up
    (0.2, 0.2, 75, {}, (15, 15)),  # an insertion point
    (0.0, 1.0, 75, {}, (0, 75)),
    (0.5, 1.005, 75, {}, (37, 75)),  # past the end by less than a frame: clipped
    (0.25, 0.5, 100, {"frame_rate": 50}, (12, 25)),
    (np.float32(0.5), 1, 100, {}, (37, 75)),
])
def test_edit_span_from_seconds(start, end, frames, kwargs, span):
    assert sx.edit_span_from_seconds(start, end, frames, **kwargs) == span


@pytest.mark.parametrize("start,end,frames,kwargs,match", [
    (-0.1, 0.5, 75, {}, r"start must be a finite number of seconds >= 0, got -0\.1"),
    (0.1, float("nan"), 75, {}, r"end must be a finite number of seconds"),
    (0.1, "1", 75, {}, r"end must be a finite number of seconds"),
    (0.6, 0.5, 75, {}, r"end \(0\.5 s\) is before start \(0\.6 s\)"),
    (0.5, 1.1, 75, {}, r"end \(1\.1 s\) is after the end of the source \(1\.000 s, 75 frames\)"),
    (0.1, 0.5, 0, {}, r"frames must be an integer in 1\.\."),
    (0.1, 0.5, 75, {"frame_rate": 0}, r"frame_rate must be a positive number, got 0"),
])
def test_edit_span_from_seconds_refusals(start, end, frames, kwargs, match):
    with pytest.raises(InvalidInput, match=match):
        sx.edit_span_from_seconds(start, end, frames, **kwargs)
