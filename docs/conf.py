"""Sphinx configuration for the swfbridge manual (build: sphinx-build -W docs docs/_build)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from docutils import nodes
from docutils.parsers.rst import Directive

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

project = "swfbridge"
author = "swfbridge contributors"
copyright = "swfbridge contributors"

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",  # the docstrings use Google style (Args/Returns/Raises)
]
exclude_patterns = ["_build"]
autodoc_member_order = "bysource"
autodoc_typehints = "description"
napoleon_google_docstring = True
napoleon_numpy_docstring = False
html_theme = "alabaster"


class CommandHelp(Directive):
    """``.. swfbridge-help:: poll``: the command's ``--help`` text, as argparse prints it.

    Generated at build time, so the CLI pages can never drift from the code.
    """

    required_arguments = 1

    def run(self) -> list[nodes.Node]:
        import argparse

        from swfbridge.cli import build_parser

        os.environ["COLUMNS"] = "88"  # argparse wraps to the terminal width
        parser = build_parser()
        name = self.arguments[0]
        if name == "swfbridge":
            text = parser.format_help()
        else:
            actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
            text = actions[0].choices[name].format_help()
        return [nodes.literal_block(text, text)]


def setup(app: object) -> None:
    app.add_directive("swfbridge-help", CommandHelp)  # type: ignore[attr-defined]
