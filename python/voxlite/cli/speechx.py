"""What ``voxlite enhance``, ``extract``, ``edit``, ``convert`` and ``sing`` share: a speech-to-speech bundle
(SpeechX or UniAudio task prompting), sampling options, and an output written whole or not at all."""
from __future__ import annotations


def add_common_arguments(parser) -> None:
    parser.add_argument("-o", "--output", required=True, help="output audio file (.wav, .flac, ...)")
    parser.add_argument("--bundle", required=True, help="a speech-to-speech bundle (SpeechX task prompting: python "
                        "-m export valle --speechx; UniAudio: python -m export uniaudio)")
    parser.add_argument("--transcript", default=None, help="what is said, if known (helps a SpeechX model)")
    add_backend_arguments(parser)


def add_backend_arguments(parser) -> None:
    """Backend, precision, threads and the sampling options (what every speech-to-speech command takes)."""
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--precision", default=None, help="graph precision (fp32, int8); default: the bundle's")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--temperature", type=float, default=None)
    parser.add_argument("--top-k", type=int, default=None)
    parser.add_argument("--top-p", type=float, default=None)


def sampling(args) -> dict:
    return {k: v for k, v in (("temperature", args.temperature), ("top_k", args.top_k), ("top_p", args.top_p))
            if v is not None}


def load(args):
    """Check the output path first (nothing is computed for an output that cannot be written), then load."""
    import voxlite
    from voxlite.audio import check_output_path, check_write_format

    check_output_path(args.output, create_parents=False)
    check_write_format(args.output)
    return voxlite.load(args.bundle, backend=args.backend, precision=args.precision, threads=args.threads,
                        task="speech-to-speech")


def write(audio, args, what: str) -> int:
    audio.save(args.output)
    print(f"{what}: {audio.duration:.2f} s -> {args.output}")
    return 0
