"""``voxlite`` entry point. Subcommands live one per module and are listed in COMMANDS.

A command module defines ``HELP`` (one line), ``add_arguments(parser)`` and ``run(args) -> int``. Families add
``say``, ``export``, ``bench`` ... by adding a module and one line here; modules import lazily, so
``voxlite info`` does not pay for what ``voxlite say`` needs.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import sys

from ..errors import VoxliteError

COMMANDS: dict[str, str] = {
    "info": "voxlite.cli.info",
    "bundle": "voxlite.cli.bundle",
    "codec": "voxlite.cli.codec",
    "say": "voxlite.cli.say",
    "voices": "voxlite.cli.voices",
    "enhance": "voxlite.cli.enhance",
    "extract": "voxlite.cli.extract",
    "edit": "voxlite.cli.edit",
    "convert": "voxlite.cli.convert",
    "sing": "voxlite.cli.sing",
    "generate": "voxlite.cli.generate",
    "serve": "voxlite.cli.serve",
}


def build_parser() -> argparse.ArgumentParser:
    from .._version import __version__

    parser = argparse.ArgumentParser(prog="voxlite", description="Offline speech and audio generation.")
    parser.add_argument("--version", action="version", version=f"voxlite {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what runs where")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(module_name)
        p = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(message)s")
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except VoxliteError as e:
        print(f"voxlite {args.command}: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
