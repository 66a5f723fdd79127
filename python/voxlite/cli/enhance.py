"""``voxlite enhance noisy.wav -o clean.wav``: noise suppression (or, with ``--keep noise``, speech removal)."""
from __future__ import annotations

from .speechx import add_common_arguments, load, sampling, write

HELP = "remove the noise from a speech recording (or, with --keep noise, the speech)"


def add_arguments(parser) -> None:
    parser.add_argument("input", help="noisy speech recording")
    parser.add_argument("--keep", choices=("speech", "noise"), default="speech",
                        help="what to keep: the speech (noise suppression, default) or the noise (speech removal)")
    parser.add_argument("--reverb", action="store_true",
                        help="remove reverberation rather than noise (dereverberation: UniAudio bundles)")
    add_common_arguments(parser)


def run(args) -> int:
    model = load(args)
    if args.reverb:
        from voxlite.errors import CapabilityError, InvalidInput

        if args.keep != "speech" or args.transcript is not None:
            raise InvalidInput("--reverb takes neither --keep noise nor --transcript")
        if not hasattr(model, "dereverb"):
            raise CapabilityError(f"bundle {model.bundle.name!r} ({type(model).__name__}) does not dereverberate")
        audio = model.dereverb(args.input, seed=args.seed, **sampling(args))
    else:
        audio = model.enhance(args.input, transcript=args.transcript, keep=args.keep, seed=args.seed,
                              **sampling(args))
    return write(audio, args, args.input)
