"""recipes/semantic_units/fit_kmeans.py: k-means centroids for a semantic-units encoder fitted on a few minutes of
the default voice's speech, through the encoder bundle's own graph.

The default voice's corpus (recipes/default_voice: fortune sentences voiced by Piper joe) is not committed, so the
test voices the committed fortune sentences (``eval_sentences.txt``) with the embedded default voice, joe's student,
until it has ~2.5 minutes, and fits a tiny random HuBERT at the published hop (320 samples: 50 frames a second).
Checked: every centroid is used, the written bundle's ``SemanticUnits`` assigns the training features (and each
file) as the fitted model's own ``predict`` does, the same seed gives the same centroids (through the command line),
the frame sample is algorithm R, and a checkpoint (a wav2vec 2.0 folder) is exported first."""
import json
import time
from pathlib import Path

import numpy as np
import pytest

from voxlite.bundle import open_bundle
from voxlite.pipelines.semantic_units import SemanticUnits, assign_units

pytest.importorskip("sklearn")
torch = pytest.importorskip("torch")
pytest.importorskip("onnx")

from recipes.semantic_units.fit_kmeans import (FrameReservoir, RecipeError, audio_files, fit_units,  # noqa: E402
                                               main, write_units_bundle)

ROOT = Path(__file__).resolve().parents[2]
SENTENCES = ROOT / "recipes" / "default_voice" / "eval_sentences.txt"
SECONDS = 150.0
N_CLUSTERS, LAYER, MAX_FRAMES = 24, 2, 5000


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """~2.5 minutes of the embedded default voice: one WAV per sentence (24 kHz), in two folders."""
    import voxlite
    from voxlite.audio import write_audio
    from voxlite.voices import EMBEDDED

    if not (EMBEDDED / "manifest.json").is_file():
        pytest.skip("no embedded default voice")
    root = tmp_path_factory.mktemp("corpus")
    voice = voxlite.load(backend="cpu")
    lines = [s.strip() for s in SENTENCES.read_text().splitlines() if s.strip() and not s.startswith("#")]
    total, start = 0.0, time.monotonic()
    for i, text in enumerate(lines):
        audio = voice.synthesize(text)
        write_audio(root / f"part{i % 2}" / f"{i:03d}.wav", audio.samples, audio.sample_rate)
        total += len(audio.samples) / audio.sample_rate
        if total >= SECONDS:
            break
    print(f"corpus: {i + 1} sentences, {total:.0f} s of speech in {time.monotonic() - start:.1f} s")
    assert total >= SECONDS
    return root


@pytest.fixture(scope="module")
def encoder(tmp_path_factory):
    """A tiny random HuBERT at the published strides (hop 320, receptive field 400), to layer 2, as a bundle."""
    from export.hubert import export_semantic_units, random_centroids
    from voxlite.models.hubert import Hubert, HubertConfig

    torch.manual_seed(0)
    cfg = HubertConfig(dim=32, n_layers=3, n_heads=4, ffn=64, conv_dim=(32,) * 7, pos_conv_kernel=16,
                       pos_conv_groups=4)
    assert (cfg.hop_length, cfg.receptive_field) == (320, 400)
    model = Hubert(cfg).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.1 * torch.randn_like(p))
    return export_semantic_units(model, random_centroids(model, LAYER, 1, seed=0),
                                 tmp_path_factory.mktemp("encoder") / "bundle", layer=LAYER, log=None)


@pytest.fixture(scope="module")
def fitted(corpus, encoder, tmp_path_factory):
    out = tmp_path_factory.mktemp("fit") / "units"
    start = time.monotonic()
    result = fit_units(encoder, [corpus], out, n_clusters=N_CLUSTERS, seed=0, max_frames=MAX_FRAMES, backend="cpu",
                       log=print)
    print(f"fit_units: {time.monotonic() - start:.1f} s")
    return result


def test_every_centroid_is_used(fitted):
    ex, report = fitted.extracted, fitted.report
    assert len(ex.features) == MAX_FRAMES < ex.frames_seen  # the sample, not everything
    assert ex.frames_seen >= 0.95 * SECONDS * 50 and ex.skipped == []
    assert report["used"] == N_CLUSTERS and report["empty"] == 0 and report["min_count"] > 0
    assert report["frames"] == MAX_FRAMES and sum(report["counts"]) == MAX_FRAMES
    assert 0 < report["explained_variance"] < 1 and report["usage_perplexity"] > N_CLUSTERS / 2


def test_bundle_units_equal_the_fitted_predict(fitted, corpus):
    km = fitted.kmeans
    bundle = open_bundle(fitted.out)
    units = SemanticUnits(bundle, backend="cpu")
    hp = units.hparams
    assert (hp.n_clusters, hp.layer, hp.dim, hp.model, hp.hop_length) == (N_CLUSTERS, LAYER, 32, "hubert", 320)
    assert bundle.name == f"hubert-l{LAYER}-km{N_CLUSTERS}"
    np.testing.assert_array_equal(units.centroids, km.cluster_centers_)
    # the training features, assigned by the runtime's search and by the fitted model
    np.testing.assert_array_equal(assign_units(fitted.extracted.features, units.centroids),
                                  km.predict(fitted.extracted.features))
    # every file, end to end through the written bundle
    for path in audio_files([corpus]):
        np.testing.assert_array_equal(units.units(path), km.predict(units.features(path)))


def test_same_seed_same_centroids(fitted, corpus, encoder, tmp_path):
    """The command line with the same seed: the same sample and the same centroids, bit for bit; another seed
    differs."""
    args = [str(corpus), "--encoder", str(encoder), "--n-clusters", str(N_CLUSTERS), "--max-frames", str(MAX_FRAMES),
            "--backend", "cpu"]
    assert main(args + ["--seed", "0", "--out", str(tmp_path / "again"), "--report", str(tmp_path / "r.json")]) == 0
    again = SemanticUnits(open_bundle(tmp_path / "again")).centroids
    np.testing.assert_array_equal(again, fitted.kmeans.cluster_centers_)
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["inertia"] == fitted.report["inertia"] and report["counts"] == fitted.report["counts"]
    provenance = open_bundle(tmp_path / "again").manifest.provenance
    assert provenance["family"] == "hubert" and "seed 0" in provenance["centroids"]
    assert main(args + ["--seed", "1", "--out", str(tmp_path / "other")]) == 0
    assert not np.array_equal(SemanticUnits(open_bundle(tmp_path / "other")).centroids, again)


def test_checkpoint_is_exported_first(corpus, tmp_path):
    """A wav2vec 2.0 folder (XLSR-53's layout, do_normalize true) and a list of files: the bundle says wav2vec2 and
    normalises, as ``python -m export hubert`` would have made it."""
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(1)
    cfg = transformers.Wav2Vec2Config(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
                                      conv_dim=(16,) * 7, num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=4,
                                      feat_extract_norm="layer", do_stable_layer_norm=True, conv_bias=True)
    transformers.Wav2Vec2Model(cfg).save_pretrained(tmp_path / "w2v")
    (tmp_path / "w2v" / "preprocessor_config.json").write_text(json.dumps({"do_normalize": True}))
    files = audio_files([corpus])[:6]
    (tmp_path / "list.txt").write_text("# six files\n" + "\n".join(str(p) for p in files) + "\n")
    out = tmp_path / "units"
    assert main([str(tmp_path / "list.txt"), "--checkpoint", str(tmp_path / "w2v"), "--layer", "1",
                 "--n-clusters", "5", "--n-init", "2", "--out", str(out), "--backend", "cpu"]) == 0
    hp = SemanticUnits(open_bundle(out)).hparams
    assert (hp.model, hp.normalize, hp.layer, hp.n_clusters, hp.dim) == ("wav2vec2", True, 1, 5, 32)
    with pytest.raises(SystemExit):  # a checkpoint needs its layer
        main([str(tmp_path / "list.txt"), "--checkpoint", str(tmp_path / "w2v"), "--out", str(tmp_path / "x")])


# -- pieces --------------------------------------------------------------------------------------------------------
def test_reservoir_is_algorithm_r():
    """Blocks of any size give what the one-row-at-a-time algorithm gives with the same draws."""
    rows = np.arange(300, dtype=np.float32)[:, None] * np.ones((1, 3), np.float32)
    for capacity, blocks in ((50, (7, 1, 60, 0, 100, 132)), (400, (300,)), (1, (5, 5))):
        r = FrameReservoir(capacity, seed=3)
        at = 0
        for n in blocks:
            r.add(rows[at:at + n])
            at += n
        rng = np.random.default_rng(3)
        want = []
        for i in range(at):
            if i < capacity:
                want.append(i)
            else:
                slot = int(np.floor(rng.random() * (i + 1)))
                if slot < capacity:
                    want[slot] = i
        assert r.seen == at
        np.testing.assert_array_equal(r.rows[:, 0], np.asarray(want, np.float32))
    # uniform: each of 1,000 rows kept with probability 100 / 1,000
    kept = np.zeros(1000)
    for seed in range(300):
        r = FrameReservoir(100, seed)
        for at in range(0, 1000, 64):
            r.add(np.arange(at, min(at + 64, 1000), dtype=np.float32)[:, None])
        kept[r.rows[:, 0].astype(int)] += 1
    assert abs(kept[:500].mean() - kept[500:].mean()) < 3 and abs(kept.mean() - 30) < 1e-9


def test_audio_files(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    for name in ("a/2.wav", "a/b/1.flac", "a/notes.md", "c.wav"):
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "list.txt").write_text("# comment\nc.wav\n\na/2.wav\n")
    assert audio_files([tmp_path / "a", tmp_path / "list.txt"]) == \
        [tmp_path / "a/2.wav", tmp_path / "a/b/1.flac", tmp_path / "c.wav"]
    with pytest.raises(RecipeError, match="no such file"):
        audio_files([tmp_path / "missing"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(RecipeError, match="no audio files"):
        audio_files([tmp_path / "empty"])


def test_write_units_bundle_checks_the_centroids(encoder, tmp_path):
    with pytest.raises(RecipeError, match="centroids"):
        write_units_bundle(encoder, np.zeros((4, 31), np.float32), tmp_path / "bad")
    with pytest.raises(RecipeError, match="centroids"):
        write_units_bundle(encoder, np.full((4, 32), np.nan, np.float32), tmp_path / "bad")
