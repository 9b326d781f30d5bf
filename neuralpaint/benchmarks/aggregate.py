"""Aggregation shared by the suites: means with 95% intervals over seeds, the time at
which a learning curve first reaches a threshold, and speed-up ratios between agents.

Kept free of I/O so that each function can be tested on hand-made inputs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats


def mean_ci(values) -> tuple[float, float]:
    """Mean and the half-width of its 95% t-interval (0 for a single value)."""
    values = np.asarray(values, dtype=float)
    if len(values) == 0:
        return math.nan, math.nan
    if len(values) < 2:
        return float(values.mean()), 0.0
    half = stats.t.ppf(0.975, len(values) - 1) * values.std(ddof=1) / np.sqrt(len(values))
    return float(values.mean()), float(half)


def time_to_threshold(times, values, threshold: float) -> float:
    """The first time at which ``values`` is at or below ``threshold``; NaN if never.

    Curves are sampled at evaluation points, so the answer is an evaluation time (an
    upper bound on the true crossing), never an interpolation between points.
    """
    times, values = np.asarray(times, dtype=float), np.asarray(values, dtype=float)
    if times.shape != values.shape:
        raise ValueError(f"times {times.shape} and values {values.shape} differ in shape")
    order = np.argsort(times, kind="stable")
    below = np.flatnonzero(values[order] <= threshold)
    return float(times[order][below[0]]) if len(below) else math.nan


@dataclass(frozen=True)
class Censored:
    """A mean over seeds of times to threshold, where a seed that never got there counts
    as the whole budget, which makes the mean a lower bound (``censored``)."""

    mean: float
    reached: int
    seeds: int

    @property
    def censored(self) -> bool:
        return self.reached < self.seeds

    def __str__(self) -> str:
        if self.reached == 0:
            return f"> {self.mean:.3g} (0/{self.seeds})"
        prefix = "≥ " if self.censored else ""
        return f"{prefix}{self.mean:.3g} ({self.reached}/{self.seeds})"


def censored_mean(times, budget: float) -> Censored:
    """Mean time to threshold over seeds, never-reached seeds counted as ``budget``."""
    times = np.asarray(times, dtype=float)
    reached = np.isfinite(times)
    return Censored(float(np.where(reached, times, budget).mean()), int(reached.sum()), len(times))


def speedup(fast: Censored, slow: Censored) -> str:
    """How many times sooner ``fast`` reaches the threshold than ``slow``, with the
    direction of any censoring: ``≥`` when only ``slow`` fell short in some seed (its
    mean is a lower bound), ``≤`` when only ``fast`` did, ``?`` when both did."""
    if fast.reached == 0:
        return "n/a (never reached)"
    ratio = slow.mean / fast.mean
    qualifier = {
        (False, False): "",
        (False, True): "≥ ",
        (True, False): "≤ ",
        (True, True): "? ",
    }[(fast.censored, slow.censored)]
    return f"{qualifier}{ratio:.3g}×"


def curve_slope(times, values, tail: float = 0.5) -> float:
    """Least-squares slope of ``values`` against ``times`` over the last ``tail``
    fraction of the time axis (the rate at which a curve is still falling at the end);
    NaN with fewer than two points there."""
    times, values = np.asarray(times, dtype=float), np.asarray(values, dtype=float)
    if len(times) == 0:
        return math.nan
    keep = times >= times.max() * (1 - tail)
    if keep.sum() < 2 or np.ptp(times[keep]) == 0:
        return math.nan
    return float(np.polyfit(times[keep], values[keep], 1)[0])


def time_at_slope(current: float, slope: float, threshold: float) -> float:
    """How much longer a curve at ``current`` falling at ``slope`` per unit takes to
    reach ``threshold``: 0 when it is there, infinite when it is not falling."""
    if current <= threshold:
        return 0.0
    if not slope < 0:  # also NaN
        return math.inf
    return (current - threshold) / -slope
