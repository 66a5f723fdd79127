"""Fuzzing what parses untrusted bytes (hypothesis): manifests, bundle archives, audio files, text, SSML, the server's
requests. Each may refuse input only with voxlite's typed errors, never crash with anything else. A short run in CI
(``FUZZ_EXAMPLES``, default 200 per target); ``FUZZ_EXAMPLES=20000 pytest tests/test_fuzz_inputs.py`` is the long run.
"""
import io
import json
import os
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from voxlite.errors import VoxliteError

N = int(os.environ.get("FUZZ_EXAMPLES", "200"))
FUZZ = settings(max_examples=N, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                       HealthCheck.function_scoped_fixture])

json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
                           lambda children: st.lists(children, max_size=4)
                           | st.dictionaries(st.text(max_size=12), children, max_size=5), max_leaves=30)


def _valid_manifest() -> dict:
    from voxlite.voices import default_bundle

    return json.loads((default_bundle() / "manifest.json").read_text())


def _mutate(obj, path_choice: int, value):
    """``obj`` with one nested value replaced (the path picked by ``path_choice``)."""
    paths = []

    def walk(o, path):
        paths.append(path)
        if isinstance(o, dict):
            for k, v in o.items():
                walk(v, path + [k])
        elif isinstance(o, list):
            for i, v in enumerate(o):
                walk(v, path + [i])

    walk(obj, [])
    path = paths[path_choice % len(paths)]
    if not path:
        return value
    target = obj
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return obj


@FUZZ
@given(json_values)
def test_manifest_parser_arbitrary_json(raw):
    from voxlite.bundle.manifest import parse_manifest

    try:
        parse_manifest(raw)
    except VoxliteError:
        pass


@FUZZ
@given(st.integers(0, 10_000), json_values)
def test_manifest_parser_mutated_real_manifest(choice, value):
    from voxlite.bundle.manifest import parse_manifest

    try:
        parse_manifest(_mutate(_valid_manifest(), choice, value))
    except VoxliteError:
        pass


@FUZZ
@given(st.binary(max_size=2048), st.lists(st.text(min_size=1, max_size=30), max_size=4))
def test_bundle_archives(tmp_path_factory, data, names):
    from voxlite.bundle import open_bundle

    d = tmp_path_factory.mktemp("arc")
    archive = d / "b.voxlite"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("manifest.json", data)
        for name in dict.fromkeys(names):  # distinct names; zipfile itself refuses some (e.g. NUL-only names)
            try:
                zf.writestr(name, b"x")
            except (ValueError, UnicodeEncodeError, IndexError):
                pass
    archive.write_bytes(buf.getvalue())
    try:
        open_bundle(archive)
    except VoxliteError:
        pass
    raw = d / "raw.voxlite"
    raw.write_bytes(data)
    try:
        open_bundle(raw)
    except VoxliteError:
        pass


def _wav_bytes(samples: np.ndarray, rate: int) -> bytes:
    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, samples, rate, format="WAV", subtype="PCM_16")
    return buf.getvalue()


@FUZZ
@given(st.integers(0, 200), st.binary(min_size=1, max_size=64), st.sampled_from([".wav", ".flac", ".mp3"]))
def test_audio_files(tmp_path_factory, offset, junk, suffix):
    from voxlite.audio import read_audio

    good = bytearray(_wav_bytes(np.zeros(400, np.float32) + 0.1, 16000))
    good[offset:offset + len(junk)] = junk  # corrupt a header or data range
    path = tmp_path_factory.mktemp("audio") / f"prompt{suffix}"
    path.write_bytes(bytes(good))
    try:
        audio = read_audio(path, max_seconds=30)
        assert np.isfinite(audio.samples).all()
    except VoxliteError:
        pass


@FUZZ
@given(st.text(max_size=300))
def test_english_text_front_end(text):
    from voxlite.text.english_normalize import normalize_text

    out = normalize_text(text)
    assert isinstance(out, str)
    g2p = _g2p()
    try:
        ids = g2p.encode(text)
        assert all(0 <= i < len(g2p.symbols) for i in ids)
    except VoxliteError:
        pass


_G2P = []


def _g2p():
    if not _G2P:
        import voxlite

        _G2P.append(voxlite.load().tokenizer)
    return _G2P[0]


@FUZZ
@given(st.text(max_size=200), st.sampled_from(["<speak>{}</speak>", "<speak><break time='{}'/>x</speak>",
                                               "<speak><prosody rate='{}'>x</prosody></speak>", "{}"]))
def test_ssml(text, template):
    from voxlite.text import ssml

    try:
        ssml.parse(template.format(text))
    except VoxliteError:
        pass


@FUZZ
@given(st.one_of(st.binary(max_size=300), json_values.map(lambda v: json.dumps(v).encode()),
                 st.fixed_dictionaries({"model": st.sampled_from(["tts-1", "x", 3]), "input": json_values,
                                        "voice": st.sampled_from(["default", "", None]),
                                        "speed": json_values, "response_format": json_values,
                                        "stream_format": json_values}).map(lambda v: json.dumps(v).encode())))
def test_server_request_parsing(body):
    pytest.importorskip("starlette")
    from voxlite.serve.app import parse_speech_request
    from voxlite.serve.config import ServeConfig

    try:
        req = parse_speech_request(body, ServeConfig())
        assert req["text"].strip() and 0.25 <= req["speed"] <= 4
    except VoxliteError:
        pass
