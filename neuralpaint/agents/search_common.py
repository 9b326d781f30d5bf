"""What the per-image search agents share: budgets, proposals, closed-form colour.

Search agents learn nothing across targets. They spend a per-image budget on the
target at hand: MyPaint renders of candidate strokes (``greedy``, ``cem``), or those
plus gradient steps through a neural painter (``hybrid``). They are the strongest
simple opponent a learned painter has, so the benchmark measures against them.

Scoring is vectorised numpy. A candidate stroke is an alpha mask ``m`` rendered by
MyPaint; painted on a canvas it gives ``base + m * (c - under)`` for colour ``c``,
where ``under`` is what lies below the stroke and ``base`` the canvas without it
(both are the current canvas for a new stroke on top). The colour that best fits
the target is then a least-squares solution per channel, found for thousands of
candidates with two matrix products (:func:`best_colors`).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from neuralpaint import actions as A


@dataclass(frozen=True)
class PerImageBudget:
    """What painting one image may cost: wall-clock seconds, MyPaint renders, or both
    (whichever runs out first).

    Raises:
        ValueError: naming the argument, for a missing, non-finite or negative budget.
    """

    seconds: float | None = None
    renders: int | None = None

    def __post_init__(self) -> None:
        if self.seconds is None and self.renders is None:
            raise ValueError("a per-image budget needs seconds=, renders= or both")
        if self.seconds is not None and not (math.isfinite(self.seconds) and self.seconds > 0):
            raise ValueError(f"budget seconds must be a positive finite number, got {self.seconds}")
        if self.renders is not None and int(self.renders) < 1:
            raise ValueError(f"budget renders must be at least 1, got {self.renders}")


class Spending:
    """Tracks one image's spending against its :class:`PerImageBudget`, split into
    slices (one per stroke or chunk), so early strokes cannot eat the budget. Each slice
    may spend its ``weights`` share (equal by default) of what is left when it begins."""

    def __init__(self, budget: PerImageBudget, slices: int, weights: list[float] | None = None):
        self.budget, self.slices = budget, max(1, slices)
        self.weights = list(weights) if weights is not None else [1.0] * self.slices
        if len(self.weights) != self.slices or min(self.weights) <= 0:
            raise ValueError(f"weights must be {self.slices} positive numbers, got {weights}")
        self.start = time.perf_counter()
        self.renders = 0
        self.painter_evals = 0
        self.done_slices = 0
        self._slice_start = (self.start, 0)

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.start

    def _share(self) -> float:
        """The current slice's weight over the weight of the slices left."""
        left = self.weights[min(self.done_slices, self.slices - 1) :]
        return left[0] / sum(left)

    def begin_slice(self) -> None:
        """Start the next slice: it may spend its share of what is left."""
        self._slice_start = (time.perf_counter(), self.renders)

    def slice_fraction(self) -> float:
        """How much of the current slice is spent, in [0, 1+]."""
        t0, r0 = self._slice_start
        parts = []
        if self.budget.seconds is not None:
            share = max(self.budget.seconds - (t0 - self.start), 0.0) * self._share()
            parts.append((time.perf_counter() - t0) / share if share > 0 else 1.0)
        if self.budget.renders is not None:
            share = max(self.budget.renders - r0, 0) * self._share()
            parts.append((self.renders - r0) / share if share > 0 else 1.0)
        return max(parts)

    def end_slice(self) -> None:
        self.done_slices += 1

    def renders_left_in_slice(self) -> int | None:
        """Renders the current slice may still make, or ``None`` without a render budget."""
        if self.budget.renders is None:
            return None
        _, r0 = self._slice_start
        share = int(max(self.budget.renders - r0, 0) * self._share())
        return max(share - (self.renders - r0), 0)

    def stats(self) -> dict[str, float]:
        return {
            "seconds": self.seconds,
            "mypaint_renders": self.renders,
            "painter_evals": self.painter_evals,
        }


def check_target(target: np.ndarray, size: int) -> np.ndarray:
    """One ``(size, size, 3)`` target in [0, 1], as float32.

    Raises:
        ValueError: naming ``targets`` and the expected shape.
    """
    arr = np.asarray(target, dtype=np.float32)
    if arr.shape != (size, size, 3):
        raise ValueError(
            f"targets must be (N, {size}, {size}, 3) RGB images in [0, 1]; got an image of "
            f"shape {arr.shape}"
        )
    if not np.isfinite(arr).all():
        raise ValueError("targets contain NaN or infinite values")
    return arr


def best_colors(
    masks: np.ndarray,
    target: np.ndarray,
    base: np.ndarray,
    under: np.ndarray | None = None,
    mode: str = "rgb",
) -> tuple[np.ndarray, np.ndarray]:
    """The best colour of each candidate stroke and the squared error it leaves.

    A candidate with mask ``m`` and colour ``c`` turns ``base`` into
    ``base + m * (c - under)``. The error is ``||target - that||²`` summed over pixels
    and channels; ``c`` minimises it per channel (clipped to [0, 1], exact for a
    one-dimensional quadratic), shared by the channels in ``gray`` mode and 0 in
    ``black`` mode.

    Args:
        masks: ``(K, H, W)`` or ``(K, P)`` effective alpha of each candidate.
        target, base, under: ``(H, W, 3)`` or ``(P, 3)``; ``under`` defaults to ``base``.
        mode: ``rgb``, ``gray`` or ``black``.

    Returns:
        ``(K, 3)`` colours and ``(K,)`` summed squared errors.
    """
    m = masks.reshape(len(masks), -1).astype(np.float32, copy=False)
    t = target.reshape(-1, 3).astype(np.float32, copy=False)
    b = base.reshape(-1, 3).astype(np.float32, copy=False)
    u = b if under is None else under.reshape(-1, 3).astype(np.float32, copy=False)
    d = t - b  # the residual without the stroke
    m2 = m * m
    lin = m @ np.concatenate([d, d * u], axis=1)  # (K, 6): Σ m d, Σ m d u
    quad = m2 @ np.concatenate([u, u * u, np.ones((len(u), 1), np.float32)], axis=1)
    smd, smdu = lin[:, :3], lin[:, 3:]
    smu, smuu, sm2 = quad[:, :3], quad[:, 3:6], quad[:, 6:7]
    # residual r = d + m u - m c: Σ m r0 and Σ r0² with r0 = d + m u
    s_mr = smd + smu
    s_rr = (d * d).sum(axis=0) + 2.0 * smdu + smuu
    if mode == "black":
        c = np.zeros_like(s_mr)
    elif mode == "gray":
        g = s_mr.sum(axis=1, keepdims=True) / np.maximum(3.0 * sm2, 1e-8)
        c = np.repeat(np.clip(g, 0.0, 1.0), 3, axis=1)
    elif mode == "rgb":
        c = np.clip(s_mr / np.maximum(sm2, 1e-8), 0.0, 1.0)
    else:
        raise ValueError(f"mode must be 'rgb', 'gray' or 'black', got {mode!r}")
    err = (s_rr - 2.0 * c * s_mr + c * c * sm2).sum(axis=1)
    return c.astype(np.float64), err.astype(np.float64)


def with_colors(shapes: np.ndarray, colors: np.ndarray) -> np.ndarray:
    """``(K, 9)`` shape fields and ``(K, 3)`` colours to ``(K, 12)`` actions."""
    return np.concatenate([shapes[:, :9], colors], axis=1)


def size_bounds(stroke: int, strokes: int, coarse_to_fine: bool) -> tuple[float, float]:
    """The range of the size field for stroke ``stroke`` of ``strokes``: all sizes, or
    large strokes first narrowing to any size by the last one (coarse to fine)."""
    if not coarse_to_fine or strokes <= 1:
        return 0.0, 1.0
    return 0.6 * (1.0 - stroke / (strokes - 1)), 1.0


def propose(
    rng: np.random.Generator,
    count: int,
    error: np.ndarray | None = None,
    sizes: tuple[float, float] = (0.0, 1.0),
    guided: float = 0.5,
    reach: float = 0.25,
) -> np.ndarray:
    """``(count, 9)`` random stroke shapes.

    A ``guided`` share of them pass through a pixel drawn in proportion to the current
    per-pixel ``error`` (``(H, W)``), with start and end within ``reach`` of it; the
    rest are uniform over the unit cube. Sizes are uniform in ``sizes``.
    """
    shapes = rng.random((count, 9))
    lo, hi = sizes
    shapes[:, A.SIZE_INDEX] = lo + (hi - lo) * shapes[:, A.SIZE_INDEX]
    n_guided = int(round(guided * count)) if error is not None else 0
    if n_guided:
        h, w = error.shape
        p = error.reshape(-1).astype(np.float64)
        total = p.sum()
        if total > 0:
            idx = rng.choice(h * w, size=n_guided, p=p / total)
            centre = np.stack([(idx % w + 0.5) / w, (idx // w + 0.5) / h], axis=1)
            for lo_i in (0, 4):  # start and end near the chosen pixel
                offset = rng.uniform(-reach, reach, (n_guided, 2))
                shapes[:n_guided, lo_i : lo_i + 2] = np.clip(centre + offset, 0.0, 1.0)
            shapes[:n_guided, 2:4] = centre  # the curve's point at t = 0.5
    return shapes


def per_pixel_error(canvas: np.ndarray, target: np.ndarray) -> np.ndarray:
    """``(H, W)`` squared error summed over channels."""
    return ((canvas - target) ** 2).sum(axis=-1)


__all__ = [
    "PerImageBudget",
    "Spending",
    "best_colors",
    "check_target",
    "per_pixel_error",
    "propose",
    "size_bounds",
    "with_colors",
]
