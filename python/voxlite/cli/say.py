"""``voxlite say "text" -o out.wav``: text to speech with any bundle that can speak (optionally cloning a voice).

Text: the argument, ``-`` (standard input) or ``-f FILE``; any length: text over the model's per-call limit is cut
at sentence ends into pieces under it, each synthesized and written as it comes (memory stays bounded). Audio: a
file (format by extension, written atomically), or ``-o -``: standard output, a streamed WAV or (``--raw``) bare
16-bit PCM.
"""
from __future__ import annotations

import argparse
import math
import os
import sys
from contextlib import contextmanager

from ..voices import DEFAULT_BUNDLE_ENV, VOICES_DIR_ENV, default_bundle

HELP = "speak text into an audio file (the default voice, or any text-to-speech bundle)"

EPILOG = f"""\
text: exactly one of TEXT, "-" (read standard input) or -f FILE, as UTF-8. Any length: text longer than the
  model takes in one call (5000 characters) is cut at sentence ends into pieces under that limit, spoken and
  written one after another (the progress line counts them); sentence chunk k of the whole text uses seed + k.
output: -o FILE writes .wav (16-bit PCM), .flac (16-bit) or .ogg (Vorbis), chosen by the extension, atomically
  (an error leaves no file), with the permissions your umask gives. -o - writes to standard output: a WAV whose
  header marks its length unknown (RIFF and data sizes 0xFFFFFFFF, as ffmpeg and sox stream it; fixed in place
  when stdout is a regular file), or with --raw bare signed 16-bit little-endian mono PCM at the output rate
  (--rate, else the voice's: see `voxlite voices`). Progress and notes go to standard error only.
control: --speed 0.5..2 (pitch kept), --pause SECONDS between sentences, --volume GAIN (linear 0..4 or '-6dB'),
  --lexicon FILE (lines "word<TAB>phonemes", # comments; the phonemes in the voice's inventory or common IPA),
  inline phonemes in the text as [[həlˈO]], and --ssml (or text starting with <speak): an SSML subset (speak,
  break, prosody rate, say-as cardinal/ordinal/characters/date/telephone, phoneme, sub). Pieces: with --pause the
  pause also goes between pieces; an SSML document is never cut (its limit is 20000 characters of markup).
voices: --voice-name NAME picks a voice listed by `voxlite voices` / --list-voices: the embedded one or a bundle in
  ${VOICES_DIR_ENV} (default ~/.local/share/voxlite/voices). --voice is something else: a recording to clone.
"""


# -- option types: refused by say's own parser (usage + exit 2) -----------------------------------------------------
def _int_in(what: str, low: int, high: int | None = None, example: str = ""):
    def parse(value: str) -> int:
        try:
            n = int(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{what} must be a whole number{example}, got {value!r}") from None
        if n < low or (high is not None and n > high):
            bound = f"from {low} to {high}" if high is not None else f"at least {low}"
            raise argparse.ArgumentTypeError(f"{what} must be {bound}, got {n}")
        return n

    parse.__name__ = what
    return parse


def _threads(value: str) -> int:
    # at least 1 here; the upper bound (the usable CPUs) is the runtime's check, which names what this machine has
    return _int_in("threads", 1)(value)


def _finite(value: str) -> float:
    try:
        x = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {value!r}") from None
    if not math.isfinite(x):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {value!r}")
    return x


def _text_file(value: str) -> str:
    """-f FILE: the file's text (UTF-8; ``-``: standard input)."""
    if value == "-":
        return sys.stdin.read()
    try:
        with open(value, encoding="utf-8") as f:
            return f.read()
    except UnicodeDecodeError as e:
        raise argparse.ArgumentTypeError(f"{value} is not UTF-8 text ({e.reason} at byte {e.start})") from None
    except OSError as e:
        raise argparse.ArgumentTypeError(f"cannot read {value}: {e.strerror or e}") from None


_rate = _int_in("sample rate", 1000, 384000, " of Hz (e.g. 16000)")


def _script_file(value: str) -> str:
    """--script FILE: the file's text ("-": standard input, read when the run starts)."""
    return "-" if value == "-" else _text_file(value)


def _speaker_voices(values: list[str]) -> dict[int, str]:
    """--voice N=FILE ... -> {N: FILE}."""
    from voxlite.errors import InvalidInput

    voices: dict[int, str] = {}
    for value in values:
        number, sep, path = value.partition("=")
        if not sep or not number.strip().isdigit() or not path:
            raise InvalidInput(f"--voice {value!r}: with --script, give each speaker's voice as N=FILE (e.g. 1=alice.wav)")
        if int(number) in voices:
            raise InvalidInput(f"--voice: speaker {int(number)} has two voices")
        voices[int(number)] = path
    return voices


def _checked(check, what: str):
    """An argparse type from one of voxlite.audio's option checks (its InvalidInput -> a usage error)."""
    def parse(value: str):
        from ..errors import InvalidInput

        try:
            return check(value if what == "volume" else _finite(value), what)
        except InvalidInput as e:
            raise argparse.ArgumentTypeError(str(e)) from None

    parse.__name__ = what
    return parse


def _speed(value: str) -> float:
    from ..audio import check_speed

    return _checked(check_speed, "speed")(value)


def _pause(value: str) -> float:
    from ..audio import check_pause

    return _checked(check_pause, "pause")(value)


def _volume(value: str) -> str:
    from ..audio import volume_gain

    return _checked(volume_gain, "volume")(value)


def add_arguments(parser) -> None:
    from ..backends.registry import GRAPH_BACKENDS

    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EPILOG
    parser.add_argument("text", nargs="?", default=None, help='text to speak; "-" reads it from standard input')
    parser.add_argument("-f", "--file", dest="text_file", metavar="FILE", type=_text_file, default=None,
                        help="read the text to speak from FILE (UTF-8, any length)")
    parser.add_argument("-o", "--output", default=None,
                        help='output audio file (.wav, .flac, .ogg); "-": standard output (WAV, or --raw PCM)')
    parser.add_argument("--raw", action="store_true",
                        help="write bare PCM, no header: signed 16-bit little-endian mono at the output rate")
    parser.add_argument("--rate", type=_rate, default=None, metavar="HZ",
                        help="resample the output to HZ (soxr, very high quality; default: the voice's own rate)")
    parser.add_argument("--bundle", default=None,
                        help=f"text-to-speech bundle directory or archive (default: ${DEFAULT_BUNDLE_ENV}, else the "
                             "default voice embedded in the wheel)")
    parser.add_argument("--voice-name", default=None, metavar="NAME",
                        help=f"a voice by name, as `voxlite voices` lists them (the embedded one, or a bundle in "
                             f"${VOICES_DIR_ENV})")
    parser.add_argument("--list-voices", action="store_true", help="list the voices (as `voxlite voices`) and exit")
    parser.add_argument("--script", default=None, metavar="FILE", type=_script_file,
                        help='a dialogue of "Speaker N: text" lines to speak ("-": standard input), for bundles '
                             "that take several speakers (VibeVoice); give each speaker a voice with --voice N=FILE")
    parser.add_argument("--voice", action="append", default=None, metavar="[N=]FILE",
                        help="voice prompt recording to clone (needs --voice-text, unless the bundle reads voices "
                             "without transcripts); with --script, N=FILE is speaker N's voice (repeat per speaker)")
    parser.add_argument("--voice-text", default=None, help="transcript of the --voice recording")
    parser.add_argument("--backend", default="auto", choices=("auto", *GRAPH_BACKENDS), metavar="BACKEND",
                        help="where the graphs run: auto (TensorRT > CUDA > CPU, what is present), "
                             f"{', '.join(GRAPH_BACKENDS)} (see `voxlite info`)")
    parser.add_argument("--precision", default=None, help="graph precision (fp32, fp16, int8); default: the bundle's")
    parser.add_argument("--threads", type=_threads, default=None, metavar="N",
                        help="CPU threads, 1 to the number of CPUs (default: $VOXLITE_THREADS, else the backend's)")
    parser.add_argument("--seed", type=_int_in("seed", 0, 2 ** 63 - 1), default=0, metavar="N",
                        help="random seed, 0 or more (same seed, same audio)")
    parser.add_argument("--cfg", type=_finite, default=None,
                        help="classifier-free guidance scale (default: the bundle's)")
    parser.add_argument("--steps", type=_int_in("steps", 1), default=None, metavar="N",
                        help="flow-matching solver steps per patch, 1 or more (default: the bundle's)")
    parser.add_argument("--flow-start", type=float, default=None,
                        help="where each patch's solve starts, 0..1: 1 from noise, below 1 from the prior head's "
                             "patch, 0 that patch itself (bundles with a prior head; default: the bundle's)")
    parser.add_argument("--temperature", type=_finite, default=None,
                        help="sampling temperature of token models (VALL-E); default: the bundle's")
    parser.add_argument("--top-k", type=_int_in("top-k", 0), default=None, metavar="K",
                        help="sample among the K likeliest tokens (token models; 0: all)")
    parser.add_argument("--top-p", type=_finite, default=None, metavar="P",
                        help="nucleus sampling: the likeliest tokens holding probability P (token models)")
    parser.add_argument("--speed", type=_speed, default=1.0, metavar="X",
                        help="speaking rate, 0.5 to 2 (2: twice as fast), pitch kept (mel-vocoder voices, such as "
                             "the default one)")
    parser.add_argument("--pause", type=_pause, default=None, metavar="SECONDS",
                        help="silence between sentences, 0 to 10 s (default: none added)")
    parser.add_argument("--volume", type=_volume, default=None, metavar="GAIN",
                        help="output gain: linear 0 to 4 (0.5: half) or decibels (--volume=-6dB); clipped to full "
                             "scale")
    parser.add_argument("--instruction", default=None, metavar="TEXT",
                        help="describe the voice in words instead of giving a recording, e.g. \"a calm old man\" "
                             "(UniAudio bundles with a T5 encoder: InstructTTS)")
    parser.add_argument("--lexicon", action="append", default=None, metavar="FILE",
                        help="user pronunciations, one 'word<TAB>phonemes' a line (# comments), winning over the "
                             "voice's lexicon; repeatable (G2P voices, such as the default one)")
    parser.add_argument("--ssml", action="store_true",
                        help="the text is SSML (speak, break, prosody rate, say-as, phoneme, sub); text starting "
                             "with <speak is read as SSML anyway")
    parser.add_argument("--stream", action="store_true",
                        help="decode patch by patch with the streaming decoder, writing as it goes")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress display")
    parser.set_defaults(_say_parser=parser)
    _refuse_unknown(parser)


def _refuse_unknown(parser) -> None:
    """Unknown options are say's usage errors too (argparse leaves a subcommand's extras to the top parser, whose
    usage says nothing about say's options)."""
    parse_known = parser.parse_known_args

    def parse_known_args(args=None, namespace=None):
        namespace, extras = parse_known(args, namespace)
        if extras:
            parser.error(f"unrecognized arguments: {' '.join(extras)}")
        return namespace, extras

    parser.parse_known_args = parse_known_args


class _Progress:
    """``sentence i/n, X.X s of audio`` on one stderr line (``piece j/m, `` first when long text was cut into
    pieces); silent unless stderr is a TTY and not --quiet."""

    def __init__(self, enabled: bool, sample_rate: int):
        self.enabled = enabled
        self.sample_rate = sample_rate
        self.samples = 0
        self.i = self.n = 0
        self.j, self.m = 0, 1

    def piece(self, j: int, m: int) -> None:
        self.j, self.m = j, m
        self.i = self.n = 0

    def sentence(self, i: int, n: int, _text: str) -> None:
        self.i, self.n = i, n
        self._show()

    def add(self, n_samples: int) -> None:
        self.samples += n_samples
        self._show()

    def _active(self) -> bool:
        return self.enabled and (self.n > 1 or self.m > 1)

    def _show(self) -> None:
        if self._active():
            where = f"piece {self.j + 1}/{self.m}, " if self.m > 1 else ""
            sys.stderr.write(f"\r{where}sentence {self.i + 1}/{self.n}, "
                             f"{self.samples / self.sample_rate:.1f} s of audio ")
            sys.stderr.flush()

    def done(self) -> None:
        if self._active():
            sys.stderr.write("\n")


def text_limit(model) -> int:
    """The most characters ``model`` takes in one call (its pipeline module's MAX_TEXT_CHARS; 5000 if none)."""
    module = sys.modules.get(type(model).__module__)
    return int(getattr(module, "MAX_TEXT_CHARS", 5000))


def split_pieces(text: str, limit: int) -> list[str]:
    """Text within ``limit`` characters as it is; longer text cut at sentence ends (the model's own splitter)
    into pieces of at most ``limit`` characters (an over-long sentence at commas, then spaces)."""
    if len(text) <= limit:
        return [text]
    from ..text.sentences import chunk_text

    return chunk_text(text, limit)


@contextmanager
def _open_output(args, sample_rate: int):
    from ..audio import PCMStreamWriter, open_audio_stream

    if args.output == "-":
        out = PCMStreamWriter(sys.stdout.buffer, sample_rate, wav=not args.raw)
        try:
            yield out
        finally:
            out.close()
    elif args.raw:
        from .._atomic import atomic_output

        with atomic_output(args.output) as tmp, open(tmp, "wb") as f:
            out = PCMStreamWriter(f, sample_rate, wav=False)
            yield out
            out.close()
    else:
        with open_audio_stream(args.output, sample_rate) as out:
            yield out


def _read_text(args) -> str:
    parser = args._say_parser
    given = [s for s in (args.text, args.text_file, args.script) if s is not None]
    if not given:
        parser.error('no text: give TEXT, "-" (standard input), -f FILE or --script FILE')
    if len(given) > 1:
        parser.error('give the text one way: TEXT, "-" (standard input), -f FILE or --script FILE, not several')
    if given[0] == "-" and (args.text == "-" or args.script == "-"):
        return sys.stdin.read()
    return given[0]


def _run_script(args, text: str, to_stdout: bool) -> int:
    """--script: one multi-speaker generation, streamed to the output as it is made."""
    import voxlite
    from voxlite.audio import StreamResampler
    from voxlite.errors import InvalidInput

    if args.voice_text is not None:
        raise InvalidInput("--voice-text: a --script's voices need no transcripts")
    refused = [flag for flag, given in (("--speed", args.speed != 1.0), ("--pause", args.pause is not None),
                                        ("--ssml", args.ssml), ("--lexicon", bool(args.lexicon)),
                                        ("--flow-start", args.flow_start is not None),
                                        ("--temperature", args.temperature is not None),
                                        ("--top-k", args.top_k is not None), ("--top-p", args.top_p is not None),
                                        ("--instruction", args.instruction is not None))
               if given]
    if refused:
        raise InvalidInput(f"{refused[0]}: a --script is spoken by a multi-speaker model, which does not take it")
    voices = _speaker_voices(args.voice or [])
    if args.voice_name is not None:
        from ..voices import find_voice

        bundle = find_voice(args.voice_name)
    else:
        bundle = args.bundle or default_bundle()
    model = voxlite.load(bundle, backend=args.backend, precision=args.precision, threads=args.threads,
                         task="multi-speaker")
    rate = args.rate or model.sample_rate
    resampler = StreamResampler(model.sample_rate, rate)
    progress = _Progress(not args.quiet and sys.stderr.isatty(), model.sample_rate)
    try:
        with _open_output(args, rate) as out:
            for chunk in model.stream(text, voices=voices, cfg=args.cfg, steps=args.steps, seed=args.seed,
                                      volume=args.volume):
                out.write(resampler(chunk))
                progress.add(len(chunk))
            out.write(resampler.flush())
            duration = out.duration
    finally:
        progress.done()
    if not args.quiet:
        print(f"{duration:.2f} s -> {'<stdout>' if to_stdout else args.output}", file=sys.stderr)
    return 0


def run(args) -> int:
    parser = args._say_parser
    if args.list_voices:
        from .voices import print_voices

        return print_voices()
    if args.output is None:
        parser.error("the following arguments are required: -o/--output")
    if args.bundle is not None and args.voice_name is not None:
        parser.error("--bundle and --voice-name both choose the voice: give one")
    to_stdout = args.output == "-"
    if to_stdout and sys.stdout.isatty() and not args.quiet:
        print("voxlite say: writing audio to the terminal (-o -); pipe it somewhere", file=sys.stderr)
    text = _read_text(args)

    import voxlite
    from voxlite.audio import StreamResampler, check_output_path, check_write_format
    from voxlite.errors import InvalidInput

    if not to_stdout:  # refuse what cannot be written before any synthesis
        check_output_path(args.output, create_parents=False)
        if not args.raw:
            check_write_format(args.output)
    if not text.strip():
        raise InvalidInput("text is empty")
    if args.script is not None:
        return _run_script(args, text, to_stdout)
    if args.voice is not None and len(args.voice) > 1:
        raise InvalidInput("--voice: one voice speaks plain text; several speakers need --script")
    voice = None if args.voice is None else args.voice[0]
    if voice is not None and "=" in voice and voice.partition("=")[0].strip().isdigit():
        raise InvalidInput(f"--voice {voice!r}: N=FILE names a speaker of a --script")
    if voice is None and args.voice_text is not None:
        raise InvalidInput("--voice-text without --voice (the recording it transcribes)")
    if args.voice_name is not None:
        from ..voices import find_voice

        bundle = find_voice(args.voice_name)
    else:
        bundle = args.bundle or default_bundle()
    task = "voice-cloning" if voice is not None else "text-to-speech"
    model = voxlite.load(bundle, backend=args.backend, precision=args.precision, threads=args.threads, task=task)
    # a model that reads voices without transcripts (VibeVoice, UniAudio) needs no --voice-text
    if voice is not None and args.voice_text is None and getattr(model, "prompt_needs_transcript", True):
        raise InvalidInput("--voice and --voice-text go together (the recording and its transcript)")
    for lexicon in args.lexicon or ():
        if not hasattr(model, "add_lexicon"):
            raise InvalidInput(f"--lexicon: a {type(model).__name__} takes no user lexicon")
        model.add_lexicon(lexicon)
    from voxlite.text.ssml import looks_like_ssml

    ssml = args.ssml or looks_like_ssml(text)
    # an SSML document is one piece (the model refuses one over its limit); plain text is cut at sentence ends
    pieces = [text] if ssml else split_pieces(text, text_limit(model))
    rate = args.rate or model.sample_rate
    resampler = StreamResampler(model.sample_rate, rate)
    progress = _Progress(not args.quiet and sys.stderr.isatty(), model.sample_rate)
    options = dict(cfg=args.cfg, steps=args.steps, flow_start=args.flow_start, progress=progress.sentence)
    # the user-control options go in only when given (bundles whose model takes none still speak plain text)
    if args.speed != 1.0:
        options["speed"] = args.speed
    if args.pause is not None:
        options["pause"] = args.pause
    if args.volume is not None:
        options["volume"] = args.volume
    if args.instruction is not None:
        options["instruction"] = args.instruction
    if ssml:
        options["ssml"] = True
    if voice is not None:
        options.update(prompt_audio=voice, prompt_text=args.voice_text)
    sampling = {k: v for k, v in (("temperature", args.temperature), ("top_k", args.top_k), ("top_p", args.top_p))
                if v is not None}
    import inspect

    takes = inspect.signature(model.stream).parameters
    for name in sampling:
        if name not in takes:
            raise InvalidInput(f"--{name.replace('_', '-')}: bundle {model.bundle.name!r} does not sample tokens "
                               f"({type(model).__name__})")
    options.update(sampling)
    # options a family's stream does not take: dropped when unset, refused when the user gave them
    from .options import taken

    options = taken(model.stream, options, bundle=model.bundle.name)
    chunks_before = 0  # sentence chunks of the pieces already spoken: chunk k of the whole text uses seed + k
    try:
        with _open_output(args, rate) as out:
            for j, piece in enumerate(pieces):
                progress.piece(j, len(pieces))
                if j and args.pause:  # the pause between sentences, also where the text was cut into pieces
                    from voxlite.audio import silence

                    out.write(resampler(silence(args.pause, model.sample_rate)))
                call = dict(options, seed=args.seed + chunks_before)
                produced = model.stream(piece, **call) if args.stream else \
                    (model.synthesize(piece, **call).samples,)
                for chunk in produced:
                    out.write(resampler(chunk))
                    progress.add(len(chunk))
                chunks_before += max(progress.n, 1)
            out.write(resampler.flush())
            duration = out.duration
    except BrokenPipeError:  # `voxlite say ... -o - | head -c 1000`: the reader has what it wanted
        if to_stdout:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)
            return 141
        raise
    finally:
        progress.done()
    if not args.quiet:
        where = "<stdout>" if to_stdout else args.output
        pieces_note = f" ({len(pieces)} pieces)" if len(pieces) > 1 else ""
        print(f"{duration:.2f} s -> {where}{pieces_note}", file=sys.stderr)
    return 0
