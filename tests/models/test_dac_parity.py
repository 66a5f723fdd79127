"""DAC reference model vs descript-audio-codec 1.0.0 at a tiny config with random weights."""
import importlib.util
import types

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("einops")  # dac.nn imports it
pytest.importorskip("tqdm")  # dac.model.base imports it
if importlib.util.find_spec("dac") is None:
    pytest.skip("descript-audio-codec not installed", allow_module_level=True)

from voxlite.convert.common import load_strict  # noqa: E402
from voxlite.convert.dac import convert_state_dict  # noqa: E402
from voxlite.models.dac import DACCodec, DACConfig  # noqa: E402

from tests.models.official import import_model_module  # noqa: E402


def _official_dac_class():
    """``dac.model.dac.DAC``.

    ``import dac`` pulls in descript-audiotools and through it tensorboard, matplotlib, librosa, rich, ... for
    training, file I/O and metrics. The model code needs nothing of it but ``audiotools.ml.BaseModel`` (an
    ``nn.Module`` with save/load helpers) as DAC's base class, so when audiotools cannot be imported this loads
    ``dac.model.dac`` (and the ``dac.nn`` / ``dac.model.base`` modules it imports) behind a stand-in audiotools
    whose ``BaseModel`` is ``nn.Module`` and whose ``AudioSignal`` raises.
    """
    try:
        from dac.model.dac import DAC

        return DAC
    except ImportError:
        pass

    class _NoAudioSignal:
        def __init__(self, *args, **kwargs):
            raise RuntimeError("audiotools.AudioSignal is not available in this test stand-in")

    ml = types.ModuleType("audiotools.ml")
    ml.BaseModel = torch.nn.Module
    audiotools = types.ModuleType("audiotools")
    audiotools.ml, audiotools.AudioSignal, audiotools.STFTParams = ml, _NoAudioSignal, _NoAudioSignal
    return import_model_module("dac.model.dac", stubs={"audiotools": audiotools, "audiotools.ml": ml}).DAC


def _randomize(model, seed: int):
    """Random weights everywhere, including what is initialised to constants (Snake alphas, weight-norm gains)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("alpha"):
                p.copy_(0.5 + 1.5 * torch.rand(p.shape, generator=gen))
            elif name.endswith("weight_g"):
                p.copy_(0.4 + 0.8 * torch.rand(p.shape, generator=gen))
            elif name.endswith("bias"):
                p.copy_(0.1 * torch.randn(p.shape, generator=gen))
            else:
                p.copy_(torch.randn(p.shape, generator=gen))


@pytest.fixture(scope="module")
def models():
    DAC = _official_dac_class()
    cfg = DACConfig.preset("tiny")
    torch.manual_seed(0)
    official = DAC(encoder_dim=cfg.encoder_dim, encoder_rates=list(cfg.encoder_rates), latent_dim=cfg.latent_dim,
                   decoder_dim=cfg.decoder_dim, decoder_rates=list(cfg.decoder_rates), n_codebooks=cfg.n_codebooks,
                   codebook_size=cfg.codebook_size, codebook_dim=cfg.codebook_dim,
                   sample_rate=cfg.sample_rate).eval()
    _randomize(official, seed=1)
    ours = DACCodec(cfg).eval()
    load_strict(ours, convert_state_dict(official.state_dict()))
    return official, ours


@pytest.fixture(scope="module")
def wav():
    torch.manual_seed(2)
    return 0.5 * torch.randn(2, 1, 6 * 7 + 4)  # not a whole number of hops (6): exercises the right padding


def test_encoder_latents_match(models, wav):
    official, ours = models
    with torch.no_grad():
        ref = official.encoder(official.preprocess(wav, None))
        got = ours.encode_latents(wav)
    assert got.shape == ref.shape == (2, 7, 8)
    torch.testing.assert_close(got, ref, atol=1e-5, rtol=1e-5)


def test_codes_and_quantized_latents_match(models, wav):
    official, ours = models
    with torch.no_grad():
        z_ref, codes_ref, *_ = official.encode(official.preprocess(wav, None))
        codes = ours.encode(wav)
        z = ours.dequantize(codes)
    assert codes.shape == codes_ref.shape == (2, 4, 8)
    assert len(codes_ref.unique()) > 4  # the random codebooks are really used
    assert torch.equal(codes, codes_ref)
    torch.testing.assert_close(z, z_ref, atol=1e-5, rtol=1e-5)


def test_fewer_quantizers(models, wav):
    official, ours = models
    with torch.no_grad():
        _, codes_ref, *_ = official.encode(official.preprocess(wav, None), n_quantizers=2)
        assert torch.equal(ours.encode(wav, n_quantizers=2), codes_ref)
        z_ref, _, _ = official.quantizer.from_codes(codes_ref)
        torch.testing.assert_close(ours.dequantize(codes_ref), z_ref, atol=1e-5, rtol=1e-5)


def test_decode_from_codes_matches(models, wav):
    official, ours = models
    with torch.no_grad():
        _, codes, *_ = official.encode(official.preprocess(wav, None))
        z_ref, _, _ = official.quantizer.from_codes(codes)
        ref = official.decode(z_ref)
        got = ours.decode(codes)
    assert got.shape == ref.shape
    assert ref.std() > 0.05  # not saturated or silent
    torch.testing.assert_close(got, ref, atol=1e-5, rtol=1e-5)


def test_round_trip_matches_official_forward(models, wav):
    official, ours = models
    with torch.no_grad():
        ref = official(wav)["audio"]
        got = ours(wav)
    torch.testing.assert_close(got, ref, atol=1e-5, rtol=1e-5)


def test_kernel_codebooks_give_the_same_latents(models, wav):
    _, ours = models
    with torch.no_grad():
        codes = ours.encode(wav)
        books = ours.quantizer.kernel_codebooks()  # (n_q, K, D): what the native RVQ kernel sums
        z = sum(books[q][codes[:, q]] for q in range(codes.shape[1])).transpose(1, 2)
        torch.testing.assert_close(z, ours.dequantize(codes), atol=1e-5, rtol=1e-5)


def test_presets_match_the_published_configs():
    for name, hop, n_q in (("44khz", 512, 9), ("44khz_16kbps", 512, 18), ("24khz", 320, 32), ("16khz", 320, 12)):
        cfg = DACConfig.preset(name)
        assert cfg.hop_length == hop and cfg.n_codebooks == n_q and cfg.latent_dim == 1024
    assert DACConfig.preset("24khz").frame_rate == 75.0
