"""Export the letter-to-sound model (``voxlite.models.letter_to_sound``) to one ONNX graph for a bundle's tokenizer.

    python -m export letter-to-sound --checkpoint recipes/default_voice/checkpoints/letter_to_sound.pt --out lts.onnx

Graph: ``letter_ids`` (1, L) int64, word marks included -> ``logits`` (1, L * upsample, 1 + n_symbols). Its metadata
(``voxlite.letters``, ``voxlite.symbols``: JSON strings) says how to encode words and read the logits, so the run
time (``voxlite.text.letter_to_sound``) needs nothing else. Verified against the torch model on real words: fp32
within ``FP32_MAX_ABS``; int8 (dynamic, the embedded variant) must read the check words as the torch model does, to
within ``INT8_MAX_SYMBOL_ERRORS`` of their symbols (a trained model's logits are far from ties; a random one's not).
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import torch

from voxlite.models.letter_to_sound import LetterToSound, encode_letters, load_checkpoint
from voxlite.text.letter_to_sound import ctc_greedy, edit_distance

from .graphs import Bounds, VerificationError, export_onnx, to_int8, verify

FP32_MAX_ABS = 1e-3
# fp32 against the torch model; the int8 variant is held to INT8_MAX_SYMBOL_ERRORS (what it reads), not to an SNR
LETTER_TO_SOUND_BOUNDS = Bounds(FP32_MAX_ABS)
INT8_MAX_SYMBOL_ERRORS = 0.03
CHECK_WORDS = ("a", "mozart", "salieri", "kasparov", "tormentors", "unpermed", "czar", "antidisestablishmentarianism")


def export_letter_to_sound(model: LetterToSound, out: str | Path, *, precision: str = "fp32", log=None) -> Path:
    """Write the graph (``precision`` "fp32" or "int8") to ``out`` and check it against ``model`` (``log``: a
    print-like function for the comparisons, default silent)."""
    from voxlite.backends import open_session

    if precision not in ("fp32", "int8"):
        raise ValueError(f"precision must be fp32 or int8, got {precision!r}")
    c = model.config
    metadata = {"graph": "letter_to_sound", "letters": json.dumps(c.letters), "symbols": json.dumps(c.symbols),
                "precision": precision}
    out = Path(out)
    with tempfile.TemporaryDirectory() as tmp:
        example = torch.tensor([encode_letters("example", c.letters)])
        fp32 = export_onnx(model, (example,), Path(tmp) / "lts.onnx", input_names=["letter_ids"],
                           output_names=["logits"], dynamic_axes={"letter_ids": {1: "letters"},
                                                                  "logits": {1: "positions"}}, metadata=metadata)
        for word in CHECK_WORDS:  # other lengths than the traced one
            ids = torch.tensor([encode_letters(word, c.letters)])
            with torch.no_grad():
                want = model(ids)
            verify(fp32, {"letter_ids": ids.numpy()}, {"logits": want.numpy()}, graph="letter_to_sound",
                   precision="fp32", bounds=LETTER_TO_SOUND_BOUNDS, label=f"letter_to_sound({word!r})", log=log)
        if precision == "int8":
            to_int8(fp32, Path(tmp) / "lts.int8.onnx")
            session = open_session(Path(tmp) / "lts.int8.onnx", backend="cpu")
            errors = symbols = 0
            for word in CHECK_WORDS:
                ids = torch.tensor([encode_letters(word, c.letters)])
                with torch.no_grad():
                    want = ctc_greedy(model(ids)[0].numpy(), c.symbols)
                got = ctc_greedy(session.run({"letter_ids": ids.numpy()})["logits"][0], c.symbols)
                errors, symbols = errors + edit_distance(got, want), symbols + len(want)
            if errors > INT8_MAX_SYMBOL_ERRORS * symbols:
                raise VerificationError(f"int8 letter-to-sound reads the check words with {errors} symbol errors in "
                                     f"{symbols} against the model (allowed {INT8_MAX_SYMBOL_ERRORS:.0%})")
            fp32 = Path(tmp) / "lts.int8.onnx"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(fp32.read_bytes())
    return out


def main(argv=None, prog: str | None = None) -> int:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", required=True,
                        help="model.pt of recipes.default_voice.train_letter_to_sound (or the packed one)")
    parser.add_argument("--out", required=True)
    parser.add_argument("--precision", default="int8", choices=["fp32", "int8"])
    args = parser.parse_args(argv)
    out = export_letter_to_sound(load_checkpoint(args.checkpoint), args.out, precision=args.precision)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
