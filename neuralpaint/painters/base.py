"""The one interface every renderer satisfies, real or neural.

Environments and agents only talk to a :class:`Painter`: it renders stroke masks in a
batch and makes :class:`Canvas` objects that accumulate strokes over an episode. The
real MyPaint renderer and the neural renderers both implement it, so the same
environment runs on either.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Canvas(Protocol):
    """A canvas that strokes accumulate on, one episode's worth."""

    size: int
    strokes: int
    """Strokes painted since the last clear (lifted strokes count)."""

    def reset(self, seed: int | Sequence[int] | None = None) -> None:
        """Clear to white and reseed any randomness of the renderer."""

    def clear(self) -> None:
        """Clear to white."""

    def paint(self, action: np.ndarray) -> None:
        """Paint one 12-field action (13 for the discrete variant)."""

    def image(self) -> np.ndarray:
        """The canvas, ``(H, W, 3)`` float32 RGB in [0, 1]."""


@runtime_checkable
class Painter(Protocol):
    """A renderer: strokes in, alpha masks out."""

    size: int
    name: str
    differentiable: bool
    """Whether :attr:`module` maps torch actions to masks with gradients."""

    def render_masks(self, actions: np.ndarray, seed: int = 0) -> np.ndarray:
        """``(N, 12)`` or ``(N, 13)`` actions to ``(N, H, W)`` float32 masks."""

    def new_canvas(self, seed: int | Sequence[int] | None = None) -> Canvas:
        """A fresh white canvas of this painter's size."""
