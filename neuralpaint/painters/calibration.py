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

:class:`LogitTemperature` is the cheap alternative for painters whose budget is speed
(the fast twins): a piecewise-linear map costs a bucketize and four gathers per pixel,
tens of times the sigmoid it follows, while two temperatures, one on each side of the
threshold, cost two elementwise operations and recover most of its R².

Its threshold may also move (:func:`fit_ink_shift`). A painter is trained on the mean of
several renders, so its ink lands where the *expected* stroke crosses the threshold, but
fidelity is measured against single renders, whose texture inks some pixels the mean
leaves blank; a logit shift fitted on single renders of training strokes moves the ink
edge to where it best matches them.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from neuralpaint.painters import pointwise_kernel
from neuralpaint.painters.metrics import INK_THRESHOLD

LOGIT_FLOOR = -30.0
"""Lowest logit a painter's sigmoid sees. Below about -87 a float32 sigmoid returns
denormal numbers, and on x86 CPUs arithmetic on denormals takes the slow microcode
path: the hard brushes' twins reach logits of -800 off the stroke, and their denormal
gradients made the convolutions' backward four times slower (TWINS.md step 55). At -30
the mask is 9.4e-14, so no painted value changes by more than that."""

MIN_SLOPE = 0.05
"""Smallest slope of a fitted calibration, so no range of values loses its gradient."""


def sigmoid_masks(logits: torch.Tensor) -> torch.Tensor:
    """``sigmoid(logits)`` with the logits floored at :data:`LOGIT_FLOOR`, so that no
    mask and no gradient through it is a denormal number. Float32 CPU logits take the
    compiled pass (:func:`pointwise_kernel.masks`)."""
    if pointwise_kernel.usable(logits):
        return pointwise_kernel.masks(logits, LOGIT_FLOOR)
    return torch.sigmoid(logits.clamp(min=LOGIT_FLOOR))


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

    def masks(self, logits: torch.Tensor) -> torch.Tensor:
        """Calibrated masks from a painter's logits."""
        return self(sigmoid_masks(logits))

    def forward(self, values: torch.Tensor) -> torch.Tensor:
        x, y = self.x.to(values.dtype), self.y.to(values.dtype)
        i = torch.bucketize(values.detach().clamp(0, 1), x[1:-1])
        x0, x1, y0, y1 = x[i], x[i + 1], y[i], y[i + 1]
        return (y0 + (y1 - y0) * (values - x0) / (x1 - x0)).clamp(0, 1)


class LogitTemperature(nn.Module):
    """Masks ``sigmoid((z - shift) * s)``, with ``s`` = :attr:`below` for logits below
    :attr:`shift` and :attr:`above` for the rest: strictly increasing, and the ink
    threshold 0.5 falls at logit :attr:`shift`: at 0 every ink mask stays as it was,
    elsewhere the ink edge moves (:func:`fit_ink_shift`). Starts as the identity."""

    def __init__(self):
        super().__init__()
        if INK_THRESHOLD != 0.5:
            raise ValueError("a logit temperature pins logit 0, so it needs INK_THRESHOLD 0.5")
        self.register_buffer("below", torch.tensor(1.0))
        self.register_buffer("above", torch.tensor(1.0))
        self.register_buffer("shift", torch.tensor(0.0))
        self._shifted = False  # so a painter without a shift pays nothing for it per call

    def set_shift(self, logit: float) -> None:
        """Put the ink threshold at ``logit``."""
        self.shift.fill_(logit)
        self._shifted = logit != 0

    def masks(self, logits: torch.Tensor) -> torch.Tensor:
        """Calibrated masks from a painter's logits."""
        if pointwise_kernel.usable(logits):
            shift = float(self.shift) if self._shifted else 0.0
            below, above = float(self.below), float(self.above)
            return pointwise_kernel.masks(logits, LOGIT_FLOOR, shift, below, above)
        z = logits - self.shift.to(logits.dtype) if self._shifted else logits
        scale = torch.where(z < 0, self.below.to(logits.dtype), self.above.to(logits.dtype))
        return sigmoid_masks(z * scale)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # Checkpoints written before the shift existed have none: theirs is 0.
        state_dict.setdefault(prefix + "shift", torch.tensor(0.0))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
        self._shifted = float(state_dict[prefix + "shift"]) != 0


SHIFT_RANGE = 1.0
"""Largest logit shift :func:`fit_ink_shift` considers, either way."""


def fit_ink_shift(pred: torch.Tensor, ink_target: torch.Tensor, step: float = 0.01) -> float:
    """The logit at which ``pred`` best inks where ``ink_target`` does: the shift ``s``
    (a multiple of ``step`` in ±:data:`SHIFT_RANGE`) that maximises the pooled ink IoU
    of ``logit(pred) > s`` against ``ink_target > INK_THRESHOLD``.

    One pass: the logits are binned at ``step``; per bin, the pixels and the inked
    target pixels give every candidate's intersection and union by cumulative sums.

    Args:
        pred: the uncalibrated painter's outputs in [0, 1].
        ink_target: the renders whose ink the painter's should match: single MyPaint
            renders, the targets fidelity is measured against.
    """
    if pred.shape != ink_target.shape:
        raise ValueError(f"pred {tuple(pred.shape)} and target {tuple(ink_target.shape)} differ")
    if not 0 < step <= SHIFT_RANGE:
        raise ValueError(f"step must be in (0, {SHIFT_RANGE}], got {step}")
    z = torch.logit(pred.detach().flatten().double().clamp(1e-6, 1 - 1e-6))
    inked = (ink_target.detach().flatten() > INK_THRESHOLD).double()
    n = round(SHIFT_RANGE / step)
    shifts = torch.arange(-n, n + 1, dtype=torch.float64) * step
    # bin b holds the logits in (shifts[b-1], shifts[b]]; bins 0 and 2n+1 the tails
    bins = torch.bucketize(z, shifts)
    pixels = torch.bincount(bins, minlength=2 * n + 2).double()
    hits = torch.bincount(bins, inked, minlength=2 * n + 2)
    # painted at shift k: the logits above shifts[k], bins k+1 onwards
    painted = pixels.flip(0).cumsum(0).flip(0)[1:]
    overlap = hits.flip(0).cumsum(0).flip(0)[1:]
    iou = overlap / (painted + inked.sum() - overlap).clamp_min(1)
    best = int(iou.argmax())
    return float(shifts[best])


def fit_temperature(
    pred: torch.Tensor,
    target: torch.Tensor,
    pixels: int = 2_000_000,
    seed: int = 0,
    shift: float = 0.0,
) -> LogitTemperature:
    """The two temperatures that map ``pred`` closest (least squares) to ``target``,
    around an ink threshold at logit ``shift`` (e.g. from :func:`fit_ink_shift`).

    Each side of the threshold depends on its own temperature only, so each is a 1-D
    search: a log-spaced grid from 0.2 to 5, then a finer one around the best.

    Args:
        pred: the uncalibrated painter's outputs in [0, 1].
        target: the strokes they should match (mean-of-renders masks fit best).
        pixels: pixels sampled (with ``seed``) to fit on; all of them if fewer.
        shift: the logit that the calibrated painter maps to the ink threshold.
    """
    if pred.shape != target.shape:
        raise ValueError(f"pred {tuple(pred.shape)} and target {tuple(target.shape)} differ")
    p, t = pred.detach().flatten().double(), target.detach().flatten().double()
    if len(p) > pixels:
        pick = torch.randperm(len(p), generator=torch.Generator().manual_seed(seed))[:pixels]
        p, t = p[pick], t[pick]
    z = torch.logit(p.clamp(1e-6, 1 - 1e-6)) - shift
    fitted = LogitTemperature()
    fitted.set_shift(shift)
    for side, name in ((z < 0, "below"), (z >= 0, "above")):
        zs, ts = z[side], t[side]
        if len(zs) == 0:
            continue
        best, span = 0.0, math.log(5.0)  # log-scale search, centred on the identity
        for _ in range(3):
            grid = torch.linspace(best - span, best + span, 41, dtype=torch.float64)
            errors = [((torch.sigmoid(zs * math.exp(g)) - ts) ** 2).mean() for g in grid]
            best, span = float(grid[int(torch.stack(errors).argmin())]), span / 10
        getattr(fitted, name).fill_(math.exp(best))
    return fitted


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


def make_calibration(knots: int = 0, temperature: bool = False) -> nn.Module | None:
    """A painter's (identity) output calibration from its constructor arguments:
    ``knots`` > 0 for a :class:`Calibration`, ``temperature`` for a
    :class:`LogitTemperature`, neither for none."""
    if knots and temperature:
        raise ValueError("a painter has calibration_knots or calibration_temperature, not both")
    if temperature:
        return LogitTemperature()
    return Calibration(knots) if knots else None


def calibration_config(calibration: nn.Module | None) -> dict:
    """The constructor arguments that rebuild ``calibration`` (for checkpoints)."""
    if isinstance(calibration, Calibration):
        return {"calibration_knots": len(calibration.x)}
    if isinstance(calibration, LogitTemperature):
        return {"calibration_temperature": True}
    return {}


CALIBRATION_KEYS = ("calibration_knots", "calibration_temperature")
"""Constructor arguments of a painter's calibration, which uncalibrated copies drop."""
