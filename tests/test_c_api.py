"""The C API (runtimes/c): built with CMake against the pip-installed OpenVINO, its ctest suite run, and its output
compared with the Python pipeline's: phoneme ids on the held-out sentence files (identical), audio of the same text,
bundle and seed (within the bounds below), streaming, options, voice cloning."""
from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import voxlite
from voxlite.audio import Audio
from tests.c_api import CAPI, CError

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "build" / "c"
DEFAULT = ROOT / "python" / "voxlite" / "voices" / "default"
# C (OpenVINO) vs the Python pipeline on the OpenVINO backend: the same graphs on the same engine, the same kernels
# (measured: identical samples). Against the Python pipeline on ONNX Runtime the engines' int8 kernels differ
# (ORT quantizes MatMulNBits activations to int8, OpenVINO computes them in float), so the audio agrees in length
# and shape, not sample by sample.
SAME_ENGINE_ATOL = 1e-4


def _build() -> Path:
    if os.environ.get("VOXLITE_C_LIBRARY"):
        return Path(os.environ["VOXLITE_C_LIBRARY"])
    cmake = shutil.which("cmake")
    if cmake is None:
        pytest.fail("cmake is not installed (pip install cmake): the C API cannot be built")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    BUILD.mkdir(parents=True, exist_ok=True)
    with open(BUILD.parent / "c.lock", "w") as lock:  # pytest-xdist workers build one after the other
        fcntl.flock(lock, fcntl.LOCK_EX)
        subprocess.run([cmake, "-S", str(ROOT / "runtimes" / "c"), "-B", str(BUILD), "-DCMAKE_BUILD_TYPE=Release"],
                       check=True, capture_output=True, env=env)
        done = subprocess.run([cmake, "--build", str(BUILD), "-j2"], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    return BUILD / "libvoxlite.so"


@pytest.fixture(scope="module")
def api():
    return CAPI(_build())


@pytest.fixture(scope="module")
def c_model(api):
    with api.open(DEFAULT, threads=1) as m:
        yield m


@pytest.fixture(scope="module")
def ov_model():
    return voxlite.load(DEFAULT, backend="openvino", threads=1)


def test_ctest_suite(api):
    """Bad and tampered bundles, bad options, synthesis, both streaming styles, cancelling, the busy rule, two models
    in two threads, the shared and the static library, the examples (runtimes/c/tests/test_api.c)."""
    done = subprocess.run(["ctest", "--test-dir", str(BUILD), "--output-on-failure"], capture_output=True, text=True,
                          env={**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"})
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]


def test_example_runs_without_python(api, tmp_path):
    """examples/c/say speaks with the default voice with no Python anywhere on its path."""
    out = tmp_path / "hello.wav"
    env = {"PATH": str(tmp_path), "HOME": str(tmp_path)}  # nothing to run on PATH, no PYTHON* variables
    done = subprocess.run([str(BUILD / "say"), "Hello from C.", str(out)], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    from voxlite.audio import read_audio

    audio = read_audio(out)
    assert audio.sample_rate == 24000 and audio.duration > 0.3


def _sentences() -> list[str]:
    lines = []
    for f in sorted((ROOT / "recipes" / "default_voice").glob("eval_sentences*.txt")):
        lines += [ln.strip() for ln in f.read_text(encoding="utf-8").splitlines() if ln.strip()]
    return lines


def test_phoneme_ids_identical_on_held_out_sentences(c_model, ov_model):
    """One text front end: the C API's ids equal the Python package's on every held-out sentence."""
    python_g2p = voxlite.load(DEFAULT, backend="cpu").tokenizer  # letter-to-sound on ONNX Runtime
    sentences = _sentences()
    assert len(sentences) > 700
    differ = [s for s in sentences if c_model.ids(s) != python_g2p.encode(s)]
    assert not differ, f"{len(differ)} of {len(sentences)} sentences differ, e.g. {differ[:3]}"
    assert c_model.phonemes(sentences[0]) == python_g2p.phonemize(sentences[0])


TEXTS = ["The quick brown fox jumps over the lazy dog.",
         "Dr. Nakamura paid $3.50 for 12 apples on March 3rd, 2024. Call 555-0142!"]


@pytest.mark.parametrize("text", TEXTS)
def test_audio_equals_python_pipeline(c_model, ov_model, text):
    c = c_model.synthesize(text)
    py = ov_model.synthesize(text).samples
    assert c.shape == py.shape
    np.testing.assert_allclose(c, py, atol=SAME_ENGINE_ATOL)


def test_stream_equals_python_stream(c_model, ov_model):
    text = TEXTS[1]
    c = c_model.stream(text)
    py = list(ov_model.stream(text))
    assert len(c) == len(py) > 1
    for a, b in zip(c, py):
        np.testing.assert_allclose(a, b, atol=SAME_ENGINE_ATOL)


def test_options_equal_python(c_model, ov_model):
    """The noise path (flow_start 1: LocDiT from the shared seeded noise, CFG, steps), speed and volume."""
    text = TEXTS[0]
    for kwargs in (dict(flow_start=1.0, steps=4, cfg=2.0, seed=3), dict(flow_start=0.5, steps=3, seed=11),
                   dict(speed=1.5, volume=0.5)):
        c = c_model.synthesize(text, **kwargs)
        py = ov_model.synthesize(text, **kwargs).samples
        assert c.shape == py.shape, kwargs
        np.testing.assert_allclose(c, py, atol=SAME_ENGINE_ATOL, err_msg=str(kwargs))
    assert not np.array_equal(c_model.synthesize(text, flow_start=1.0, steps=4, seed=3),
                              c_model.synthesize(text, flow_start=1.0, steps=4, seed=4))


def test_audio_against_onnxruntime_pipeline(c_model):
    """Across engines the int8 audio is the same utterance: same length, spectrally close."""
    text = TEXTS[0]
    c = c_model.synthesize(text)
    ort = voxlite.load(DEFAULT, backend="cpu", threads=1).synthesize(text).samples
    assert c.shape == ort.shape

    def spectrum(x):
        frames = np.lib.stride_tricks.sliding_window_view(x, 1024)[::256] * np.hanning(1024)
        return np.log(np.abs(np.fft.rfft(frames)) + 1e-4)

    assert np.mean(np.abs(spectrum(c) - spectrum(ort))) < 1.0


def test_errors_are_typed(api, c_model, tmp_path):
    with pytest.raises(CError) as e:
        api.open(tmp_path / "nothing")
    assert e.value.status == -2 and "no bundle" in str(e.value)
    with pytest.raises(CError) as e:
        c_model.synthesize("x" * 5001)
    assert e.value.status == -1 and "too long" in str(e.value)
    with pytest.raises(CError) as e:
        c_model.synthesize("Hello.", steps=5000)
    assert e.value.status == -1
    with pytest.raises(CError) as e:
        c_model.synthesize("Hello.", prompt=np.zeros(2400, np.float32), prompt_rate=24000, prompt_text="Hi.")
    assert e.value.status == -1 and "single voice" in str(e.value)


@pytest.fixture(scope="module")
def cloning_bundle(tmp_path_factory):
    """A tiny VoxCPM (random weights, AudioVAE codec, fp32) reading text with the default voice's G2P."""
    pytest.importorskip("torch")
    from export.voxcpm import build, export_voxcpm

    model, vae_parts = build(None, "tiny", 0)
    out = tmp_path_factory.mktemp("voxcpm-c") / "bundle"
    export_voxcpm(model, vae_parts, out, precisions=("fp32",), log=lambda *_: None,
                  tokenizer=DEFAULT / "tokenizer" / "lexicon.json", tokenizer_kind="voxlite-g2p-en",
                  letter_to_sound=DEFAULT / "tokenizer" / "letter_to_sound.onnx",
                  provenance={"weights": "random (seed 0)"})
    return out


def test_voice_cloning_fp32_equals_python(api, cloning_bundle):
    py = voxlite.load(cloning_bundle, backend="openvino", threads=1)
    rate = py.sample_rate
    t = np.arange(int(rate * 0.3))
    prompt = (0.3 * np.sin(t * 0.05)).astype(np.float32)
    kwargs = dict(seed=5, steps=3, cfg=2.0)
    with api.open(cloning_bundle) as c:
        assert api.lib.voxlite_supports_voice_cloning(c.handle) == 1
        got = c.synthesize("Hi there.", prompt=prompt, prompt_rate=rate, prompt_text="A test.", **kwargs)
        want = py.synthesize("Hi there.", prompt_audio=Audio(prompt, rate), prompt_text="A test.",
                             **kwargs).samples
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, atol=SAME_ENGINE_ATOL)
        plain = c.synthesize("Hi there.", **kwargs)
        np.testing.assert_allclose(plain, py.synthesize("Hi there.", **kwargs).samples, atol=SAME_ENGINE_ATOL)
        # streaming through the AudioVAE's causal decoder_stream, warmed with the prompt's last patches
        chunks = c.stream("Hi there.", prompt=prompt, prompt_rate=rate, prompt_text="A test.", **kwargs)
        want_chunks = list(py.stream("Hi there.", prompt_audio=Audio(prompt, rate), prompt_text="A test.", **kwargs))
        assert len(chunks) == len(want_chunks) > 1
        for a, b in zip(chunks, want_chunks):
            np.testing.assert_allclose(a, b, atol=SAME_ENGINE_ATOL)
        with pytest.raises(CError) as e:  # the C API takes the prompt at the bundle's rate
            c.synthesize("Hi there.", prompt=prompt, prompt_rate=rate // 2, prompt_text="A test.")
        assert e.value.status == -1 and "resample" in str(e.value)
