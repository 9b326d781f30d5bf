"""Lazy public names for packages whose modules import torch.

``import neuralpaint`` and every environment that paints with MyPaint must start without
torch (about 1.5 s to import). A package lists its public names here and gets them on
first access instead of importing its modules up front.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def lazy_exports(package: str, names: dict[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` that imports ``names[attr]`` (a submodule of ``package``)
    on first access and returns its attribute ``attr``."""

    def __getattr__(attr: str) -> Any:
        if attr not in names:
            raise AttributeError(f"module {package!r} has no attribute {attr!r}")
        return getattr(importlib.import_module(f"{package}.{names[attr]}"), attr)

    return __getattr__
