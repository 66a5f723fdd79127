"""Vocos checkpoint directories in the official layout (config.yaml + pytorch_model.bin): config round trip,
the published mel-24khz config, save / load, and ``export.codec`` taking the directory (its config.yaml wins)."""
import pytest

torch = pytest.importorskip("torch")
yaml = pytest.importorskip("yaml")

from voxlite.convert.vocos import (config_from_official, convert_state_dict, load_official_dir,  # noqa: E402
                                   official_config, save_official, to_official_state_dict)
from voxlite.models.vocos import Vocos, VocosConfig  # noqa: E402

# charactr/vocos-mel-24khz config.yaml (its published content, as the official Vocos.from_hparams reads it)
PUBLISHED = """
feature_extractor:
  class_path: vocos.feature_extractors.MelSpectrogramFeatures
  init_args:
    sample_rate: 24000
    n_fft: 1024
    hop_length: 256
    n_mels: 100
    padding: center
backbone:
  class_path: vocos.models.VocosBackbone
  init_args:
    input_channels: 100
    dim: 512
    intermediate_dim: 1536
    num_layers: 8
head:
  class_path: vocos.heads.ISTFTHead
  init_args:
    dim: 512
    n_fft: 1024
    hop_length: 256
    padding: center
"""


def test_published_config_is_mel_24khz():
    assert config_from_official(yaml.safe_load(PUBLISHED)) == VocosConfig.mel_24khz()
    assert official_config(VocosConfig.mel_24khz()) == yaml.safe_load(PUBLISHED)


@pytest.mark.parametrize("cfg", [VocosConfig(dim=96, intermediate_dim=131, num_layers=3), VocosConfig.tiny(),
                                 VocosConfig(dim=32, intermediate_dim=48, num_layers=2, layer_scale_init_value=0.3)])
def test_config_round_trip(cfg):
    assert config_from_official(official_config(cfg)) == cfg


def test_encodec_variant_is_refused():
    with pytest.raises(ValueError):
        official_config(VocosConfig.encodec_24khz())


def test_save_load_dir_and_export(tmp_path):
    from export.codec import FAMILIES

    torch.manual_seed(0)
    cfg = VocosConfig(dim=24, intermediate_dim=37, num_layers=2)
    model = Vocos(cfg).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.1 * torch.randn_like(p))
    official = to_official_state_dict(model.state_dict(), cfg.n_fft, cfg.mel)
    assert "backbone.convnext.0.dwconv.weight" in official and "backbone.final_layer_norm.weight" in official
    assert official["feature_extractor.mel_spec.mel_scale.fb"].shape == (cfg.n_fft // 2 + 1, cfg.n_mels)
    assert convert_state_dict(official).keys() == model.state_dict().keys()
    save_official(model, tmp_path / "vocoder")
    assert sorted(p.name for p in (tmp_path / "vocoder").iterdir()) == ["config.yaml", "pytorch_model.bin"]
    loaded = load_official_dir(tmp_path / "vocoder")
    mel = torch.randn(1, cfg.n_mels, 7)
    with torch.no_grad():
        torch.testing.assert_close(loaded(mel), model(mel), atol=0, rtol=0)
        parts = FAMILIES["vocos"](str(tmp_path / "vocoder"), "mel_24khz", 0)
        assert parts.config["dim"] == 24
        torch.testing.assert_close(parts.decoder(mel)[:, 0], model(mel), atol=1e-6, rtol=1e-6)
