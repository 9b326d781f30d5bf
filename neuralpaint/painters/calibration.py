"""A monotone output calibration for regression painters.

The soft ink-IoU term (``painter train --ink-loss``) moves where a painter's mask
crosses the ink threshold towards MyPaint's, but it also sharpens every value: faint
pixels are inked more than painted on average, dark ones less. That costs R² without
buying IoU, since IoU only looks at which side of the threshold a pixel falls.

:class:`Calibration` is a strictly increasing piecewise-linear map of the painter's
output, fitted to mean-of-renders targets of *training* strokes, that passes through
``(threshold, threshold)``. Strictly increasing and pinned at the threshold, it leaves
every ink mask (and so ink IoU) exactly as it was while bringing the values back to the
expected stroke; a minimum slope keeps gradients flowing to agents everywhere.
"""

from __future__ import annotations

import torch
from torch import nn

from neuralpaint.painters.metrics import INK_THRESHOLD

MIN_SLOPE = 0.05
"""Smallest slope of a fitted calibration, so no range of values loses its gradient."""


class Calibration(nn.Module):
    """A strictly increasing piecewise-linear map of [0, 1] onto [0, 1].

    Args:
        knots: number of knots, including the ends ``(0, 0)`` and ``(1, 1)``; starts
            as the identity.
    """

    def __init__(self, knots: int):
        super().__init__()
        if knots < 2:
            raise ValueError(f"a calibration needs at least 2 knots, got {knots}")
        grid = torch.linspace(0, 1, knots)
        self.register_buffer("x", grid.clone())
        self.register_buffer("y", grid.clone())

    def forward(self, values: torch.Tensor) -> torch.Tensor:
        x, y = self.x.to(values.dtype), self.y.to(values.dtype)
        i = torch.bucketize(values.detach().clamp(0, 1), x[1:-1])
        x0, x1, y0, y1 = x[i], x[i + 1], y[i], y[i + 1]
        return (y0 + (y1 - y0) * (values - x0) / (x1 - x0)).clamp(0, 1)


def isotonic(values: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Weighted least-squares non-decreasing fit of ``values`` (pool adjacent
    violators)."""
    blocks: list[list[float]] = []  # [mean, weight, count]
    for v, w in zip(values.tolist(), weights.tolist(), strict=True):
        blocks.append([v, w, 1])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            v2, w2, n2 = blocks.pop()
            v1, w1, n1 = blocks.pop()
            blocks.append([(v1 * w1 + v2 * w2) / max(w1 + w2, 1e-12), w1 + w2, n1 + n2])
    return torch.tensor([v for v, _, n in blocks for _ in range(n)], dtype=torch.float64)


def fit_calibration(
    pred: torch.Tensor,
    target: torch.Tensor,
    knots: int = 32,
    threshold: float = INK_THRESHOLD,
    min_slope: float = MIN_SLOPE,
) -> Calibration:
    """The calibration that maps ``pred`` closest (least squares) to ``target``.

    Pixels are binned by predicted value into ``knots`` equal-width bins on each side
    of ``threshold``; each bin's knot sits at its mean prediction and mean target,
    made non-decreasing (isotonic), pinned at ``(threshold, threshold)`` and given at
    least ``min_slope`` everywhere.

    Args:
        pred: the uncalibrated painter's outputs in [0, 1].
        target: the strokes they should match (mean-of-renders masks fit best).
        knots: bins on each side of the threshold (empty bins get no knot).
    """
    if pred.shape != target.shape:
        raise ValueError(f"pred {tuple(pred.shape)} and target {tuple(target.shape)} differ")
    if not 0 < threshold < 1 or knots < 2:
        raise ValueError("threshold must be in (0, 1) and knots at least 2")
    p, t = pred.detach().flatten().double(), target.detach().flatten().double()
    edges = torch.cat(
        [
            torch.linspace(0, threshold, knots + 1, dtype=torch.float64)[:-1],
            torch.linspace(threshold, 1, knots + 1, dtype=torch.float64),
        ]
    )
    bins = torch.bucketize(p.clamp(0, 1), edges[1:-1])
    count = torch.bincount(bins, minlength=len(edges) - 1)
    keep = count > 0
    mean_x = torch.bincount(bins, p, minlength=len(edges) - 1)[keep] / count[keep]
    mean_y = torch.bincount(bins, t, minlength=len(edges) - 1)[keep] / count[keep]
    mean_y = isotonic(mean_y, count[keep].double())
    fixed = torch.tensor([0.0, threshold, 1.0], dtype=torch.float64)
    apart = (mean_x[:, None] - fixed).abs().min(dim=1).values > 1e-6  # no zero-width segment
    mean_x, mean_y = mean_x[apart], mean_y[apart]
    xs, ys = torch.cat([fixed, mean_x]), torch.cat([fixed, mean_y])
    order = torch.argsort(xs)
    xs, ys = xs[order], ys[order]
    # The threshold knot is fixed; every other knot keeps min_slope towards it and
    # towards its neighbours, walking outwards from the threshold.
    centre = int(torch.nonzero(xs == threshold)[0])
    ys[centre] = threshold
    for i in range(centre + 1, len(xs)):
        ys[i] = max(ys[i], ys[i - 1] + min_slope * (xs[i] - xs[i - 1]))
    for i in range(centre - 1, -1, -1):
        ys[i] = min(ys[i], ys[i + 1] - min_slope * (xs[i + 1] - xs[i]))
    calibration = Calibration(len(xs))
    calibration.x.copy_(xs.float())
    calibration.y.copy_(ys.float())
    return calibration
