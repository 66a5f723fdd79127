"""``voxlite generate "rain on a tin roof" -o rain.wav --seconds 10``: text to sound or music (AudioLDM 2 bundles)."""
from __future__ import annotations

import sys

HELP = "generate sound or music from a text prompt (an AudioLDM 2 bundle)"


def add_arguments(parser) -> None:
    from ..backends.registry import GRAPH_BACKENDS

    parser.add_argument("prompt", help="what to hear, e.g. \"rain on a tin roof\"")
    parser.add_argument("-o", "--output", required=True, help="audio file to write (.wav, .flac, ...)")
    parser.add_argument("--bundle", required=True, help="an AudioLDM 2 bundle (python -m export audioldm2)")
    parser.add_argument("--seconds", type=float, default=None, help="duration (default: the bundle's, 10.24 s)")
    parser.add_argument("--steps", type=int, default=None, help="denoising steps (default: the bundle's, 200)")
    parser.add_argument("--cfg", type=float, default=None, help="guidance scale (default 3.5; <= 1: none)")
    parser.add_argument("--negative", default=None, help="what not to hear (CFG's negative prompt)")
    parser.add_argument("--seed", type=int, default=0, help="initial noise seed")
    parser.add_argument("--solver", choices=("ddim", "dpmpp-2m"), default="ddim",
                        help="ddim (the checkpoints' own) or dpmpp-2m (DPM-Solver++(2M): good in 20-25 steps)")
    parser.add_argument("--candidates", type=int, default=1, metavar="N",
                        help="generate N and keep the one CLAP ranks closest to the prompt")
    parser.add_argument("--backend", default="auto", choices=("auto", *GRAPH_BACKENDS), metavar="BACKEND")
    parser.add_argument("--precision", default=None, help="graph precision (fp32, fp16, int8); default: the bundle's")
    parser.add_argument("--threads", type=int, default=None, metavar="N")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress display")


def run(args) -> int:
    import voxlite
    from voxlite.audio import check_output_path, check_write_format

    check_output_path(args.output, create_parents=False)
    check_write_format(args.output)
    model = voxlite.load(args.bundle, backend=args.backend, precision=args.precision, threads=args.threads,
                         task="text-to-audio")
    show = not args.quiet and sys.stderr.isatty()

    def progress(i: int, n: int) -> None:
        if show:
            print(f"\rdenoising {i}/{n}", end="" if i < n else "\n", file=sys.stderr, flush=True)

    audio = model.generate(args.prompt, seconds=args.seconds, steps=args.steps, guidance=args.cfg,
                           negative=args.negative, seed=args.seed, solver=args.solver, waveforms=args.candidates,
                           progress=progress)
    audio.save(args.output)
    if not args.quiet:
        print(f"wrote {args.output} ({audio.duration:.2f} s at {audio.sample_rate} Hz)", file=sys.stderr)
    return 0
