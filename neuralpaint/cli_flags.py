"""Flags shared by the ``neuralpaint`` subcommands, so every command spells and defaults
them the same way. Kept apart from :mod:`neuralpaint.cli` so command modules can use it
without importing the parser, and free of torch so ``--help`` stays fast."""

from __future__ import annotations

import argparse

DEFAULT_DEVICE = "auto"
DEFAULT_THREADS = 0


def add_device_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--device",
        default=DEFAULT_DEVICE,
        help=f"cpu, cuda or auto: cuda when available (default {DEFAULT_DEVICE})",
    )


def add_threads_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--threads",
        type=int,
        default=DEFAULT_THREADS,
        help="torch CPU threads; 0 keeps torch's default of one per core. On a CPU shared "
        f"with other jobs 1 is often fastest (default {DEFAULT_THREADS})",
    )


def add_compute_flags(parser: argparse.ArgumentParser) -> None:
    """``--device`` and ``--threads``."""
    add_device_flag(parser)
    add_threads_flag(parser)


def set_threads(threads: int) -> None:
    """Use ``threads`` torch CPU threads; 0 leaves torch's default (imported only then)."""
    if threads < 0:
        raise ValueError(f"--threads must be 0 or more, got {threads}")
    if threads > 0:
        import torch

        torch.set_num_threads(threads)
