"""Environment ids and per-dataset defaults, registered with Gymnasium.

Imported by ``neuralpaint/__init__.py``, so this module stays light: it imports only
gymnasium and names the environment classes by entry-point strings, which Gymnasium
imports when an environment is made.

Defaults follow the Neural Painters paper and SPIRAL. The paper paints MNIST with 8
connected black strokes and CelebA with 15 (or 30) colour strokes; SPIRAL's episodes
are 20 steps long, and in its grid action space a step may only move the pen, so the
Grid variants get at least 20 steps. KMNIST characters and Fashion-MNIST items have
more parts than digits, so they get 12 strokes; Fashion-MNIST needs grey levels.
Photos (crops of scikit-image's sample photos) get CelebA's 15 colour strokes.
"""

from __future__ import annotations

from dataclasses import dataclass

import gymnasium as gym

ENTRY_POINT = "neuralpaint.envs.paint:PaintEnv"
VECTOR_ENTRY_POINT = "neuralpaint.envs.vector:PaintVectorEnv"
VARIANTS = {"": "continuous", "-Discrete": "discrete", "-Grid": "grid"}
"""Id infix to action variant."""
COLOR_MODES = ("black", "gray", "rgb")


@dataclass(frozen=True)
class DatasetDefaults:
    """The defaults of one dataset's environments."""

    id_name: str
    """The dataset's part of the id, as in ``NeuralPaint-<id_name>-v0``."""
    strokes: int
    """Strokes per episode for the continuous and discrete variants."""
    grid_strokes: int
    """Steps per episode for the Grid variant (a step may only move the pen)."""
    color: str
    """How stroke colour is used: ``black``, ``gray`` (the red field is the grey level)
    or ``rgb``."""
    targets: str = ""
    """What the targets are, for the docs' table of ids."""


DEFAULTS: dict[str, DatasetDefaults] = {
    "mnist": DatasetDefaults("MNIST", 8, 20, "black", "digits, offline out of the box"),
    "kmnist": DatasetDefaults("KMNIST", 12, 20, "black", "Kuzushiji characters"),
    "fashion-mnist": DatasetDefaults("FashionMNIST", 12, 20, "gray", "clothes"),
    "celeba": DatasetDefaults("CelebA", 15, 20, "rgb", "faces, 64×64 centre crops"),
    "images": DatasetDefaults("Images", 30, 30, "rgb", "a folder of your images"),
    "photos": DatasetDefaults(
        "Photos",
        15,
        20,
        "rgb",
        "64×64 crops of scikit-image's sample photos (the `[parameterization]` extra)",
    ),
}


def check_episode(variant: str, color: str, strokes: int) -> None:
    """Validate the arguments an environment and an agent's Task share, with the same words.

    Raises:
        ValueError: naming the argument and its choices.
    """
    if variant not in VARIANTS.values():
        raise ValueError(f"variant must be one of {tuple(VARIANTS.values())}, got {variant!r}")
    if color not in COLOR_MODES:
        raise ValueError(f"color must be one of {COLOR_MODES}, got {color!r}")
    if int(strokes) < 1:
        raise ValueError(f"strokes must be at least 1, got {strokes}")


def env_id(dataset: str, variant: str = "continuous") -> str:
    """The id of a dataset's environment, e.g. ``env_id("mnist", "grid")``."""
    infix = {v: k for k, v in VARIANTS.items()}[variant]
    return f"NeuralPaint-{DEFAULTS[dataset].id_name}{infix}-v0"


def env_ids() -> list[str]:
    """Every registered id, datasets in table order, variants in order."""
    return [env_id(d, v) for d in DEFAULTS for v in VARIANTS.values()]


def env_table() -> str:
    """The Markdown table of ids and their defaults, generated into docs/environments.md
    by ``neuralpaint bench report --readme`` so that no count or default is typed by hand."""
    rows = [
        f"Importing `neuralpaint` registers {len(env_ids())} Gymnasium ids: {len(DEFAULTS)} "
        f"datasets, each in {len(VARIANTS)} action variants "
        f"({', '.join(f'`{v}-v0`' for v in VARIANTS)}).",
        "",
        "| ids | strokes per episode | Grid steps | colour | targets |",
        "|---|---|---|---|---|",
    ]
    for dataset, d in DEFAULTS.items():
        rows.append(
            f"| `{env_id(dataset)}` ... | {d.strokes} | {d.grid_strokes} | {d.color} | "
            f"{d.targets} |"
        )
    return "\n".join(rows) + "\n"


def register_envs() -> None:
    """Register every id with Gymnasium; a no-op for ids already registered."""
    for dataset in DEFAULTS:
        for variant in VARIANTS.values():
            name = env_id(dataset, variant)
            if name in gym.registry:
                continue
            gym.register(
                id=name,
                entry_point=ENTRY_POINT,
                vector_entry_point=VECTOR_ENTRY_POINT,
                kwargs={"dataset": dataset, "variant": variant},
            )
