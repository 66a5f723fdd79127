"""User control of the default voice: speed (mel frames time-stretched before the vocoder: tempo changes, pitch
stays), pauses between sentences, volume, a user lexicon and inline phonemes; the defaults leave the audio exactly
as it was."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

import voxlite
from voxlite.audio import FrameStretcher, check_speed, stretch_frames, volume_gain
from voxlite.errors import InvalidInput
from voxlite.text.english_g2p import EnglishG2P
from voxlite.text.phonemes import parse_lexicon, to_inventory
from voxlite.voices import EMBEDDED

needs_voice = pytest.mark.skipif(not (EMBEDDED / "manifest.json").is_file(), reason="no embedded default voice")
TEXT = "Hello from voxlite. Mozart met Kasparov."
HOP = 256


@pytest.fixture(scope="module")
def voice():
    return voxlite.load(backend="cpu", threads=1)


def _f0(x: np.ndarray, rate: int = 24000) -> float:
    """Median pitch (70-400 Hz) of the loud 40 ms frames, by YIN: the first lag whose cumulative-mean-normalised
    difference falls below 0.3, taken to its local minimum. (Autocorrelation's argmax picked a harmonic, 200-400
    Hz, in about half the frames of a brighter vocoder, which moved the median by 16 % with the pitch unchanged.)"""
    n = int(0.04 * rate)
    frames = [x[i:i + n] for i in range(0, len(x) - n, n // 2)]
    level = max(np.sqrt(np.mean(f ** 2)) for f in frames)
    lo, hi = rate // 400, rate // 70
    width = n - hi
    f0s = []
    for f in frames:
        if np.sqrt(np.mean(f ** 2)) < 0.3 * level:
            continue
        f = f.astype(np.float64)
        d = np.array([np.sum((f[:width] - f[lag:lag + width]) ** 2) for lag in range(1, hi + 1)])  # lags 1..hi
        cmnd = d * np.arange(1, hi + 1) / np.maximum(np.cumsum(d), 1e-12)
        below = np.nonzero(cmnd[lo - 1:] < 0.3)[0]
        if len(below):  # voiced
            i = lo - 1 + below[0]
            while i + 1 < hi and cmnd[i + 1] < cmnd[i]:
                i += 1
            f0s.append(rate / (i + 1))
    return float(np.median(f0s))


# -- speed ----------------------------------------------------------------------------------------------------------
def test_frame_stretch_streams_exactly_as_offline():
    rng = np.random.default_rng(0)
    for speed in (0.5, 0.8, 1.0, 1.37, 2.0):
        for total in (1, 2, 7, 40, 101):
            x = rng.standard_normal((total, 4)).astype(np.float32)
            whole = stretch_frames(x, speed)
            assert whole.shape == (max(1, int(np.floor(total / speed + 0.5))), 4)
            s, out, i = FrameStretcher(speed), [], 0
            while i < total:
                k = int(rng.integers(1, 6))
                out.append(s.push(x[i:i + k]))
                i += k
            out.append(s.flush())
            np.testing.assert_array_equal(np.concatenate([o for o in out if o.size]), whole)
    x = rng.standard_normal((9, 3)).astype(np.float32)
    np.testing.assert_array_equal(stretch_frames(x, 1.0), x)
    # interpolation: a ramp stays a ramp
    ramp = np.arange(20, dtype=np.float32)[:, None]
    np.testing.assert_allclose(stretch_frames(ramp, 2.0)[:, 0], np.arange(10) * 2 + 0.5)


@pytest.mark.parametrize("bad", [0.49, 2.01, 0, -1, "fast", True, None, float("nan")])
def test_speed_out_of_range_refused(bad):
    with pytest.raises(InvalidInput, match="speed"):
        check_speed(bad)


@needs_voice
def test_defaults_are_todays_audio(voice):
    """synthesize(text) with the options at their defaults: the old path (each chunk's patches decoded whole)."""
    ref = voice.synthesize(TEXT, seed=0).samples
    for options in (dict(speed=1.0, pause=None, volume=1.0, ssml=False), dict(pause=0, volume="0dB", ssml=None)):
        np.testing.assert_array_equal(voice.synthesize(TEXT, seed=0, **options).samples, ref)
    tok, hp = voice.tokenizer, voice.hparams
    ids, n = tok.encode_pair(TEXT)  # one chunk
    latents = voice.generate_latents(ids, max_patches=min(int(n * hp.max_len_ratio + hp.max_len_offset),
                                                          hp.max_len_cap))
    np.testing.assert_array_equal(voice.codec.decode_samples(latents), ref)


@needs_voice
def test_speed_scales_duration_and_keeps_pitch(voice):
    text = "The quiet river runs along the old stone wall."
    ref = voice.synthesize(text).samples
    frames = len(ref) // HOP + 1  # the vocoder (centred frames) gives frames - 1 hops
    f0 = _f0(ref)
    assert 70 < f0 < 400
    for speed in (0.5, 0.75, 1.5, 2.0):
        x = voice.synthesize(text, speed=speed).samples
        assert len(x) == (int(np.floor(frames / speed + 0.5)) - 1) * HOP  # duration / speed, to the frame
        assert np.isfinite(x).all() and np.sqrt(np.mean(x ** 2)) > 1e-3
        assert abs(_f0(x) / f0 - 1) < 0.1, (speed, _f0(x), f0)
    # the estimator does see a pitch change: the same audio played 1.5x faster (resampled) is 1.5x higher
    from voxlite.audio import resample

    assert abs(_f0(resample(ref, 36000, 24000)) / f0 - 1.5) < 0.15


@needs_voice
def test_stream_speed_matches_synthesize(voice):
    text = "Speed works in streams too."
    whole = voice.synthesize(text, speed=1.6).samples
    streamed = np.concatenate(list(voice.stream(text, speed=1.6)))
    assert len(streamed) == len(whole)
    assert np.corrcoef(streamed, whole)[0, 1] > 0.9  # the windowed vocoder stream, as without speed


@needs_voice
def test_speed_refused_for_latent_codecs(voice, monkeypatch):
    monkeypatch.setattr(voice.codec, "kind", "latent")
    with pytest.raises(InvalidInput, match=r"speed 1.5: .*'latent' codec latents, which cannot be time-stretched"):
        voice.synthesize("Hi.", speed=1.5)
    with pytest.raises(InvalidInput, match="prosody rate"):
        voice.synthesize('<speak><prosody rate="fast">Hi.</prosody></speak>')


@needs_voice
@pytest.mark.parametrize("bad", [3.0, 0.1, "fast"])
def test_model_refuses_bad_speed(voice, bad):
    with pytest.raises(InvalidInput, match="speed"):
        voice.synthesize("Hi.", speed=bad)
    with pytest.raises(InvalidInput, match="speed"):
        next(voice.stream("Hi.", speed=bad))


# -- pause and volume -----------------------------------------------------------------------------------------------
@needs_voice
def test_pause_goes_between_sentences(voice):
    a, b = voice.synthesize("Good morning.", seed=0).samples, voice.synthesize("See you.", seed=1).samples
    x = voice.synthesize("Good morning. See you.", pause=0.4).samples
    np.testing.assert_array_equal(x, np.concatenate([a, np.zeros(9600, np.float32), b]))
    streamed = list(voice.stream("Good morning. See you.", pause=0.4))
    assert sum(len(c) for c in streamed) == len(x)
    assert any(len(c) == 9600 and not c.any() for c in streamed)
    # no pause: today's chunking (both sentences in one chunk), no silence added
    assert len(voice.synthesize("Good morning. See you.").samples) != len(x)


@needs_voice
@pytest.mark.parametrize("bad", [-0.1, 10.5, "long", True])
def test_bad_pause_refused(voice, bad):
    with pytest.raises(InvalidInput, match="pause"):
        voice.synthesize("Hi.", pause=bad)


def test_volume_gains():
    assert volume_gain(None) == volume_gain(1) == volume_gain("0dB") == 1.0
    assert volume_gain("-6dB") == pytest.approx(0.501, abs=1e-3)
    assert volume_gain("+12 dB") == pytest.approx(3.98, abs=1e-2)
    assert volume_gain("0.25") == 0.25 and volume_gain(0) == 0.0 and volume_gain(4) == 4.0
    for bad in (-0.5, 4.5, "+13dB", "loud", True, [1]):
        with pytest.raises(InvalidInput, match="volume"):
            volume_gain(bad)


@needs_voice
def test_volume_scales_and_clips(voice):
    ref = voice.synthesize("Hello there.").samples
    np.testing.assert_array_equal(voice.synthesize("Hello there.", volume=0.5).samples,
                                  (ref * np.float32(0.5)).astype(np.float32))
    loud = voice.synthesize("Hello there.", volume=4).samples
    assert np.abs(loud).max() <= 1.0 and np.isclose(np.abs(loud).max(), 1.0)
    assert not voice.synthesize("Hello there.", volume=0).samples.any()
    streamed = np.concatenate(list(voice.stream("Hello there.", volume="-6dB")))
    assert np.abs(streamed).max() <= 0.51 * np.abs(np.concatenate(list(voice.stream("Hello there.")))).max()
    with pytest.raises(InvalidInput, match="volume"):
        voice.synthesize("Hi.", volume=9)


# -- lexicon and inline phonemes ------------------------------------------------------------------------------------
def _g2p():
    return EnglishG2P({"hello": "həlˈO", "world": "wˈɜɹld", "tomato": "təmˈAɾO", "the": "ði", "a": "A"})


def test_phonemes_in_the_inventory_or_ipa():
    assert to_inventory("təmˈAtO") == "təmˈAtO"
    assert to_inventory("təˈmeɪtoʊ") == "təmˈAtO"  # IPA: diphthongs mapped, stress moved to the vowel
    assert to_inventory("ˈdʒɑːrɡən") == "ʤˈɑɹɡən"
    assert to_inventory(" h ə l ˈO ") == "h ə l ˈO"
    with pytest.raises(InvalidInput, match=r"'q' \(U\+0071\) is not a phoneme symbol.* ʧ ˈ ˌ"):
        to_inventory("qɑ")
    with pytest.raises(InvalidInput, match="empty"):
        to_inventory(" ˈ ")


def test_lexicon_file_format(tmp_path):
    entries = parse_lexicon("# my words\nvoxlite\tvˈɑkslIt\n\nKasparov  k ˈæ s p ə r ɔ f  # IPA r\nO'Neill Onˈil\n")
    assert entries == {"voxlite": "vˈɑkslIt", "Kasparov": "kˈæspəɹɔf", "O'Neill": "Onˈil"}
    with pytest.raises(InvalidInput, match=r"lexicon line 2: phonemes: 'q'"):
        parse_lexicon("ok\tOk\nbad\tqq\n")
    with pytest.raises(InvalidInput, match=r"line 1: expected 'word<TAB>phonemes'"):
        parse_lexicon("lonely\n")
    with pytest.raises(InvalidInput, match=r"line 1: 'R2D2' is not a word"):
        parse_lexicon("R2D2 ˈɑɹ\n")
    path = tmp_path / "lex.txt"
    path.write_text("bad\tx1\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match=rf"lexicon {path} line 1: .*'1'"):
        _g2p().add_lexicon(path)
    with pytest.raises(InvalidInput, match="cannot read lexicon"):
        _g2p().add_lexicon(tmp_path / "missing.txt")


def test_user_entries_win(tmp_path):
    g = _g2p()
    assert g.phonemize("Tomato, the world.") == "təmˈAɾO, ðə wˈɜɹld."
    path = tmp_path / "lex.txt"
    path.write_text("tomato\ttəmˈɑtO\nthe ðʌ\nWorld wˈɔɹld\n", encoding="utf-8")
    assert g.add_lexicon(path) == 3
    assert g.phonemize("Tomato, the world.") == "təmˈɑtO, ðʌ wˈɔɹld."  # over the lexicon and the weak form
    assert g.phonemize("TOMATO tomato") == "təmˈɑtO təmˈɑtO"  # cached readings were dropped
    assert g.add_lexicon({"hello": "hɛlˈO"}) == 1 and g.phonemize("hello") == "hɛlˈO"


def test_inline_phonemes():
    g = _g2p()
    assert g.phonemize("hello [[təmˈAtO]], world.") == "həlˈO təmˈAtO, wˈɜɹld."
    assert g.phonemize("the [[ˈæpəl]]") == "ði ˈæpəl"  # "the" before a vowel
    assert g.phonemize("[[həlˈO wˈɜɹld]]") == "həlˈO wˈɜɹld"  # spaces separate words
    assert g.phonemize("[[təˈmeɪtoʊ]]") == "təmˈAtO"
    ids = g.encode("[[həlˈO]]")
    assert ids[1:-1] == [g.ids[c] for c in "həlˈO"]
    with pytest.raises(InvalidInput, match=r"inline phonemes \[\[hɛllo!\]\]: 'l'|'!'"):
        g.phonemize("[[hɛllo!]]")


@needs_voice
def test_lexicon_and_inline_reach_the_voice():
    voice = voxlite.load(backend="cpu", threads=1)  # its own: the lexicon stays with this model
    before = voice.synthesize("Kasparov.").samples
    assert voice.add_lexicon({"Kasparov": "kæspˈɑɹɔf"}) == 1
    after = voice.synthesize("Kasparov.").samples
    assert after.shape != before.shape or not np.array_equal(after, before)
    np.testing.assert_array_equal(voice.synthesize("[[kæspˈɑɹɔf]].").samples, after)
    with pytest.raises(InvalidInput, match="not a phoneme symbol"):
        voice.synthesize("Say [[q]].")


# -- the command line -----------------------------------------------------------------------------------------------
@needs_voice
def test_cli_options(tmp_path, capsys, monkeypatch):
    from voxlite.cli.main import main

    monkeypatch.delenv("VOXLITE_DEFAULT_BUNDLE", raising=False)
    lex = tmp_path / "lex.txt"
    lex.write_text("# names\nKasparov\tkæspˈɑɹɔf\n", encoding="utf-8")
    out = tmp_path / "out.wav"
    text = "Mozart met Kasparov. It was late."
    assert main(["say", text, "-o", str(out), "--backend", "cpu", "--speed", "1.25", "--pause", "0.2",
                 "--volume=-6dB", "--lexicon", str(lex), "-q"]) == 0
    model = voxlite.load(backend="cpu")
    model.add_lexicon(lex)
    expected = model.synthesize(text, speed=1.25, pause=0.2, volume="-6dB")
    got, rate = sf.read(out, dtype="float32")
    assert rate == 24000 and len(got) == len(expected.samples)
    np.testing.assert_allclose(got, expected.samples, atol=2 / 32768)
    ssml = '<speak>Hi <break time="250ms"/> there.</speak>'
    assert main(["say", ssml, "-o", str(out), "--backend", "cpu", "-q"]) == 0
    assert sf.info(out).frames == len(model.synthesize(ssml).samples)
    for argv, message in ((["--speed", "3"], "speed must be from 0.5 to 2.0"),
                          (["--pause", "-1"], "pause must be seconds"),
                          (["--volume", "loud"], "volume must be a linear gain")):
        with pytest.raises(SystemExit) as e:
            main(["say", "hi", "-o", str(out), *argv])
        assert e.value.code == 2 and message in capsys.readouterr().err
    bad = tmp_path / "bad.txt"
    bad.write_text("ok\tOk\nbad\tqq\n", encoding="utf-8")
    assert main(["say", "hi", "-o", str(out), "--lexicon", str(bad)]) != 0
    assert "line 2" in capsys.readouterr().err
