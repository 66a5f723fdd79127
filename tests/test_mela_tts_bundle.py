"""MELA-TTS bundle end to end: ``python -m export mela-tts --config tiny --random-init`` (fp32 + int8) -> each graph
against the PyTorch reference on new inputs (text / step on fixed-size cache buffers) -> the NumPy pipeline's
generation (same seed, same noise) against ``MelaTTS.generate``, offline and streaming (mel chunks and waveform)
-> streaming audio == offline decode -> OpenVINO -> int8 -> bad input. Then ``--vocoder default-voice``: the embedded
default voice's trained Vocos carried unchanged (byte-identical graphs), the model on its 100-bin 93.75 Hz mel,
generation against the reference and audio at 24 kHz through that vocoder."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")

import voxlite  # noqa: E402
from voxlite.audio import Audio  # noqa: E402
from voxlite.errors import InvalidInput  # noqa: E402

STEPS = 4
MAX_CHUNKS = 9
TEXT = [5, 17, 33, 64, 99, 12, 40]  # 7 tokens: three streaming groups at the tiny model's 3:2
FP32_ATOL = 1e-4
OPENVINO_ATOL = 1e-4


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    import export
    from export.mela_tts import build

    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("mela") / "bundle"
    assert export.run("mela-tts", ["--config", "tiny", "--random-init", "--seed", "0", "--precision", "fp32", "int8",
                                   "--out", str(out)]) == 0
    model, parts, window = build("tiny", 0)  # the same weights (seeded)
    return model, parts, out


@pytest.fixture(scope="module")
def cpu_model(exported):
    return voxlite.load(exported[2], backend="cpu")


@pytest.fixture(scope="module")
def voice():
    rng = np.random.default_rng(0)
    return rng.standard_normal(16).astype(np.float32), rng.standard_normal((30, 80)).astype(np.float32)


def _reference(model, parts, text, speaker=None, prompt_mel=None, *, seed=3, cfg=2.0, streaming=False,
               max_chunks=MAX_CHUNKS):
    """MelaTTS.generate with the pipeline's noise -> (chunks (N, P, n_mels), vocoder audio of all of them)."""
    chunks = list(model.generate(text, None if speaker is None else torch.from_numpy(speaker),
                                 None if prompt_mel is None else torch.from_numpy(prompt_mel), seed=seed,
                                 max_chunks=max_chunks, n_steps=STEPS, cfg=cfg, streaming=streaming, min_chunks=2))
    chunks = torch.cat(chunks)
    with torch.no_grad():
        audio = parts.decoder(chunks.reshape(-1, 80).T[None])
    return chunks.numpy(), audio.numpy()[0, 0]


def test_manifest(exported, cpu_model):
    bundle = cpu_model.bundle
    assert bundle.model_type == "mela_tts" and bundle.capabilities == ("text-to-speech", "voice-cloning")
    assert {c.name: c.kind for c in bundle.manifest.components.values()} == {
        "lm": "mela-tts-lm", "codec": "codec", "text": "text"}
    assert {g for g in bundle.manifest.graphs if g.startswith("lm/")} == {
        "lm/utterance", "lm/prefill", "lm/text", "lm/step", "lm/locdit"}
    hp = cpu_model.hparams
    assert hp.kv["lm"].to_json() == {"n_layers": 3, "n_kv_heads": 2, "head_dim": 12, "dtype": "float32"}
    assert (hp.n_mels, hp.chunk_size, hp.text_per_group, hp.chunks_per_group, hp.steps) == (80, 8, 3, 2, 10)
    assert cpu_model.sample_rate == 16000 and cpu_model.hop_length == 320  # 50 Hz mel, the model's own
    assert cpu_model.codec.hparams.window.to_json() == {"left": 10, "right": 11}  # Vocos, 2 layers
    step = bundle.graph("lm/step")
    assert [t.name for t in step.inputs] == ["chunk", "length", "cache.lm.0", "cache.lm.1", "cache.lm.2"]
    assert all(len(t.shape) == 5 and t.shape[0] == 2 for t in step.inputs[2:])


def test_graphs_match_reference(exported, cpu_model):
    """Every lm graph on inputs other than the export's (other lengths; buffer slots past ``length`` hold noise)."""
    from voxlite.kernels.kvcache import KVCache

    model, _, _ = exported
    c = model.config
    g = torch.Generator().manual_seed(7)
    prompt = torch.randn(1, 41, 80, generator=g)
    speaker = torch.randn(1, c.speaker_dim, generator=g)
    tokens = torch.tensor([[3, 8, 50, 77, 91, 12]])
    with torch.no_grad():
        utt = model.utterance(prompt)
        mu, stop, kv = model.prefill(speaker, utt, tokens)
    np.testing.assert_allclose(cpu_model.run("lm/utterance", prompt_mel=prompt.numpy())["utterance"], utt.numpy(),
                               atol=FP32_ATOL)
    out = cpu_model.run("lm/prefill", speaker=speaker.numpy(), utterance=utt.numpy(), text_tokens=tokens.numpy())
    np.testing.assert_allclose(out["mu"], mu.numpy(), atol=FP32_ATOL)
    np.testing.assert_allclose(out["stop_logit"], stop.numpy(), atol=FP32_ATOL)
    for i in range(3):
        np.testing.assert_allclose(out[f"present.lm.{i}.key"], kv[2 * i].numpy(), atol=FP32_ATOL)

    L = kv[0].shape[2]
    cache = KVCache.from_spec(cpu_model.hparams.kv["lm"].to_json(), max_len=L + 7)
    cache.append([k.numpy() for k in kv[0::2]], [v.numpy() for v in kv[1::2]])
    for i in range(3):
        cache.buffer(i)[:, :, :, L:] = 50 * np.random.default_rng(i).standard_normal((2, 1, 2, 7, 12))
    feeds = {f"cache.lm.{i}": cache.buffer(i) for i in range(3)}
    chunk = torch.randn(1, 8, 80, generator=g)
    with torch.no_grad():
        mu_s, stop_s, new_s = model.step(chunk, kv)
    got = cpu_model.run("lm/step", {**feeds, "chunk": chunk.numpy(), "length": np.array([L], np.int64)})
    np.testing.assert_allclose(got["mu"], mu_s.numpy(), atol=FP32_ATOL)
    np.testing.assert_allclose(got["stop_logit"], stop_s.numpy(), atol=FP32_ATOL)
    np.testing.assert_allclose(got["present.lm.2.value"], new_s[5].numpy(), atol=FP32_ATOL)
    for n in (1, 4):  # a text group of another length than the export's 3
        more = torch.arange(20, 20 + n)[None]
        with torch.no_grad():
            mu_t, stop_t, new_t = model.feed_text(more, kv)
        got = cpu_model.run("lm/text", {**feeds, "text_tokens": more.numpy(), "length": np.array([L], np.int64)})
        np.testing.assert_allclose(got["mu"], mu_t.numpy(), atol=FP32_ATOL)
        np.testing.assert_allclose(got["stop_logit"], stop_t.numpy(), atol=FP32_ATOL)
        assert got["present.lm.0.key"].shape[2] == n
        np.testing.assert_allclose(got["present.lm.1.key"], new_t[2].numpy(), atol=FP32_ATOL)

    x, t = torch.randn(1, 8, 80, generator=g), torch.tensor([0.31])
    with torch.no_grad():
        v = model.velocity(torch.cat((x, x)), torch.cat((t, t)), torch.cat((mu_s, torch.zeros_like(mu_s))),
                           torch.cat((chunk, chunk)))
    got = cpu_model.run("lm/locdit", x=x.numpy(), t=t.numpy(), mu=mu_s.numpy(), cond=chunk.numpy())["velocity"]
    np.testing.assert_allclose(got, v.numpy(), atol=FP32_ATOL)


@pytest.mark.parametrize("mode", ["offline", "streaming"])
def test_generation_matches_reference(exported, cpu_model, voice, mode):
    model, parts, _ = exported
    speaker, prompt_mel = voice
    ref, ref_audio = _reference(model, parts, TEXT, speaker, prompt_mel, streaming=mode == "streaming")
    chunks = np.stack(list(cpu_model.generate_chunks(TEXT, speaker, prompt_mel, mode=mode, steps=STEPS, seed=3,
                                                     max_chunks=MAX_CHUNKS)))
    # random weights: offline the stop head fires at the first chunk allowed; streaming it may only fire once the
    # third text group is in (after 4 chunks) and does not before max_chunks
    assert chunks.shape == ref.shape == ((2 if mode == "offline" else MAX_CHUNKS), 8, 80)
    np.testing.assert_allclose(chunks, ref, atol=FP32_ATOL)
    audio = cpu_model.synthesize_tokens(TEXT, speaker, prompt_mel, mode=mode, steps=STEPS, seed=3,
                                        max_chunks=MAX_CHUNKS)
    np.testing.assert_allclose(audio.samples, ref_audio, atol=FP32_ATOL)
    # no speaker / prompt: zero conditions, as the reference; another seed: other chunks
    ref0, _ = _reference(model, parts, TEXT, streaming=mode == "streaming", max_chunks=3)
    got0 = np.stack(list(cpu_model.generate_chunks(TEXT, mode=mode, steps=STEPS, seed=3, max_chunks=3)))
    np.testing.assert_allclose(got0, ref0, atol=FP32_ATOL)
    other = np.stack(list(cpu_model.generate_chunks(TEXT, speaker, prompt_mel, mode=mode, steps=STEPS, seed=4,
                                                    max_chunks=2)))
    assert not np.allclose(other, chunks[:2])


def test_prompt_audio_and_text_input(exported, cpu_model, voice):
    """A prompt recording goes through the codec's mel front end (the reference's mel); text through the bundle's
    tokenizer."""
    model, parts, _ = exported
    rng = np.random.default_rng(1)
    wav = 0.3 * np.sin(2 * np.pi * 150 * np.arange(8000) / 16000) + 0.05 * rng.standard_normal(8000)
    wav = wav.astype(np.float32)
    mel = cpu_model.encode_prompt(wav, 16000)
    with torch.no_grad():
        ref_mel = parts.encoder(torch.from_numpy(wav)[None, None])[0].T.numpy()
    np.testing.assert_allclose(mel, ref_mel, atol=FP32_ATOL)
    speaker = voice[0]
    ids, _ = cpu_model.tokenizer.encode_pair("hello world", None)
    ref, ref_audio = _reference(model, parts, ids, speaker, ref_mel, streaming=True, seed=5, max_chunks=5)
    recording = Audio(wav, 16000)  # synthesize / stream take an Audio or a path
    chunks = list(cpu_model.stream("hello world", recording, speaker=speaker, steps=STEPS, seed=5, max_chunks=5))
    audio = cpu_model.synthesize("hello world", recording, speaker=speaker, mode="streaming", steps=STEPS, seed=5,
                                 max_chunks=5)
    np.testing.assert_allclose(audio.samples, ref_audio, atol=FP32_ATOL)
    np.testing.assert_allclose(np.concatenate(chunks), audio.samples, atol=1e-5)


def test_streaming_audio_equals_offline_decode(cpu_model, voice):
    """stream_tokens decodes each chunk as it comes (windows covering the Vocos' receptive field): the pieces
    concatenate to the offline decode of the same (streaming-mode) chunks; the first piece comes after the
    first chunk's right context, not after the whole text."""
    speaker, prompt_mel = voice
    offline = cpu_model.synthesize_tokens(TEXT, speaker, prompt_mel, mode="streaming", steps=STEPS, seed=3,
                                          max_chunks=MAX_CHUNKS)
    pieces = list(cpu_model.stream_tokens(TEXT, speaker, prompt_mel, steps=STEPS, seed=3, max_chunks=MAX_CHUNKS))
    assert len(pieces) > 2
    np.testing.assert_allclose(np.concatenate(pieces), offline.samples, atol=1e-5)


def test_kv_caches_grow_as_they_fill(exported, cpu_model, voice, monkeypatch):
    """Caches start with room for KV_START_CHUNKS chunks and double when full, also when a text group (several
    positions) comes in: the same chunks."""
    from voxlite.kernels.kvcache import KVCache

    model, parts, _ = exported
    speaker, prompt_mel = voice
    ref, _ = _reference(model, parts, TEXT, speaker, prompt_mel, streaming=True)
    grown = []
    monkeypatch.setattr(type(cpu_model), "KV_START_CHUNKS", 3)

    def spy(self, capacity, _grown=KVCache.grown):
        grown.append((self.length, capacity))
        return _grown(self, capacity)

    monkeypatch.setattr(KVCache, "grown", spy)
    chunks = np.stack(list(cpu_model.generate_chunks(TEXT, speaker, prompt_mel, mode="streaming", steps=STEPS,
                                                     seed=3, max_chunks=MAX_CHUNKS)))
    np.testing.assert_allclose(chunks, ref, atol=FP32_ATOL)
    # capacity 2 + 7 + 1 (conditions, text, TOS) + 3 = 13; prefill 5, chunks 0-1 -> 7, text group 2 -> 10,
    # chunks 2-3 -> 12: the last group (1 token + TOS) does not fit, doubling is capped at the limit 10 + 9
    assert grown == [(12, 19)]


def test_openvino(exported, voice):
    pytest.importorskip("openvino")
    model, parts, bundle = exported
    ov = voxlite.load(bundle, backend="openvino")
    assert ov.backend == "openvino"
    speaker, prompt_mel = voice
    for mode in ("offline", "streaming"):
        ref, ref_audio = _reference(model, parts, TEXT, speaker, prompt_mel, streaming=mode == "streaming")
        chunks = np.stack(list(ov.generate_chunks(TEXT, speaker, prompt_mel, mode=mode, steps=STEPS, seed=3,
                                                  max_chunks=MAX_CHUNKS)))
        np.testing.assert_allclose(chunks, ref, atol=OPENVINO_ATOL)
    audio = ov.synthesize_tokens(TEXT, speaker, prompt_mel, mode="streaming", steps=STEPS, seed=3,
                                 max_chunks=MAX_CHUNKS)
    np.testing.assert_allclose(audio.samples, ref_audio, atol=OPENVINO_ATOL)


def test_int8(exported, voice):
    """The int8 bundle runs both modes; offline its chunks stay near fp32 (measured 19.6 dB). Streaming runs until
    the stop head, whose logit sits near 0 at random weights, so int8 may stop at another chunk: only its first
    chunks are compared."""
    from export.graphs import compare

    model, parts, bundle = exported
    q = voxlite.load(bundle, backend="cpu", precision="int8")
    speaker, prompt_mel = voice
    ref, _ = _reference(model, parts, TEXT, speaker, prompt_mel)
    chunks = np.stack(list(q.generate_chunks(TEXT, speaker, prompt_mel, steps=STEPS, seed=3, max_chunks=MAX_CHUNKS)))
    assert q.graph_precisions["lm/step"] == "int8" and q.graph_precisions["lm/locdit"] == "int8"
    assert q.graph_precisions["lm/utterance"] == "fp32"  # float only: run once per prompt
    assert chunks.shape == ref.shape
    assert compare(ref, chunks).snr_db >= 10.0
    ref_s, _ = _reference(model, parts, TEXT, speaker, prompt_mel, streaming=True)
    got_s = np.stack(list(q.generate_chunks(TEXT, speaker, prompt_mel, mode="streaming", steps=STEPS, seed=3,
                                            max_chunks=MAX_CHUNKS)))
    assert got_s.shape[0] >= 5 and np.isfinite(got_s).all()  # the text groups are all in after 4 chunks
    assert compare(ref_s[:4], got_s[:4]).snr_db >= 10.0
    audio = q.synthesize_tokens(TEXT, speaker, prompt_mel, steps=STEPS, seed=3, max_chunks=MAX_CHUNKS)
    assert np.isfinite(audio.samples).all() and len(audio.samples) > 0


@pytest.mark.parametrize("kwargs, match", [
    ({"text_tokens": []}, "empty"),
    ({"text_tokens": [[1, 2]]}, "1-D"),
    ({"text_tokens": [1.5, 2.0]}, "integers"),
    ({"text_tokens": [1, 500]}, "vocabulary"),
    ({"text_tokens": [-1]}, "vocabulary"),
    ({"text_tokens": [3, 127]}, "turn-of-speech"),
    ({"text_tokens": list(range(3, 100))}, "too long"),
    ({"text_tokens": [3], "mode": "chunked"}, "mode"),
    ({"text_tokens": [3], "cfg": float("nan")}, "cfg"),
    ({"text_tokens": [3], "cfg": -1.0}, "cfg"),
    ({"text_tokens": [3], "steps": 0}, "steps"),
    ({"text_tokens": [3], "steps": 2.5}, "steps"),
    ({"text_tokens": [3], "seed": -2}, "seed"),
    ({"text_tokens": [3], "max_chunks": 0}, "max_chunks"),
    ({"text_tokens": [3], "speaker": np.zeros(15)}, "speaker"),
    ({"text_tokens": [3], "speaker": [float("inf")] * 16}, "speaker"),
    ({"text_tokens": [3], "speaker": "alice"}, "speaker"),
    ({"text_tokens": [3], "prompt_mel": np.zeros((10, 64))}, "prompt_mel"),
    ({"text_tokens": [3], "prompt_mel": np.zeros((0, 80))}, "prompt_mel"),
    ({"text_tokens": [3], "prompt_mel": np.full((5, 80), np.nan)}, "prompt_mel"),
    ({"text_tokens": [3], "prompt_mel": np.zeros((5000, 80))}, "prompt_mel"),
    ({"text_tokens": [3], "prompt_mel": np.zeros((5, 80)), "prompt_audio": np.zeros(3200)}, "not both"),
])
def test_bad_inputs_are_refused(cpu_model, kwargs, match):
    with pytest.raises(InvalidInput, match=match):
        list(cpu_model.generate_chunks(**kwargs))


@pytest.mark.parametrize("text, match", [("", "empty"), ("   ", "empty"), (None, "empty"), ("a" * 2001, "too long")])
def test_bad_text_is_refused(cpu_model, text, match):
    with pytest.raises(InvalidInput, match=match):
        cpu_model.synthesize(text)
    with pytest.raises(InvalidInput, match=match):
        list(cpu_model.stream(text))


# ------------------------------------------------------------------ --vocoder default-voice


@pytest.fixture(scope="module")
def exported_24k(tmp_path_factory):
    """Tiny random LM over the default voice's vocoder (fp32 LM: the random tiny LM's int8 text graph at 100 bins
    lands at the int8 bound, and the vocoder is carried as stored anyway)."""
    import export
    from export.mela_tts import build

    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("mela24k") / "bundle"
    assert export.run("mela-tts", ["--config", "tiny", "--random-init", "--seed", "0", "--vocoder", "default-voice",
                                   "--out", str(out)]) == 0
    model, _, _ = build("tiny", 0, "default-voice")  # the same weights (seeded), on the vocoder's mel
    return model, out


@pytest.fixture(scope="module")
def model_24k(exported_24k):
    return voxlite.load(exported_24k[1], backend="cpu")


@pytest.fixture(scope="module")
def default_codec():
    """The default voice's own codec component, run from the default voice's bundle."""
    from voxlite.bundle import open_bundle
    from voxlite.pipelines.codec import Codec
    from voxlite.pipelines.sessions import GraphSessions
    from voxlite.voices import EMBEDDED

    return Codec(GraphSessions(open_bundle(EMBEDDED), backend="cpu"), "codec")


def _snr_db(ref, got):
    ref, got = ref.astype(np.float64), got.astype(np.float64)
    return float(10 * np.log10(np.sum(ref ** 2) / np.sum((got - ref) ** 2)))


def test_default_voice_codec_is_carried_unchanged(exported_24k, model_24k):
    """(a) the codec component is the default voice's: same manifest entry (graphs, precision variants, IO,
    hparams with the window), every file it reads (the graphs and the weights file the int8 decoder reads at its
    offsets) byte-identical with the same sha256; the model's mel is that codec's."""
    import json

    from voxlite.voices import EMBEDDED

    model, out = exported_24k
    voice = json.loads((EMBEDDED / "manifest.json").read_text())
    mine = json.loads((out / "manifest.json").read_text())
    assert mine["components"]["codec"] == voice["components"]["codec"]
    codec_files = {"graphs/encoder.fp32.onnx", "graphs/decoder.int8.onnx", "graphs/weights.data"}
    assert {f for g in mine["components"]["codec"]["graphs"].values() for f in g["files"].values()} == codec_files - {
        "graphs/weights.data"}
    for relpath in codec_files:
        assert mine["files"][relpath] == voice["files"][relpath], relpath
        assert (out / relpath).read_bytes() == (EMBEDDED / relpath).read_bytes(), relpath
    assert "graphs/lm.data" in mine["files"]  # the LM's weights beside the carried weights.data
    assert mine["sample_rate"] == 24000 and "default_precision" not in mine  # the decoder is int8 only
    assert mine["provenance"]["vocoder"]["bundle"] == voice["name"]

    hp = model_24k.hparams
    assert (hp.n_mels, hp.chunk_size) == (100, 8)
    assert (model_24k.sample_rate, model_24k.hop_length, model_24k.codec.frame_rate) == (24000, 256, 93.75)
    assert model_24k.codec.hparams.window.to_json() == {"left": 28, "right": 29}
    assert (model.config.n_mels, model.config.mel_rate, model.config.align_factor) == (100, 93.75, 2)
    with pytest.raises(InvalidInput, match="precision"):  # no fp32 vocoder to run
        voxlite.load(out, backend="cpu", precision="fp32")


def test_default_voice_vocoder_generation(exported_24k, model_24k, default_codec):
    """(b) the pipeline's chunks equal the reference's, offline and streaming, with a prompt recording through the
    carried mel front end; (c) synthesize / stream make 24 kHz audio through the default voice's vocoder, the
    stream equal to the offline decode within the int8 decoder's windowed tolerance (tests/
    test_stream_equals_offline.py: > 18 dB SNR; measured 42.7 dB here)."""
    model, _ = exported_24k
    rng = np.random.default_rng(0)
    speaker = rng.standard_normal(16).astype(np.float32)
    wav = (0.3 * np.sin(2 * np.pi * 150 * np.arange(12000) / 24000)
           + 0.05 * rng.standard_normal(12000)).astype(np.float32)
    prompt_mel = model_24k.encode_prompt(wav, 24000)
    # the default voice's own front end (normalised log-mel); "center": 47 hops -> 48 frames
    np.testing.assert_array_equal(prompt_mel, default_codec.latents_of(np.pad(wav, (0, 32)))[0].T)
    assert prompt_mel.shape == (48, 100)
    for mode in ("offline", "streaming"):
        ref = torch.cat(list(model.generate(TEXT, torch.from_numpy(speaker), torch.from_numpy(prompt_mel), seed=3,
                                            max_chunks=MAX_CHUNKS, n_steps=STEPS, cfg=2.0,
                                            streaming=mode == "streaming", min_chunks=2))).numpy()
        chunks = np.stack(list(model_24k.generate_chunks(TEXT, speaker, prompt_audio=Audio(wav, 24000), mode=mode,
                                                         steps=STEPS, seed=3, max_chunks=MAX_CHUNKS)))
        assert chunks.shape == ref.shape and chunks.shape[1:] == (8, 100)
        np.testing.assert_allclose(chunks, ref, atol=FP32_ATOL)

    mel = model_24k.generate_mel(TEXT, speaker, prompt_mel, mode="streaming", steps=STEPS, seed=3,
                                 max_chunks=MAX_CHUNKS)
    audio = model_24k.synthesize_tokens(TEXT, speaker, prompt_mel, mode="streaming", steps=STEPS, seed=3,
                                        max_chunks=MAX_CHUNKS)
    assert audio.sample_rate == 24000 and len(audio.samples) == (mel.shape[-1] - 1) * 256
    np.testing.assert_allclose(audio.samples, default_codec.decode_samples(mel), atol=1e-5)  # that vocoder
    assert model_24k.graph_precisions["codec/decoder"] == "int8"
    pieces = list(model_24k.stream_tokens(TEXT, speaker, prompt_mel, steps=STEPS, seed=3, max_chunks=MAX_CHUNKS))
    streamed = np.concatenate(pieces)
    assert len(pieces) > 2 and streamed.shape == audio.samples.shape
    assert _snr_db(audio.samples, streamed) > 18.0
    text_audio = model_24k.synthesize("hello world", Audio(wav, 24000), speaker=speaker, steps=STEPS, seed=5, max_chunks=3)
    assert text_audio.sample_rate == 24000 and np.isfinite(text_audio.samples).all()


def test_copy_component_refuses_collisions(tmp_path):
    """A carried file's path, or a component name, already taken is an error, not an overwrite."""
    from voxlite.bundle import BundleWriter
    from voxlite.errors import BundleError
    from voxlite.voices import EMBEDDED

    writer = BundleWriter(tmp_path / "b", model_type="mela_tts", name="x", sample_rate=24000)
    try:
        writer.copy_component(EMBEDDED, "codec")
        with pytest.raises(BundleError, match="component 'codec'"):
            writer.copy_component(EMBEDDED, "codec")
        with pytest.raises(BundleError, match="already has a file 'graphs/weights.data'"):
            writer.add_file("graphs/weights.data", b"")
        with pytest.raises(BundleError, match="no component"):
            writer.copy_component(EMBEDDED, "vocoder")
    finally:
        writer.abort()
