"""``voxlite say "text" -o out.wav``: text to speech with a VoxCPM bundle (optionally cloning a voice prompt)."""
from __future__ import annotations

import os
import sys

from ..voices import DEFAULT_BUNDLE_ENV, default_bundle

HELP = "speak text into an audio file (the default voice, or a VoxCPM bundle)"


def add_arguments(parser) -> None:
    parser.add_argument("text", help="text to speak")
    parser.add_argument("-o", "--output", required=True, help="output audio file (.wav, .flac, .ogg)")
    parser.add_argument("--bundle", default=None,
                        help=f"VoxCPM bundle directory or archive (default: ${DEFAULT_BUNDLE_ENV}, else the "
                             "default voice embedded in the wheel)")
    parser.add_argument("--voice", default=None, help="voice prompt recording to clone (needs --voice-text)")
    parser.add_argument("--voice-text", default=None, help="transcript of the --voice recording")
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--precision", default=None, help="graph precision (fp32, fp16, int8); default: the bundle's")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
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
    from voxlite.errors import InvalidInput

    bundle = args.bundle or default_bundle()
    if (args.voice is None) != (args.voice_text is None):
        raise InvalidInput("--voice and --voice-text go together (the recording and its transcript)")
    model = voxlite.load(bundle, backend=args.backend, precision=args.precision, threads=args.threads)
    if model.bundle.model_type != "voxcpm":
        raise InvalidInput(f"{bundle} is a {model.bundle.model_type!r} bundle; say needs a 'voxcpm' bundle")
    progress = _Progress(not args.quiet and sys.stderr.isatty(), model.sample_rate)
    options = dict(prompt_audio=args.voice, prompt_text=args.voice_text, cfg=args.cfg, steps=args.steps,
                   flow_start=args.flow_start, seed=args.seed, progress=progress.sentence)
    try:
        if args.stream:
            duration = _write_stream(args.output, model.stream(args.text, **options), model.sample_rate, progress)
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


def _write_stream(path: str, chunks, sample_rate: int, progress: _Progress) -> float:
    """Chunks written as they come into a temp file renamed into place at the end (nothing left on error)."""
    from pathlib import Path

    import numpy as np
    import soundfile as sf

    from voxlite._atomic import atomic_output
    from voxlite.audio import _WRITE_FORMATS
    from voxlite.errors import InvalidInput

    suffix = Path(path).suffix.lower()
    if suffix not in _WRITE_FORMATS:
        raise InvalidInput(f"cannot write {suffix or 'files without an extension'}; use one of "
                           f"{', '.join(_WRITE_FORMATS)}")
    fmt, subtype = _WRITE_FORMATS[suffix]
    n = 0
    with atomic_output(path, suffix=suffix) as tmp:
        with sf.SoundFile(tmp, "w", samplerate=sample_rate, channels=1, format=fmt, subtype=subtype) as f:
            for chunk in chunks:
                f.write(np.clip(chunk, -1.0, 1.0).astype(np.float32))
                n += len(chunk)
                progress.add(len(chunk))
    return n / sample_rate
