"""Windowed streaming of a non-causal decoder equals its offline decode when the window covers the receptive field.

- ``WindowedStreamDecoder`` against a tiny deterministic decoder of known receptive field (a zero-padded moving sum
  over frames, then an overlap-add of 4-hop windows with "center" or "same" edges and envelope normalisation, as an
  iSTFT): any chunking of the pushes, the grow-to-32 schedule, streams of 1 to 101 frames.
- The embedded default voice: its vocoder's receptive field, measured on a float copy of its decoder (the int8
  graph with its weights dequantized), is the manifest's window; with that decoder ``stream`` equals
  ``synthesize`` to float rounding, and with the shipped int8 decoder too (int8 weights, float activations: no
  scale depends on the decoded span).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from voxlite.pipelines.streaming import WindowedStreamDecoder

HOP = 4


def toy_decoder(radius: int, padding: str = "center"):
    """(1, D, T) -> samples: tanh(moving sum over 2 * radius + 1 frames, zero-padded) of tanh(frame sums), each
    frame spread over 4 hops (a triangle) and divided by the windows' sum. "center": (T - 1) hops, frame t centred
    on sample t * hop; "same": T hops, centred on (t + 1/2) * hop. Receptive field of output hop k, in frames:
    "center" k - radius - 1 .. k + radius + 2, "same" k - radius - 2 .. k + radius + 2."""

    def decode(x: np.ndarray) -> np.ndarray:
        g = np.tanh(x[0].astype(np.float64).sum(axis=0))
        t = len(g)
        h = np.tanh(np.convolve(np.pad(g, radius), np.ones(2 * radius + 1), "valid"))
        n = np.arange((t - 1) * HOP if padding == "center" else t * HOP, dtype=np.float64)
        centres = np.arange(t) * HOP + (0.0 if padding == "center" else HOP / 2)
        w = np.clip(1.0 - np.abs(n[:, None] - centres[None, :]) / (2 * HOP), 0.0, None)
        return (w @ h) / w.sum(axis=1)

    return decode


def toy_field(radius: int, padding: str) -> tuple[int, int]:
    return (radius + 1, radius + 2) if padding == "center" else (radius + 2, radius + 2)


def stream(decoder: WindowedStreamDecoder, latents: np.ndarray, sizes) -> list[np.ndarray]:
    """Push latents (D, T) in pieces of ``sizes`` frames (cycled), then flush."""
    chunks, start, i = [], 0, 0
    while start < latents.shape[1]:
        size = sizes[i % len(sizes)]
        chunks += decoder.push(latents[:, start:start + size])
        start, i = start + size, i + 1
    return chunks + decoder.flush()


def joined(chunks) -> np.ndarray:
    return np.concatenate(chunks) if chunks else np.zeros(0)


@pytest.mark.parametrize("padding", ["center", "same"])
@pytest.mark.parametrize("sizes", [[1], [3], [8], [5, 1, 7, 2, 16]])
@pytest.mark.parametrize("frames", [1, 2, 3, 7, 40, 101])
def test_toy_stream_equals_offline(padding, sizes, frames):
    radius = 3
    decode = toy_decoder(radius, padding)
    left, right = toy_field(radius, padding)
    x = np.random.default_rng(frames).standard_normal((5, frames)).astype(np.float32)
    offline = decode(x[None])
    for extra in (0, 5):  # the receptive field exactly, and more
        got = joined(stream(WindowedStreamDecoder(decode, HOP, left + extra, right + extra), x, sizes))
        assert got.shape == offline.shape
        np.testing.assert_allclose(got, offline, rtol=0, atol=1e-12)


@pytest.mark.parametrize("padding", ["center", "same"])
@pytest.mark.parametrize("short", ["left", "right"])
def test_toy_stream_short_of_the_field_differs(padding, short):
    """One frame less context than the receptive field is visible (the test above would catch a too-short window)."""
    radius = 3
    decode = toy_decoder(radius, padding)
    left, right = toy_field(radius, padding)
    left, right = (left - 1, right) if short == "left" else (left, right - 1)
    x = np.random.default_rng(0).standard_normal((5, 60)).astype(np.float32)
    got = joined(stream(WindowedStreamDecoder(decode, HOP, left, right), x, [1]))
    assert got.shape == decode(x[None]).shape
    assert np.abs(got - decode(x[None])).max() > 1e-6


def test_toy_chunks_grow_to_max_chunk():
    """One frame per push: the first audio (one frame's hop) comes with the push that completes its right context,
    later chunks double to 32 frames; with 8-frame pushes they grow the same way in whole pushes."""
    radius = 3
    decode = toy_decoder(radius)
    left, right = toy_field(radius, "center")
    x = np.random.default_rng(1).standard_normal((5, 300)).astype(np.float32)
    decoder = WindowedStreamDecoder(decode, HOP, left, right, max_chunk=32)
    sizes, first = [], None
    for t in range(x.shape[1]):
        out = decoder.push(x[:, t:t + 1])
        if out and first is None:
            first = t + 1
        sizes += [len(c) // HOP for c in out]
    assert first == right + 1
    assert sizes[:7] == [1, 2, 4, 8, 16, 32, 32] and set(sizes[5:]) == {32}
    tail = decoder.flush()
    assert len(tail) == 1 and len(tail[0]) == (x.shape[1] - 1 - sum(sizes)) * HOP  # "center": one hop less
    assert x.shape[1] - sum(sizes) >= right

    decoder = WindowedStreamDecoder(decode, HOP, left, right, max_chunk=32)
    sizes = [len(c) // HOP for t in range(0, 300, 8) for c in decoder.push(x[:, t:t + 8])]
    assert sizes[0] == 8 * -(-(right + 1) // 8) - right and all(b >= min(2 * a, 32) for a, b in zip(sizes, sizes[1:]))
    assert max(sizes) <= 32 + 7


# -- the embedded default voice -----------------------------------------------------------------------------------
onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

import voxlite  # noqa: E402

TEXTS = (("The quick brown fox jumps over the lazy dog.", 0),
         ("Streaming audio should sound like the offline render, shouldn't it?", 3))


@pytest.fixture(scope="module")
def voice():
    return voxlite.load()


def float_decoder(bundle_dir: Path, component: dict):
    """The codec's int8 decoder graph with every ``MatMulNBits`` (8-bit block-wise weights) replaced by a float
    MatMul of its dequantized weights -> decode(latents (1, D, T)) -> samples."""
    from onnx import helper, numpy_helper

    path = bundle_dir / component["graphs"]["decoder"]["files"]["int8"]
    model = onnx.load(str(path), load_external_data=False)
    g = model.graph
    for init in g.initializer:  # read external data ourselves (the bundle's files are hard links)
        if init.data_location == onnx.TensorProto.EXTERNAL:
            info = {e.key: e.value for e in init.external_data}
            with open(path.parent / info["location"], "rb") as f:
                f.seek(int(info.get("offset", 0)))
                init.raw_data = f.read(int(info["length"]))
            del init.external_data[:]
            init.data_location = onnx.TensorProto.DEFAULT
    inits = {i.name: numpy_helper.to_array(i) for i in g.initializer}
    nodes = []
    for n in g.node:
        if n.op_type != "MatMulNBits":
            nodes.append(n)
            continue
        attrs = {a.name: helper.get_attribute_value(a) for a in n.attribute}
        assert attrs["bits"] == 8 and len(n.input) == 3, "symmetric 8-bit weights (zero point 128) expected"
        k, n_out, block = attrs["K"], attrs["N"], attrs["block_size"]
        codes = inits[n.input[1]].reshape(n_out, -1).astype(np.float32) - 128.0  # (N, blocks * block)
        scales = inits[n.input[2]].reshape(n_out, -1, 1).astype(np.float32)
        weight = (codes.reshape(n_out, -1, block) * scales).reshape(n_out, -1)[:, :k].T  # (K, N)
        g.initializer.append(numpy_helper.from_array(np.ascontiguousarray(weight), f"{n.input[1]}_float"))
        nodes.append(helper.make_node("MatMul", [n.input[0], f"{n.input[1]}_float"], list(n.output)))
    assert len(nodes) == len(g.node) and any(n.op_type == "MatMulNBits" for n in g.node), "no MatMulNBits"
    del g.node[:]
    g.node.extend(nodes)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.log_severity_level = 3
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    return lambda x: np.ascontiguousarray(session.run(None, {"latents": np.ascontiguousarray(x, np.float32)})[0]
                                          [0].mean(axis=0))


@pytest.fixture(scope="module")
def float_decode(voice):
    bundle_dir = Path(voxlite.__file__).parent / "voices" / "default"
    import json

    manifest = json.loads((bundle_dir / "manifest.json").read_text())
    return float_decoder(bundle_dir, manifest["components"]["codec"])


def _snr_db(ref: np.ndarray, got: np.ndarray) -> float:
    ref, got = ref.astype(np.float64), got.astype(np.float64)
    return float(10 * np.log10(np.sum(ref ** 2) / np.sum((got - ref) ** 2)))


def test_window_is_the_vocoder_receptive_field(voice, float_decode):
    """Perturbing frame f of the float decoder changes output hops f - 29 .. f + 28 exactly: output hop k reads
    frames k - 28 .. k + 29, the manifest's window (left 28, right 29). At the edges the field is clipped."""
    hop, window = voice.codec.hop_length, voice.codec.hparams.window
    x = np.random.default_rng(0).standard_normal((1, voice.codec.latent_dim, 100)).astype(np.float32)
    y = float_decode(x)
    assert len(y) == 99 * hop  # "center": (T - 1) hops
    for f in (0, 1, 50, 98, 99):
        xp = x.copy()
        xp[0, :, f] += 3.0
        changed = np.nonzero(float_decode(xp) != y)[0]
        assert changed[0] // hop == max(f - window.right, 0), f
        assert changed[-1] // hop == min(f + window.left, 98), f
    assert (window.left, window.right) == (28, 29)


def test_stream_equals_synthesize_with_a_float_decoder(voice, float_decode, monkeypatch):
    """The pipeline's stream (8-frame patches, chunks growing to 32 frames) is the offline decode to float rounding
    when the decoder is local. Measured max abs difference: 2.1e-6 and 5.5e-7 (samples peak 0.7-0.8)."""
    monkeypatch.setattr(voice.codec, "decode_samples", float_decode)
    for text, seed in TEXTS:
        chunks = list(voice.stream(text, seed=seed))
        offline = voice.synthesize(text, seed=seed).samples
        streamed = np.concatenate(chunks)
        assert len(chunks) > 3 and streamed.shape == offline.shape
        assert np.abs(streamed - offline).max() < 2e-5, text


def test_stream_with_the_int8_decoder(voice, float_decode, monkeypatch):
    """The shipped int8 decoder has int8 weights and float activations (``export.default_voice.INT8_WEIGHT_ONLY``):
    each frame's arithmetic does not depend on the rest of the decoded span, so the stream equals the offline
    render to float rounding, and both are the float decode up to the weights' rounding. Measured on five
    sentences: stream vs offline 113-131 dB SNR, offline vs float 49-51 dB. (Dynamic int8, one activation scale
    per tensor per span, on the session-18 vocoder: stream vs offline 11.7-28 dB, offline vs float 12.8-25 dB.)"""
    for text, seed in TEXTS:
        chunks = list(voice.stream(text, seed=seed))
        offline = voice.synthesize(text, seed=seed).samples
        streamed = np.concatenate(chunks)
        assert streamed.shape == offline.shape
        assert _snr_db(offline, streamed) > 80.0, text
        with monkeypatch.context() as m:
            m.setattr(voice.codec, "decode_samples", float_decode)
            reference = voice.synthesize(text, seed=seed).samples
        assert reference.shape == offline.shape
        assert _snr_db(reference, offline) > 40.0, text
