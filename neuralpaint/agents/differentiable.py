"""Painting through a neural painter with gradients, shared by the gradient agents."""

from __future__ import annotations

import numpy as np
import torch

from neuralpaint import actions as A
from neuralpaint.agents.relaxations import opacity_mask, painter_view
from neuralpaint.agents.task import Task
from neuralpaint.painters.compositing import composite
from neuralpaint.painters.neural import (
    default_twin,
    load_painter,
    painter_for_brush,
    resolve_device,
)


def frozen_painter(task: Task, device: torch.device) -> torch.nn.Module:
    """The task's neural painter in eval mode with frozen weights: agents learn through
    it, never change it. For a task of a chosen brush it is that brush's twin (a
    shipped regression painter of another brush stands for it), or an error naming
    the brush, the brushes with a shipped twin and how to train one."""
    if task.variant == "grid":
        raise ValueError(
            "gradient agents paint the continuous or discrete variant; the grid variant's "
            "MultiDiscrete action has no gradient (use an RL agent such as 'ppo')"
        )
    brush = task.brush_choice
    name = task.painter
    if brush is not None:  # the brush's twin, or the error that says there is none
        name = painter_for_brush(name, brush) if name else default_twin(brush, task.discrete)
    painter = load_painter(name, device, expect_discrete=task.discrete, brush=brush)
    for p in painter.parameters():
        p.requires_grad_(False)
    return painter


def stroke_colors(actions: torch.Tensor, color: str) -> torch.Tensor:
    """``(..., 3)`` colours for a task's colour mode (see :class:`Task`)."""
    rgb = actions[..., A.COLOR_SLICE]
    if color == "black":
        return torch.zeros_like(rgb)
    return rgb[..., :1].expand_as(rgb) if color == "gray" else rgb


def paint_step(
    painter: torch.nn.Module,
    canvas: torch.Tensor,
    action: torch.Tensor,
    color: str,
    relaxation: str = "none",
    training: bool = False,
) -> torch.Tensor:
    """Composite one ``(B, D)`` stroke onto ``(B, 3, H, W)`` canvases; ``relaxation``
    says how discrete fields reach the painter (see :mod:`relaxations`)."""
    seen = painter_view(action, relaxation, training)
    mask = opacity_mask(painter, seen) if relaxation == "opacity" else painter(seen)
    return composite(canvas, mask, stroke_colors(action, color))


def white(batch: int, size: int, device: torch.device) -> torch.Tensor:
    return torch.ones(batch, 3, size, size, device=device)


def to_tensor(images: np.ndarray, device: torch.device) -> torch.Tensor:
    """``(N, H, W, 3)`` float images to ``(N, 3, H, W)`` tensors."""
    arr = np.asarray(images, dtype=np.float32)
    if arr.ndim != 4 or arr.shape[-1] != 3:
        raise ValueError(f"targets must have shape (N, H, W, 3), got {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError("targets contain NaN or infinite values")
    return torch.as_tensor(arr, device=device).permute(0, 3, 1, 2).contiguous()


__all__ = ["frozen_painter", "paint_step", "resolve_device", "stroke_colors", "to_tensor", "white"]
