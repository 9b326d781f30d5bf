"""Compositing a stroke onto a canvas: ``canvas * (1 - a) + a * c``.

For one single-colour stroke in MyPaint's normal blend mode this is exact, so neural
painters only learn the mask ``a`` and colour is applied here, differentiably.
"""

from __future__ import annotations

import numpy as np
import torch

from neuralpaint import actions as A


def composite(canvas: torch.Tensor, mask: torch.Tensor, color: torch.Tensor) -> torch.Tensor:
    """Paint masks onto canvases, differentiably.

    Args:
        canvas: ``(B, 3, H, W)`` in [0, 1].
        mask: ``(B, 1, H, W)`` alpha in [0, 1].
        color: ``(B, 3)`` RGB in [0, 1].
    """
    return canvas * (1.0 - mask) + mask * color[:, :, None, None]


def composite_np(canvas: np.ndarray, mask: np.ndarray, color: np.ndarray) -> np.ndarray:
    """The numpy twin of :func:`composite` for ``(H, W, 3)`` canvases and ``(H, W)`` masks."""
    a = mask[..., None]
    return canvas * (1.0 - a) + a * np.asarray(color, dtype=canvas.dtype)


def paint_sequence(
    painter: torch.nn.Module, actions: torch.Tensor, canvas: torch.Tensor | None = None
) -> torch.Tensor:
    """Composite a sequence of strokes with a neural painter.

    Args:
        painter: maps ``(B, 12)`` actions to ``(B, 1, H, W)`` masks.
        actions: ``(B, T, 12)``, painted in order ``t = 0 .. T-1``.
        canvas: ``(B, 3, H, W)`` start canvas; white when ``None``.

    Returns:
        The final ``(B, 3, H, W)`` canvas. Gradients flow back to ``actions``.
    """
    b, t, _ = actions.shape
    masks = painter(actions.reshape(b * t, -1))
    masks = masks.reshape(b, t, *masks.shape[1:])
    if canvas is None:
        h, w = masks.shape[-2:]
        canvas = torch.ones(b, 3, h, w, device=actions.device, dtype=masks.dtype)
    for i in range(t):
        canvas = composite(canvas, masks[:, i], actions[:, i, A.COLOR_SLICE])
    return canvas
