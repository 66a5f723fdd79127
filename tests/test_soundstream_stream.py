"""UniAudio's SoundStream streamed exactly: a non-causal SEANet decoder with a bottleneck LSTM, split at the LSTM
(``voxlite.models.seanet.LSTMSplit``; ``streaming.LSTMSplitStreamDecoder``; graphs ``decoder_pre_lstm`` /
``decoder_post``), decodes codes chunk by chunk to the offline decode's samples.

- The split: its three parts are the decoder; the post part's receptive field (hop-level, and which samples of a
  hop need one frame less) computed from the layers equals what perturbing one frame shows.
- The stream logic against the PyTorch parts (fast, many chunkings and lengths): the tiny SoundStream, the released
  uniaudio_16khz shape, and other non-causal SEANets (strides (4, 3, 2), dilated residual units, zero / replicate
  padding), streams of 1 frame up, against the reference decoder's offline output.
- The exported bundle (``python -m export codec --family soundstream``) on ONNX Runtime and OpenVINO: chunkings 1,
  3, 7 and random equal ``decode`` within 1e-5; audio after ``lookahead`` frames, each sample as soon as final; a
  one-frame stream; bad chunks refused; the hparams; int8 bundles keep the streaming graphs float.
"""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")

import voxlite  # noqa: E402
from voxlite.errors import BundleError, InvalidInput  # noqa: E402
from voxlite.hparams import CodecHParams  # noqa: E402
from voxlite.pipelines.streaming import LSTMSplitStreamDecoder, pad_frames  # noqa: E402

CHUNKINGS = {"1": [1], "3": [3], "7": [7], "random": None}


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Small torch ops on a shared 2-core machine: one thread is many times faster than two."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _model(name: str, **overrides):
    from voxlite.models.rvq_codec import RVQCodec, RVQCodecConfig
    from voxlite.models.soundstream import PRESETS, SoundStream

    torch.manual_seed(0)
    if name in PRESETS:
        model = SoundStream(PRESETS[name]())
    else:  # another non-causal SEANet: strides (4, 3, 2), two residual units (dilations 1, 2), widths 7 / 5
        model = RVQCodec(RVQCodecConfig.tiny(causal=False, **overrides))
    return model.eval()


def _sizes(chunking, total: int, seed: int) -> list[int]:
    if chunking is not None:
        return chunking
    return list(np.random.default_rng(seed).integers(1, 10, size=total))


def _push_all(decoder, latents: np.ndarray, sizes) -> tuple[list[np.ndarray], list[int]]:
    """Push (D, T) in pieces of ``sizes`` (cycled) then flush: (chunks, samples out after each push)."""
    chunks, counts, start, i = [], [], 0, 0
    while start < latents.shape[1]:
        size = sizes[i % len(sizes)]
        chunks += decoder.push(latents[:, start:start + size])
        counts.append(sum(len(c) for c in chunks))
        start, i = start + size, i + 1
    return chunks + decoder.flush(), counts


def _joined(chunks) -> np.ndarray:
    return np.concatenate(chunks) if chunks else np.zeros(0, np.float32)


def _torch_stream(split) -> LSTMSplitStreamDecoder:
    """The stream logic over the PyTorch parts (what the graphs are exported from)."""
    def pre(feeds):
        with torch.no_grad():
            y, h, c = split.pre(*(torch.from_numpy(feeds[k]) for k in ("latents", "lstm_h", "lstm_c")))
        return {"hidden": y.numpy(), "new_lstm_h": h.numpy(), "new_lstm_c": c.numpy()}

    def post(feeds):
        with torch.no_grad():
            return {"audio": split.post(torch.from_numpy(feeds["hidden"])).numpy()}

    h, c = split.initial_state(1)
    left, right = split.post_receptive_field()
    return LSTMSplitStreamDecoder(pre, post, {"lstm_h": h.numpy(), "lstm_c": c.numpy()},
                                  hop_length=split.hop_length, latent_dim=split.first.conv.in_channels,
                                  pad_left=split.pad_left, pad_right=split.pad_right, pad_mode=split.pad_mode,
                                  left=left, right=right, early_samples=split.early_samples())


# -- the split -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["tiny", "seanet"])
def test_split_is_the_decoder(name):
    model = _model(name)
    split = model.decoder.lstm_split()
    z = torch.randn(1, model.cfg.dimension, 13)
    with torch.no_grad():
        np.testing.assert_array_equal(split(z).numpy(), model.decoder(z).numpy())


@pytest.mark.parametrize("name", ["tiny", "seanet"])
def test_receptive_field_is_the_measured_one(name):
    """Perturb one LSTM output frame at a time (float64): the samples of hop k that move read frames
    k - left .. k + right, and the first early_samples of the hop never read k + right."""
    split = _model(name).decoder.lstm_split().double()
    hop, k, n = split.hop_length, 12, 25
    hidden = torch.randn(1, split.lstm.dim, n, dtype=torch.float64)
    with torch.no_grad():
        base = split.post(hidden)[0].abs().sum(0)[k * hop:(k + 1) * hop]
        reads = np.zeros((n, hop), bool)  # reads[f, j]: sample j of hop k moves when frame f does
        for f in range(n):
            moved = hidden.clone()
            moved[..., f] += 1.0
            reads[f] = (split.post(moved)[0].abs().sum(0)[k * hop:(k + 1) * hop] != base).numpy()
    frames = np.flatnonzero(reads.any(axis=1)) - k
    left, right = split.post_receptive_field()
    assert (frames.min(), frames.max()) == (-left, right)
    last = np.array([np.flatnonzero(reads[:, j]).max() - k for j in range(hop)])
    assert np.count_nonzero(last == right - 1) == split.early_samples()
    assert set(last) <= {right - 1, right}
    if name == "tiny":  # UniAudio's layout: kernel-7 first conv, 1 frame each side after the LSTM
        assert (split.pad_left, split.pad_right, left, right, split.lookahead()) == (3, 3, 1, 1, 4)


def test_time_group_norm_does_not_split():
    from voxlite.models.rvq_codec import RVQCodec, RVQCodecConfig

    with pytest.raises(RuntimeError, match="group"):
        RVQCodec(RVQCodecConfig.tiny(causal=False, norm="time_group_norm")).decoder.lstm_split()


@pytest.mark.parametrize("mode", ["reflect", "replicate", "zeros"])
@pytest.mark.parametrize("frames", [1, 2, 3, 4, 9])
def test_pad_frames_is_pad1d(mode, frames):
    from voxlite.models.blocks.conv import pad1d

    x = np.random.default_rng(frames).standard_normal((3, frames)).astype(np.float32)
    for left, right in ((3, 3), (4, 3), (2, 0), (0, 2)):
        want = pad1d(torch.from_numpy(x)[None], left, right, mode)[0].numpy()
        np.testing.assert_array_equal(pad_frames(x, left, right, mode), want)


# -- the stream logic over the PyTorch parts -------------------------------------------------------------------
@pytest.mark.parametrize("name,overrides", [("tiny", {}), ("seanet", {}), ("seanet", {"pad_mode": "zeros"}),
                                            ("seanet", {"pad_mode": "replicate"})])
@pytest.mark.parametrize("chunking", list(CHUNKINGS))
@pytest.mark.parametrize("frames", [1, 2, 3, 4, 5, 8, 31])
def test_stream_equals_offline_reference(name, overrides, chunking, frames):
    model = _model(name, **overrides)
    split = model.decoder.lstm_split()
    z = torch.randn(1, model.cfg.dimension, frames, generator=torch.Generator().manual_seed(frames))
    with torch.no_grad():
        offline = model.decoder(z)[0].mean(0).numpy()
    chunks, _ = _push_all(_torch_stream(split), z[0].numpy(), _sizes(CHUNKINGS[chunking], frames, frames))
    got = _joined(chunks)
    assert got.shape == offline.shape
    np.testing.assert_allclose(got, offline, rtol=0, atol=1e-5)


def test_stream_equals_offline_at_the_released_size():
    """The uniaudio_16khz shape (D 256, 512 channels at the LSTM, hop 320), 12 frames, random weights."""
    model = _model("uniaudio_16khz")
    split = model.decoder.lstm_split()
    assert (split.pad_right, *split.post_receptive_field(), split.early_samples()) == (3, 1, 1, 77)
    z = torch.randn(1, 256, 12, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        offline = model.decoder(z)[0, 0].numpy()
    for sizes in ([1], [3], [7], [2, 5, 1, 4]):
        chunks, _ = _push_all(_torch_stream(split), z[0].numpy(), sizes)
        np.testing.assert_allclose(_joined(chunks), offline, rtol=0, atol=1e-5)


# -- the exported bundle ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    """The tiny SoundStream through the command line (fp32 + int8), and its reference (same preset and seed)."""
    from export import main
    from export.codec import FAMILIES

    out = tmp_path_factory.mktemp("soundstream") / "tiny"
    assert main(["codec", "--family", "soundstream", "--config", "tiny", "--random-init", "--seed", "0",
                 "--out", str(out), "--precision", "fp32", "int8"]) == 0
    return out, FAMILIES["soundstream"](None, "tiny", 0)


def _codes(frames: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 1024, (1, 3, frames))


@pytest.mark.parametrize("backend", ["cpu", "openvino"])
def test_bundle_stream_equals_decode(bundle, backend):
    path, _ = bundle
    model = voxlite.load(path, backend=backend)
    assert model.streams
    codes = _codes(40)
    offline = model.decode(codes).samples
    latents = model.latents_from_codes(codes)[0]
    for chunking, sizes in CHUNKINGS.items():
        chunks, _ = _push_all(model.stream_decoder(), latents, _sizes(sizes, 40, 7))
        assert len(chunks) > 1
        np.testing.assert_allclose(_joined(chunks), offline, rtol=0, atol=1e-5, err_msg=f"chunks of {chunking}")
    for chunk in (1, 3, 7):
        np.testing.assert_allclose(_joined(list(model.decode_stream(codes, chunk_frames=chunk))), offline,
                                   rtol=0, atol=1e-5)


def test_bundle_audio_as_soon_as_final(bundle):
    """One frame at a time: after n frames, the samples out are those whose frames are all in: hop k once frame
    k + lookahead (4) is, its first early_samples (77) a frame sooner. First audio after lookahead frames."""
    path, _ = bundle
    model = voxlite.load(path, backend="cpu")
    ls = model.hparams.lstm_stream
    assert (ls.pad_left, ls.pad_right, ls.left, ls.right, ls.early_samples, ls.lookahead) == (3, 3, 1, 1, 77, 4)
    decoder = model.stream_decoder()
    assert decoder.lookahead == ls.lookahead
    frames, hop = 20, model.hop_length
    chunks, counts = _push_all(decoder, model.latents_from_codes(_codes(frames, 3))[0], [1])
    want = [max(0, (n - ls.lookahead) * hop + ls.early_samples) for n in range(1, frames + 1)]
    assert counts == want
    assert next(n for n, c in enumerate(counts, 1) if c) == ls.lookahead
    assert sum(len(c) for c in chunks) == frames * hop  # the rest at flush


@pytest.mark.parametrize("frames", [1, 2, 3, 6])
def test_bundle_short_streams(bundle, frames):
    """Streams shorter than the offline graph's minimum (7 frames) decode as the reference decoder does."""
    path, parts = bundle
    model = voxlite.load(path, backend="cpu")
    codes = _codes(frames, frames)
    with pytest.raises(InvalidInput, match="minimum"):
        model.decode(codes)
    with torch.no_grad():
        want = parts.decoder(parts.rvq.decode(torch.from_numpy(codes)))[0, 0].numpy()
    latents = model.latents_from_codes(codes)[0]
    for sizes in ([1], [frames]):
        chunks, _ = _push_all(model.stream_decoder(), latents, sizes)
        np.testing.assert_allclose(_joined(chunks), want, rtol=0, atol=1e-5)


def test_bundle_bad_chunks_are_refused(bundle):
    path, _ = bundle
    model = voxlite.load(path, backend="cpu")
    decoder = model.stream_decoder()
    dim = model.latent_dim
    for bad in (np.zeros((1, dim, 2), np.float32), np.zeros((dim + 1, 2), np.float32),
                np.zeros((dim, 0), np.float32), np.zeros(dim, np.float32)):
        with pytest.raises(InvalidInput, match="latent chunk must be"):
            decoder.push(bad)
    nan = np.zeros((dim, 2), np.float32)
    nan[0, 1] = np.nan
    with pytest.raises(InvalidInput, match="NaN"):
        decoder.push(nan)
    with pytest.raises(InvalidInput, match="numbers"):
        decoder.push(np.array([["a"] * 2] * dim))
    out = decoder.push(np.zeros((dim, 9), np.float32)) + decoder.flush()
    assert sum(len(c) for c in out) == 9 * model.hop_length  # the refusals left nothing behind
    assert decoder.flush() == []
    with pytest.raises(InvalidInput, match="ended"):
        decoder.push(np.zeros((dim, 1), np.float32))
    assert model.stream_decoder().flush() == []  # an empty stream: no audio


def test_int8_bundle_streams_float(bundle):
    """The streaming graphs have no int8 variant (per-call activation scales would round every window its own
    way): an int8 model streams with the fp32 ones, equal to the fp32 decode."""
    path, _ = bundle
    b = voxlite.open_bundle(path)
    for graph in ("decoder_pre_lstm", "decoder_post"):
        assert set(b.graph(f"codec/{graph}").precisions) == {"fp32"}
    assert "int8" in b.graph("codec/decoder").precisions
    codes = _codes(12, 5)
    fp32 = voxlite.load(path, backend="cpu")
    int8 = voxlite.load(path, backend="cpu", precision="int8")
    got = _joined(list(int8.decode_stream(codes, chunk_frames=3)))
    np.testing.assert_allclose(got, fp32.decode(codes).samples, rtol=0, atol=1e-5)


def test_hparams(bundle):
    path, _ = bundle
    raw = voxlite.open_bundle(path).component("codec").hparams
    hp = CodecHParams.from_json(raw)
    assert [s.name for s in hp.lstm_stream.states] == ["lstm_h", "lstm_c"] and not hp.stream_states
    old = {k: v for k, v in raw.items() if k != "lstm_stream"}  # a bundle from before this mode: still valid
    assert CodecHParams.from_json(old).lstm_stream is None
    with pytest.raises(BundleError, match="lstm_stream"):
        CodecHParams.from_json({**raw, "window": {"left": 1, "right": 1}})
    with pytest.raises(BundleError, match="states"):
        CodecHParams.from_json({**raw, "lstm_stream": {**raw["lstm_stream"], "states": []}})
    with pytest.raises(BundleError, match="pad_mode"):
        CodecHParams.from_json({**raw, "lstm_stream": {**raw["lstm_stream"], "pad_mode": "circular"}})
