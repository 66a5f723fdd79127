"""Make-A-Voice's S3 unit vocoder: the log-F0 quantiser (dsp/f0.py), the PyTorch model (shapes, F0 on / off, its
receptive field bound), the exported ``unit-vocoder`` component against PyTorch on ONNX Runtime and OpenVINO (with
and without F0, fp16 within its bound), the runner's refusals, and windowed streaming == offline decode."""
import numpy as np
import pytest

from voxlite.dsp.f0 import (F0_BINS, F0_MAX, F0_MIN, dequantize_log_f0, f0_bins_from_midi, hz_to_midi, midi_to_hz,
                            quantize_log_f0)
from voxlite.errors import BundleError, InvalidInput
from voxlite.hparams.codec import StreamWindow
from voxlite.hparams.unit_vocoder import UnitVocoderHParams


# -- dsp.f0 --------------------------------------------------------------------------------------------------
def test_midi_hz():
    assert midi_to_hz(69) == pytest.approx(440.0)
    assert midi_to_hz(36) == pytest.approx(F0_MIN) and midi_to_hz(96) == pytest.approx(F0_MAX)
    m = np.linspace(20, 110, 91)
    np.testing.assert_allclose(hz_to_midi(midi_to_hz(m)), m, atol=1e-9)
    assert np.isnan(hz_to_midi([0.0, -3.0])).all()


def test_quantize_round_trip_within_half_a_bin():
    rng = np.random.default_rng(0)
    for bins in (F0_BINS, 17):
        hz = np.exp(rng.uniform(np.log(F0_MIN), np.log(F0_MAX), 5000))
        q = quantize_log_f0(hz, bins=bins)
        assert q.dtype == np.int64 and q.min() >= 1 and q.max() <= bins - 1
        step = np.log(F0_MAX / F0_MIN) / (bins - 2)  # one bin, in log-frequency
        err = np.abs(np.log(dequantize_log_f0(q, bins=bins)) - np.log(hz))
        assert err.max() <= step / 2 + 1e-9
        np.testing.assert_array_equal(quantize_log_f0(dequantize_log_f0(np.arange(1, bins), bins=bins), bins=bins),
                                      np.arange(1, bins))  # centres map to themselves


def test_quantize_unvoiced_clipping_monotone():
    q = quantize_log_f0([0.0, -1.0, np.nan, 1.0, F0_MIN, F0_MAX, 1e5])
    np.testing.assert_array_equal(q, [0, 0, 0, 1, 1, F0_BINS - 1, F0_BINS - 1])
    hz = np.sort(np.exp(np.random.default_rng(1).uniform(np.log(20), np.log(5000), 3000)))
    assert np.all(np.diff(quantize_log_f0(hz)) >= 0)
    assert dequantize_log_f0(0) == 0.0 and quantize_log_f0(np.zeros((2, 3))).shape == (2, 3)
    with pytest.raises(InvalidInput):
        dequantize_log_f0([F0_BINS])
    with pytest.raises(InvalidInput):
        quantize_log_f0([np.inf])
    with pytest.raises(InvalidInput):
        quantize_log_f0([100.0], bins=2)
    with pytest.raises(InvalidInput):
        quantize_log_f0([100.0], f_min=500.0, f_max=100.0)


def test_f0_bins_from_midi_rests():
    q = f0_bins_from_midi([60, 0, None, 62.5, float("nan"), 96])
    assert q.dtype == np.int64
    assert list(q[[1, 2, 4]]) == [0, 0, 0] and q[5] == F0_BINS - 1
    assert q[0] == quantize_log_f0(midi_to_hz(60)) and q[3] > q[0]
    # a semitone is ~4.25 bins: consecutive notes get distinct bins
    assert np.all(np.diff(f0_bins_from_midi(np.arange(36, 97))) >= 4)
    assert f0_bins_from_midi(np.array([0.0, 60.0]), rest=None)[0] == 1  # MIDI 0 clipped to the bottom, not a rest
    with pytest.raises(InvalidInput):
        f0_bins_from_midi(np.zeros((2, 2)))
    with pytest.raises(InvalidInput):
        f0_bins_from_midi(["C4"])


# -- hparams ---------------------------------------------------------------------------------------------------
def test_hparams_round_trip_and_checks():
    hp = UnitVocoderHParams(sample_rate=16000, hop_length=320, n_codebooks=3, codebook_size=1024, f0_bins=256,
                            config={"a": 1}, window=StreamWindow(3, 4))
    assert UnitVocoderHParams.from_json(hp.to_json()) == hp and hp.frame_rate == 50.0 and hp.takes_f0
    assert (hp.f0_min, hp.f0_max) == (F0_MIN, F0_MAX)  # the hparams' defaults are dsp.f0's scale
    for bad in ({"f0_bins": 2}, {"hop_length": 0}, {"f0_min": 3000.0}):
        with pytest.raises(BundleError):
            UnitVocoderHParams.from_json({**hp.to_json(), **bad})


# -- the PyTorch model -------------------------------------------------------------------------------------
torch = pytest.importorskip("torch")

from voxlite.models.unit_vocoder import UnitVocoderConfig  # noqa: E402


def test_config_presets_and_dict_round_trip():
    for cfg in (UnitVocoderConfig.tiny(), UnitVocoderConfig.tiny(256), UnitVocoderConfig.base(256)):
        assert (cfg.sample_rate, cfg.hop_length, cfg.n_codebooks, cfg.codebook_size) == (16000, 320, 3, 1024)
        assert UnitVocoderConfig.from_dict(cfg.to_dict()) == cfg
    assert UnitVocoderConfig.make_a_voice() == UnitVocoderConfig.base()
    with pytest.raises(ValueError, match="num_mels"):
        UnitVocoderConfig(embed_dim=8, bigvgan=UnitVocoderConfig.tiny().bigvgan)


@pytest.mark.parametrize("f0_bins", [0, 256])
def test_torch_shapes_and_f0(f0_bins):
    from export.unit_vocoder import random_unit_vocoder

    torch.set_num_threads(1)
    model = random_unit_vocoder(UnitVocoderConfig.tiny(f0_bins), seed=1)
    codes = torch.randint(0, 1024, (2, 3, 5))
    f0 = torch.randint(0, 256, (2, 5)) if f0_bins else None
    with torch.no_grad():
        y = model(codes, f0)
        assert y.shape == (2, 1, 5 * 320) and y.abs().max() <= 1.0
        if f0_bins:
            assert not torch.equal(model(codes, torch.zeros_like(f0)), y)  # F0 reaches the output
            with pytest.raises(ValueError, match="F0"):
                model(codes)
        else:
            with pytest.raises(ValueError, match="no F0"):
                model(codes, torch.zeros(2, 5, dtype=torch.long))
        assert model(codes[:, :, :1], None if f0 is None else f0[:, :1]).shape == (2, 1, 320)


def test_receptive_field_bounds_the_model():
    """Changing frame j's codes changes only samples of frames j - R .. j + L (the analytic bound)."""
    from export.unit_vocoder import random_unit_vocoder

    torch.set_num_threads(1)
    cfg = UnitVocoderConfig.tiny()
    model = random_unit_vocoder(cfg, seed=2)
    left, right = cfg.receptive_field()
    codes = torch.randint(0, 1024, (1, 3, 40), generator=torch.Generator().manual_seed(3))
    other = codes.clone()
    other[0, :, 20] = (other[0, :, 20] + 500) % 1024
    with torch.no_grad():
        diff = (model(codes) - model(other)).abs()[0, 0]
    frames = torch.nonzero(diff > 0).flatten() // cfg.hop_length
    assert len(frames) and 20 - right <= frames.min() and frames.max() <= 20 + left


# -- the exported component ---------------------------------------------------------------------------------
pytest.importorskip("onnx")


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """One bundle, two components: ``speech`` (codes only) and ``singing`` (codes + F0), fp32 + fp16."""
    import tempfile
    from pathlib import Path

    from export.unit_vocoder import random_unit_vocoder, write_unit_vocoder_component
    from voxlite.bundle import BundleWriter, open_bundle

    torch.set_num_threads(1)
    models = {"speech": random_unit_vocoder(UnitVocoderConfig.tiny(), seed=0),
              "singing": random_unit_vocoder(UnitVocoderConfig.tiny(256), seed=1)}
    hparams = {}
    with BundleWriter(tmp_path_factory.mktemp("unit-vocoder") / "bundle", model_type="graph", name="unit-vocoder",
                      sample_rate=16000, default_precision="fp32") as writer:
        with tempfile.TemporaryDirectory() as tmp:
            for name, model in models.items():
                d = Path(tmp) / name
                d.mkdir()
                hparams[name] = write_unit_vocoder_component(writer, name, model, d, sample_rate=16000,
                                                             precisions=("fp32", "fp16", "int8"), log=None)
        out = writer.finish()
    return models, hparams, open_bundle(out)


def _runner(bundle, component, backend="cpu", precision=None):
    from voxlite.pipelines.sessions import GraphSessions
    from voxlite.pipelines.unit_vocoder import UnitVocoderRunner

    return UnitVocoderRunner.from_bundle(GraphSessions(bundle, backend=backend, precision=precision), component)


def _inputs(component, frames, seed):
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 1024, (3, frames))
    f0 = f0_bins_from_midi(np.where(rng.random(frames) < 0.2, 0, rng.integers(48, 80, frames))) \
        if component == "singing" else None
    return codes, f0


def _torch_decode(model, codes, f0):
    with torch.no_grad():
        y = model(torch.from_numpy(codes)[None], None if f0 is None else torch.from_numpy(f0)[None])
    return y.numpy()[0, 0]


def test_manifest_and_hparams(exported):
    models, hparams, bundle = exported
    for name, model in models.items():
        spec = bundle.component(name)
        assert spec.kind == "unit-vocoder" and set(spec.graphs) == {"decode"}
        assert set(spec.graphs["decode"].files) == {"fp32", "fp16"}  # float only: int8 bundles run fp32
        hp = UnitVocoderHParams.from_json(spec.hparams)
        assert hp == hparams[name] and hp.window == StreamWindow(*model.cfg.receptive_field())
        assert (hp.hop_length, hp.f0_bins) == (320, model.cfg.f0_bins)
        assert UnitVocoderConfig.from_dict(hp.config) == model.cfg
        ins = {t.name for t in spec.graphs["decode"].inputs}
        assert ins == ({"codes", "f0"} if hp.f0_bins else {"codes"})


@pytest.mark.parametrize("backend", ["cpu", "openvino"])
@pytest.mark.parametrize("component", ["speech", "singing"])
def test_decode_equals_torch(exported, component, backend):
    models, _, bundle = exported
    runner = _runner(bundle, component, backend)
    for frames, seed in ((37, 4), (1, 5)):
        codes, f0 = _inputs(component, frames, seed)
        audio = runner.decode(codes, f0)
        assert audio.dtype == np.float32 and audio.shape == (frames * 320,)
        np.testing.assert_allclose(audio, _torch_decode(models[component], codes, f0), atol=1e-4, rtol=0)


@pytest.mark.parametrize("component", ["speech", "singing"])
def test_fp16_within_bound(exported, component):
    from export.unit_vocoder import MIN_SNR_DB

    models, _, bundle = exported
    runner = _runner(bundle, component, precision="fp16")
    codes, f0 = _inputs(component, 30, 6)
    ref = _torch_decode(models[component], codes, f0).astype(np.float64)
    got = runner.decode(codes, f0)
    assert runner.sessions.graph_precisions[f"{component}/decode"] == "fp16"
    snr = 10 * np.log10(np.sum(ref ** 2) / np.sum((got - ref) ** 2))
    assert snr >= MIN_SNR_DB["fp16"], snr


def test_refusals(exported):
    _, _, bundle = exported
    speech, singing = _runner(bundle, "speech"), _runner(bundle, "singing")
    codes, f0 = _inputs("singing", 6, 7)
    bad = [
        (speech, codes[:2], None, "3 codebooks"),
        (speech, codes[None], None, "dimension"),
        (speech, codes.astype(np.float32), None, "integers"),
        (speech, codes > 5, None, "integers"),
        (speech, np.zeros((3, 0), np.int64), None, "empty"),
        (speech, np.where(np.arange(6) == 4, 1024, codes), None, "0..1023"),
        (speech, np.where(np.arange(6) == 4, -1, codes), None, "0..1023"),
        (speech, codes, f0, "takes no F0"),
        (singing, codes, None, "needs an F0"),
        (singing, codes, f0[:5], "f0 has 5 frames"),
        (singing, codes, np.where(np.arange(6) == 2, 256, f0), "0..255"),
        (singing, codes, f0.astype(np.float64), "integers"),
    ]
    for runner, c, f, match in bad:
        with pytest.raises(InvalidInput, match=match):
            runner.decode(c, f)
    np.testing.assert_array_equal(singing.f0_bins_for_midi([60, 0]), f0_bins_from_midi([60, 0]))
    with pytest.raises(InvalidInput, match="takes no F0"):
        speech.f0_bins_for_midi([60])
    from voxlite.pipelines.unit_vocoder import UnitVocoderRunner

    with pytest.raises(BundleError, match="not a unit-vocoder"):
        UnitVocoderRunner.from_bundle(_FakeSessions(), "speech")


class _FakeSessions:
    """A bundle whose component says another kind (only ``.bundle`` is read before the check fails)."""

    def __init__(self):
        class _Spec:
            kind, graphs, hparams = "codec", {}, {}

        class _Bundle:
            name = "fake"

            def component(self, name):
                return _Spec()

        self.bundle = _Bundle()


@pytest.mark.parametrize("component", ["speech", "singing"])
def test_stream_equals_offline(exported, component):
    _, hparams, bundle = exported
    runner = _runner(bundle, component)
    assert runner.streams
    codes, f0 = _inputs(component, 61, 8)
    offline = runner.decode(codes, f0)
    for sizes in ((1,), (3,), (7, 1, 13)):
        pieces, start, i = [], 0, 0
        stream = runner.stream_decoder()
        while start < codes.shape[1]:
            n = sizes[i % len(sizes)]
            pieces += stream.push(codes[:, start:start + n], None if f0 is None else f0[start:start + n])
            start, i = start + n, i + 1
        pieces += stream.flush()
        assert len(pieces) > 1
        np.testing.assert_allclose(np.concatenate(pieces), offline, atol=1e-5, rtol=0)
    chunks = [codes[:, :10], codes[:, 10:]] if f0 is None else [(codes[:, :10], f0[:10]), (codes[:, 10:], f0[10:])]
    np.testing.assert_allclose(np.concatenate(list(runner.stream(chunks))), offline, atol=1e-5, rtol=0)
    if f0 is not None:  # the score's whole F0 track up front, codes pushed as they come
        streamed = runner.stream([codes[:, i:i + 4] for i in range(0, codes.shape[1], 4)], f0=f0)
        np.testing.assert_allclose(np.concatenate(list(streamed)), offline, atol=1e-5, rtol=0)
        stream = runner.stream_decoder(f0[:12])
        with pytest.raises(InvalidInput, match="push codes alone"):
            stream.push(codes[:, :2], f0[:2])
        stream.push(codes[:, :10])
        with pytest.raises(InvalidInput, match="past the stream's F0 track"):
            stream.push(codes[:, 10:13])
        with pytest.raises(InvalidInput, match="0..255"):
            runner.stream_decoder(np.full(5, 256))


def test_no_window_no_stream(exported):
    from voxlite.pipelines.unit_vocoder import UnitVocoderRunner

    _, hparams, bundle = exported
    runner = UnitVocoderRunner(_runner(bundle, "speech").sessions, "speech", hparams["speech"].replace(window=None))
    assert not runner.streams
    with pytest.raises(InvalidInput, match="no streaming window"):
        runner.stream_decoder()
    with pytest.raises(InvalidInput, match="3 codebooks"):
        _runner(bundle, "speech").stream_decoder().push(np.zeros((2, 4), np.int64))
    with pytest.raises(InvalidInput, match="takes no F0"):
        _runner(bundle, "speech").stream_decoder(np.zeros(4, np.int64))
