"""Painter checkpoints: weights in safetensors plus a JSON config.

A checkpoint is a folder with ``model.safetensors`` (the painter's weights, and any
training state such as optimizer moments under ``train/``) and ``config.json`` (kind,
action variant, image size, architecture arguments, package version, training
progress). Both files are written atomically, so an interrupted save never replaces a
good checkpoint with a broken one.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

import neuralpaint
from neuralpaint.errors import UserError
from neuralpaint.io import atomic_path, write_text

WEIGHTS = "model.safetensors"
CONFIG = "config.json"


class CheckpointError(UserError, ValueError):
    """A checkpoint is missing, corrupt, or does not match what was asked for."""


def save(folder: str | Path, tensors: dict[str, torch.Tensor], config: dict) -> Path:
    """Write ``tensors`` and ``config`` into ``folder`` atomically."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    contiguous = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    with atomic_path(folder / WEIGHTS) as tmp:
        save_file(contiguous, str(tmp))
    full = {"neuralpaint_version": neuralpaint.__version__, **config}
    write_text(folder / CONFIG, json.dumps(full, indent=2, sort_keys=True))
    return folder


def read_config(folder: str | Path) -> dict:
    """The JSON config of a checkpoint folder.

    Raises:
        CheckpointError: when the folder or its config is missing or unreadable.
    """
    path = Path(folder) / CONFIG
    if not path.is_file():
        raise CheckpointError(
            f"{folder} is not a painter checkpoint: {CONFIG} is missing (expected {WEIGHTS} "
            "and config.json written by `neuralpaint painter train`)"
        )
    try:
        config = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{path} is corrupt ({exc}); retrain or restore it") from exc
    for key in ("kind", "size", "discrete"):
        if key not in config:
            raise CheckpointError(f"{path} lacks the field {key!r}; it is not a painter config")
    return config


def load_tensors(folder: str | Path) -> dict[str, torch.Tensor]:
    """All tensors of a checkpoint.

    Raises:
        CheckpointError: when the weights file is missing or corrupt.
    """
    path = Path(folder) / WEIGHTS
    if not path.is_file():
        raise CheckpointError(f"{path} is missing; the checkpoint is incomplete")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, RuntimeError) as exc:
        raise CheckpointError(f"{path} is corrupt ({exc}); retrain or restore it") from exc


def split(tensors: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """The tensors under ``prefix/``, with the prefix removed."""
    cut = len(prefix) + 1
    return {k[cut:]: v for k, v in tensors.items() if k.startswith(prefix + "/")}


def join(prefix: str, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Prefix the keys of a state dict, to store several modules in one file."""
    return {f"{prefix}/{k}": v for k, v in state.items()}


def load_state(module: torch.nn.Module, state: dict[str, torch.Tensor], where: str) -> None:
    """``load_state_dict`` with an error that says which checkpoint part mismatched."""
    try:
        module.load_state_dict(state)
    except RuntimeError as exc:
        raise CheckpointError(
            f"{where}: weights do not fit the architecture in config.json ({str(exc)[:300]})"
        ) from exc
