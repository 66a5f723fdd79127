"""Pack the default voice's training outputs into small committed checkpoints, and read them back.

    python -m recipes.default_voice.checkpoints pack --acoustic ~/.cache/voxlite/train/acoustic      # the acoustic model
    python -m recipes.default_voice.checkpoints pack --vocoder ~/.cache/voxlite/train/vocoder_gta/generator
    python -m recipes.default_voice.checkpoints pack --letter-to-sound ~/.cache/voxlite/train/letter_to_sound

Only what is named is packed: the committed other half stays as it is (each re-pack adds its bytes to history).

A committed checkpoint is what a later session (or another machine) resumes from and what the embedded bundle is
exported from, so the voice in the wheel is reproducible from the repository alone:

    checkpoints/acoustic.pt        weights (float16), config, mel statistics, step      (train_acoustic.py --init)
    checkpoints/lexicon.json       the G2P lexicon it was trained with
    checkpoints/vocoder/           config.yaml + pytorch_model.bin (float16), the official Vocos layout, and
                                   discriminators.pt (MPD + MRD, float16, 1.6 MB) when packed from a trainer's
                                   output: the next adversarial round continues the game instead of restarting it
    checkpoints/letter_to_sound.pt the G2P's model for words the lexicon lacks (float16, config, step)

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


def _check(acoustic: Path | None, vocoder: Path | None, letter_to_sound: Path | None = None) -> None:
    """Every input present before anything is written, so a wrong path leaves the committed checkpoints whole."""
    if acoustic is None and vocoder is None and letter_to_sound is None:
        raise ValueError("nothing to pack: name --acoustic DIR, --vocoder DIR and/or --letter-to-sound DIR")
    if letter_to_sound is not None and not (letter_to_sound / "model.pt").is_file():
        raise FileNotFoundError("--letter-to-sound must be train_letter_to_sound.py's output directory (with "
                                f"model.pt): {letter_to_sound}")
    if acoustic is not None and not (acoustic / "model.pt").is_file():
        raise FileNotFoundError(f"--acoustic must be train_acoustic.py's output directory (with model.pt): {acoustic}")
    if vocoder is not None and not all((vocoder / f).is_file() for f in ("config.yaml", "pytorch_model.bin")):
        raise FileNotFoundError(f"--vocoder must be a generator directory (config.yaml, pytorch_model.bin): {vocoder}")


def pack(acoustic: Path | None, vocoder: Path | None, dest: Path, letter_to_sound: Path | None = None) -> None:
    _check(acoustic, vocoder, letter_to_sound)
    dest.mkdir(parents=True, exist_ok=True)
    if acoustic is not None:
        payload = torch.load(acoustic / "model.pt", map_location="cpu", weights_only=False)
        payload["state_dict"] = _half(payload["state_dict"])
        tmp = dest / "acoustic.pt.tmp"
        torch.save(payload, tmp)
        tmp.replace(dest / "acoustic.pt")
        shutil.copyfile(acoustic / payload.get("lexicon_file", "lexicon.json"), dest / "lexicon.json")
        print(f"packed acoustic step {payload.get('step')} into {dest}")
    if vocoder is not None:
        voc = dest / "vocoder"
        voc.mkdir(exist_ok=True)
        shutil.copyfile(vocoder / "config.yaml", voc / "config.yaml")
        state = torch.load(vocoder / "pytorch_model.bin", map_location="cpu", weights_only=True)
        torch.save(_half(state), voc / "pytorch_model.bin.tmp")
        (voc / "pytorch_model.bin.tmp").replace(voc / "pytorch_model.bin")
        trainer = vocoder.parent / "state.pt"  # train_vocoder.py writes generator/ beside it at every checkpoint
        if trainer.is_file():
            s = torch.load(trainer, map_location="cpu", weights_only=False)
            torch.save({"mpd": _half(s["mpd"]), "mrd": _half(s["mrd"]), "step": int(s["step"])},
                       voc / "discriminators.pt.tmp")
            (voc / "discriminators.pt.tmp").replace(voc / "discriminators.pt")
        print(f"packed the vocoder from {vocoder} into {dest}" + (" (with its discriminators)" if trainer.is_file()
                                                                  else ""))
    if letter_to_sound is not None:
        payload = torch.load(letter_to_sound / "model.pt", map_location="cpu", weights_only=False)
        payload["model"] = _half(payload["model"])
        torch.save(payload, dest / "letter_to_sound.pt.tmp")
        (dest / "letter_to_sound.pt.tmp").replace(dest / "letter_to_sound.pt")
        print(f"packed letter-to-sound step {payload.get('step')} into {dest}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("command", choices=["pack"])
    ap.add_argument("--acoustic", type=Path, default=None, help=f"e.g. {TRAIN / 'acoustic'}")
    ap.add_argument("--vocoder", type=Path, default=None, help=f"e.g. {TRAIN / 'vocoder_gta' / 'generator'}")
    ap.add_argument("--letter-to-sound", type=Path, default=None, help=f"e.g. {TRAIN / 'letter_to_sound'}")
    ap.add_argument("--dest", type=Path, default=DEST)
    args = ap.parse_args(argv)
    try:
        pack(args.acoustic, args.vocoder, args.dest, args.letter_to_sound)
    except (ValueError, FileNotFoundError) as e:
        raise SystemExit(str(e)) from None
    return 0


if __name__ == "__main__":
    sys.exit(main())
