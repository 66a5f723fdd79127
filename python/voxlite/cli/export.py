"""``voxlite export FAMILY ...``: export a model to a bundle (``python -m voxlite.export``; needs torch)."""
from __future__ import annotations

import argparse

HELP = "export a model (official checkpoint or trained one) to a bundle; needs torch"


class _Help(argparse.Action):
    """``-h``: the usage plus the registry's families. The registry is read only here, so building the CLI (for
    ``voxlite say`` ...) never imports ``voxlite.export``."""

    def __init__(self, option_strings, dest, **kwargs):
        super().__init__(option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, nargs=0,
                         help="show this help message (with the families) and exit")

    def __call__(self, parser, namespace, values, option_string=None):
        from voxlite.export import families_help

        parser.print_help()
        print(f"\n{families_help()}")
        parser.exit()


def add_arguments(parser) -> None:
    parser.conflict_handler = "resolve"  # replace argparse's -h with one that lists the families
    parser.add_argument("-h", "--help", action=_Help)
    parser.add_argument("family", metavar="FAMILY", help="codec, voxcpm, default-voice or letter-to-sound "
                        "(--help describes them)")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="the family's options (FAMILY --help lists them)")


def run(args) -> int:
    from voxlite.export import run as run_family

    return run_family(args.family, list(args.args), prog="voxlite export")
