"""The examples under examples/ run as a user runs them (a fresh Python process, the documented command line), so
they never rot."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "python"


def _run(script: str, *args: str, cwd: Path) -> str:
    proc = subprocess.run([sys.executable, str(EXAMPLES / script), *args], cwd=cwd, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def test_stream_to_file(tmp_path):
    from voxlite.audio import read_audio

    out = _run("stream_to_file.py", "Streaming keeps the first words quick.", "-o", "out.wav", cwd=tmp_path)
    assert "first audio after" in out
    audio = read_audio(tmp_path / "out.wav")
    assert audio.duration > 0.5


def test_batch_file(tmp_path):
    from voxlite.audio import read_audio

    (tmp_path / "lines.txt").write_text("First line.\n\nSecond line, a little longer.\n", encoding="utf-8")
    out = _run("batch_file.py", "lines.txt", "--out-dir", "clips", "--threads", "1", cwd=tmp_path)
    assert "[2/2]" in out
    assert sorted(p.name for p in (tmp_path / "clips").iterdir()) == ["1.wav", "2.wav"]
    assert read_audio(tmp_path / "clips" / "2.wav").duration > read_audio(tmp_path / "clips" / "1.wav").duration


def test_clone_voice(tmp_path):
    pytest.importorskip("torch")
    import numpy as np

    from voxlite.audio import read_audio, write_audio

    bundle = tmp_path / "voxcpm"
    proc = subprocess.run([sys.executable, "-m", "export", "voxcpm", "--random-init", "--config", "tiny", "--out",
                           str(bundle)], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    t = np.arange(16000 // 2) / 16000  # half a second: the tiny random model holds 64 positions
    write_audio(tmp_path / "me.wav", (0.2 * np.sin(2 * np.pi * 180 * t)).astype(np.float32), 16000)
    out = _run("clone_voice.py", "hello there", "--voice", "me.wav", "--voice-text", "hi", "--bundle", str(bundle),
               "-o", "cloned.wav", cwd=tmp_path)
    assert "wrote cloned.wav" in out
    assert read_audio(tmp_path / "cloned.wav").samples.size > 0
