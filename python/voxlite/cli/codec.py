"""``voxlite codec encode|decode``: audio <-> codes/latents with a codec bundle."""
from __future__ import annotations

import numpy as np

HELP = "encode audio to codes (or latents) and decode them back, with a codec bundle"


def add_arguments(parser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    for name, help_text in (("encode", "audio file -> codes.npz"), ("decode", "codes.npz -> audio file")):
        p = sub.add_parser(name, help=help_text)
        p.add_argument("input")
        p.add_argument("-o", "--output", required=True)
        p.add_argument("--bundle", required=True, help="codec bundle directory or archive")
        p.add_argument("--backend", default="auto")
        p.add_argument("--precision", default=None, help="graph precision (fp32, fp16, int8); default: the bundle's")
        p.add_argument("--threads", type=int, default=None)
        p.add_argument("--n-q", type=int, default=None, help="RVQ stages to use (default: all)")


def run(args) -> int:
    import voxlite
    from voxlite.audio import read_audio
    from voxlite.errors import InvalidInput

    model = voxlite.load(args.bundle, backend=args.backend, precision=args.precision, threads=args.threads,
                         task="codec")
    if args.action == "encode":
        audio = read_audio(args.input, sample_rate=model.sample_rate, max_seconds=3600)
        codes = model.encode(audio, n_q=args.n_q)
        key = "codes" if model.kind == "rvq" else "latents"
        _save_npz(args.output, **{key: codes, "sample_rate": np.int64(model.sample_rate),
                                  "bundle": np.array(model.bundle.name)})
        print(f"{args.input}: {audio.duration:.2f} s -> {key} {tuple(codes.shape)} -> {args.output}")
        return 0
    data = _load_npz(args.input)
    key = "codes" if model.kind == "rvq" else "latents"
    if key not in data:
        raise InvalidInput(f"{args.input} has no {key!r} array (has: {', '.join(data) or 'nothing'})")
    audio = model.decode(data[key], n_q=args.n_q)
    audio.save(args.output)
    print(f"{args.input}: {key} {tuple(data[key].shape)} -> {audio.duration:.2f} s -> {args.output}")
    return 0


def _save_npz(path: str, **arrays) -> None:
    from voxlite._atomic import atomic_output

    with atomic_output(path, suffix=".npz") as tmp:
        np.savez(tmp, **arrays)


def _load_npz(path: str) -> dict:
    from voxlite.errors import InvalidInput

    try:
        with np.load(path, allow_pickle=False) as f:
            return {k: f[k] for k in f.files}
    except (OSError, ValueError) as e:
        raise InvalidInput(f"cannot read {path} as .npz: {e}") from None
