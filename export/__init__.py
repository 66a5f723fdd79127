"""Exporters: reference model (or an official checkpoint) -> voxlite bundle. A package at the repository root, not
part of the wheel (the wheel's runtime never imports it); needs voxlite with its torch extra (``pip install
torch==2.13.0 ".[torch]"``). Run from the repository root:

    python -m export FAMILY [options]
    python -m export FAMILY --help         (the family's options)

Modules: ``graphs`` (the shared library: ONNX export, fp16 / int8 / OpenVINO variants, the verifier and its bound
tables' type, ``write_graphs``), then one per family: ``codec``, ``voxcpm``, ``default_voice``, ``valle`` (with
``vallex_text``), ``audioldm2``, ``letter_to_sound``.
Each family module has ``main(argv, prog)`` with its own options. This file imports neither torch nor a family
module: the registry below is what ``--help`` lists.
"""
from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys

from voxlite.errors import VoxliteError

INSTALL_HINT = 'pip install torch==2.13.0 "voxlite[torch]"'

# family -> (module, one-line help)
EXPORTERS: dict[str, tuple[str, str]] = {
    "codec": ("export.codec", "a codec or vocoder (encodec, dac, wavevae, vibevoice, vocos, hifigan, "
              "bigvgan) -> codec bundle"),
    "voxcpm": ("export.voxcpm", "VoxCPM (0.5B / 1.5 checkpoint directory, or a random tiny model) -> "
               "voxcpm bundle"),
    "mela-tts": ("export.mela_tts", "MELA-TTS (random weights: tiny or Qwen2-0.5B sizes) -> mela_tts bundle"),
    "default-voice": ("export.default_voice", "the default voice (trained acoustic model + vocoder) -> "
                      "voxcpm bundle"),
    "valle": ("export.valle", "VALL-E / VALL-E X (checkpoint + EnCodec + phoneme table, or a random tiny model; "
              "--speechx adds task prompting) -> valle bundle"),
    "uniaudio": ("export.uniaudio", "UniAudio (LM + SoundStream checkpoints, or random tiny) -> uniaudio bundle"),
    "audioldm2": ("export.audioldm2", "AudioLDM 2 (a checkpoint directory in diffusers' layout) -> audioldm2 "
                  "bundle (text to sound / music, or speech)"),
    "vibevoice": ("export.vibevoice", "VibeVoice (a transformers or Microsoft checkpoint directory, or a random "
                  "tiny / 1.5B model) -> vibevoice bundle (multi-speaker scripts)"),
    "hubert": ("export.hubert", "HuBERT (transformers' or fairseq's layout) or wav2vec 2.0 / XLSR-53 (transformers') "
               "to one layer + k-means centroids -> a semantic-units bundle (speech -> unit ids)"),
    "w2v-bert": ("export.w2v_bert", "w2v-BERT 2.0 (transformers' layout) to one layer + k-means centroids -> a "
                 "semantic-units bundle (Spear-TTS's semantic tokens)"),
    "cascade": ("export.cascade", "Spear-TTS, Make-A-Voice or MVoice (a voxlite-cascade checkpoint + SoundStream + "
                "semantic-units bundle, or random tiny / base) -> cascade bundle"),
    "letter-to-sound": ("export.letter_to_sound", "the G2P's letter-to-sound model -> one ONNX graph"),
}


class ExportError(VoxliteError):
    """An export cannot be done as asked (missing dependency, unsupported checkpoint or option, a variant out of
    its bounds); the message says why."""


def require_torch() -> None:
    """Raise ``ExportError`` naming the extra to install when torch or onnx is missing."""
    missing = [m for m in ("torch", "onnx") if importlib.util.find_spec(m) is None]
    if missing:
        raise ExportError(f"exporting needs {' and '.join(missing)}, which is not installed: {INSTALL_HINT}")


def families_help() -> str:
    width = max(len(name) for name in EXPORTERS)
    return "families:\n" + "\n".join(f"  {name:<{width}}  {text}" for name, (_, text) in EXPORTERS.items())


def run(family: str, argv: list[str], prog: str = "python -m export") -> int:
    """Run one family's command line (``argv``: its options)."""
    if family not in EXPORTERS:
        raise ExportError(f"unknown family {family!r}; choose from {', '.join(EXPORTERS)}")
    require_torch()
    module = importlib.import_module(EXPORTERS[family][0])
    return int(module.main(argv, prog=f"{prog} {family}") or 0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m export",
                                     description="Export a model to a voxlite bundle.", epilog=families_help(),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("family", metavar="FAMILY", choices=list(EXPORTERS), help="what to export (below)")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="the family's options (FAMILY --help lists them)")
    args = parser.parse_args(argv)
    try:
        return run(args.family, args.args)
    except VoxliteError as e:
        print(f"{parser.prog} {args.family}: error: {e}", file=sys.stderr)
        return 1
