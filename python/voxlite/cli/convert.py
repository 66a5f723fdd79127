"""``voxlite convert source.wav --voice target.wav -o out.wav --bundle B``: voice conversion (what source.wav says,
in the voice of target.wav)."""
from __future__ import annotations

from .speechx import add_backend_arguments, load, sampling, write

HELP = "say what a recording says in another voice (voice conversion)"


def add_arguments(parser) -> None:
    parser.add_argument("input", help="the speech to convert")
    parser.add_argument("--voice", required=True, help="a recording of the target voice (a few seconds)")
    parser.add_argument("-o", "--output", required=True, help="output audio file (.wav, .flac, ...)")
    parser.add_argument("--bundle", required=True, help="a voice-conversion bundle (python -m export uniaudio with "
                        "--semantic-units)")
    add_backend_arguments(parser)


def run(args) -> int:
    model = load(args)
    if not hasattr(model, "convert"):
        from voxlite.errors import CapabilityError

        raise CapabilityError(f"bundle {model.bundle.name!r} ({type(model).__name__}) does not convert voices")
    audio = model.convert(args.input, args.voice, seed=args.seed, **sampling(args))
    return write(audio, args, args.input)
