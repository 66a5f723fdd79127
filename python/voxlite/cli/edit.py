"""``voxlite edit speech.wav --transcript "..." --replace "old words" --with "new words" -o out.wav``."""
from __future__ import annotations

from .speechx import add_common_arguments, load, sampling, write

HELP = "replace words in a speech recording, in the speaker's voice"


def _span(value: str) -> tuple[float, float]:
    import argparse

    try:
        start, end = (float(v) for v in value.split(":"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected START:END in seconds (e.g. 1.2:1.9), got {value!r}") from None
    return start, end


def add_arguments(parser) -> None:
    parser.add_argument("input", help="the recording to edit")
    parser.add_argument("--replace", required=True, help="the words to replace (as in the transcript)")
    parser.add_argument("--with", dest="with_", required=True, help="the new words (empty: delete)")
    parser.add_argument("--span", type=_span, default=None, metavar="START:END",
                        help="where the old words are, in seconds (default: estimated from the transcript)")
    parser.add_argument("--occurrence", type=int, default=None, metavar="N",
                        help="which occurrence of --replace (1 = first) when it occurs several times")
    add_common_arguments(parser)


def run(args) -> int:
    from voxlite.errors import InvalidInput

    if not args.transcript:
        raise InvalidInput("edit needs --transcript (what the recording says)")
    if args.occurrence is not None and args.occurrence < 1:
        raise InvalidInput(f"--occurrence counts from 1, got {args.occurrence}")
    model = load(args)
    audio = model.edit(args.input, args.transcript, replace=args.replace, with_=args.with_, span=args.span,
                       occurrence=None if args.occurrence is None else args.occurrence - 1, seed=args.seed,
                       **sampling(args))
    return write(audio, args, args.input)
