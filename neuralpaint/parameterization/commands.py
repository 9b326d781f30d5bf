"""CLI subcommands of the image-parameterization tools (``visualize``, ``stylize``)."""

from __future__ import annotations

import argparse


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register this package's subcommands on the ``neuralpaint`` parser."""
