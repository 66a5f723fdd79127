"""``voxlite export FAMILY ...``: export a model to a bundle (the same as ``python -m voxlite.export``; needs torch)."""
from __future__ import annotations

import argparse

HELP = "export a model (official checkpoint or trained one) to a bundle; needs torch"

_FAMILIES = "\0families"  # the help's epilog: filled from the registry only when --help is shown


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Reads the families from ``voxlite.export``'s registry only when help is printed, so building the CLI (for
    ``voxlite say`` ...) never imports ``voxlite.export``."""

    def add_text(self, text):
        if text == _FAMILIES:
            from voxlite.export import families_help

            text = families_help()
        super().add_text(text)


def add_arguments(parser) -> None:
    parser.formatter_class = _Formatter
    parser.epilog = _FAMILIES
    parser.add_argument("family", metavar="FAMILY", help="codec, voxcpm, default-voice or letter-to-sound (below)")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="the family's options (FAMILY --help lists them)")


def run(args) -> int:
    from voxlite.export import run as run_family

    return run_family(args.family, list(args.args), prog="voxlite export")
