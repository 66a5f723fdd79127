"""``voxlite generate "rain on a tin roof" -o rain.wav --bundle B --seconds 10``: text to sound or music (AudioLDM 2
bundles: latent diffusion; UniAudio bundles: codec tokens). Each option goes to the bundles that take it; one a
bundle does not take is refused."""
from __future__ import annotations

import sys

HELP = "generate sound or music from a text prompt (an AudioLDM 2 or UniAudio bundle)"


def add_arguments(parser) -> None:
    from ..backends.registry import GRAPH_BACKENDS

    parser.add_argument("prompt", help="what to hear, e.g. \"rain on a tin roof\"")
    parser.add_argument("-o", "--output", required=True, help="audio file to write (.wav, .flac, ...)")
    parser.add_argument("--bundle", required=True,
                        help="a text-to-audio bundle (python -m export audioldm2, or uniaudio with --t5)")
    parser.add_argument("--seconds", type=float, default=None,
                        help="duration (default: the bundle's; AudioLDM 2 10.24 s, UniAudio 10 s)")
    parser.add_argument("--seed", type=int, default=0, help="noise / sampling seed")
    diffusion = parser.add_argument_group("diffusion (AudioLDM 2)")
    diffusion.add_argument("--steps", type=int, default=None, help="denoising steps (default: the bundle's, 200)")
    diffusion.add_argument("--cfg", type=float, default=None, help="guidance scale (default 3.5; <= 1: none)")
    diffusion.add_argument("--negative", default=None, help="what not to hear (CFG's negative prompt)")
    diffusion.add_argument("--solver", choices=("ddim", "dpmpp-2m"), default=None,
                           help="ddim (the checkpoints' own, default) or dpmpp-2m (DPM-Solver++(2M): good in 20-25 "
                           "steps)")
    diffusion.add_argument("--candidates", type=int, default=None, metavar="N",
                           help="generate N and keep the one CLAP ranks closest to the prompt")
    tokens = parser.add_argument_group("codec tokens (UniAudio)")
    tokens.add_argument("--music", action="store_true", help="music (UniAudio's TTM) rather than sound (TSS)")
    tokens.add_argument("--temperature", type=float, default=None, help="sampling temperature (0: greedy)")
    tokens.add_argument("--top-k", type=int, default=None, help="sample among the k likeliest codes (default 30)")
    parser.add_argument("--backend", default="auto", choices=("auto", *GRAPH_BACKENDS), metavar="BACKEND")
    parser.add_argument("--precision", default=None, help="graph precision (fp32, fp16, int8); default: the bundle's")
    parser.add_argument("--threads", type=int, default=None, metavar="N")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress display")


def run(args) -> int:
    import voxlite
    from voxlite.audio import check_output_path, check_write_format

    from .options import taken

    check_output_path(args.output, create_parents=False)
    check_write_format(args.output)
    model = voxlite.load(args.bundle, backend=args.backend, precision=args.precision, threads=args.threads,
                         task="text-to-audio")
    show = not args.quiet and sys.stderr.isatty()

    def progress(i: int, n: int) -> None:
        if show:
            print(f"\rstep {i}/{n}", end="" if i < n else "\n", file=sys.stderr, flush=True)

    options = taken(model.generate, dict(
        seconds=args.seconds, steps=args.steps, guidance=args.cfg, negative=args.negative, seed=args.seed,
        solver=args.solver, waveforms=args.candidates, task="TTM" if args.music else None,
        temperature=args.temperature, top_k=args.top_k, progress=progress), bundle=model.bundle.name)
    audio = model.generate(args.prompt, **options)
    audio.save(args.output)
    if not args.quiet:
        print(f"wrote {args.output} ({audio.duration:.2f} s at {audio.sample_rate} Hz)", file=sys.stderr)
    return 0
