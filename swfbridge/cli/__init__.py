"""The ``swfbridge`` command line: the only place that reads the environment,
configures logging and installs signal handlers.

Each subcommand lives in its own module exposing ``add_parser(subparsers)``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from swfbridge.cli import _commands


class _Parser(argparse.ArgumentParser):
    """Reports a bad flag in one line (with where to look), not a usage dump."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="swfbridge",
        description="Run Amazon SWF activities on a Celery fleet.",
    )
    from swfbridge import __version__

    parser.add_argument(
        "--version",
        action="version",
        version=f"swfbridge {__version__}",
        help="print swfbridge's version and exit",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for module in _commands.all_commands():
        module.add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    # Like ``celery -A``: modules in the current directory can be named
    # (--activities, --task-map tasks), whether run as ``swfbridge`` or ``python -m``.
    if "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    parser = build_parser()
    args = parser.parse_args(argv)
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
