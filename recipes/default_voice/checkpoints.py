"""Pack the default voice's training outputs into small committed checkpoints, and read them back.

    python recipes/default_voice/checkpoints.py pack            # ~/.cache/voxlite/train -> recipes/default_voice/checkpoints

A committed checkpoint is what a later session (or another machine) resumes from and what the embedded bundle is
exported from, so the voice in the wheel is reproducible from the repository alone:

    checkpoints/acoustic.pt        weights (float16), config, mel statistics, step      (train_acoustic.py --init)
    checkpoints/lexicon.json       the G2P lexicon it was trained with
    checkpoints/vocoder/           config.yaml + pytorch_model.bin (float16), the official Vocos layout

Weights are stored in float16 (half the bytes; the exported graphs are float32 / int8 either way, and export reads
these files, so the shipped voice is exactly what is committed). Optimiser states are not kept: a resumed run
restarts AdamW's moments (with a short warm-up) from these weights.
"""
from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import torch

TRAIN = Path.home() / ".cache" / "voxlite" / "train"
DEST = Path(__file__).resolve().parent / "checkpoints"


def _half(state: dict) -> dict:
    return {k: v.half() if torch.is_tensor(v) and v.is_floating_point() else v for k, v in state.items()}


def pack(acoustic: Path, vocoder: Path, dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    payload = torch.load(acoustic / "model.pt", map_location="cpu", weights_only=False)
    payload["state_dict"] = _half(payload["state_dict"])
    tmp = dest / "acoustic.pt.tmp"
    torch.save(payload, tmp)
    tmp.replace(dest / "acoustic.pt")
    shutil.copyfile(acoustic / payload.get("lexicon_file", "lexicon.json"), dest / "lexicon.json")
    voc = dest / "vocoder"
    voc.mkdir(exist_ok=True)
    shutil.copyfile(vocoder / "config.yaml", voc / "config.yaml")
    state = torch.load(vocoder / "pytorch_model.bin", map_location="cpu", weights_only=True)
    torch.save(_half(state), voc / "pytorch_model.bin.tmp")
    (voc / "pytorch_model.bin.tmp").replace(voc / "pytorch_model.bin")
    print(f"packed step {payload.get('step')} into {dest}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("command", choices=["pack"])
    ap.add_argument("--acoustic", type=Path, default=TRAIN / "acoustic")
    ap.add_argument("--vocoder", type=Path, default=TRAIN / "vocoder" / "generator")
    ap.add_argument("--dest", type=Path, default=DEST)
    args = ap.parse_args(argv)
    pack(args.acoustic, args.vocoder, args.dest)
    return 0


if __name__ == "__main__":
    sys.exit(main())
