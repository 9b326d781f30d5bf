"""Flags shared by the ``neuralpaint`` subcommands, so every command spells and defaults
them the same way. Kept apart from :mod:`neuralpaint.cli` so command modules can use it
without importing the parser, and free of torch so ``--help`` stays fast."""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
from pathlib import Path
from typing import Any, TypeVar

from neuralpaint.errors import UserValueError

DEFAULT_DEVICE = "auto"
DEFAULT_THREADS = 0
DEVICES = "cpu, cuda, cuda:N, mps or auto"
T = TypeVar("T")


# Argument types: argparse names the flag in their errors ("argument --device: ...") and
# refuses the value before any command starts.


def device(text: str) -> str:
    """A torch device the commands accept, checked without importing torch."""
    if not re.fullmatch(r"cpu|auto|mps|cuda(:\d+)?", text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a device: use {DEVICES}")
    return text


def positive_int(text: str) -> int:
    """An integer of at least 1."""
    value = _number(text, int, "an integer")
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {text}")
    return value


def non_negative_int(text: str) -> int:
    """An integer of at least 0."""
    value = _number(text, int, "an integer")
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
    return value


def positive_float(text: str) -> float:
    """A number greater than 0."""
    value = _number(text, float, "a number")
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be greater than 0, got {text}")
    return value


def _number(text: str, kind: type, what: str):
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}") from None


def folder(text: str) -> str:
    """An output folder: refused when it, or a folder above it, is an existing file."""
    path = Path(text)
    for part in (path, *path.parents):
        if part.exists():
            if not part.is_dir():
                where = "is" if part == path else f"is under {part}, which is"
                raise argparse.ArgumentTypeError(f"{text} {where} a file, not a folder")
            break
    return text


def json_object(text: str) -> str:
    """Text that parses as a JSON object (returned as given, for the command to read)."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"not valid JSON ({exc}): {text}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"must be a JSON object {{...}}, got {text}")
    return text


def add_device_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--device",
        type=device,
        default=DEFAULT_DEVICE,
        help=f"{DEVICES}; auto picks cuda when available (default {DEFAULT_DEVICE})",
    )


def add_threads_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--threads",
        type=non_negative_int,
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
        raise UserValueError(f"--threads must be 0 or more, got {threads}")
    if threads > 0:
        import torch

        torch.set_num_threads(threads)


def from_flags(cls: type[T], args: argparse.Namespace, **overrides: Any) -> T:
    """The dataclass ``cls`` with each field that has a flag of the same name (its
    ``dest``) set from ``args``, then ``overrides``; fields without a flag keep their
    defaults. A new flag thus reaches the config by being named after its field."""
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**({k: v for k, v in vars(args).items() if k in names} | overrides))
