"""``voxlite enhance noisy.wav -o clean.wav``: noise suppression (or, with ``--keep noise``, speech removal)."""
from __future__ import annotations

from .speechx import add_common_arguments, load, sampling, write

HELP = "remove the noise from a speech recording (or, with --keep noise, the speech)"


def add_arguments(parser) -> None:
    parser.add_argument("input", help="noisy speech recording")
    parser.add_argument("--keep", choices=("speech", "noise"), default="speech",
                        help="what to keep: the speech (noise suppression, default) or the noise (speech removal)")
    add_common_arguments(parser)


def run(args) -> int:
    model = load(args)
    audio = model.enhance(args.input, transcript=args.transcript, keep=args.keep, seed=args.seed, **sampling(args))
    return write(audio, args, args.input)
