"""The default voice's acoustic training recipe on a synthetic corpus: losses fall from random init on one batch,
checkpoints are written, and a second run resumes where the first stopped."""
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
sf = pytest.importorskip("soundfile")

from recipes.default_voice import train_acoustic as ta  # noqa: E402
from voxlite.text import lexicon  # noqa: E402

LEX = {"hello": "həlˈO", "world": "wˈɜɹld", "cat": "kˈæt", "the": "ði", "a": "A", "dog": "dˈɔɡ"}
TEXTS = ["Hello world.", "The cat.", "A dog, a cat.", "Hello dog!", "World cat dog."]


@pytest.fixture()
def corpus(tmp_path):
    root = tmp_path / "corpus"
    (root / "wavs").mkdir(parents=True)
    rng = np.random.default_rng(0)
    rows = []
    for i, text in enumerate(TEXTS):
        n = 24000 * (1 + i % 2) // 4
        t = np.arange(n) / 24000
        wav = (0.3 * np.sin(2 * np.pi * (150 + 40 * i) * t) + 0.01 * rng.standard_normal(n)).astype(np.float32)
        sf.write(root / "wavs" / f"u{i}.wav", wav, 24000, subtype="FLOAT")
        rows.append({"id": f"piper-u{i}", "teacher": "piper", "split": "train", "norm": text,
                     "path": f"wavs/u{i}.wav"})
    (root / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (root / "eval_manifest.jsonl").write_text(json.dumps({**rows[0], "split": "eval"}) + "\n")
    out = tmp_path / "out"
    out.mkdir()
    lexicon.save(out / "lexicon.json", LEX, {"package": "test"})
    return root, out


def _run(root, out, steps):
    return ta.main(["--corpus", str(root), "--out", str(out), "--size", "tiny", "--max-steps", str(steps),
                    "--max-tokens", "400", "--log-every", "1", "--valid-every", "2", "--warmup", "2",
                    "--ckpt-minutes", "100"])


def _tiny_model_and_batch(n_items: int, n_patches: int):
    """A tiny voice model (seed 0) and a batch of random phoneme ids and patches."""
    torch.manual_seed(0)
    cfg = ta.voice_config(20, 0.5, "tiny")
    model = ta.VoxCPM(cfg)
    rng = np.random.default_rng(0)
    items = [(rng.integers(3, 18, 6).astype(np.int32), rng.standard_normal((n_patches, ta.PATCH, cfg.feat_dim))
              .astype(np.float32)) for _ in range(n_items)]
    return model, ta.make_batch(items, cfg.audio_start_token)


def test_train_checkpoint_resume(corpus):
    root, out = corpus
    assert _run(root, out, 3) == 0
    state = torch.load(out / "state.pt", weights_only=False)
    assert state["step"] == 3
    payload = torch.load(out / "model.pt", weights_only=False)
    assert payload["step"] == 3 and payload["mel"] == ta.MEL and payload["inventory_version"] == 2
    assert payload["config"]["audio_position_rate"] > 0
    assert _run(root, out, 5) == 0
    assert torch.load(out / "state.pt", weights_only=False)["step"] == 5
    rows = [json.loads(line) for line in (out / "train.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3, 4, 5]
    assert all(np.isfinite(r["diff"]) and np.isfinite(r["stop"]) for r in rows)
    valid = [json.loads(line) for line in (out / "valid.jsonl").read_text().splitlines()]
    assert valid and all(np.isfinite(v["text_gap"]) and np.isfinite(v["prior_text_gap"]) for v in valid)
    assert "prior" in rows[-1] and "prior_proj.weight" in state["model"]


def test_prior_loss_trains_the_lm_and_the_head_is_exported(corpus):
    """The prior head's L1 reaches the TSLM's text embedding (the point of it), bypasses the LocDiT, and the head is
    part of model.pt (the exported prefill / step output its patch)."""
    model, batch = _tiny_model_and_batch(2, 5)
    out = ta.losses(model, batch, generator=torch.Generator().manual_seed(0))
    out["prior"].backward()
    assert float(model.base_lm.embed_tokens.weight.grad.abs().sum()) > 0
    assert float(model.prior_proj.weight.grad.abs().sum()) > 0
    assert model.loc_dit.in_proj.weight.grad is None  # the L1 bypasses the LocDiT
    root, out_dir = corpus
    assert _run(root, out_dir, 2) == 0
    payload = torch.load(out_dir / "model.pt", weights_only=False)
    assert payload["config"]["prior_head"] is True
    assert set(payload["state_dict"]) == set(model.state_dict()) and "prior_proj.weight" in payload["state_dict"]


def test_gta_mels_are_the_prior_heads_teacher_forced_mels(corpus, tmp_path):
    """gta_mels.py: one (n_mels, F) log-mel per Piper utterance (train and eval), F the real mel's frames; the
    same as the prior head on each utterance alone (batching pads causally); resumable; refuses another model."""
    from export.default_voice import load_acoustic
    from recipes.default_voice import gta_mels

    root, out_dir = corpus
    assert _run(root, out_dir, 2) == 0
    gta = tmp_path / "gta"
    argv = ["--acoustic", str(out_dir / "model.pt"), "--corpus", str(root), "--features", str(out_dir / "features"),
            "--out", str(gta), "--threads", "1", "--batch", "3"]
    assert gta_mels.main(argv) == 0
    rows = [json.loads(x) for x in (root / "manifest.jsonl").read_text().splitlines()]
    assert sorted(p.stem for p in gta.glob("*.npz")) == sorted(r["id"] for r in rows)  # the eval row is u0's id
    model, payload = load_acoustic(out_dir / "model.pt")
    mean, std = np.asarray(payload["mel_mean"], np.float32), np.asarray(payload["mel_std"], np.float32)
    floor = float(np.log(ta.MEL_PRESETS[ta.MEL].log_floor))
    for row in rows:
        with np.load(out_dir / "features" / f"{row['id']}.npz") as z:
            real = z["mel"]
        with np.load(gta / f"{row['id']}.npz") as z:
            got = z["mel"].astype(np.float32)
        assert got.shape == real.shape
        ids = ta.EnglishG2P(ta.lexicon_mod.load(out_dir / "lexicon.json")).encode(row["norm"])
        alone = gta_mels.predict(model, [(np.asarray(ids, np.int32), real)], mean, std, floor)[0]
        np.testing.assert_allclose(got, alone, rtol=2e-3, atol=2e-2)  # float16 storage
    before = {p: p.stat().st_mtime_ns for p in gta.glob("*.npz")}
    assert gta_mels.main(argv) == 0  # nothing left to do
    assert {p: p.stat().st_mtime_ns for p in gta.glob("*.npz")} == before
    assert _run(root, out_dir, 3) == 0  # another model.pt
    with pytest.raises(SystemExit, match="another acoustic model"):
        gta_mels.main(argv)


def test_resume_from_a_state_with_the_old_aux_head(corpus):
    """States written before the prior head kept its weights apart ("aux"): they resume into prior_proj."""
    root, out = corpus
    assert _run(root, out, 2) == 0
    state = torch.load(out / "state.pt", weights_only=False)
    aux = {k.removeprefix("prior_proj."): state["model"].pop(k) for k in list(state["model"])
           if k.startswith("prior_proj.")}
    torch.save({**state, "aux": aux}, out / "state.pt")
    assert _run(root, out, 3) == 0
    resumed = torch.load(out / "state.pt", weights_only=False)
    assert resumed["step"] == 3 and "aux" not in resumed and "prior_proj.weight" in resumed["model"]
    assert not torch.equal(resumed["model"]["prior_proj.weight"], aux["weight"])  # trained on, not re-initialised


def test_losses_fall_on_one_batch():
    model, batch = _tiny_model_and_batch(3, 5)
    opt = torch.optim.Adam(model.parameters(), 3e-3)
    first = None
    for _ in range(30):
        out = ta.losses(model, batch, generator=torch.Generator().manual_seed(0))
        loss = out["diff"] + out["stop"]
        first = float(loss) if first is None else first
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(loss) < 0.7 * first


def test_small_t_share_draws_the_locdit_t_from_the_shallow_range(monkeypatch):
    model, batch = _tiny_model_and_batch(4, 40)
    seen = []
    velocity = model.velocity
    monkeypatch.setattr(model, "velocity", lambda xt, t, mu, cond: seen.append(t) or velocity(xt, t, mu, cond))
    for share in (0.0, 0.5, 1.0):
        ta.losses(model, batch, small_t_share=share, generator=torch.Generator().manual_seed(1))
    base, half, full = (t.numpy() for t in seen)
    assert full.max() <= ta.SMALL_T_MAX and full.min() >= 0 and full.std() > 0.05
    assert (base < ta.SMALL_T_MAX).mean() < 0.3  # sigmoid(N(0, 1)): P(t < 0.3) ~ 0.2
    assert 0.4 < (half < ta.SMALL_T_MAX).mean() < 0.8


def test_batch_layout():
    items = [(np.array([1, 5, 2], np.int32), np.zeros((2, ta.PATCH, 3), np.float32)),
             (np.array([1, 2], np.int32), np.ones((4, ta.PATCH, 3), np.float32))]
    b = ta.make_batch(items, audio_start=9)
    assert b["tokens"].tolist() == [[1, 5, 2, 9, 0, 0, 0], [1, 2, 9, 0, 0, 0, 0]]
    assert b["text_mask"].tolist() == [[1, 1, 1, 1, 0, 0, 0], [1, 1, 1, 0, 0, 0, 0]]
    assert b["audio_mask"].tolist() == [[0, 0, 0, 0, 1, 1, 0], [0, 0, 0, 1, 1, 1, 1]]
    assert b["stop"].tolist() == [[0, 0, 0, 0, 0, 1, 0], [0, 0, 0, 0, 0, 0, 1]]


def test_pack_and_init_from_committed_checkpoint(corpus, tmp_path):
    from recipes.default_voice import checkpoints
    from voxlite.convert.vocos import save_official
    from voxlite.models.vocos import Vocos, VocosConfig
    import dataclasses

    root, out = corpus
    assert _run(root, out, 2) == 0
    voc = tmp_path / "generator"
    save_official(Vocos(dataclasses.replace(VocosConfig.mel_24khz(), dim=16, intermediate_dim=24, num_layers=1)), voc)
    dest = tmp_path / "packed"
    checkpoints.pack(out, voc, dest)
    packed = torch.load(dest / "acoustic.pt", weights_only=False)
    assert all(v.dtype == torch.float16 for v in packed["state_dict"].values() if v.is_floating_point())
    packed["config"]["patch_size"] = 3  # an older patch size: --init keeps the checkpoint's own sizes
    packed["config"].pop("prior_head")  # a checkpoint from before the prior head: --init adds one
    packed["state_dict"] = {k: v for k, v in packed["state_dict"].items() if not k.startswith("prior_proj.")}
    torch.save(packed, dest / "acoustic.pt")
    assert (dest / "lexicon.json").is_file() and (dest / "vocoder" / "config.yaml").is_file()
    from export.codec import vocos_parts

    assert vocos_parts(str(dest / "vocoder"), None, 0).decoder is not None  # the float16 vocoder loads for export
    fresh = tmp_path / "fresh"
    assert ta.main(["--corpus", str(root), "--out", str(fresh), "--size", "tiny", "--max-steps", "3",
                    "--max-tokens", "400", "--init", str(dest / "acoustic.pt"), "--ckpt-minutes", "100"]) == 0
    state = torch.load(fresh / "state.pt", weights_only=False)
    assert state["step"] == 3  # continued from the packed step 2
    fresh_model = torch.load(fresh / "model.pt", weights_only=False)
    assert fresh_model["config"]["patch_size"] == 3 and fresh_model["config"]["prior_head"] is True


def test_sigterm_checkpoints_and_stops(corpus):
    """A SIGTERM mid-run (a session ending) stops at the step boundary with a checkpoint: no steps are lost."""
    import os
    import signal
    import threading

    import time

    root, out = corpus
    original = signal.getsignal(signal.SIGTERM)
    cancel = threading.Event()

    def term_once_training():
        # after the first logged step (the handler is installed by then, however slow the set-up on a busy machine)
        log = out / "train.jsonl"
        deadline = time.time() + 120
        while not cancel.is_set() and time.time() < deadline:
            if log.exists() and log.stat().st_size > 0:
                os.kill(os.getpid(), signal.SIGTERM)
                return
            time.sleep(0.05)

    killer = threading.Thread(target=term_once_training, daemon=True)
    killer.start()
    try:
        assert ta.main(["--corpus", str(root), "--out", str(out), "--size", "tiny", "--max-steps", "100000",
                        "--max-tokens", "400", "--log-every", "1", "--valid-every", "100000",
                        "--ckpt-minutes", "100"]) == 0
    finally:
        cancel.set()
        killer.join()
    state = torch.load(out / "state.pt", weights_only=False)
    assert 0 < state["step"] < 100000
    assert signal.getsignal(signal.SIGTERM) is original  # handlers put back


def test_pack_writes_only_what_is_named_and_checks_first(tmp_path):
    from recipes.default_voice import checkpoints
    from voxlite.convert.vocos import save_official
    from voxlite.models.vocos import Vocos, VocosConfig
    import dataclasses

    voc = tmp_path / "generator"
    save_official(Vocos(dataclasses.replace(VocosConfig.mel_24khz(), dim=16, intermediate_dim=24, num_layers=1)), voc)
    dest = tmp_path / "packed"
    with pytest.raises(SystemExit, match="nothing to pack"):
        checkpoints.main(["pack", "--dest", str(dest)])
    # a model.pt file where its directory belongs: refused before the vocoder named beside it is written
    (tmp_path / "model.pt").write_bytes(b"")
    with pytest.raises(SystemExit, match="output directory"):
        checkpoints.main(["pack", "--acoustic", str(tmp_path / "model.pt"), "--vocoder", str(voc), "--dest", str(dest)])
    assert not dest.exists()
    assert checkpoints.main(["pack", "--vocoder", str(voc), "--dest", str(dest)]) == 0
    assert sorted(p.name for p in dest.iterdir()) == ["vocoder"]  # no acoustic model, no lexicon
    with pytest.raises(SystemExit, match="generator directory"):
        checkpoints.main(["pack", "--vocoder", str(tmp_path), "--dest", str(dest)])


def test_energy_score_prefers_the_true_distribution_to_its_median():
    """A bimodal target (each patch +1 or -1 everywhere): draws from the same two modes score lower than the median
    (0) and than draws of one mode only; equal draws on the target score 0."""
    from recipes.default_voice.energy_score import energy_score

    g = torch.Generator().manual_seed(0)
    sign = lambda: torch.where(torch.rand(4000, 1, 1, generator=g) < 0.5, -1.0, 1.0).expand(4000, 2, 3)  # noqa: E731
    target = sign()
    true = torch.stack((sign(), sign()))
    median = torch.zeros(2, 4000, 2, 3)
    one_mode = torch.ones(2, 4000, 2, 3)
    scores = [float(energy_score(s, target)) for s in (true, median, one_mode)]
    assert scores[0] < scores[1] - 0.2 and scores[0] < scores[2] - 0.2
    assert float(energy_score(torch.stack((target, target)), target)) == pytest.approx(0, abs=1e-3)
    with pytest.raises(ValueError):
        energy_score(torch.zeros(3, 4, 2, 3), target[:4])


def test_energy_head_trains_the_locdit_as_a_one_step_sampler_and_reaches_the_lm():
    model, batch = _tiny_model_and_batch(3, 5)
    out = ta.losses(model, batch, head="energy", generator=torch.Generator().manual_seed(0))
    assert set(out) >= {"energy", "sample_l1", "stop", "prior"} and "diff" not in out
    out["energy"].backward()
    assert float(model.base_lm.embed_tokens.weight.grad.abs().sum()) > 0  # through mu, into the LM
    assert float(model.loc_dit.in_proj.weight.grad.abs().sum()) > 0
    with pytest.raises(ValueError, match="unknown head"):
        ta.losses(model, batch, head="nope")
    opt = torch.optim.Adam(model.parameters(), 3e-3)
    first = None
    for _ in range(30):
        out = ta.losses(model, batch, head="energy", generator=torch.Generator().manual_seed(0))
        loss = out["energy"] + out["stop"] + out["prior"]
        first = float(loss.detach()) if first is None else first
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(loss) < 0.7 * first
    # the draw the loss scores is the bundle's shallow solve (flow_start t0, 1 Euler step, CFG 1) of the same noise
    model.eval()
    mu = torch.randn(2, model.config.dit.hidden_dim)
    cond, z = torch.randn(2, ta.PATCH, model.config.feat_dim), torch.randn(2, ta.PATCH, model.config.feat_dim)
    t0 = ta.ENERGY_T0
    x0 = (1 - t0) * model.prior(mu) + t0 * z
    with torch.no_grad():
        draw = x0 - t0 * model.velocity(x0, torch.full((2,), t0), mu, cond)
    solved = model.sample_patch(mu, cond, z, n_steps=1, cfg_value=1.0, flow_start=t0)
    assert torch.allclose(solved, draw, atol=1e-5)


def test_energy_head_run_saves_its_sampling_and_the_exporter_reads_it(corpus):
    from export.default_voice import GENERATION, ExportError, generation_defaults

    root, out = corpus
    assert ta.main(["--corpus", str(root), "--out", str(out), "--size", "tiny", "--max-steps", "2", "--head",
                    "energy", "--max-tokens", "400", "--log-every", "1", "--valid-every", "2", "--warmup", "2",
                    "--ckpt-minutes", "100"]) == 0
    payload = torch.load(out / "model.pt", weights_only=False)
    assert payload["generation"] == {"flow_start": ta.ENERGY_T0, "steps": 1, "cfg": 1.0}
    assert generation_defaults(payload) == {**GENERATION, "flow_start": ta.ENERGY_T0, "steps": 1, "cfg": 1.0}
    assert generation_defaults({}) == GENERATION
    with pytest.raises(ExportError, match="max_len"):
        generation_defaults({"generation": {"max_len": 3}})
    valid = [json.loads(line) for line in (out / "valid.jsonl").read_text().splitlines()]
    assert valid and np.isfinite(valid[-1]["energy"]) and np.isfinite(valid[-1]["text_gap"])
    # the state remembers its head: resuming it with the other objective is refused, not silently switched
    assert torch.load(out / "state.pt", weights_only=False)["head"] == "energy"
    with pytest.raises(SystemExit, match="would switch the objective"):
        _run(root, out, 4)
