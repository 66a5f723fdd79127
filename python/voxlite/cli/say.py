"""``voxlite say "text" -o out.wav``: text to speech with any bundle that can speak (optionally cloning a voice)."""
from __future__ import annotations

import os
import sys

from ..voices import DEFAULT_BUNDLE_ENV, default_bundle

HELP = "speak text into an audio file (the default voice, or any text-to-speech bundle)"


def add_arguments(parser) -> None:
    parser.add_argument("text", help="text to speak")
    parser.add_argument("-o", "--output", required=True, help="output audio file (.wav, .flac, .ogg)")
    parser.add_argument("--bundle", default=None,
                        help=f"text-to-speech bundle directory or archive (default: ${DEFAULT_BUNDLE_ENV}, else the "
                             "default voice embedded in the wheel)")
    parser.add_argument("--voice", default=None, help="voice prompt recording to clone (needs --voice-text)")
    parser.add_argument("--voice-text", default=None, help="transcript of the --voice recording")
    parser.add_argument("--backend", default="auto",
                        help="auto (TensorRT > CUDA > CPU, what is present), cpu, openvino, cuda, ort-tensorrt, tensorrt")
    parser.add_argument("--precision", default=None, help="graph precision (fp32, fp16, int8); default: the bundle's")
    parser.add_argument("--threads", type=int, default=None,
                        help="CPU threads, 1 to the number of CPUs (default: $VOXLITE_THREADS, else the backend's)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (same seed, same audio)")
    parser.add_argument("--cfg", type=float, default=None,
                        help="classifier-free guidance scale (default: the bundle's)")
    parser.add_argument("--steps", type=int, default=None,
                        help="flow-matching solver steps per patch (default: the bundle's)")
    parser.add_argument("--flow-start", type=float, default=None,
                        help="where each patch's solve starts, 0..1: 1 from noise, below 1 from the prior head's "
                             "patch, 0 that patch itself (bundles with a prior head; default: the bundle's)")
    parser.add_argument("--stream", action="store_true",
                        help="decode patch by patch with the streaming decoder, writing as it goes")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress display")


class _Progress:
    """``sentence i/n, X.X s of audio`` on one stderr line; silent unless stderr is a TTY and not --quiet."""

    def __init__(self, enabled: bool, sample_rate: int):
        self.enabled = enabled
        self.sample_rate = sample_rate
        self.samples = 0
        self.i = self.n = 0

    def sentence(self, i: int, n: int, _text: str) -> None:
        self.i, self.n = i, n
        self._show()

    def add(self, n_samples: int) -> None:
        self.samples += n_samples
        self._show()

    def _show(self) -> None:
        if self.enabled and self.n > 1:
            sys.stderr.write(f"\rsentence {self.i + 1}/{self.n}, {self.samples / self.sample_rate:.1f} s of audio ")
            sys.stderr.flush()

    def done(self) -> None:
        if self.enabled and self.n > 1:
            sys.stderr.write("\n")


def run(args) -> int:
    import voxlite
    from voxlite.audio import open_audio_stream
    from voxlite.errors import InvalidInput

    bundle = args.bundle or default_bundle()
    if (args.voice is None) != (args.voice_text is None):
        raise InvalidInput("--voice and --voice-text go together (the recording and its transcript)")
    task = "voice-cloning" if args.voice is not None else "text-to-speech"
    model = voxlite.load(bundle, backend=args.backend, precision=args.precision, threads=args.threads, task=task)
    progress = _Progress(not args.quiet and sys.stderr.isatty(), model.sample_rate)
    options = dict(cfg=args.cfg, steps=args.steps, flow_start=args.flow_start, seed=args.seed,
                   progress=progress.sentence)
    if args.voice is not None:
        options.update(prompt_audio=args.voice, prompt_text=args.voice_text)
    try:
        if args.stream:
            with open_audio_stream(args.output, model.sample_rate) as out:
                for chunk in model.stream(args.text, **options):
                    out.write(chunk)
                    progress.add(len(chunk))
            duration = out.duration
        else:
            audio = model.synthesize(args.text, **options)
            progress.add(len(audio.samples))
            audio.save(args.output)
            duration = audio.duration
    finally:
        progress.done()
    if not args.quiet:
        print(f"{duration:.2f} s -> {args.output}", file=sys.stderr)
    return 0
