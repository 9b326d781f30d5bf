"""Judging agents the same way: their strokes, painted by the real MyPaint program.

Whatever renderer an agent planned on, :func:`evaluate_on_mypaint` paints its actions
with MyPaint, with the task's brush, on a fresh canvas per target (texture seeded per
target) and measures the mean squared error per pixel against the target. When the
task has a neural painter, the same actions are also composited by it, giving the
transfer gap.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neuralpaint.agents.base import Agent
from neuralpaint.agents.task import Task
from neuralpaint.painters.mypaint import DEFAULT_BRUSH, MyPaintCanvas
from neuralpaint.painters.neural import NeuralRenderer, load_painter, painter_for_brush
from neuralpaint.progress import progress_bar


@dataclass
class Evaluation:
    """Per-target results of one evaluation (arrays of length N)."""

    mypaint_l2: np.ndarray
    """Mean squared error per pixel of MyPaint's painting against the target."""
    neural_l2: np.ndarray | None
    """The same for the neural painter's composite (None without a painter)."""
    actions: np.ndarray
    mypaint_images: np.ndarray
    neural_images: np.ndarray | None

    @property
    def transfer_gap(self) -> np.ndarray | None:
        """Mean squared pixel difference between the neural and the MyPaint painting."""
        if self.neural_images is None:
            return None
        return ((self.neural_images - self.mypaint_images) ** 2).mean(axis=(1, 2, 3))

    def summary(self) -> dict[str, float]:
        out = {"mypaint_l2": float(self.mypaint_l2.mean())}
        if self.neural_l2 is not None:
            out["neural_l2"] = float(self.neural_l2.mean())
            out["transfer_gap"] = float(self.transfer_gap.mean())
        return out


def paint_on_mypaint(
    actions: np.ndarray, size: int, seed: int, progress: bool = False, brush: str = DEFAULT_BRUSH
) -> np.ndarray:
    """Paint ``(N, T, D)`` action sequences with MyPaint; ``(N, H, W, 3)`` images."""
    images = np.empty((len(actions), size, size, 3), np.float32)
    for i, seq in enumerate(progress_bar(actions, desc="MyPaint", disable=not progress)):
        canvas = MyPaintCanvas(size, brush, seed=(seed, i))
        canvas.paint_many(seq)
        images[i] = canvas.image()
    return images


def paint_on_painter(actions: np.ndarray, task: Task) -> np.ndarray:
    """Composite ``(N, T, D)`` action sequences with the task's neural painter."""
    if task.brush_choice is None:
        renderer = NeuralRenderer(task.painter)
    else:
        brush = task.brush_choice
        renderer = NeuralRenderer(load_painter(painter_for_brush(task.painter, brush), brush=brush))
    n, t, _ = actions.shape
    canvases = np.ones((n, task.size, task.size, 3), np.float32)
    for i in range(t):
        canvases = renderer.paint_batch(canvases, actions[:, i])
    return canvases


def evaluate_on_mypaint(
    agent: Agent,
    targets: np.ndarray,
    seed: int = 0,
    progress: bool = False,
    deterministic: bool = True,
) -> Evaluation:
    """Paint ``targets`` with ``agent`` and judge the result on MyPaint.

    ``deterministic=False`` judges a stochastic agent's sampled policy (agents whose
    ``stochastic`` is false ignore it).

    Raises:
        ValueError: when the agent returns actions of the wrong shape or non-finite.
    """
    actions = (
        agent.paint(targets, deterministic=deterministic)
        if agent.stochastic
        else agent.paint(targets)
    )
    task = agent.task
    expected = (len(targets), task.strokes, task.action_dim)
    if actions.shape != expected or not np.isfinite(actions).all():
        raise ValueError(
            f"agent {agent.name!r} returned actions of shape {actions.shape} (expected "
            f"{expected}) or non-finite values"
        )
    actions = task.finalize(actions)
    mypaint = paint_on_mypaint(actions, task.size, seed, progress, task.brush)
    l2 = ((mypaint - targets) ** 2).mean(axis=(1, 2, 3))
    neural = neural_l2 = None
    if task.painter:
        neural = paint_on_painter(actions, task)
        neural_l2 = ((neural - targets) ** 2).mean(axis=(1, 2, 3))
    return Evaluation(l2, neural_l2, actions, mypaint, neural)


__all__ = ["Evaluation", "evaluate_on_mypaint", "paint_on_mypaint", "paint_on_painter"]
