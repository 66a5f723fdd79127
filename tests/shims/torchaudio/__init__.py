"""Test-only stand-in for torchaudio (no build exists for torch 2.13).

The official packages used as parity references (encodec, descript-audio-codec, voxcpm) import torchaudio at
module level but need it only for file I/O and resampling. This stand-in loads/saves with soundfile and
raises for everything else, so a parity test can never silently use a fake transform.
"""
from __future__ import annotations

import importlib.machinery

__version__ = "0.0.0+voxlite-test-shim"
__spec__ = importlib.machinery.ModuleSpec("torchaudio", None)  # transformers' availability check reads it


def load(path, *args, **kwargs):
    import soundfile as sf
    import torch

    data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    return torch.from_numpy(data.T.copy()), rate


def save(path, tensor, sample_rate, *args, **kwargs):
    import soundfile as sf

    sf.write(str(path), tensor.detach().cpu().numpy().T, sample_rate)


def __getattr__(name):
    raise AttributeError(f"torchaudio.{name} is not available in voxlite's test stand-in")
