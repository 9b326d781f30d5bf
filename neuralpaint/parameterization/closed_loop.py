"""Optimise a stitched canvas's strokes through the painter, closing the loop on MyPaint.

Open loop (``chunks=1``), every stroke is planned on the neural canvas and MyPaint
repaints the plan once at the end. Where the painter and the program disagree, the plan
does not survive: a regression painter predicts the *mean* of MyPaint's random
dry-brush texture, a faint wash, where any one real render is a few dark dabs, and an
optimiser that leans on washes gets dabs.

Closed loop (``chunks=K``), the stroke layers (layer ``s`` is stroke ``s`` of every
cell) are split into ``K`` chunks. After optimising, MyPaint paints the next chunk on
one persistent canvas, and the remaining layers are re-optimised on top of MyPaint's
real painting, read back as the base of :meth:`StitchedCanvas.forward`. Each later
stroke therefore corrects what the program really painted, not what the painter
predicted, as the picture planner does (:mod:`neuralpaint.pictures.planner`). The
final painting is MyPaint's canvas itself, so what the tool shows is what the real
program painted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from neuralpaint.painters.canvas import StitchedCanvas, TransferReport
from neuralpaint.painters.mypaint import DEFAULT_BRUSH, MyPaintCanvas
from neuralpaint.parameterization import CLOSED_LOOP_CHUNKS
from neuralpaint.progress import progress_bar

FIRST_SHARE = 0.5
"""Share of the steps spent before the first chunk is painted: every stroke is still
free then, so the layout of the whole painting is found there; the remaining steps are
split evenly between the later chunks' re-planning."""


@dataclass
class LoopResult:
    """What one optimisation produced."""

    neural: torch.Tensor = field(repr=False)
    """``(1, 3, H, W)`` the painting as the optimiser last saw it: the neural canvas
    (open loop) or MyPaint's painting so far under the last chunk's neural strokes."""
    mypaint: np.ndarray = field(repr=False)
    """``(H, W, 3)`` MyPaint's painting of every stroke."""
    report: TransferReport
    losses: list[float]


def chunk_bounds(layers: int, chunks: int) -> list[int]:
    """Layer indices where chunks start, plus ``layers`` at the end.

    Raises:
        ValueError: for ``chunks`` outside ``[1, layers]``.
    """
    if not 1 <= chunks <= layers:
        raise ValueError(
            f"chunks must be in [1, {layers}] (one chunk at least, and at most one per "
            f"stroke layer: there are {layers} strokes per cell), got {chunks}"
        )
    return [round(i * layers / chunks) for i in range(chunks + 1)]


def default_chunks(chunks: int | None, layers: int) -> int:
    """``chunks``, or when ``None`` :data:`CLOSED_LOOP_CHUNKS` (at most one per layer)."""
    return min(CLOSED_LOOP_CHUNKS, layers) if chunks is None else chunks


def step_schedule(steps: int, chunks: int) -> list[int]:
    """Optimiser steps before each chunk is painted; they sum to ``steps``."""
    if chunks == 1:
        return [steps]
    first = round(steps * FIRST_SHARE)
    rest = np.diff(np.linspace(0, steps - first, chunks).round().astype(int)).tolist()
    return [first, *rest]


def optimise(
    canvas: StitchedCanvas,
    loss_fn: Callable[[torch.Tensor], torch.Tensor],
    steps: int,
    lr: float,
    chunks: int = 1,
    brush: str = DEFAULT_BRUSH,
    seed: int = 0,
    progress: bool = True,
    desc: str = "painting",
    postfix: str = "loss",
) -> LoopResult:
    """Minimise ``loss_fn(image)`` over ``canvas``'s strokes with Adam; paint on MyPaint.

    Args:
        canvas: a one-painting :class:`StitchedCanvas` whose ``raw`` is optimised.
        loss_fn: maps the ``(1, 3, H, W)`` painting to a scalar loss.
        steps: Adam steps in all, spread by :func:`step_schedule`.
        chunks: stroke-layer chunks MyPaint paints in turn (1: open loop).
        brush: the MyPaint brush that paints.
        seed: MyPaint's texture seed.
    """
    if canvas.raw.shape[0] != 1:
        raise ValueError(
            f"the closed loop paints one painting; canvas batch is {canvas.raw.shape[0]}"
        )
    layers = canvas.strokes_per_cell
    bounds = chunk_bounds(layers, chunks)
    real = MyPaintCanvas(canvas.mypaint_actions(0)[1], brush=brush, seed=seed)
    lay, device = canvas.layout, canvas.raw.device
    optimizer = torch.optim.Adam([canvas.raw], lr=lr)
    losses: list[float] = []
    bar = progress_bar(total=steps, desc=desc, disable=not progress)
    base, start = None, 0
    schedule = step_schedule(steps, chunks)
    for start, stop, chunk_steps in zip(bounds[:-1], bounds[1:], schedule, strict=True):
        painted = canvas.raw.detach()[:, :, :, :start].clone()
        for _ in range(chunk_steps):
            loss = loss_fn(canvas(start, base))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            with torch.no_grad():  # Adam's momentum would move strokes already painted
                canvas.raw[:, :, :, :start] = painted
            losses.append(loss.item())
            bar.update()
            bar.set_postfix({postfix: f"{losses[-1]:.4f}"}, refresh=False)
        if stop == layers:
            break  # the last chunk: ``base`` stays the painting under it
        real.paint_many(canvas.mypaint_actions(0)[0][canvas.layer_slice(start, stop)])
        full = real.image()[: lay.full_height, : lay.full_width]
        base = torch.as_tensor(full, device=device).permute(2, 0, 1)[None]
    bar.close()
    with torch.no_grad():
        torch.manual_seed(seed)  # a noisy (GAN) painter's final texture
        neural = canvas(start, base)
    actions, _, clipped = canvas.mypaint_actions(0)
    real.paint_many(actions[canvas.layer_slice(start, layers)])
    report = TransferReport(len(actions), clipped)
    return LoopResult(
        neural=neural, mypaint=canvas.crop(real.image()), report=report, losses=losses
    )
