"""The ``swfbridge`` command line: the only place that reads the environment,
configures logging and installs signal handlers.

Each subcommand lives in its own module exposing ``add_parser(subparsers)``.
"""

from __future__ import annotations

import argparse
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
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for module in _commands.all_commands():
        module.add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
