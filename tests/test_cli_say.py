"""``voxlite say`` as Piper / sherpa-onnx / kokoro-onnx users expect it: text from a file or stdin, audio to stdout
(streamed WAV or raw PCM), --rate, voices by name (``voxlite voices``), options refused by say's own parser,
umask permissions, clear errors for unwritable outputs, and text of any length streamed in sentence pieces.
Runs the embedded default voice with a few words per test (one test speaks ~12,000 characters)."""
from __future__ import annotations

import io
import json
import os
import shutil
import struct
import subprocess
import sys
import wave
import zipfile

import numpy as np
import pytest
import soundfile as sf

from voxlite.cli import say
from voxlite.cli.main import main
from voxlite.voices import EMBEDDED

pytestmark = pytest.mark.skipif(not (EMBEDDED / "manifest.json").is_file(), reason="no embedded default voice")

RATE = 24000  # the default voice's
FAST = ["--backend", "cpu", "--steps", "1", "--seed", "3"]


@pytest.fixture(autouse=True)
def _env(monkeypatch, tmp_path):
    monkeypatch.delenv("VOXLITE_DEFAULT_BUNDLE", raising=False)
    monkeypatch.delenv("VOXLITE_THREADS", raising=False)
    monkeypatch.setenv("VOXLITE_VOICES_DIR", str(tmp_path / "no-voices"))


class _Pipe(io.BytesIO):
    """A stdout that cannot seek, as a pipe."""

    def seekable(self):
        return False

    def seek(self, *a):
        raise io.UnsupportedOperation("not seekable")

    def tell(self):
        raise io.UnsupportedOperation("not seekable")


def _stdout(monkeypatch, buffer):
    out = io.TextIOWrapper(buffer)
    monkeypatch.setattr(sys, "stdout", out)
    return buffer


def _parse_wav(data: bytes):
    """(RIFF size, data size, rate, int16 samples): a WAV header read by hand."""
    assert data[:4] == b"RIFF" and data[8:12] == b"WAVE" and data[12:16] == b"fmt "
    fmt_len, tag, channels, rate, byte_rate, align, bits = struct.unpack("<IHHIIHH", data[16:36])
    assert (fmt_len, tag, channels, byte_rate, align, bits) == (16, 1, 1, rate * 2, 2, 16)
    assert data[36:40] == b"data"
    return (struct.unpack("<I", data[4:8])[0], struct.unpack("<I", data[40:44])[0], rate,
            np.frombuffer(data[44:], "<i2"))


def _usage_error(capsys, argv, message):
    with pytest.raises(SystemExit) as e:
        main(argv)
    err = capsys.readouterr().err
    assert e.value.code == 2, (argv, err)
    assert "usage: voxlite say" in err and message in err, (argv, err)


# -- the README's first command ---------------------------------------------------------------------------------------
def test_readme_command_unchanged(tmp_path, monkeypatch, capsys):
    import voxlite

    monkeypatch.chdir(tmp_path)
    assert main(["say", "Hello from voxlite.", "-o", "hello.wav"]) == 0
    assert capsys.readouterr().err.endswith("s -> hello.wav\n")
    expected = voxlite.load(task="text-to-speech").synthesize("Hello from voxlite.", seed=0)
    expected.save(tmp_path / "expected.wav")
    assert (tmp_path / "hello.wav").read_bytes() == (tmp_path / "expected.wav").read_bytes()
    assert sorted(os.listdir(tmp_path)) == ["expected.wav", "hello.wav"]  # no temp files left


# -- 1. text sources ----------------------------------------------------------------------------------------------------
def test_text_from_file_and_stdin(tmp_path, monkeypatch, capsys):
    text = "Good morning."
    assert main(["say", text, "-o", str(tmp_path / "arg.wav"), "-q", *FAST]) == 0
    (tmp_path / "in.txt").write_text(text + "\n", encoding="utf-8")
    assert main(["say", "-f", str(tmp_path / "in.txt"), "-o", str(tmp_path / "file.wav"), "-q", *FAST]) == 0
    monkeypatch.setattr(sys, "stdin", io.StringIO(text))
    assert main(["say", "-", "-o", str(tmp_path / "stdin.wav"), "-q", *FAST]) == 0
    ref = sf.read(tmp_path / "arg.wav")[0]
    assert len(ref) > RATE // 4
    for name in ("file.wav", "stdin.wav"):
        np.testing.assert_array_equal(sf.read(tmp_path / name)[0], ref)
    assert capsys.readouterr().out == ""


def test_exactly_one_text_source(tmp_path, capsys):
    out = str(tmp_path / "x.wav")
    (tmp_path / "in.txt").write_text("hi")
    (tmp_path / "latin1.txt").write_bytes("café".encode("latin-1"))
    _usage_error(capsys, ["say", "-o", out], "no text")
    _usage_error(capsys, ["say", "hi", "-f", str(tmp_path / "in.txt"), "-o", out], "one way")
    _usage_error(capsys, ["say", "-", "-f", str(tmp_path / "in.txt"), "-o", out], "one way")
    _usage_error(capsys, ["say", "-f", str(tmp_path / "missing.txt"), "-o", out], "cannot read")
    _usage_error(capsys, ["say", "-f", str(tmp_path / "latin1.txt"), "-o", out], "not UTF-8")
    assert sorted(os.listdir(tmp_path)) == ["in.txt", "latin1.txt"]


# -- 2. audio to stdout -------------------------------------------------------------------------------------------------
def test_wav_to_a_pipe_has_unknown_sizes_and_the_file_samples(tmp_path, monkeypatch, capsys):
    assert main(["say", "Hello there.", "-o", str(tmp_path / "ref.wav"), "-q", *FAST]) == 0
    ref, _ = sf.read(tmp_path / "ref.wav", dtype="int16")
    pipe = _stdout(monkeypatch, _Pipe())
    assert main(["say", "Hello there.", "-o", "-", *FAST]) == 0
    data = pipe.getvalue()
    assert "s -> <stdout>" in capsys.readouterr().err  # notes on stderr, never mixed into the audio
    riff, size, rate, samples = _parse_wav(data)
    assert (riff, size, rate) == (0xFFFFFFFF, 0xFFFFFFFF, RATE)
    np.testing.assert_array_equal(samples, ref)  # the very samples the .wav file holds
    with wave.open(io.BytesIO(data)) as w:  # Python's wave reads to the end
        assert (w.getframerate(), w.getsampwidth(), w.getnchannels()) == (RATE, 2, 1)
        assert np.array_equal(np.frombuffer(w.readframes(1 << 30), "<i2"), ref)
    got, r = sf.read(io.BytesIO(data), dtype="int16")  # and libsndfile
    assert r == RATE and np.array_equal(got, ref)


def test_wav_to_a_redirected_file_gets_its_sizes_fixed(tmp_path, monkeypatch, capsys):
    with open(tmp_path / "out.wav", "wb") as f:
        monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(f, write_through=True))
        assert main(["say", "Hello.", "-o", "-", "-q", *FAST]) == 0
        sys.stdout.flush()
    data = (tmp_path / "out.wav").read_bytes()
    riff, size, rate, samples = _parse_wav(data)
    assert size == len(data) - 44 == 2 * len(samples) and riff == size + 36 and len(samples) > 0


def test_raw_pcm_to_stdout(tmp_path, monkeypatch, capsys):
    pipe = _stdout(monkeypatch, _Pipe())
    assert main(["say", "Hello there.", "-o", "-", "--raw", "-q", *FAST]) == 0
    raw = pipe.getvalue()
    wav = _stdout(monkeypatch, _Pipe())
    assert main(["say", "Hello there.", "-o", "-", "-q", *FAST]) == 0
    assert raw[:4] != b"RIFF" and len(raw) % 2 == 0 and raw == wav.getvalue()[44:]
    assert capsys.readouterr().err == ""  # -q: nothing at all
    # to a file: the same bytes, any extension
    assert main(["say", "Hello there.", "-o", str(tmp_path / "out.pcm"), "--raw", "-q", *FAST]) == 0
    assert (tmp_path / "out.pcm").read_bytes() == raw


def test_real_pipe_stdin_to_stdout():
    """The installed entry point in a real pipe: text on stdin, WAV on stdout, notes on stderr."""
    r = subprocess.run([sys.executable, "-m", "voxlite.cli.main", "say", "-", "-o", "-", *FAST], input=b"Yes.",
                       capture_output=True, check=True)
    riff, size, rate, samples = _parse_wav(r.stdout)
    assert size == 0xFFFFFFFF and rate == RATE and len(samples) > RATE // 10
    assert b"s -> <stdout>" in r.stderr


# -- 3. rate and formats ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("stream", [False, True])
def test_rate_resamples(tmp_path, capsys, stream):
    base, rs = tmp_path / "base.wav", tmp_path / "16k.wav"
    extra = ["--stream"] if stream else []
    assert main(["say", "Hello there.", "-o", str(base), "-q", *FAST, *extra]) == 0
    assert main(["say", "Hello there.", "-o", str(rs), "--rate", "16000", "-q", *FAST, *extra]) == 0
    n24, n16 = sf.info(base).frames, sf.info(rs).frames
    assert sf.info(rs).samplerate == 16000 and abs(n16 - n24 * 2 / 3) <= 2
    from voxlite.audio import resample

    x, _ = sf.read(base, dtype="float32")
    y, _ = sf.read(rs, dtype="float32")
    expected = resample(x, RATE, 16000)
    m = min(len(y), len(expected))
    assert np.abs(y[:m] - expected[:m]).max() < 3e-3  # soxr, chunk by chunk: the whole-array result


def test_rate_with_raw_stdout(monkeypatch, capsys):
    pipe = _stdout(monkeypatch, _Pipe())
    assert main(["say", "Hello there.", "-o", "-", "--raw", "--rate", "8000", "-q", *FAST]) == 0
    n8 = len(pipe.getvalue()) // 2
    wav = _stdout(monkeypatch, _Pipe())
    assert main(["say", "Hello there.", "-o", "-", "--rate", "8000", "-q", *FAST]) == 0
    assert _parse_wav(wav.getvalue())[2] == 8000 and len(wav.getvalue()) == 44 + 2 * n8


def test_formats_by_extension(tmp_path, capsys):
    for ext, fmt in ((".flac", "FLAC"), (".ogg", "OGG"), (".WAV", "WAV")):
        out = tmp_path / f"out{ext}"
        assert main(["say", "Hi.", "-o", str(out), "-q", *FAST]) == 0
        assert sf.info(out).format == fmt and sf.info(out).frames > 0
    for bad in ("out.mp3", "out"):
        assert main(["say", "Hi.", "-o", str(tmp_path / bad), *FAST]) == 1
        err = capsys.readouterr().err
        assert "cannot write" in err and ".wav, .flac, .ogg" in err and "Traceback" not in err
    assert sorted(os.listdir(tmp_path)) == ["out.WAV", "out.flac", "out.ogg"]


# -- 4. voices ------------------------------------------------------------------------------------------------------------
def _link_or_copy(src, dst):
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _voices_dir(tmp_path, mixer_bundle):
    """A voices directory: a renamed copy of the default voice, the same as a .zip, a codec-less graph bundle
    (no text-to-speech), a directory with a broken manifest and a stray file."""
    d = tmp_path / "voices"
    d.mkdir()
    mine = d / "mine"
    shutil.copytree(EMBEDDED, mine, copy_function=_link_or_copy)
    manifest = json.loads((mine / "manifest.json").read_text())
    manifest["name"] = "my-voice"
    (mine / "manifest.json").unlink()  # hard-linked to the embedded one: never write through it
    (mine / "manifest.json").write_text(json.dumps(manifest))
    with zipfile.ZipFile(d / "zipped.zip", "w", zipfile.ZIP_STORED) as z:
        for f in sorted(mine.rglob("*")):
            if f.is_file():
                data = f.read_bytes()
                if f.name == "manifest.json":
                    data = data.replace(b'"my-voice"', b'"zip-voice"')
                z.writestr(str(f.relative_to(mine)), data)
    shutil.copytree(mixer_bundle, d / "mixer")
    (d / "broken").mkdir()
    (d / "broken" / "manifest.json").write_text("{not json")
    (d / "notes.txt").write_text("not a voice")
    return d


def test_voices_lists_embedded_and_directory(tmp_path, monkeypatch, capsys, mixer_bundle):
    d = _voices_dir(tmp_path, mixer_bundle)
    monkeypatch.setenv("VOXLITE_VOICES_DIR", str(d))
    assert main(["voices", "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    assert listing["voices_dir"] == str(d)
    by_name = {v["name"]: v for v in listing["voices"]}
    assert list(by_name) == ["voxlite-default", "broken", "my-voice", "mixer", "zip-voice"]  # by file name
    default = by_name["voxlite-default"]
    assert (default["source"], default["sample_rate"], default["capabilities"]) == \
        ("embedded", RATE, ["text-to-speech"])
    assert default["path"] == str(EMBEDDED) and 1e6 < default["size"] < 50e6 and default["error"] is None
    assert by_name["my-voice"]["error"] is None and by_name["my-voice"]["path"] == str(d / "mine")
    assert by_name["zip-voice"]["error"] is None and by_name["zip-voice"]["size"] > 1e6
    assert "not valid JSON" in by_name["broken"]["error"]
    assert "cannot do text-to-speech" in by_name["mixer"]["error"]
    assert main(["voices"]) == 0
    text = capsys.readouterr().out
    assert main(["say", "--list-voices"]) == 0
    assert capsys.readouterr().out == text
    assert f"voices directory: {d}" in text and "my-voice" in text and "24000 Hz" in text
    assert "broken" in text and "unusable" in text


def test_voices_without_a_directory(tmp_path, capsys):
    assert main(["voices"]) == 0
    out = capsys.readouterr().out
    assert "does not exist" in out and "voxlite-default" in out


def test_say_voice_name(tmp_path, monkeypatch, capsys, mixer_bundle):
    d = _voices_dir(tmp_path, mixer_bundle)
    monkeypatch.setenv("VOXLITE_VOICES_DIR", str(d))
    out = tmp_path / "out"
    out.mkdir()
    assert main(["say", "Hi.", "-o", str(out / "default.wav"), "-q", *FAST]) == 0
    assert main(["say", "Hi.", "-o", str(out / "mine.wav"), "--voice-name", "my-voice", "-q", *FAST]) == 0
    assert main(["say", "Hi.", "-o", str(out / "zip.wav"), "--voice-name", "zip-voice", "-q", *FAST]) == 0
    ref = (out / "default.wav").read_bytes()
    assert (out / "mine.wav").read_bytes() == ref and (out / "zip.wav").read_bytes() == ref  # same graphs
    for name, message in (("nobody", "no voice called 'nobody'"), ("broken", "cannot be used"),
                          ("mixer", "cannot do text-to-speech")):
        assert main(["say", "Hi.", "-o", str(out / "x.wav"), "--voice-name", name, *FAST]) == 1
        assert message in capsys.readouterr().err
    _usage_error(capsys, ["say", "Hi.", "-o", str(out / "x.wav"), "--voice-name", "my-voice", "--bundle",
                          str(EMBEDDED)], "give one")
    assert sorted(os.listdir(out)) == ["default.wav", "mine.wav", "zip.wav"]


# -- 5. options: documented, refused by say's parser ----------------------------------------------------------------------
def test_help_documents_options(capsys):
    with pytest.raises(SystemExit) as e:
        main(["say", "--help"])
    assert e.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    for needle in ("--backend", "--threads", "--seed", "--rate HZ", "--raw", "-f FILE", "--voice-name NAME",
                   "--list-voices", "16-bit little-endian mono", "0xFFFFFFFF", "standard input", "umask",
                   "cpu", "openvino", "sentence ends"):
        assert needle in text, needle


@pytest.mark.parametrize("argv, message", [
    (["--rate", "0"], "argument --rate"),
    (["--rate", "abc"], "whole number"),
    (["--rate", "-16000"], "argument --rate"),
    (["--seed", "-1"], "argument --seed"),
    (["--seed", "1.5"], "argument --seed"),
    (["--threads", "0"], "argument --threads"),
    (["--steps", "0"], "argument --steps"),
    (["--cfg", "nan"], "argument --cfg"),
    (["--backend", "gpu-please"], "argument --backend"),
    (["--no-such-option"], "unrecognized arguments"),
])
def test_bad_options_are_usage_errors(tmp_path, capsys, argv, message):
    _usage_error(capsys, ["say", "Hi.", "-o", str(tmp_path / "x.wav"), *argv], message)
    assert os.listdir(tmp_path) == []


def test_output_is_required(capsys):
    _usage_error(capsys, ["say", "Hi."], "-o/--output")


# -- 6. permissions and unwritable outputs ----------------------------------------------------------------------------------
@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_output_permissions_follow_umask(tmp_path, capsys, umask, mode):
    from voxlite._atomic import atomic_output

    old = os.umask(umask)
    try:
        with atomic_output(tmp_path / "plain.bin") as tmp:
            open(tmp, "wb").write(b"x")
        if umask in (0o022, 0o077):  # through say itself too
            assert main(["say", "Hi.", "-o", str(tmp_path / "said.wav"), "-q", *FAST]) == 0
            assert (tmp_path / "said.wav").stat().st_mode & 0o777 == mode
    finally:
        os.umask(old)
    assert (tmp_path / "plain.bin").stat().st_mode & 0o777 == mode


def test_unwritable_outputs_are_one_line_errors(tmp_path, monkeypatch, capsys):
    (tmp_path / "a-file").write_text("x")
    (tmp_path / "a-dir").mkdir()
    ro = tmp_path / "read-only"
    ro.mkdir()
    ro.chmod(0o555)
    if os.geteuid() == 0:  # root writes anywhere: stand in for the permission check
        real = os.access
        monkeypatch.setattr(os, "access", lambda p, m, **k: False if os.fspath(p) == str(ro) else real(p, m, **k))
    cases = [(tmp_path / "a-dir", "is a directory"),
             (tmp_path / "a-file" / "out.wav", "is not a directory"),
             (tmp_path / "missing" / "out.wav", "does not exist"),
             (ro / "out.wav", "is not writable")]
    try:
        for path, message in cases:
            assert main(["say", "Hi.", "-o", str(path), *FAST]) == 1, path
            err = capsys.readouterr().err
            assert err.count("\n") == 1 and str(path) in err and message in err and "Traceback" not in err, err
        assert os.listdir(ro) == [] and os.listdir(tmp_path / "a-dir") == []
        assert sorted(os.listdir(tmp_path)) == ["a-dir", "a-file", "read-only"]
    finally:
        ro.chmod(0o755)


def test_failure_midway_leaves_nothing(tmp_path, monkeypatch, capsys):
    """An error while the second piece is spoken: the first piece's audio is not left at the output path."""
    from voxlite.errors import BackendError
    from voxlite.pipelines.voxcpm import VoxCPMModel

    real, calls = VoxCPMModel.synthesize, []

    def flaky(self, text, *a, **k):
        calls.append(text)
        if len(calls) == 2:
            raise BackendError("device lost")
        return real(self, text, *a, **k)

    monkeypatch.setattr(VoxCPMModel, "synthesize", flaky)
    monkeypatch.setattr(say, "text_limit", lambda model: 20)
    assert main(["say", "Hi there. Bye now. Ok.", "-o", str(tmp_path / "out.wav"), *FAST]) == 1
    assert "device lost" in capsys.readouterr().err and len(calls) == 2
    assert os.listdir(tmp_path) == []


# -- 7. text of any length ----------------------------------------------------------------------------------------------------
def test_pieces_split_at_sentence_ends_with_running_seeds(tmp_path, monkeypatch, capsys):
    """Text over the limit: pieces within it, cut at sentence ends, spoken in order; sentence chunk k of the whole
    text gets seed + k (each piece starts at the seed after its predecessor's chunks)."""
    from voxlite.pipelines.voxcpm import VoxCPMModel

    real, calls = VoxCPMModel.synthesize, []

    def spy(self, text, *a, seed=0, progress=None, **k):
        calls.append((text, seed))
        return real(self, text, *a, seed=seed, progress=progress, **k)

    monkeypatch.setattr(VoxCPMModel, "synthesize", spy)
    monkeypatch.setattr(say, "text_limit", lambda model: 30)
    sentences = ["Hi there.", "Good day.", "It is late.", "Go home now.", "Yes."]
    monkeypatch.setattr(sys, "stdin", io.StringIO("  ".join(sentences) + "\n"))
    assert main(["say", "-", "-o", str(tmp_path / "out.wav"), "--backend", "cpu", "--seed", "5"]) == 0
    assert capsys.readouterr().err.endswith(f" -> {tmp_path / 'out.wav'} (2 pieces)\n")
    assert [t for t, _ in calls] == ["Hi there. Good day.", "It is late. Go home now. Yes."]
    assert [s for _, s in calls] == [5, 6]  # one sentence chunk per piece here (the model merges within one)
    assert sf.info(tmp_path / "out.wav").frames > 0
    # pieces the model cuts into several sentence chunks of its own (it calls progress(i, n, chunk) per chunk)
    from voxlite.audio import Audio

    def fake(self, text, *a, seed=0, progress=None, **k):
        calls.append((text, seed))
        n = 1 + text.count(".") // 2
        for i in range(n):
            progress(i, n, text)
        return Audio(np.zeros(240, np.float32), RATE)

    calls.clear()
    monkeypatch.setattr(VoxCPMModel, "synthesize", fake)
    monkeypatch.setattr(sys, "stdin", io.StringIO("  ".join(sentences)))
    assert main(["say", "-", "-o", str(tmp_path / "out.wav"), "--backend", "cpu", "--seed", "5", "-q"]) == 0
    assert [s for _, s in calls] == [5, 7]  # the first piece's 2 chunks used seeds 5 and 6


def test_split_pieces():
    assert say.split_pieces("short. text.", 100) == ["short. text."]  # within the limit: as it is
    text = " ".join(f"Sentence number {i} is here." for i in range(200))
    pieces = say.split_pieces(text, 500)
    assert all(len(p) <= 500 for p in pieces) and len(pieces) >= len(text) // 500
    assert all(p.endswith(".") for p in pieces) and " ".join(pieces) == text
    assert all(len(p) <= 50 for p in say.split_pieces("a, " * 100, 50))  # no sentence end: cut at commas


def test_long_text_file_streams_to_stdout(tmp_path, monkeypatch, capsys):
    """~12,000 characters of short sentences (over twice the 5,000-character API limit) from a file, to a pipe."""
    import random

    rng = random.Random(0)
    words = "the a we go see it run home late day now sun rain red blue cat dog".split()
    sentences, n = [], 0
    while n < 12000:
        s = " ".join(rng.choice(words) for _ in range(rng.randint(3, 7))).capitalize() + "."
        sentences.append(s)
        n += len(s) + 1
    text = " ".join(sentences)
    (tmp_path / "book.txt").write_text(text, encoding="utf-8")
    pipe = _stdout(monkeypatch, _Pipe())
    assert main(["say", "-f", str(tmp_path / "book.txt"), "-o", "-", "--backend", "cpu", "--steps", "1"]) == 0
    err = capsys.readouterr().err
    data = pipe.getvalue()
    riff, size, rate, samples = _parse_wav(data)
    assert size == 0xFFFFFFFF and rate == RATE and len(data) == 44 + 2 * len(samples)
    seconds = len(samples) / RATE
    assert f"{seconds:.2f} s -> <stdout> (3 pieces)" in err  # every sample reached stdout
    assert len(text) / 60 < seconds < len(text) / 5, seconds  # ~15 characters a second of speech
    assert np.abs(samples[-RATE:].astype(np.float64)).max() < 32767  # ends in speech tail, not garbage
    assert np.sqrt(np.mean(samples[len(samples) // 2:].astype(np.float64) ** 2)) > 30  # the last pieces speak


def test_progress_counts_pieces(capsys):
    p = say._Progress(True, 100)
    p.piece(0, 3)
    p.sentence(0, 1, "a.")  # one sentence chunk in the piece: shown, because there are pieces
    p.add(150)
    p.piece(2, 3)
    p.sentence(1, 2, "b.")
    p.done()
    err = capsys.readouterr().err
    assert "piece 1/3, sentence 1/1, 1.5 s of audio" in err and "piece 3/3, sentence 2/2" in err
    assert err.endswith("\n")
    single = say._Progress(True, 100)
    single.sentence(0, 2, "a.")
    single.done()
    assert "piece" not in capsys.readouterr().err
