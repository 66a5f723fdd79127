"""Torch mel module (training / export) equals the NumPy front end the runtime uses, for every preset."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from voxlite.dsp import MEL_PRESETS, MelConfig, log_mel_spectrogram, mel_spectrogram  # noqa: E402
from voxlite.models.blocks.mel import MelSpectrogram  # noqa: E402
from voxlite.models.blocks.stft import STFT  # noqa: E402

CONFIGS = dict(MEL_PRESETS)
CONFIGS["odd-window-energy"] = MelConfig(8000, 60, 15, 23, win_length=40, fmin=30.0, fmax=3500.0, mel_scale="htk",
                                         padding="none", power=2.0, log="log10", log_floor=1e-8)
CONFIGS["power-1.5-nolog"] = MelConfig(8000, 63, 21, 17, padding="same", power=1.5, mag_eps=1e-6, log="none")


def _wav(batch=2, n=6000, seed=0):
    return np.random.default_rng(seed).standard_normal((batch, n)).astype(np.float32) * 0.3


@pytest.mark.parametrize("use_fft", [False, True])
@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_torch_mel_equals_numpy(name, use_fft):
    cfg = CONFIGS[name]
    y = _wav()
    module = MelSpectrogram(cfg, use_fft=use_fft)
    with torch.no_grad():
        mel = module.mel(torch.from_numpy(y)).numpy()
        feats = module(torch.from_numpy(y)).numpy()
    ref_mel = mel_spectrogram(y, cfg)
    ref = log_mel_spectrogram(y, cfg)
    assert feats.shape == ref.shape == (2, cfg.n_mels, cfg.num_frames(y.shape[-1]))
    np.testing.assert_allclose(mel, ref_mel, rtol=1e-4, atol=1e-5 * np.abs(ref_mel).max())
    # in the log domain the error is relative: tight wherever the mel is above the floor
    np.testing.assert_allclose(feats, ref, atol=1e-5 if cfg.log != "none" else 1e-5 * np.abs(ref).max(), rtol=1e-5)


def test_stft_conv_equals_torch_stft():
    x = torch.from_numpy(_wav(n=3000, seed=1))
    for padding in ("center", "same", "none"):
        conv = STFT(256, 64, padding=padding)
        fft = STFT(256, 64, padding=padding, use_fft=True)
        for a, b in zip(conv(x), fft(x)):
            torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)
    ref = torch.stft(x, 256, 64, window=torch.hann_window(256), center=True, pad_mode="reflect", return_complex=True)
    real, imag = STFT(256, 64, padding="center")(x)
    torch.testing.assert_close(torch.complex(real, imag), ref, atol=1e-4, rtol=1e-4)


def test_filterbank_is_a_non_persistent_buffer():
    module = MelSpectrogram(MEL_PRESETS["vocos-24khz"])
    assert module.state_dict() == {}
    np.testing.assert_array_equal(module.fb.numpy(), MEL_PRESETS["vocos-24khz"].filterbank())


@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")
def test_onnx_export_matches_numpy(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    cfg = MEL_PRESETS["bigvgan-24khz-100band"]
    path = tmp_path / "mel.onnx"
    torch.onnx.export(MelSpectrogram(cfg), (torch.zeros(1, 4096),), str(path), dynamo=False, opset_version=17,
                      input_names=["audio"], output_names=["mel"],
                      dynamic_axes={"audio": {0: "batch", 1: "samples"}, "mel": {0: "batch", 2: "frames"}})
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    y = _wav(n=7001, seed=2)
    (mel,) = session.run(None, {"audio": y})
    np.testing.assert_allclose(mel, log_mel_spectrogram(y, cfg), atol=1e-4)
