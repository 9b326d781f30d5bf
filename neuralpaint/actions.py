"""The action spec: one brushstroke as 12 numbers in [0, 1].

Every renderer (the real MyPaint program and the neural painters) and every agent
speaks this one format, so that strokes planned on one renderer can be painted by
another. This module owns the field names, the ranges, the mapping from the unit
interval to brush settings, validation, and the discrete variants.

===  ==============  =====================================================
 #   field           meaning
===  ==============  =====================================================
 0   start_x         start point, fraction of the canvas width
 1   start_y         start point, fraction of the canvas height
 2   control_x       point the stroke passes through at t = 0.5
 3   control_y       (a quadratic Bezier curve)
 4   end_x           end point
 5   end_y
 6   pressure_start  pen pressure at the start, linearly interpolated ...
 7   pressure_end    ... to this value at the end; [0, 1] maps to [0.1, 1.0]
 8   size            brush radius on a log scale between RADIUS_MIN_PX and
                     RADIUS_MAX_PX (pixels on a 64 px canvas)
 9   red             stroke colour
 10  green
 11  blue
===  ==============  =====================================================

Out-of-range policy: values outside [0, 1] are **clipped** to [0, 1] (the same thing
stable-baselines3 does to a continuous action before it reaches an environment).
Non-finite values and wrong shapes raise ``ValueError`` naming the field.

The discrete variant (the paper's footnote 4) appends a 13th field, ``lift``: at
``lift >= 0.5`` the brush is lifted and paints nothing. Size and pressure then take
one of ``DISCRETE_LEVELS`` evenly spaced levels, as SPIRAL's action space does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FIELDS: tuple[str, ...] = (
    "start_x",
    "start_y",
    "control_x",
    "control_y",
    "end_x",
    "end_y",
    "pressure_start",
    "pressure_end",
    "size",
    "red",
    "green",
    "blue",
)
"""The 12 continuous fields, in order."""

ACTION_DIM = len(FIELDS)
SHAPE_FIELDS: tuple[str, ...] = FIELDS[:9]
"""The fields a neural painter needs: everything but the colour."""

DISCRETE_FIELDS: tuple[str, ...] = (*FIELDS, "lift")
"""The discrete variant's 13 fields: the 12 above plus the lift flag."""

DISCRETE_ACTION_DIM = len(DISCRETE_FIELDS)
DISCRETE_LEVELS = 10
"""Number of levels for size and pressure in the discrete variant."""

LIFT_INDEX = DISCRETE_FIELDS.index("lift")
SIZE_INDEX = FIELDS.index("size")
PRESSURE_INDICES = (FIELDS.index("pressure_start"), FIELDS.index("pressure_end"))
COLOR_SLICE = slice(9, 12)

REFERENCE_CANVAS_PX = 64
"""Radii are defined on a 64 px canvas and scale with the canvas size."""
RADIUS_MIN_PX = 1.0
RADIUS_MAX_PX = 8.0
PRESSURE_MIN = 0.1
PRESSURE_MAX = 1.0
STROKE_STEPS = 50
"""Points sampled along the Bezier curve, one ``stroke_to`` call each (as SPIRAL)."""
STROKE_DTIME = 0.1
"""Seconds between two sampled points, as SPIRAL and the Neural Painters code use."""


def validate(action: np.ndarray, discrete: bool = False) -> np.ndarray:
    """Check and clip one action or a batch of actions.

    Args:
        action: shape ``(D,)`` or ``(N, D)`` with ``D = 12`` (or 13 when ``discrete``).
        discrete: whether the action carries the ``lift`` field.

    Returns:
        A float64 copy, clipped to [0, 1], with the input's shape.

    Raises:
        ValueError: on a wrong shape or a non-finite value, naming the field.
    """
    names = DISCRETE_FIELDS if discrete else FIELDS
    arr = np.asarray(action, dtype=np.float64)
    if arr.ndim not in (1, 2) or arr.shape[-1] != len(names):
        raise ValueError(
            f"action must have shape ({len(names)},) or (N, {len(names)}) with fields "
            f"{', '.join(names)}; got shape {arr.shape}"
        )
    finite = np.isfinite(arr)
    if not finite.all():
        row, col = np.argwhere(~finite)[0] if arr.ndim == 2 else (None, np.argmin(finite))
        where = f" in row {row}" if row is not None else ""
        raise ValueError(
            f"action field '{names[int(col)]}' (index {int(col)}){where} is "
            f"{arr[(row, col) if row is not None else col]}; every field must be a finite "
            "number in [0, 1]"
        )
    return np.clip(arr, 0.0, 1.0)


def radius_px(size: np.ndarray | float, canvas_px: int = REFERENCE_CANVAS_PX) -> np.ndarray:
    """Brush radius in pixels for ``size`` in [0, 1], log-spaced, scaled to the canvas."""
    scale = canvas_px / REFERENCE_CANVAS_PX
    log_r = np.log(RADIUS_MIN_PX) + np.asarray(size) * np.log(RADIUS_MAX_PX / RADIUS_MIN_PX)
    return np.exp(log_r) * scale


def pressure(value: np.ndarray | float) -> np.ndarray:
    """Pen pressure for a field value in [0, 1]: linear in [PRESSURE_MIN, PRESSURE_MAX]."""
    return PRESSURE_MIN + np.asarray(value) * (PRESSURE_MAX - PRESSURE_MIN)


@dataclass(frozen=True)
class BrushPath:
    """One stroke in pixel units: what the renderer feeds to ``stroke_to``."""

    xs: np.ndarray
    """x of each sampled point, pixels."""
    ys: np.ndarray
    """y of each sampled point, pixels."""
    pressures: np.ndarray
    """pen pressure at each point."""
    radius: float
    """brush radius, pixels."""
    color: tuple[float, float, float]
    """RGB in [0, 1]."""


def bezier_points(action: np.ndarray, steps: int = STROKE_STEPS) -> tuple[np.ndarray, np.ndarray]:
    """Points of the stroke's curve in canvas fractions, shape ``(steps,)`` each.

    The stored control point is the curve's point at t = 0.5, so the Bezier's own
    control point is ``2*c - (p0 + p2)/2``. That way every field is a point on the
    stroke, which makes the fields easier to learn and to hand-write.
    """
    p0, c, p2 = action[0:2], action[2:4], action[4:6]
    p1 = 2.0 * c - 0.5 * (p0 + p2)
    t = np.linspace(0.0, 1.0, steps)[:, None]
    pts = (1 - t) ** 2 * p0 + 2 * (1 - t) * t * p1 + t**2 * p2
    return pts[:, 0], pts[:, 1]


def to_brush_path(action: np.ndarray, canvas_px: int, steps: int = STROKE_STEPS) -> BrushPath:
    """Map one validated 12-field action to pixel coordinates and brush settings."""
    fx, fy = bezier_points(action, steps)
    t = np.linspace(0.0, 1.0, steps)
    p0, p1 = pressure(action[PRESSURE_INDICES[0]]), pressure(action[PRESSURE_INDICES[1]])
    return BrushPath(
        xs=fx * canvas_px,
        ys=fy * canvas_px,
        pressures=(1 - t) * p0 + t * p1,
        radius=float(radius_px(action[SIZE_INDEX], canvas_px)),
        color=tuple(float(v) for v in action[COLOR_SLICE]),
    )


def quantize_level(value: np.ndarray, levels: int = DISCRETE_LEVELS) -> np.ndarray:
    """Snap values in [0, 1] to the nearest of ``levels`` evenly spaced levels."""
    return np.round(np.asarray(value) * (levels - 1)) / (levels - 1)


def quantize_discrete(action: np.ndarray) -> np.ndarray:
    """Quantize a discrete-variant action the way the real program is driven.

    Size and both pressures go to ``DISCRETE_LEVELS`` levels; the lift flag to 0 or 1.
    Accepts ``(13,)`` or ``(N, 13)`` and returns a validated copy.
    """
    out = validate(action, discrete=True)
    idx = [SIZE_INDEX, *PRESSURE_INDICES]
    out[..., idx] = quantize_level(out[..., idx])
    out[..., LIFT_INDEX] = (out[..., LIFT_INDEX] >= 0.5).astype(np.float64)
    return out


def is_lifted(action: np.ndarray) -> np.ndarray | bool:
    """Whether a discrete-variant action has its brush lifted (paints nothing)."""
    return np.asarray(action)[..., LIFT_INDEX] >= 0.5


def describe(action: np.ndarray) -> dict[str, float]:
    """Name every field of one action, for logs and error messages."""
    arr = np.asarray(action, dtype=np.float64).ravel()
    names = DISCRETE_FIELDS if arr.size == DISCRETE_ACTION_DIM else FIELDS
    return dict(zip(names, arr.tolist(), strict=True))
