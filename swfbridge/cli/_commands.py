"""The list of subcommand modules, in the order ``--help`` shows them."""

from __future__ import annotations

import argparse
from types import ModuleType
from typing import Protocol


class CommandModule(Protocol):
    def add_parser(
        self, subparsers: argparse._SubParsersAction[argparse.ArgumentParser]
    ) -> None: ...


def all_commands() -> list[ModuleType]:
    from swfbridge.cli import demo, local_swf, poll, register, run, status

    return [demo, poll, register, run, status, local_swf]
