"""VoxCPM bundle end to end: export the tiny config (random weights) -> each graph against the PyTorch reference (the
step graph on fixed-size cache buffers against the reference step on the past) ->
the NumPy pipeline's generation (same seed, same noise) against ``VoxCPM.generate`` (latents and waveform) ->
streaming == offline -> OpenVINO -> int8 -> bad input."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")

import voxlite  # noqa: E402
from export.voxcpm import build, export_voxcpm  # noqa: E402
from voxlite.errors import InvalidInput  # noqa: E402

STEPS = 4
MAX_PATCHES = 7
OPENVINO_ATOL = 1e-4  # latents and waveform on OpenVINO CPU (measured 5e-7 / 2.4e-7)
# whole quantized generations vs the fp32 reference (latents and waveform; measured fp16 69 dB, int8 15.7 / 49 dB)
MIN_SNR_DB = {"fp16": 40.0, "int8": 10.0}


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    torch.set_num_threads(1)
    model, vae_parts = build(None, "tiny", 0)
    out = tmp_path_factory.mktemp("voxcpm") / "bundle"
    export_voxcpm(model, vae_parts, out, precisions=("fp32", "fp16", "int8"), log=lambda *_: None,
                  provenance={"weights": "random (seed 0)"})
    return model, vae_parts, out


@pytest.fixture(scope="module")
def cpu_model(exported):
    return voxlite.load(exported[2], backend="cpu")


def _noise(seed, n, P, D):
    """The pipeline's draws: patch i starts from standard_normal(seed, i) (voxlite.kernels.noise)."""
    from voxlite.kernels.noise import standard_normal

    return torch.from_numpy(np.stack([standard_normal(seed, i, (1, P, D)) for i in range(n)]))


def _reference(model, vae_parts, text, prompt_tokens=(), prompt_patches=None, *, seed=0, cfg=2.0,
               steps=STEPS, max_len=MAX_PATCHES):
    """VoxCPM.generate on the official input layout, with the pipeline's noise -> (latents (1, D, N*P), audio)."""
    c = model.config
    P, D = c.patch_size, c.feat_dim
    ids = list(prompt_tokens) + list(text) + [c.audio_start_token]
    n_audio = 0 if prompt_patches is None else prompt_patches.shape[0]
    T = len(ids) + n_audio
    tokens = torch.zeros(1, T, dtype=torch.int64)
    tokens[0, :len(ids)] = torch.tensor(ids)
    text_mask = torch.zeros(1, T)
    text_mask[0, :len(ids)] = 1
    feats = torch.zeros(1, T, P, D)
    if n_audio:
        feats[0, len(ids):] = torch.from_numpy(prompt_patches)
    patches = model.generate(tokens, text_mask, feats, 1 - text_mask, max_len=max_len, min_len=2, n_steps=steps,
                             cfg_value=cfg, sway_coef=1.0, noise=_noise(seed, max_len, P, D))
    latents = patches.flatten(1, 2).transpose(1, 2)
    with torch.no_grad():
        audio = vae_parts.decoder(latents)
    return latents.numpy(), audio.numpy()[0, 0]


def test_manifest(exported, cpu_model):
    model, _, bundle = exported
    hp = cpu_model.hparams  # the lm component's VoxCPMLMHParams
    assert cpu_model.bundle.model_type == "voxcpm"
    assert cpu_model.bundle.capabilities == ("text-to-speech", "voice-cloning")
    assert {c.name: c.kind for c in cpu_model.bundle.manifest.components.values()} == {
        "lm": "voxcpm-lm", "codec": "codec"}  # exported without a tokenizer: no text component
    assert set(cpu_model.bundle.manifest.graphs) == {"lm/prefill", "lm/step", "lm/locdit", "codec/encoder",
                                                     "codec/decoder", "codec/decoder_stream"}
    assert hp.kv["base"].to_json() == {"n_layers": 3, "n_kv_heads": 2, "head_dim": 12, "dtype": "float32"}
    assert hp.kv["residual"].n_layers == 2
    assert (hp.patch_size, hp.feat_dim, hp.steps, hp.sway_coef) == (3, 5, 10, 1.0)
    assert hp.step_kv == "buffer" and hp.cfg == 2.0
    step = cpu_model.bundle.graph("step")
    caches = [f"cache.{lm}.{i}" for lm, n in (("base", 3), ("residual", 2)) for i in range(n)]
    assert [t.name for t in step.inputs] == ["patch", "length", *caches]
    assert [t.dtype for t in step.inputs[:2]] == ["float32", "int64"]
    assert all(len(t.shape) == 5 and t.shape[0] == 2 for t in step.inputs[2:])  # (2, B, Hkv, capacity, Dh)


def test_bundle_with_the_old_step_contract_is_refused(exported, tmp_path):
    """A bundle exported before ``step_kv`` (its step took past K/V of the current length) gets a clear BundleError,
    not a failure inside a backend."""
    import json
    import shutil

    from voxlite.errors import BundleError

    old = tmp_path / "old"
    shutil.copytree(exported[2], old)
    manifest = json.loads((old / "manifest.json").read_text())
    del manifest["components"]["lm"]["hparams"]["step_kv"]
    (old / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match="re-export"):
        voxlite.load(old, backend="cpu")


def test_weights_are_stored_once(exported):
    """prefill and step hold the same LocEnc / LM layers: one shared weights file keeps each tensor once."""
    import onnx

    bundle = exported[2]

    def refs(graph):
        m = onnx.load(str(bundle / f"graphs/lm.{graph}.onnx"), load_external_data=False)
        return {tuple(e.value for e in t.external_data) for t in m.graph.initializer if t.data_location == 1}

    for precision in ("fp32", "int8"):
        prefill, step = refs(f"prefill.{precision}"), refs(f"step.{precision}")
        assert step and step <= prefill  # everything step holds is prefill's (which adds the text embedding)
    assert all(r[0] == "weights.data" for r in refs("prefill.fp32"))


def test_graphs_match_reference(exported, cpu_model):
    """Each graph on inputs other than the export's verify inputs (new lengths), fp32 within 1e-4."""
    model, _, _ = exported
    c = model.config
    g = torch.Generator().manual_seed(7)
    T, n_text = 11, 8
    tokens = torch.randint(0, c.lm.vocab_size, (1, T), generator=g)
    text_mask = torch.zeros(1, T)
    text_mask[0, :n_text] = 1
    feats = torch.randn(1, T, c.patch_size, c.feat_dim, generator=g) * (1 - text_mask)[..., None, None]
    with torch.no_grad():
        mu, stop, kv = model.prefill(tokens, text_mask, feats, 1 - text_mask)
    out = cpu_model.run("prefill", text_tokens=tokens.numpy(), text_mask=text_mask.numpy(),
                        audio_feats=feats.numpy(), audio_mask=(1 - text_mask).numpy())
    np.testing.assert_allclose(out["mu"], mu.numpy(), atol=1e-4)
    np.testing.assert_allclose(out["stop_logits"], stop.numpy(), atol=1e-4)
    names = [n for lm, nl in (("base", 3), ("residual", 2)) for i in range(nl) for n in (f"{lm}.{i}.key", f"{lm}.{i}.value")]
    for name, ref in zip(names, kv):
        np.testing.assert_allclose(out[f"present.{name}"], ref.numpy(), atol=1e-4)

    patch = torch.randn(1, c.patch_size, c.feat_dim, generator=g)
    with torch.no_grad():
        mu2, stop2, new = model.step(patch, kv)  # the reference step: attention over [past ; new]
    # the step graph reads fixed-size buffers: the T positions, then slots it must ignore (noise here)
    from voxlite.kernels.kvcache import KVCache

    feeds = {"patch": patch.numpy(), "length": np.array([T], np.int64)}
    hp = {g: spec.to_json() for g, spec in cpu_model.hparams.kv.items()}
    for lm, first in (("base", 0), ("residual", 2 * hp["base"]["n_layers"])):
        cache = KVCache.from_spec(hp[lm], max_len=T + 6)
        n = hp[lm]["n_layers"]
        cache.append([kv[first + 2 * i].numpy() for i in range(n)], [kv[first + 2 * i + 1].numpy() for i in range(n)])
        for i in range(n):
            cache.buffer(i)[:, :, :, T:] = 50 * np.random.default_rng(i).standard_normal((2, 1, 2, 6, 12))
            feeds[f"cache.{lm}.{i}"] = cache.buffer(i)
    out2 = cpu_model.run("step", feeds)
    np.testing.assert_allclose(out2["mu"], mu2.numpy(), atol=1e-4)
    np.testing.assert_allclose(out2["stop_logits"], stop2.numpy(), atol=1e-4)
    for name, ref in zip(names, new):
        assert out2[f"present.{name}"].shape[2] == 1
        np.testing.assert_allclose(out2[f"present.{name}"], ref.numpy(), atol=1e-4)

    x = torch.randn(1, c.patch_size, c.feat_dim, generator=g)
    t = torch.tensor([0.31])
    with torch.no_grad():
        v = model.velocity(torch.cat((x, x)), torch.cat((t, t)), torch.cat((mu2, torch.zeros_like(mu2))),
                           torch.cat((patch, patch)))
    got = cpu_model.run("locdit", x=x.numpy(), t=t.numpy(), mu=mu2.numpy(), cond=patch.numpy())["velocity"]
    np.testing.assert_allclose(got, v.numpy(), atol=1e-4)


def test_generation_matches_reference(exported, cpu_model):
    model, vae_parts, _ = exported
    text = [5, 17, 33, 64, 99]
    ref_latents, ref_audio = _reference(model, vae_parts, text, seed=3)
    latents = cpu_model.generate_latents(text, seed=3, steps=STEPS, max_patches=MAX_PATCHES)
    # random weights: the stop head says stop from the start, so generation ends at the first patch allowed (i > 2)
    assert latents.shape == ref_latents.shape == (1, 5, 4 * 3)
    np.testing.assert_allclose(latents, ref_latents, atol=1e-4)
    audio = cpu_model.synthesize_tokens(text, seed=3, steps=STEPS, max_patches=MAX_PATCHES)
    assert audio.sample_rate == vae_parts.sample_rate
    np.testing.assert_allclose(audio.samples, ref_audio, atol=1e-4)
    # same seed -> same audio; another seed -> other audio
    again = cpu_model.synthesize_tokens(text, seed=3, steps=STEPS, max_patches=MAX_PATCHES)
    np.testing.assert_array_equal(again.samples, audio.samples)
    other = cpu_model.synthesize_tokens(text, seed=4, steps=STEPS, max_patches=MAX_PATCHES)
    assert not np.allclose(other.samples[:len(audio.samples)], audio.samples[:len(other.samples)])
    # ended by max_patches before the stop rule may fire: 3 patches, 2 steps
    ref_latents, _ = _reference(model, vae_parts, text, seed=5, max_len=3)
    latents = cpu_model.generate_latents(text, seed=5, steps=STEPS, max_patches=3)
    assert latents.shape == (1, 5, 3 * 3)
    np.testing.assert_allclose(latents, ref_latents, atol=1e-4)


def test_kv_caches_grow_as_they_fill(exported, cpu_model, monkeypatch):
    """Caches start with room for KV_START_PATCHES generated patches and double when full: the same patches."""
    model, vae_parts, _ = exported
    text = [5, 17, 33, 64, 99]
    ref_latents, _ = _reference(model, vae_parts, text, seed=5, max_len=4)
    grown = []
    monkeypatch.setattr(type(cpu_model), "KV_START_PATCHES", 1)
    from voxlite.kernels.kvcache import KVCache

    def spy(self, capacity, _grown=KVCache.grown):
        grown.append((self.length, capacity))
        return _grown(self, capacity)

    monkeypatch.setattr(KVCache, "grown", spy)
    latents = cpu_model.generate_latents(text, seed=5, steps=STEPS, max_patches=4)
    np.testing.assert_allclose(latents, ref_latents, atol=1e-4)
    T = len(text) + 1
    # base and residual caches: full at T + 1 -> 2 (T + 1), capped at T + max_patches
    assert grown == [(T + 1, T + 4), (T + 1, T + 4)]


def test_voice_prompt_matches_reference(exported, cpu_model):
    """Prompt transcript + prompt audio (left-padded to whole patches, AudioVAE-encoded), cfg 1.5, stop rule live."""
    model, vae_parts, _ = exported
    sr = vae_parts.sample_rate
    rng = np.random.default_rng(0)
    wav = (0.3 * np.sin(2 * np.pi * 110 * np.arange(400) / sr) + 0.05 * rng.standard_normal(400)).astype(np.float32)
    patches = cpu_model.encode_prompt(wav, sr)
    patch_len = model.config.patch_size * vae_parts.hop_length
    padded = np.pad(wav, ((-len(wav)) % patch_len, 0))
    with torch.no_grad():
        z = vae_parts.encoder(torch.from_numpy(padded)[None, None]).numpy()
    ref_patches = z[0].reshape(z.shape[1], -1, model.config.patch_size).transpose(1, 2, 0)
    np.testing.assert_allclose(patches, ref_patches, atol=1e-4)
    text, prompt = [8, 9, 10], [40, 41]
    ref_latents, ref_audio = _reference(model, vae_parts, text, prompt, ref_patches, seed=11, cfg=1.5, max_len=12)
    audio = cpu_model.synthesize_tokens(text, prompt, wav, prompt_sample_rate=sr, cfg=1.5, steps=STEPS, seed=11,
                                        max_patches=12)
    np.testing.assert_allclose(audio.samples, ref_audio, atol=1e-4)


def test_streaming_equals_offline(cpu_model):
    text = [5, 17, 33, 64, 99]
    offline = cpu_model.synthesize_tokens(text, seed=3, steps=STEPS, max_patches=MAX_PATCHES)
    chunks = list(cpu_model.stream_tokens(text, seed=3, steps=STEPS, max_patches=MAX_PATCHES))
    hop = cpu_model.hop_length * cpu_model.patch_size
    assert all(len(c) == hop for c in chunks)
    np.testing.assert_allclose(np.concatenate(chunks), offline.samples, atol=1e-5)


def test_openvino(exported):
    pytest.importorskip("openvino")
    model, vae_parts, bundle = exported
    ov = voxlite.load(bundle, backend="openvino")
    assert ov.backend == "openvino"
    text = [5, 17, 33, 64, 99]
    ref_latents, ref_audio = _reference(model, vae_parts, text, seed=3)
    latents = ov.generate_latents(text, seed=3, steps=STEPS, max_patches=MAX_PATCHES)
    np.testing.assert_allclose(latents, ref_latents, atol=OPENVINO_ATOL)
    audio = ov.synthesize_tokens(text, seed=3, steps=STEPS, max_patches=MAX_PATCHES)
    np.testing.assert_allclose(audio.samples, ref_audio, atol=OPENVINO_ATOL)


@pytest.mark.parametrize("precision", ["fp16", "int8"])
def test_quantized_generation_within_bound(exported, precision):
    """Quantized graphs (per-graph bounds checked at export; int8: velocity >= 10 dB, mu >= 5 dB SNR, mu sitting
    behind the FSQ's rounding) on a whole generation."""
    from export.graphs import compare

    model, vae_parts, bundle = exported
    q = voxlite.load(bundle, backend="cpu", precision=precision)
    text = [5, 17, 33, 64, 99]
    ref_latents, ref_audio = _reference(model, vae_parts, text, seed=3)
    latents = q.generate_latents(text, seed=3, steps=STEPS, max_patches=MAX_PATCHES)
    assert q.graph_precisions["lm/locdit"] == precision and q.graph_precisions["lm/step"] == precision
    assert latents.shape == ref_latents.shape
    assert compare(ref_latents, latents).snr_db >= MIN_SNR_DB[precision]
    audio = q.synthesize_tokens(text, seed=3, steps=STEPS, max_patches=MAX_PATCHES)
    assert compare(ref_audio, audio.samples).snr_db >= MIN_SNR_DB[precision]


@pytest.mark.parametrize("kwargs, match", [
    ({"text_tokens": []}, "empty"),
    ({"text_tokens": [[1, 2]]}, "1-D"),
    ({"text_tokens": [1.5, 2.0]}, "integers"),
    ({"text_tokens": [1, 500]}, "vocabulary"),
    ({"text_tokens": [-1]}, "vocabulary"),
    ({"text_tokens": list(range(3, 100))}, "too long"),
    ({"text_tokens": [3], "cfg": float("nan")}, "cfg"),
    ({"text_tokens": [3], "cfg": -1.0}, "cfg"),
    ({"text_tokens": [3], "cfg": "high"}, "cfg"),
    ({"text_tokens": [3], "steps": 0}, "steps"),
    ({"text_tokens": [3], "steps": 2.5}, "steps"),
    ({"text_tokens": [3], "steps": 10 ** 6}, "steps"),
    ({"text_tokens": [3], "seed": -2}, "seed"),
    ({"text_tokens": [3], "max_patches": 0}, "max_patches"),
    ({"text_tokens": [3], "flow_start": 0.5}, "no prior head"),  # VoxCPM has none: solves start from noise
    ({"text_tokens": [3], "flow_start": 0.0}, "flow_start"),
    ({"text_tokens": [3], "prompt_audio": np.zeros(0, np.float32), "prompt_sample_rate": 3000}, "prompt audio"),
    ({"text_tokens": [3], "prompt_audio": np.zeros(10, np.float32)}, "sample_rate"),
    ({"text_tokens": [3], "prompt_audio": np.zeros(3000 * 60, np.float32), "prompt_sample_rate": 3000}, "too long"),
])
def test_bad_input_is_refused(cpu_model, kwargs, match):
    with pytest.raises(InvalidInput, match=match):
        cpu_model.synthesize_tokens(**kwargs)
    with pytest.raises(InvalidInput, match=match):
        next(cpu_model.stream_tokens(**kwargs))
