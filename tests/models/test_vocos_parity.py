"""Vocos: ours vs the official ``vocos`` package (0.1.0) with shared random weights; iSTFT vs torch.istft."""
import sys
import types

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("encodec")  # vocos/__init__ imports its EnCodec feature extractor


def _import_vocos():
    # vocos.heads imports torchaudio's private mel helpers (used only by an IMDCT head's optional init); the test
    # stand-in for torchaudio has none, so give that one import a module whose functions refuse to run.
    import torchaudio

    if str(getattr(torchaudio, "__version__", "")).endswith("voxlite-test-shim"):
        def _unavailable(*args, **kwargs):
            raise NotImplementedError("torchaudio mel helpers are not available in the test stand-in")

        stub = types.ModuleType("torchaudio.functional.functional")
        stub._hz_to_mel = stub._mel_to_hz = _unavailable
        sys.modules.setdefault("torchaudio.functional.functional", stub)
    return pytest.importorskip("vocos")


vocos = _import_vocos()
from vocos.heads import ISTFTHead as OfficialHead  # noqa: E402
from vocos.models import VocosBackbone as OfficialBackbone  # noqa: E402
from vocos.spectral_ops import ISTFT as OfficialISTFT  # noqa: E402

from voxlite.convert.vocos import convert_state_dict, load_official  # noqa: E402
from voxlite.models.blocks.stft import ISTFT  # noqa: E402
from voxlite.models.vocos import Vocos, VocosConfig  # noqa: E402


def _official(cfg: VocosConfig, seed: int = 0):
    torch.manual_seed(seed)
    backbone = OfficialBackbone(input_channels=cfg.n_mels, dim=cfg.dim, intermediate_dim=cfg.intermediate_dim,
                                num_layers=cfg.num_layers, adanorm_num_embeddings=cfg.adanorm_num_embeddings)
    head = OfficialHead(dim=cfg.dim, n_fft=cfg.n_fft, hop_length=cfg.hop_length, padding=cfg.padding)
    model = vocos.Vocos(feature_extractor=torch.nn.Identity(), backbone=backbone, head=head).eval()
    with torch.no_grad():  # biases, norms, gammas and AdaLN tables start as constants: perturb everything
        for p in model.parameters():
            p.add_(0.1 * torch.randn_like(p))
    return model


def _spec(n_fft, frames, seed=0):
    g = torch.Generator().manual_seed(seed)
    shape = (2, n_fft // 2 + 1, frames)
    return torch.randn(shape, generator=g), torch.randn(shape, generator=g)


@pytest.mark.parametrize("n_fft,hop", [(64, 16), (60, 15), (63, 21), (32, 8)])
def test_istft_center_matches_torch_istft(n_fft, hop):
    real, imag = _spec(n_fft, 11)
    ours = ISTFT(n_fft, hop, padding="center")(real, imag)
    ref = torch.istft(torch.complex(real, imag), n_fft, hop, window=torch.hann_window(n_fft), center=True)
    assert ours.shape == ref.shape == (2, 10 * hop + n_fft % 2)
    torch.testing.assert_close(ours, ref, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("n_fft,hop", [(64, 16), (60, 15), (1024, 256)])
def test_istft_same_matches_official(n_fft, hop):
    real, imag = _spec(n_fft, 9, seed=1)
    ours = ISTFT(n_fft, hop, padding="same")(real, imag)
    ref = OfficialISTFT(n_fft, hop, n_fft, padding="same")(torch.complex(real, imag))
    assert ours.shape == ref.shape == (2, 8 * hop + n_fft - 2 * ((n_fft - hop) // 2))
    torch.testing.assert_close(ours, ref, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("padding,adanorm", [("center", None), ("same", None), ("same", 3)])
def test_vocos_matches_official(padding, adanorm):
    cfg = VocosConfig.tiny(padding=padding, adanorm_num_embeddings=adanorm)
    official = _official(cfg)
    ours = load_official(official.state_dict(), cfg)

    torch.manual_seed(1)
    mel = torch.randn(2, cfg.n_mels, 23)
    kwargs = {"bandwidth_id": torch.tensor([2])} if adanorm else {}
    cond = kwargs.get("bandwidth_id")
    with torch.no_grad():
        hidden_ref = official.backbone(mel, **kwargs)
        hidden = ours.backbone(mel, cond)
        torch.testing.assert_close(hidden, hidden_ref, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(ours.head(hidden_ref), official.head(hidden_ref), atol=1e-5, rtol=1e-5)
        wav_ref = official.decode(mel, **kwargs)
        wav = ours(mel, cond)
    expected = 22 * cfg.hop_length if padding == "center" else 23 * cfg.hop_length
    assert wav.shape == wav_ref.shape == (2, expected)
    scale = wav_ref.abs().max()
    assert scale > 1e-3
    torch.testing.assert_close(wav / scale, wav_ref / scale, atol=1e-5, rtol=0)


def test_converter_is_strict():
    cfg = VocosConfig.tiny()
    state = _official(cfg).state_dict()
    convert_state_dict(state)  # fine as is
    missing = {k: v for k, v in state.items() if not k.endswith("pwconv2.bias")}
    with pytest.raises(ValueError, match="missing"):
        load_official(missing, cfg)
    with pytest.raises(ValueError, match="unexpected"):
        load_official({**state, "backbone.extra.weight": torch.zeros(1)}, cfg)
    with pytest.raises(ValueError, match="Hann"):
        convert_state_dict({**state, "head.istft.window": torch.ones(cfg.n_fft)})


def test_published_config_has_official_layout():
    cfg = VocosConfig.mel_24khz()
    with torch.device("meta"):  # shapes only: skip initialising 13.5 M parameters
        official = vocos.Vocos(torch.nn.Identity(),
                               OfficialBackbone(input_channels=100, dim=512, intermediate_dim=1536, num_layers=8),
                               OfficialHead(dim=512, n_fft=1024, hop_length=256, padding="center"))
    state = {k: torch.zeros(v.shape) for k, v in official.state_dict().items()}
    state["head.istft.window"] = torch.hann_window(1024)
    converted = {k: tuple(v.shape) for k, v in convert_state_dict(state).items()}
    ours = {k: tuple(v.shape) for k, v in Vocos(cfg).state_dict().items()}
    assert converted == ours
    assert cfg.mel.n_mels == 100 and cfg.mel.mel_scale == "htk" and cfg.mel.norm is None


@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")
def test_onnx_export_matches_torch(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    cfg = VocosConfig.tiny(padding="same")
    model = load_official(_official(cfg, seed=3).state_dict(), cfg)
    path = tmp_path / "vocos.onnx"
    torch.onnx.export(model, (torch.randn(1, cfg.n_mels, 10),), str(path), dynamo=False, opset_version=17,
                      input_names=["mel"], output_names=["audio"],
                      dynamic_axes={"mel": {0: "batch", 2: "frames"}, "audio": {0: "batch", 1: "samples"}})
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    mel = torch.randn(2, cfg.n_mels, 31)
    (audio,) = session.run(None, {"mel": mel.numpy()})
    with torch.no_grad():
        ref = model(mel)
    torch.testing.assert_close(torch.from_numpy(audio), ref, atol=1e-4, rtol=1e-4)
