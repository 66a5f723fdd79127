"""``voxlite sing --score song.json --voice singer.wav -o song.wav --bundle B``: singing from a score (notes with
lyrics, pitches and durations; the format is ``voxlite.text.singing_score``'s)."""
from __future__ import annotations

from .speechx import add_backend_arguments, sampling, write

HELP = "sing a score (lyrics, notes, durations as JSON) in the voice of a recording"


def add_arguments(parser) -> None:
    parser.add_argument("--score", required=True, help="the score: a JSON file of notes (- reads standard input)")
    parser.add_argument("--voice", required=True, help="a recording of the singer (a few seconds)")
    parser.add_argument("-o", "--output", required=True, help="output audio file (.wav, .flac, ...)")
    parser.add_argument("--bundle", required=True,
                        help="a singing bundle (python -m export uniaudio with --tables)")
    add_backend_arguments(parser)


def run(args) -> int:
    import json
    import sys

    import voxlite
    from voxlite.audio import check_output_path, check_write_format
    from voxlite.errors import InvalidInput

    check_output_path(args.output, create_parents=False)
    check_write_format(args.output)
    score = args.score
    if score == "-":
        try:
            score = json.loads(sys.stdin.read())
        except ValueError as e:
            raise InvalidInput(f"--score -: not JSON: {e}") from None
    model = voxlite.load(args.bundle, backend=args.backend, precision=args.precision, threads=args.threads,
                         task="singing")
    audio = model.sing(score, args.voice, seed=args.seed, **sampling(args))
    return write(audio, args, "score")
