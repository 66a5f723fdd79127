"""The default voice's vocoder recipe (recipes.default_voice.train_vocoder) on a tiny config and synthetic audio:
checkpoints, exact resume, and the exported generator through export.codec's vocos path and a bundle."""
from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
sf = pytest.importorskip("soundfile")
pytest.importorskip("yaml")

from recipes.default_voice import train_vocoder as tv  # noqa: E402

RATE = 8000  # VocosConfig.tiny's mel (n_fft 64, hop 16, 13 bands)
TINY = ["--mel", "tiny", "--dim", "12", "--intermediate-dim", "20", "--layers", "2", "--segment-frames", "24",
        "--batch-size", "2", "--mpd-channels", "4", "4", "8", "8", "8", "--mrd-channels", "4", "--mrd-windows",
        "128", "64", "--stft-resolutions", "64", "128", "--gan-start", "1", "--warmup", "2", "--decay-steps", "10",
        "--log-every", "1", "--val-every", "2", "--val-count", "2", "--ckpt-minutes", "1000"]


def _wav(seed: int, seconds: float) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(RATE * seconds)) / RATE
    f0 = 110 + 60 * rng.random()
    return (0.3 * np.sin(2 * np.pi * f0 * t + 3 * np.sin(2 * np.pi * 2 * t))
            + 0.02 * rng.standard_normal(t.size)).astype(np.float32)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    rows, eval_rows = [], []
    for i, (teacher, split, seconds) in enumerate([("piper", "train", 0.6), ("piper", "train", 0.3),
                                                    ("piper", "train", 0.8), ("kokoro", "train", 0.5),
                                                    ("piper", "eval", 0.45), ("piper", "eval", 0.37)]):
        path = f"{'eval' if split == 'eval' else 'wavs'}/{teacher}/s{i}.wav"
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        wav = _wav(i, seconds)
        sf.write(root / path, wav, RATE, subtype="FLOAT")
        row = {"id": f"{teacher}-x-s{i}", "sentence_id": f"s{i}", "teacher": teacher, "split": split,
               "path": path, "num_samples": len(wav), "sample_rate": RATE}
        (eval_rows if split == "eval" else rows).append(row)
    for name, items in (("manifest.jsonl", rows), ("eval_manifest.jsonl", eval_rows)):
        (root / name).write_text("".join(json.dumps(r) + "\n" for r in items))
    return root


def _run(corpus, out, steps):
    assert tv.main(["--corpus", str(corpus), "--out", str(out), "--max-steps", str(steps), *TINY]) == 0
    return torch.load(out / "state.pt", weights_only=False)


def test_checkpoint_resume_is_exact(corpus, tmp_path):
    torch.set_num_threads(1)
    state2 = _run(corpus, tmp_path / "a", 2)  # step 0: generator only; step 1: with the discriminators
    assert state2["step"] == 2
    assert {"generator", "mpd", "mrd", "opt_g", "opt_d", "sched_g", "sched_d", "sampler", "torch_rng"} <= set(state2)
    assert state2["opt_d"]["state"], "the discriminators took a step"
    assert (tmp_path / "a" / "generator" / "config.yaml").exists()
    assert (tmp_path / "a" / "generator" / "pytorch_model.bin").exists()
    train_log = [json.loads(x) for x in (tmp_path / "a" / "train.jsonl").read_text().splitlines()]
    assert [r["step"] for r in train_log] == [1, 2] and "d_mp" in train_log[1]
    val = [json.loads(x) for x in (tmp_path / "a" / "val.jsonl").read_text().splitlines()]
    assert val[0]["step"] == 2 and val[0]["val_utts"] == 2 and np.isfinite(val[0]["val_mel_l1"])

    # a new process with the same command picks up where the last stopped: same state, then the same steps
    args = tv.parse_args(["--corpus", str(corpus), "--out", str(tmp_path / "a"), *TINY])
    resumed = tv.Trainer(args, tv.load_saved(tmp_path / "a"))
    assert resumed.step == 2
    for key, value in resumed.gen.state_dict().items():
        assert torch.equal(value, state2["generator"][key]), key

    resumed_state = _run(corpus, tmp_path / "a", 3)
    straight = _run(corpus, tmp_path / "b", 3)
    assert resumed_state["step"] == straight["step"] == 3
    for part in ("generator", "mpd", "mrd"):
        for key, value in straight[part].items():
            assert torch.equal(resumed_state[part][key], value), (part, key)
    assert resumed_state["sampler"] == straight["sampler"]


@pytest.mark.parametrize("bias", [-200.0, 200.0])
def test_extreme_head_outputs_give_finite_steps(corpus, bias):
    """exp() underflow (exact digital silence out) and overflow (clamped magnitudes) in the head: finite losses and
    gradients, so no step poisons the weights."""
    torch.set_num_threads(1)
    args = tv.parse_args(["--corpus", str(corpus), "--out", "unused", *TINY])
    trainer = tv.Trainer(args)
    with torch.no_grad():
        trainer.gen.head.out.bias[: trainer.cfg.n_fft // 2 + 1] = bias  # the log-magnitude half
    wav = trainer.sampler.batch(2)
    wav[0] = 0.0  # digital silence in, too
    for _ in range(2):  # a generator-only step, then one with the discriminators
        logs = trainer.train_step(wav)
        assert np.isfinite(logs["loss"]) and np.isfinite(logs["gnorm"])
    assert trainer.bad_steps == 0 and trainer.finite()


def test_input_features_are_the_presets_log_mel(corpus):
    """The vocoder's input is exactly voxlite.dsp.mel.log_mel_spectrogram (what the acoustic model regresses),
    near-silent frames included."""
    from voxlite.dsp.mel import MEL_PRESETS, log_mel_spectrogram

    args = tv.parse_args(["--corpus", str(corpus), "--out", "unused", "--dim", "8", "--intermediate-dim", "8",
                          "--layers", "1"])
    trainer = tv.Trainer(args)
    assert trainer.cfg.mel == MEL_PRESETS["vocos-24khz"]
    rng = np.random.default_rng(0)
    wav = np.concatenate([np.zeros(3000), 1e-6 * rng.standard_normal(4000), 0.5 * rng.standard_normal(6000)])
    wav = wav.astype(np.float32)
    ref = log_mel_spectrogram(wav, MEL_PRESETS["vocos-24khz"])
    got = trainer.features(torch.from_numpy(wav)[None])[0].numpy()
    np.testing.assert_allclose(got, ref, atol=1e-4)


def test_exported_generator_loads_through_export_codec(corpus, tmp_path):
    pytest.importorskip("onnx")
    import voxlite
    from export.codec import FAMILIES, export_codec
    from voxlite.convert.vocos import load_official_dir

    torch.set_num_threads(1)
    out = tmp_path / "run"
    _run(corpus, out, 1)
    args = tv.parse_args(["--corpus", str(corpus), "--out", str(out), *TINY])
    trained = tv.Trainer(args, tv.load_saved(out)).gen.eval()  # training head: torch.istft

    ours = load_official_dir(out / "generator")
    assert ours.cfg == trained.cfg
    parts = FAMILIES["vocos"](str(out / "generator"), "mel_24khz", 123)  # the directory's config.yaml wins
    assert parts.sample_rate == RATE and parts.latent_dim == trained.cfg.n_mels
    wav = np.pad(_wav(9, 0.4), (0, 0))
    wav = wav[: len(wav) // 16 * 16]
    with torch.no_grad():
        mel = parts.encoder(torch.from_numpy(wav)[None, None])
        ref = trained(mel)
        torch.testing.assert_close(parts.decoder(mel)[:, 0], ref, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(ours(mel), ref, atol=1e-5, rtol=1e-5)

    bundle = export_codec(parts, tmp_path / "bundle", log=lambda *_: None)
    model = voxlite.load(bundle, backend="cpu")
    np.testing.assert_allclose(model.encode(wav, RATE), mel.numpy(), atol=1e-4)
    audio = model.decode(mel.numpy())
    np.testing.assert_allclose(audio.samples, ref[0].numpy(), atol=1e-4)


def _gta_dir(corpus, path, shift=0.5):
    """GTA mels standing in for an acoustic model's: each row's real log-mel + ``shift`` (one frame short)."""
    from voxlite.dsp.mel import log_mel_spectrogram
    from voxlite.models.vocos import VocosConfig

    mel_cfg = VocosConfig.tiny().mel
    path.mkdir()
    (path / "gta.json").write_text("{}")
    for name in ("manifest.jsonl", "eval_manifest.jsonl"):
        for line in (corpus / name).read_text().splitlines():
            row = json.loads(line)
            wav, _ = sf.read(corpus / row["path"], dtype="float32")
            mel = log_mel_spectrogram(wav, mel_cfg) + shift
            np.savez(path / f"{row['id']}.npz", mel=mel[:, :-1].astype(np.float16))
    return mel_cfg


def test_gta_segments_are_the_utterance_frames_of_the_audio(corpus, tmp_path):
    """--gta: segments start on whole hops, and the vocoder reads the GTA mel's frames of exactly that audio (gain
    applied, log floor past the end); the loss target stays the real mel."""
    torch.set_num_threads(1)
    mel_cfg = _gta_dir(corpus, tmp_path / "gta")
    args = tv.parse_args(["--corpus", str(corpus), "--out", "unused", *TINY, "--gta", str(tmp_path / "gta"),
                          "--gta-share", "1"])
    trainer = tv.Trainer(args)
    hop = trainer.cfg.hop_length
    for _ in range(3):
        state = trainer.sampler.state_dict()
        wav, mel_in = trainer.batch(2)
        trainer.sampler.load_state_dict(state)
        _, sources = trainer.sampler.batch_with_sources(2, hop)
        real = trainer.features(wav)
        assert mel_in.shape == real.shape
        for b, (row, start, gain) in enumerate(sources):
            assert start % hop == 0
            full = trainer.gta.utterance(row)
            n = min(real.shape[-1], full.shape[1] - start // hop)
            expect = np.maximum(full[:, start // hop:start // hop + n] + np.log(gain), np.log(mel_cfg.log_floor))
            np.testing.assert_allclose(mel_in[b, :, :n].numpy(), expect, atol=1e-5)
            assert (mel_in[b, :, n:] == np.float32(np.log(mel_cfg.log_floor))).all()
            # inside the audio, the GTA stand-in is the real mel + 0.5 (float16 storage, segment edges aside)
            inner = slice(3, min(n, 20) - 3)
            assert np.median(np.abs(mel_in[b, :, inner] - real[b, :, inner] - 0.5).numpy()) < 0.05
    logs = trainer.train_step(wav, mel_in)
    assert np.isfinite(logs["loss"])
    assert trainer.validate()["val_utts"] == 2


def test_gta_fine_tune_from_a_state(corpus, tmp_path):
    """--init: a new run starts from another run's generator and discriminators, with fresh optimizers."""
    torch.set_num_threads(1)
    base = _run(corpus, tmp_path / "base", 2)
    _gta_dir(corpus, tmp_path / "gta")
    out = tmp_path / "ft"
    argv = ["--corpus", str(corpus), "--out", str(out), "--max-steps", "1", *TINY, "--gta", str(tmp_path / "gta"),
            "--init"]
    trainer = tv.Trainer(tv.parse_args([*argv, str(tmp_path / "base" / "state.pt")]))
    assert trainer.step == 0 and not trainer.opt_g.state_dict()["state"]
    for k, v in base["generator"].items():
        torch.testing.assert_close(trainer.gen.state_dict()[k], v)
    for k, v in base["mpd"].items():
        torch.testing.assert_close(trainer.mpd.state_dict()[k], v)
    from_dir = tv.Trainer(tv.parse_args([*argv, str(tmp_path / "base" / "generator")]))
    for k, v in base["generator"].items():
        torch.testing.assert_close(from_dir.gen.state_dict()[k], v)
    assert tv.main([*argv, str(tmp_path / "base" / "state.pt")]) == 0
    assert torch.load(out / "state.pt", weights_only=False)["step"] == 1
    with pytest.raises(SystemExit, match="no gta.json"):
        tv.Trainer(tv.parse_args([*argv[:-3], "--gta", str(tmp_path / "missing")]))


def test_packed_vocoder_keeps_its_discriminators_for_the_next_round(corpus, tmp_path):
    """checkpoints.py pack --vocoder takes the discriminators from the trainer's state beside generator/ (float16),
    and --init from the packed directory loads them: the next adversarial round continues the game."""
    from recipes.default_voice import checkpoints

    torch.set_num_threads(1)
    base = _run(corpus, tmp_path / "base", 2)
    dest = tmp_path / "packed"
    checkpoints.pack(None, tmp_path / "base" / "generator", dest)
    packed = torch.load(dest / "vocoder" / "discriminators.pt", weights_only=True)
    assert packed["step"] == 2 and all(v.dtype == torch.float16 for v in packed["mpd"].values())
    argv = ["--corpus", str(corpus), "--out", str(tmp_path / "next"), "--max-steps", "1", *TINY]
    trainer = tv.Trainer(tv.parse_args([*argv, "--init", str(dest / "vocoder")]))
    for name in ("mpd", "mrd"):
        for k, v in base[name].items():
            torch.testing.assert_close(getattr(trainer, name).state_dict()[k], v.half().float())
    fresh = tv.Trainer(tv.parse_args([*argv, "--init", str(tmp_path / "base" / "generator")]))  # no file: fresh
    assert any(not torch.equal(fresh.mpd.state_dict()[k], v) for k, v in base["mpd"].items())
    (dest / "vocoder" / "discriminators.pt").write_bytes(b"")  # corrupt: not silently fresh
    with pytest.raises(SystemExit, match="discriminators.pt does not fit"):
        tv.Trainer(tv.parse_args([*argv, "--init", str(dest / "vocoder")]))
