"""``voxlite extract mixture.wav --speaker enrolment.wav -o out.wav``: target speaker extraction."""
from __future__ import annotations

from .speechx import add_common_arguments, load, sampling, write

HELP = "extract one speaker's speech from a mixture, given a recording of that speaker"


def add_arguments(parser) -> None:
    parser.add_argument("input", help="the mixture (several people speaking)")
    parser.add_argument("--speaker", required=True, help="a clean recording of the speaker to keep (enrolment)")
    add_common_arguments(parser)


def run(args) -> int:
    model = load(args)
    audio = model.extract(args.input, args.speaker, transcript=args.transcript, seed=args.seed, **sampling(args))
    return write(audio, args, args.input)
