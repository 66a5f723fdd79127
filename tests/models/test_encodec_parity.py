"""RVQCodec vs the official encodec 0.1.1 EncodecModel, built at tiny configs with random (perturbed) weights."""
import math

import pytest

torch = pytest.importorskip("torch")
encodec = pytest.importorskip("encodec")

from encodec.model import EncodecModel  # noqa: E402
from encodec.modules import SEANetDecoder, SEANetEncoder  # noqa: E402
from encodec.quantization import ResidualVectorQuantizer  # noqa: E402

from voxlite.convert.common import load_strict  # noqa: E402
from voxlite.convert.encodec import convert_state_dict  # noqa: E402
from voxlite.models.blocks.lstm import SLSTM  # noqa: E402
from voxlite.models.rvq_codec import RVQCodec, RVQCodecConfig  # noqa: E402

# the official modules use the deprecated torch.nn.utils.weight_norm
pytestmark = pytest.mark.filterwarnings("ignore:.*weight_norm.*:FutureWarning")



_OFFICIAL_PAD = {"zeros": "constant", "reflect": "reflect", "replicate": "replicate"}


def _official(cfg: RVQCodecConfig, seed: int) -> EncodecModel:
    """The official model for our config, every parameter / buffer that starts constant made random."""
    torch.manual_seed(seed)
    common = dict(channels=cfg.channels, dimension=cfg.dimension, n_filters=cfg.n_filters,
                  n_residual_layers=cfg.n_residual_layers, ratios=list(cfg.ratios), norm=cfg.norm,
                  kernel_size=cfg.kernel_size, last_kernel_size=cfg.last_kernel_size,
                  residual_kernel_size=cfg.residual_kernel_size, dilation_base=cfg.dilation_base,
                  causal=cfg.causal, pad_mode=_OFFICIAL_PAD[cfg.pad_mode], true_skip=cfg.true_skip,
                  compress=cfg.compress, lstm=cfg.lstm)
    encoder = SEANetEncoder(**common)
    decoder = SEANetDecoder(**common, trim_right_ratio=cfg.trim_right_ratio)
    quantizer = ResidualVectorQuantizer(dimension=cfg.dimension, n_q=cfg.n_q, bins=cfg.codebook_size,
                                        kmeans_init=False)
    model = EncodecModel(encoder, decoder, quantizer, list(cfg.target_bandwidths), cfg.sample_rate,
                         cfg.channels, normalize=cfg.normalize, segment=cfg.segment, overlap=cfg.overlap)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("weight_g"):  # g = ||v|| at init: folding would be a no-op without this
                p.mul_(torch.rand_like(p) + 0.5)
            elif ".norm." in name:  # GroupNorm affine starts at 1 / 0
                p.copy_(torch.randn_like(p) * 0.2 + (1.0 if name.endswith("weight") else 0.0))
    return model.eval()


def _randomise_codebooks(model: EncodecModel, wav: torch.Tensor) -> None:
    """Each stage's codewords spread over that stage's residuals on ``wav``, so every stage uses many codes."""
    with torch.no_grad():
        residual = model.encoder(wav)  # (B, D, T)
        for layer in model.quantizer.vq.layers:
            r = residual.transpose(1, 2).reshape(-1, residual.shape[1])  # (B*T, D)
            embed = layer._codebook.embed
            embed.copy_(r.mean(0) + torch.randn_like(embed) * r.std(0) * 1.5)
            residual = residual - layer.decode(layer.encode(residual))


def _ours(cfg: RVQCodecConfig, official: EncodecModel) -> RVQCodec:
    model = RVQCodec(cfg)
    load_strict(model, convert_state_dict(official.state_dict()))
    return model.eval()


def _close(got: torch.Tensor, want: torch.Tensor, tol: float = 1e-5) -> None:
    assert got.shape == want.shape
    scale = max(1.0, want.abs().max().item())
    torch.testing.assert_close(got, want, atol=tol * scale, rtol=0)


@pytest.fixture(scope="module")
def pair24():
    cfg = RVQCodecConfig.tiny()
    official = _official(cfg, seed=0)
    wav = torch.randn(2, cfg.channels, 12 * cfg.hop_length + 7, generator=torch.Generator().manual_seed(1))
    _randomise_codebooks(official, wav)
    return cfg, official, _ours(cfg, official), wav


@torch.no_grad()
def test_encoder_latents_and_codes(pair24):
    cfg, official, ours, wav = pair24
    z_off = official.encoder(wav)
    _close(ours.encode_latents(wav), z_off)
    assert z_off.shape[-1] == math.ceil(wav.shape[-1] / cfg.hop_length)

    (codes_off, scale), = official.encode(wav)
    assert scale is None
    codes = ours.encode(wav)
    assert codes.shape == (2, cfg.n_q, z_off.shape[-1])
    assert torch.equal(codes, codes_off)
    assert all(len(codes[:, q].unique()) > 3 for q in range(cfg.n_q))  # a wrong mapping cannot hide

    official.set_target_bandwidth(cfg.target_bandwidths[1])
    (codes_bw, _), = official.encode(wav)
    official.bandwidth = None
    n = cfg.n_q_for_bandwidth(cfg.target_bandwidths[1])
    assert codes_bw.shape[1] == n == 2
    assert torch.equal(ours.encode(wav, n), codes_bw)


@torch.no_grad()
def test_quantizer_matches_official(pair24):
    cfg, official, ours, wav = pair24
    z = torch.randn(3, cfg.dimension, 11, generator=torch.Generator().manual_seed(2)) * official.encoder(wav).std()
    for n in (1, cfg.n_q):
        want = official.quantizer.vq.encode(z, n_q=n).transpose(0, 1)  # (B, n, T)
        assert torch.equal(ours.quantizer.encode(z, n), want)
        _close(ours.quantizer.decode(want), official.quantizer.decode(want.transpose(0, 1)))


@torch.no_grad()
def test_decode_and_roundtrip(pair24):
    cfg, official, ours, wav = pair24
    frames = official.encode(wav)
    codes = frames[0][0]
    want = official.decode(frames)
    assert want.shape[-1] == codes.shape[-1] * cfg.hop_length
    _close(ours.decode(codes), want)
    z = official.quantizer.decode(codes.transpose(0, 1))
    _close(ours.decode_latents(z), official.decoder(z))
    _close(ours(wav), official(wav))
    got_frames = ours.encode_frames(wav)
    assert len(got_frames) == 1 and got_frames[0][1] is None
    _close(ours.decode_frames(got_frames), want)


@torch.no_grad()
def test_slstm_matches_official_and_streams():
    from encodec.modules import SLSTM as OfficialSLSTM

    torch.manual_seed(8)
    official = OfficialSLSTM(6, num_layers=2).eval()
    ours = SLSTM(6, num_layers=2)
    load_strict(ours, official.state_dict())
    x = torch.randn(2, 6, 11)
    want = official(x)
    _close(ours(x), want)
    state, outs = ours.initial_state(2), []
    for start, n in ((0, 3), (3, 1), (4, 7)):
        y, state = ours.stream(x[..., start:start + n], state)
        outs.append(y)
    _close(torch.cat(outs, -1), want)


def _stream_decode(model: RVQCodec, codes: torch.Tensor, chunks: list[int]) -> torch.Tensor:
    z = model.quantizer.decode(codes)
    state = model.decoder.initial_state(codes.shape[0], z[..., :chunks[0]])
    outs, start = [], 0
    for n in chunks:
        y, state = model.decode_stream(codes[..., start:start + n], state)
        outs.append(y)
        start += n
    assert start == codes.shape[-1]
    return torch.cat(outs, dim=-1)


@torch.no_grad()
def test_streaming_decoder_equals_offline(pair24):
    cfg, official, ours, wav = pair24
    codes = torch.randint(0, cfg.codebook_size, (2, cfg.n_q, 13), generator=torch.Generator().manual_seed(3))
    offline = official.decode([(codes, None)])
    dec = ours.decoder
    first = dec.min_first_chunk()
    assert first == 7  # the kernel-7 first conv reflects its 7 first latent frames
    assert len(dec.state_names()) == dec.n_states() == len(dec.initial_state(2, ours.quantizer.decode(codes)))
    for chunks in ([7, 1, 1, 1, 1, 1, 1], [7, 6], [9, 4], [13]):
        _close(_stream_decode(ours, codes, chunks), offline)
    # a stream shorter than min_first_chunk: the whole stream is the first chunk
    short = codes[..., :4]
    _close(_stream_decode(ours, short, [4]), official.decode([(short, None)]))
    with pytest.raises(ValueError):
        dec.initial_state(2)


@torch.no_grad()
def test_streaming_zero_padding_needs_no_first_chunk():
    cfg = RVQCodecConfig.tiny(pad_mode="zeros", true_skip=True, trim_right_ratio=0.5)
    official = _official(cfg, seed=4)
    ours = _ours(cfg, official)
    codes = torch.randint(0, cfg.codebook_size, (1, cfg.n_q, 9), generator=torch.Generator().manual_seed(5))
    want = official.decode([(codes, None)])
    _close(ours.decode(codes), want)
    # trim_right_ratio < 1 trims the left too: offline parity holds but streaming is refused
    with pytest.raises(RuntimeError):
        ours.decode_stream(codes, ours.decoder.initial_state(1))

    cfg = RVQCodecConfig.tiny(pad_mode="zeros", true_skip=True)
    official = _official(cfg, seed=4)
    ours = _ours(cfg, official)
    want = official.decode([(codes, None)])
    state, outs = ours.decoder.initial_state(1), []
    for start in range(0, 9, 2):
        y, state = ours.decode_stream(codes[..., start:start + 2], state)
        outs.append(y)
    _close(torch.cat(outs, -1), want)


@torch.no_grad()
def test_48khz_layout_segments_and_normalisation():
    """The 48 kHz conventions: stereo, non-causal, time group norm, normalised overlapping segments."""
    cfg = RVQCodecConfig.tiny(channels=2, causal=False, norm="time_group_norm", normalize=True, segment=0.05,
                              overlap=0.1)
    official = _official(cfg, seed=6)
    wav = torch.randn(2, 2, 300, generator=torch.Generator().manual_seed(7)) * 0.3
    _randomise_codebooks(official, wav)
    ours = _ours(cfg, official)
    assert any(k.endswith(".norm.weight") for k in ours.state_dict())
    _close(ours.encode_latents(wav), official.encoder(wav))
    frames_off = official.encode(wav)
    frames = ours.encode_frames(wav)
    assert len(frames) == len(frames_off) > 2
    for (c, s), (c_off, s_off) in zip(frames, frames_off):
        assert torch.equal(c, c_off)
        _close(s, s_off)
    _close(ours.decode_frames(frames_off), official.decode(frames_off))
    _close(ours(wav), official(wav))
    with pytest.raises(RuntimeError):
        ours.decoder.initial_state(2, torch.zeros(2, cfg.dimension, 8))


def test_presets_and_converter_keys():
    cfg = RVQCodecConfig.encodec_24khz()
    assert (cfg.hop_length, cfg.frame_rate, cfg.n_q, cfg.causal) == (320, 75, 32, True)
    assert [cfg.n_q_for_bandwidth(b) for b in cfg.target_bandwidths] == [2, 4, 8, 16, 32]
    c48 = RVQCodecConfig.encodec_48khz()
    assert (c48.frame_rate, c48.n_q, c48.channels) == (150, 16, 2)
    assert [c48.n_q_for_bandwidth(b) for b in c48.target_bandwidths] == [2, 4, 8, 16]
    # the official 24 kHz model's key layout (random init, nothing downloaded) converts strictly
    official = EncodecModel.encodec_model_24khz(pretrained=False)
    ours = RVQCodec(cfg)
    load_strict(ours, convert_state_dict(official.state_dict()))
    assert ours.decoder.min_first_chunk() == 7
    load_strict(RVQCodec(c48), convert_state_dict(EncodecModel.encodec_model_48khz(pretrained=False).state_dict()))
    with pytest.raises(ValueError):
        RVQCodecConfig(causal=True, norm="time_group_norm")
