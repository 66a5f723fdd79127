"""Codec bundles end to end: export (tiny configs, random weights) -> bundle -> pipeline on ONNX Runtime and
OpenVINO, against the PyTorch reference: codes, waveforms, streaming == offline, quantized bounds, CLI, errors.
Covers RVQ codecs (EnCodec, UniAudio's SoundStream, DAC), the WaveVAEs (VoxCPM, VibeVoice), and vocoders behind the
mel front end (Vocos, HiFi-GAN, BigVGAN)."""
import numpy as np
import pytest
import soundfile as sf

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")

import voxlite  # noqa: E402
from voxlite.hparams import CodecHParams  # noqa: E402
from export.codec import FAMILIES, MIN_SNR_DB, export_codec  # noqa: E402
from export.graphs import VerificationError  # noqa: E402
from voxlite.cli.main import main  # noqa: E402
from voxlite.errors import AudioError, InvalidInput  # noqa: E402

EXPORTS = {}


@pytest.fixture(scope="module", params=["encodec", "soundstream", "dac", "wavevae", "vibevoice", "vocos", "hifigan",
                                                 "bigvgan"])
def exported(request, tmp_path_factory):
    family = request.param
    if family not in EXPORTS:
        torch.set_num_threads(1)
        parts = FAMILIES[family](None, "tiny", 0)
        out = tmp_path_factory.mktemp(family) / "bundle"
        export_codec(parts, out, precisions=("fp32", "fp16", "int8"), log=lambda *_: None,
                     provenance={"weights": "random (seed 0)"})
        EXPORTS[family] = (parts, out)
    return EXPORTS[family]


def _wav(parts, seconds=0.4, seed=3):
    t = np.arange(int(parts.sample_rate * seconds)) / parts.sample_rate
    rng = np.random.default_rng(seed)
    return (0.3 * np.sin(2 * np.pi * 180 * t) + 0.05 * rng.standard_normal(t.size)).astype(np.float32)


def _reference(parts, wav):
    """The PyTorch reference on the same (hop-padded) input the pipeline feeds its graphs."""
    frames = max(-(-len(wav) // parts.hop_length), parts.decoder_min_frames)
    x = np.pad(wav, (0, frames * parts.hop_length - len(wav)))
    x = torch.from_numpy(np.repeat(x[None, None], parts.channels, axis=1))
    with torch.no_grad():
        latents = parts.encoder(x)
        if parts.rvq is None:
            return latents.numpy(), parts.decoder(latents).numpy()[0].mean(0)
        codes = parts.rvq.encode(latents)
        return codes.numpy(), parts.decoder(parts.rvq.decode(codes)).numpy()[0].mean(0)


@pytest.mark.parametrize("backend", ["cpu", "openvino"])
def test_bundle_matches_reference(exported, backend):
    parts, bundle = exported
    model = voxlite.load(bundle, backend=backend)
    assert model.backend == backend and model.sample_rate == parts.sample_rate
    wav = _wav(parts)
    ref_codes, ref_audio = _reference(parts, wav)
    codes = model.encode(wav, parts.sample_rate)
    if parts.kind == "rvq":
        assert codes.dtype == np.int64
        np.testing.assert_array_equal(codes, ref_codes)  # native RVQ on the graph's latents
    else:
        np.testing.assert_allclose(codes, ref_codes, atol=1e-4)
    audio = model.decode(codes)
    assert audio.sample_rate == parts.sample_rate
    np.testing.assert_allclose(audio.samples, ref_audio, atol=1e-4)


def test_streaming_equals_offline(exported):
    parts, bundle = exported
    model = voxlite.load(bundle, backend="cpu")
    codes = model.encode(_wav(parts, seed=5), parts.sample_rate)
    offline = model.decode(codes).samples
    if not model.streams:
        assert parts.stream is None
        with pytest.raises(InvalidInput, match="no streaming decoder"):
            next(model.decode_stream(codes))
        return
    for chunk in (1, 2, 5):
        pieces = list(model.decode_stream(codes, chunk_frames=chunk))
        assert len(pieces) > 1
        np.testing.assert_allclose(np.concatenate(pieces), offline, atol=1e-5)


@pytest.mark.parametrize("backend", ["cpu", "openvino"])
@pytest.mark.parametrize("precision", ["fp16", "int8"])
def test_quantized_within_bounds(exported, precision, backend):
    parts, bundle = exported
    fp32 = voxlite.load(bundle, backend="cpu")
    quant = voxlite.load(bundle, backend=backend, precision=precision)
    wav = _wav(parts, seed=9)
    latents32 = fp32.encode_latents(wav, parts.sample_rate)
    latents_q = quant.encode_latents(wav, parts.sample_rate)
    codes = fp32.encode(wav, parts.sample_rate)
    a32, aq = fp32.decode(codes).samples, quant.decode(codes).samples
    for ref, got in ((latents32, latents_q), (a32, aq)):
        snr = 10 * np.log10(np.sum(ref.astype(np.float64) ** 2) / np.sum((got - ref).astype(np.float64) ** 2))
        assert snr >= MIN_SNR_DB[precision], f"{precision} SNR {snr:.1f} dB"


def test_int8_keeps_grouped_convs_float(exported):
    """ONNX Runtime runs a grouped ConvInteger group by group (slower than float): int8 graphs quantize only
    group-1 convolutions, and a Vocos none (its depthwise convs, and the input conv on the mel, stay float)."""
    import onnx

    parts, bundle = exported
    graph = onnx.load(str(voxlite.open_bundle(bundle).graph_path("decoder", "int8")), load_external_data=False).graph
    convs = [n for n in graph.node if n.op_type == "ConvInteger"]
    assert all(a.i == 1 for n in convs for a in n.attribute if a.name == "group")
    assert any(n.op_type in ("MatMulInteger", "ConvInteger", "DynamicQuantizeLinear") for n in graph.node)
    if parts.family == "vocos":
        assert not convs and any(n.op_type == "Conv" for n in graph.node)


def test_manifest_describes_the_codec(exported):
    parts, bundle = exported
    b = voxlite.open_bundle(bundle)
    hp = CodecHParams.from_json(b.component("codec").hparams)
    assert b.model_type == "codec" and hp.family == parts.family and hp.hop_length == parts.hop_length
    assert b.capabilities == ("codec",) and b.component("codec").kind == "codec"
    assert set(b.graph("decoder").precisions) == {"fp32", "fp16", "int8"}
    if parts.kind == "mel":
        assert "int8" not in b.graph("encoder").precisions  # the mel front end stays float
        model = voxlite.load(bundle, backend="cpu", precision="int8")
        model.decode(model.encode(_wav(parts), parts.sample_rate))
        assert model.graph_precisions == {"codec/encoder": "fp32", "codec/decoder": "int8"}
    if parts.rvq is not None:
        n_q, k = parts.rvq.n_q, parts.rvq.codebook_size
        assert b.component("codec").tensors["codebooks"].shape == (n_q, k, parts.latent_dim)
        assert "codebooks" not in "".join(i.name for g in b.manifest.graphs.values() for i in g.inputs)
    assert b.manifest.provenance["weights"].startswith("random")


def test_cli_round_trip_resamples(exported, tmp_path, capsys):
    parts, bundle = exported
    src = tmp_path / "in.wav"
    rate = 44100
    t = np.arange(int(rate * 0.3)) / rate
    sf.write(src, np.stack([0.2 * np.sin(2 * np.pi * 220 * t)] * 2, axis=1), rate)  # stereo, other rate
    codes = tmp_path / "codes.npz"
    out = tmp_path / "out.wav"
    assert main(["codec", "encode", str(src), "-o", str(codes), "--bundle", str(bundle), "--backend", "cpu"]) == 0
    assert main(["codec", "decode", str(codes), "-o", str(out), "--bundle", str(bundle), "--backend", "openvino"]) == 0
    data, sr = sf.read(out)
    assert sr == parts.sample_rate and abs(len(data) / sr - 0.3) < 0.1
    assert "->" in capsys.readouterr().out


def test_bad_input_is_refused(exported, tmp_path, capsys):
    parts, bundle = exported
    model = voxlite.load(bundle, backend="cpu")
    with pytest.raises(InvalidInput, match="empty"):
        model.encode(np.zeros(0, np.float32), parts.sample_rate)
    with pytest.raises(InvalidInput, match="NaN"):
        model.encode(np.full(1000, np.nan, np.float32), parts.sample_rate)
    with pytest.raises(InvalidInput, match="mono"):
        model.encode(np.zeros((2, 100), np.float32), parts.sample_rate)
    with pytest.raises(InvalidInput, match="sample_rate"):
        model.encode(np.zeros(100, np.float32))
    codes = model.encode(_wav(parts), parts.sample_rate)
    if parts.kind == "rvq":
        bad = codes.copy()
        bad[0, 0, 3] = parts.rvq.codebook_size
        with pytest.raises(InvalidInput, match="invalid codes"):
            model.decode(bad)
        with pytest.raises(InvalidInput, match="stages"):
            model.decode(np.zeros((1, parts.rvq.n_q + 1, 10), np.int64))
        with pytest.raises(InvalidInput, match="integers"):
            model.decode(codes.astype(np.float32))
    else:
        with pytest.raises(InvalidInput, match="latents must be"):
            model.decode(codes[:, :-1])
    with pytest.raises(InvalidInput, match="batch 1"):
        model.decode(np.concatenate([codes, codes]))
    empty = tmp_path / "empty.wav"
    sf.write(empty, np.zeros(0, np.float32), parts.sample_rate)
    assert main(["codec", "encode", str(empty), "-o", str(tmp_path / "x.npz"), "--bundle", str(bundle)]) == 1
    assert "no samples" in capsys.readouterr().err
    assert not (tmp_path / "x.npz").exists()
    with pytest.raises(AudioError):
        from voxlite.audio import read_audio
        read_audio(tmp_path / "missing.wav")


def test_export_failure_leaves_nothing(tmp_path, monkeypatch):
    import export.codec as ec

    parts = FAMILIES["dac"](None, "tiny", 0)
    monkeypatch.setitem(ec.MIN_SNR_DB, "int8", 1000.0)  # an impossible bound: the verify step must refuse
    with pytest.raises(VerificationError, match="fails the bound"):
        export_codec(parts, tmp_path / "b", precisions=("fp32", "int8"), log=lambda *_: None)
    assert list(tmp_path.iterdir()) == []


def test_openvino_ir_variant(tmp_path):
    parts = FAMILIES["encodec"](None, "tiny", 1)
    out = export_codec(parts, tmp_path / "b", precisions=("fp32",), openvino_ir=True, log=lambda *_: None)
    b = voxlite.open_bundle(out)
    assert b.graph("decoder").files["ov-fp32"].endswith(".xml")
    assert "graphs/codec.decoder.ov-fp32.bin" in b.manifest.files  # the weights are hashed like every other file
    wav = _wav(parts)
    onnx_model = voxlite.load(out, backend="openvino")
    ir_model = voxlite.load(out, backend="openvino", precision="ov-fp32")
    codes = onnx_model.encode(wav, parts.sample_rate)
    np.testing.assert_array_equal(ir_model.encode(wav, parts.sample_rate), codes)
    np.testing.assert_allclose(ir_model.decode(codes).samples, onnx_model.decode(codes).samples, atol=1e-5)
    assert ir_model.graph_precisions["codec/decoder"] == "ov-fp32"
    from voxlite.errors import BackendUnavailable
    with pytest.raises(BackendUnavailable, match="OpenVINO IR"):
        voxlite.load(out, backend="cpu", precision="ov-fp32").decode(codes)
