"""``voxlite voices``: the voices ``voxlite say`` can use (``--voice-name NAME``): the embedded one and the bundles in
the voices directory (``$VOXLITE_VOICES_DIR``, else ``~/.local/share/voxlite/voices``)."""
from __future__ import annotations

import json

HELP = "list the voices say can use: the embedded one and those in the voices directory"


def add_arguments(parser) -> None:
    from ..voices import VOICES_DIR_ENV

    parser.add_argument("--dir", default=None,
                        help=f"voices directory to list (default: ${VOICES_DIR_ENV}, else ~/.local/share/voxlite/voices)")
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")


def _size(n: int) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n} B"


def print_voices(directory=None, as_json: bool = False) -> int:
    from ..voices import list_voices, voices_dir

    where = directory if directory is not None else voices_dir()
    voices = list_voices(where)
    if as_json:
        print(json.dumps({"voices_dir": str(where), "voices": [v.as_dict() for v in voices]}, indent=2))
        return 0
    print(f"voices directory: {where}{'' if where.is_dir() else ' (does not exist)'}")
    if not voices:
        print("no voices (this build has no embedded voice and the voices directory has none)")
    for v in voices:
        if v.ok:
            caps = ", ".join(v.capabilities)
            print(f"{v.name:<20} {v.sample_rate or '-':>6} Hz  {_size(v.size):>9}  {caps}  [{v.source}] {v.path}")
        else:
            print(f"{v.name:<20} unusable: {v.error}  [{v.source}] {v.path}")
    return 0


def run(args) -> int:
    from pathlib import Path

    return print_voices(Path(args.dir).expanduser() if args.dir else None, args.json)
