"""UniAudio task sequences (numpy only) vs sequences collated by the official UniAudio data loader.

``tests/fixtures/uniaudio/sequence_examples.json`` holds one example per task, collated by UniAudio's own code
(commit c1146a8c) with the tokenizer set of its public recipes: every token with its id, its name in the joint
vocabulary and its loss mask. ``vocab_layout.json`` describes that vocabulary (named special tokens, per-modality
ranges) and the tiny one of the LM parity fixture (whose full token list it stores).

The test reads each example's raw inputs from the token *names* (``<phone_298>`` -> phone 298, ``<audio_1478>`` ->
AudioTokenizer token 1478, placeholders -> T5 rows), so it never uses an offset; the builder gets its offsets from a
token list; the ids it builds must equal the official ones token by token.
"""
import json
import re
from pathlib import Path

import numpy as np
import pytest

from voxlite.errors import InvalidInput
from voxlite.pipelines.uniaudio_sequences import (FRAME, TASK_FORMATS, UniAudioVocabulary, build_sequence,
                                                  split_frames)

FIXTURES = Path(__file__).parent / "fixtures" / "uniaudio"
EXAMPLES = json.loads((FIXTURES / "sequence_examples.json").read_text())
LAYOUT = json.loads((FIXTURES / "vocab_layout.json").read_text())
_DATA = re.compile(r"<(.+)_(\d+)>")


def _token_list(layout: dict) -> list[str]:
    """The token list UniAudio's data loader builds for a layout: named specials, ``<unused_special_token>`` up to
    the first range, then ``<{type}_{i}>`` per discrete tokenizer (what a checkpoint's config stores)."""
    if "token_list" in layout:
        return list(layout["token_list"])
    tokens = ["<unused_special_token>"] * layout["n_vocab"]
    for i, name in layout["specials"].items():
        tokens[int(i)] = name
    for kind, (start, end) in layout["ranges_[start,end)"].items():
        tokens[start:end] = [f"<{kind}_{i}>" for i in range(end - start)]
    return tokens


@pytest.fixture(scope="module")
def vocab():
    return UniAudioVocabulary.from_token_list(_token_list(LAYOUT["real_runsh"]))


def _flat(example, field):
    return [x for frame in example["frames"] for x in frame[field]]


def _inputs(example, rng):
    """Raw per-key inputs of an example, from token names only: (inputs, expected continuous segments)."""
    fmt = example["task_format"]
    names = _flat(example, "names")
    frames = [names[i:i + FRAME] for i in range(0, len(names), FRAME)]
    assert frames[0] == ["<start>"] * 3 and frames[-1] == ["<end>"] * 3
    assert frames[1] == [f"<{example['task']}_task>"] * 3
    inputs, i = {}, 2
    for key, kind in zip(fmt["keys"], fmt["type"]):
        assert frames[i][0] == f"<{kind}_start>"
        j = frames.index([f"<{kind}_end>"] * 3, i)
        body = frames[i + 1:j]
        if kind == "text_t5":
            assert all(f == ["<continuous_token>"] * 3 for f in body)
            inputs[key] = rng.standard_normal((len(body), 768)).astype(np.float32)
        elif kind in ("audio", "audio_prompt"):  # AudioTokenizer's flat layout: code + 1024 * codebook
            flat = np.array([int(_DATA.fullmatch(n).group(2)) for f in body for n in f])
            if (flat == 3 * 1024).any():
                inputs[key] = flat  # speech edit's corrupted input holds the mask id: pass the flat layout
            else:
                inputs[key] = (flat.reshape(-1, 3) - 1024 * np.arange(3)).T  # codec codes (3, T)
        else:
            assert all(len(set(f)) == 1 for f in body)  # non-acoustic tokens fill a frame
            assert all(_DATA.fullmatch(f[0]).group(1) == kind for f in body)
            inputs[key] = np.array([int(_DATA.fullmatch(f[0]).group(2)) for f in body])
        i = j + 1
    assert i == len(frames) - 1
    return inputs


def test_vocabulary_offsets_come_from_the_token_list(vocab):
    real = LAYOUT["real_runsh"]
    assert len(vocab) == real["n_vocab"]
    for kind, bias in real["type_bias"].items():
        assert vocab.type_bias(kind) == bias, kind
    for kind, rng in real["ranges_[start,end)"].items():
        assert vocab.data_range(kind) == tuple(rng)
    assert vocab.bins == 1024 and vocab.audio_mask_id == 3200
    assert [vocab.codebook_range(c) for c in range(3)] == [(128, 1152), (1152, 2176), (2176, 3200)]
    for i, name in real["specials"].items():
        assert vocab.special(name) == int(i)
    # the tiny layout: the fixture's own token list, other sizes, other offsets
    tiny = UniAudioVocabulary.from_token_list(LAYOUT["tiny_fixture"]["token_list"])
    assert len(tiny) == 241 and tiny.bins == 23
    for kind, bias in LAYOUT["tiny_fixture"]["type_bias"].items():
        assert tiny.type_bias(kind) == bias, kind
    with pytest.raises(InvalidInput, match="text"):
        vocab.data_range("text")  # no BPE text in the recipes' vocabulary


@pytest.mark.parametrize("task", list(EXAMPLES["examples"]))
def test_every_task_equals_the_official_collation(vocab, task):
    example = EXAMPLES["examples"][task]
    assert tuple(example["task_format"]["keys"]) == TASK_FORMATS[task].keys
    assert tuple(example["task_format"]["type"]) == TASK_FORMATS[task].types
    assert example["task_format"]["loss_key"] == TASK_FORMATS[task].loss_key
    inputs = _inputs(example, np.random.default_rng(0))
    ids, loss_mask, continuous = vocab.build_sequence(task, **inputs)
    want_ids = np.array(_flat(example, "ids"))
    assert ids.dtype == np.int64 and loss_mask.dtype == bool
    assert len(ids) == example["length_tokens"] == FRAME * example["n_frames"]
    np.testing.assert_array_equal(ids, want_ids)
    np.testing.assert_array_equal(loss_mask, np.array(_flat(example, "loss_mask")))
    assert vocab.names(ids) == _flat(example, "names")
    want_segments = example["continuous_segments"]
    assert [(s.start, s.end, s.type, list(s.features.shape)) for s in continuous] == \
        [(s["start"], s["end"], s["type"], s["shape"]) for s in want_segments]
    for seg in continuous:  # each T5 row repeated 3 times, one per placeholder token
        key = next(k for k, t in zip(TASK_FORMATS[task].keys, TASK_FORMATS[task].types) if t == seg.type)
        np.testing.assert_array_equal(seg.features, np.repeat(inputs[key], 3, axis=0))
        assert (ids[seg.start:seg.end] == vocab.special("<continuous_token>")).all()
    # the module-level form, and the inference prefix: up to and including the target's start marker
    np.testing.assert_array_equal(build_sequence(vocab, task, **inputs).ids, want_ids)
    target = TASK_FORMATS[task].loss_key
    prefix = vocab.build_prefix(task, **{k: v for k, v in inputs.items() if k != target})
    n_prompt = int((~loss_mask).sum())
    np.testing.assert_array_equal(prefix.ids, want_ids[:n_prompt + FRAME])
    assert [(s.start, s.end) for s in prefix.continuous_segments] == [(s.start, s.end) for s in continuous]
    # generated target ids decode back to the codec codes
    if TASK_FORMATS[task].types[-1] == "audio":
        body = ids[n_prompt + FRAME: -2 * FRAME]
        np.testing.assert_array_equal(vocab.audio_codes(body), inputs[target])


def test_speech_edit_mask_as_codes(vocab):
    example = EXAMPLES["examples"]["speech_edit"]
    inputs = _inputs(example, np.random.default_rng(0))
    flat = inputs["corrupted_audio_seq"]
    codes = np.where(flat == 3072, -1, flat - np.tile(1024 * np.arange(3), flat.size // 3)).reshape(-1, 3).T
    inputs["corrupted_audio_seq"] = codes
    np.testing.assert_array_equal(vocab.build_sequence("speech_edit", **inputs).ids, np.array(_flat(example, "ids")))


def test_phone_repeats_are_merged_where_the_official_tokenizer_merges(vocab):
    codes = np.zeros((3, 2), np.int64)
    phones = np.array([5, 5, 5, 7, 7, 5])
    tts = vocab.build_sequence("plain_tts", phone_seq=phones, audio_seq=codes).ids
    frames = split_frames(tts)[:, 0]
    assert list(frames[3:6] - vocab.type_bias("phone")) == [5, 7, 5]
    edit = vocab.build_sequence("speech_edit", phone_seq=phones, corrupted_audio_seq=codes, audio_seq=codes).ids
    assert list(split_frames(edit)[3:9, 0] - vocab.type_bias("phone")) == [5, 5, 5, 7, 7, 5]


def test_tiny_layout_matches_the_lm_fixture_batch():
    """The LM fixture's teacher-forced batch (tts, VC, TTM in the tiny layout), if its file is present."""
    path = FIXTURES / "lm_io.npz"
    if not path.is_file():
        pytest.skip("lm_io.npz not in the fixtures")
    io = np.load(path)
    tiny = UniAudioVocabulary.from_token_list(LAYOUT["tiny_fixture"]["token_list"])
    rng = np.random.default_rng(1)
    for b, task in enumerate(["tts", "VC", "TTM"]):
        n = int(io["lm/tf/lengths"][b])
        ids = io["lm/tf/input_ids"][b, :n]
        example = {"task": task, "task_format": {"keys": list(TASK_FORMATS[task].keys),
                                                 "type": list(TASK_FORMATS[task].types)},
                   "frames": [{"names": tiny.names(ids[i:i + 3])} for i in range(0, n, 3)]}
        inputs = _inputs_tiny(example, tiny, _flat(example, "names"), rng)
        seq = tiny.build_sequence(task, **inputs)
        np.testing.assert_array_equal(seq.ids, ids)
        np.testing.assert_array_equal(seq.loss_mask, io["lm/tf/loss_mask"][b, :n].astype(bool))
        if task == "TTM":
            assert (seq.continuous_segments[0].start, seq.continuous_segments[0].end) == \
                tuple(io["lm/tf/conti_b2_s0_start_end"])


def _inputs_tiny(example, tiny, names, rng):
    """Like ``_inputs`` for the tiny layout (23 codes per codebook)."""
    fmt = example["task_format"]
    frames = [names[i:i + FRAME] for i in range(0, len(names), FRAME)]
    inputs, i = {}, 2
    for key, kind in zip(fmt["keys"], fmt["type"]):
        j = frames.index([f"<{kind}_end>"] * 3, i)
        body = frames[i + 1:j]
        if kind == "text_t5":
            inputs[key] = rng.standard_normal((len(body), 768)).astype(np.float32)
        elif kind in ("audio", "audio_prompt"):
            flat = np.array([int(_DATA.fullmatch(n).group(2)) for f in body for n in f])
            inputs[key] = (flat.reshape(-1, 3) - tiny.bins * np.arange(3)).T
        else:
            inputs[key] = np.array([int(_DATA.fullmatch(f[0]).group(2)) for f in body])
        i = j + 1
    return inputs


def test_bad_inputs_are_refused(vocab):
    codes = np.zeros((3, 4), np.int64)
    phones = np.array([1, 2, 3])
    with pytest.raises(InvalidInput, match="unknown UniAudio task"):
        vocab.build_sequence("karaoke", audio_seq=codes)
    with pytest.raises(InvalidInput, match="missing prompt_seq"):
        vocab.build_sequence("tts", phone_seq=phones, audio_seq=codes)
    with pytest.raises(InvalidInput, match="unexpected semantic_seq"):
        vocab.build_sequence("plain_tts", phone_seq=phones, audio_seq=codes, semantic_seq=phones)
    with pytest.raises(InvalidInput, match="target is generated"):
        vocab.build_prefix("plain_tts", phone_seq=phones, audio_seq=codes)
    with pytest.raises(InvalidInput, match="phone indices"):
        vocab.build_sequence("plain_tts", phone_seq=np.array([306]), audio_seq=codes)
    with pytest.raises(InvalidInput, match="transposed"):
        vocab.build_sequence("plain_tts", phone_seq=phones, audio_seq=np.zeros((5, 3), np.int64))
    with pytest.raises(InvalidInput, match="codes must be in"):
        vocab.build_sequence("plain_tts", phone_seq=phones, audio_seq=codes + 1024)
    with pytest.raises(InvalidInput, match="whole frames"):
        vocab.build_sequence("SE", noise_seq=np.arange(4), audio_seq=codes)
    with pytest.raises(InvalidInput, match="flat token"):
        vocab.build_sequence("SE", noise_seq=np.array([0, 0, 0]), audio_seq=codes)  # codebook 1 token < 1024
    with pytest.raises(InvalidInput, match="empty"):
        vocab.build_sequence("plain_tts", phone_seq=[], audio_seq=codes)
    with pytest.raises(InvalidInput, match="integers"):
        vocab.build_sequence("plain_tts", phone_seq=np.array([1.5]), audio_seq=codes)
    with pytest.raises(InvalidInput, match="finite"):
        vocab.build_sequence("TSS", text_t5_seq=np.full((2, 8), np.nan, np.float32), audio_seq=codes)
    with pytest.raises(InvalidInput, match="no text tokens"):
        vocab.build_sequence("lm", text_seq=[1, 2])  # BPE text is not in the recipes' vocabulary
    with pytest.raises(InvalidInput, match="codebook's range"):
        vocab.audio_codes([vocab.special("<audio_end>")] * 3)
    with pytest.raises(InvalidInput, match="no <end> token"):
        UniAudioVocabulary.from_token_list(["<pad>", "<start>", "<continuous_token>"])
