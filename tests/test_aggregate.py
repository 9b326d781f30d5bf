"""Aggregation on hand-made inputs with known answers."""

import math

import numpy as np
import pytest

from neuralpaint.benchmarks.aggregate import (
    Censored,
    censored_mean,
    mean_ci,
    speedup,
    time_to_threshold,
)


def test_mean_ci_known_answer():
    mean, half = mean_ci(np.array([1.0, 2.0, 3.0]))
    # t(0.975, 2) = 4.302653; sample sd = 1.
    assert mean == 2.0 and half == pytest.approx(4.302653 / np.sqrt(3), rel=1e-5)
    assert mean_ci([5.0]) == (5.0, 0.0)
    assert all(math.isnan(v) for v in mean_ci([]))


def test_time_to_threshold_is_the_first_evaluation_at_or_below():
    times = [0, 10, 20, 30, 40]
    assert time_to_threshold(times, [0.5, 0.4, 0.2, 0.1, 0.3], 0.2) == 20
    assert math.isnan(time_to_threshold(times, [0.5, 0.4, 0.3, 0.25, 0.21], 0.2))
    # Unsorted times are sorted first; a curve that starts below counts at time 0.
    assert time_to_threshold([20, 0, 10], [0.1, 0.9, 0.15], 0.2) == 10
    assert time_to_threshold(times, [0.1] * 5, 0.2) == 0
    with pytest.raises(ValueError, match="shape"):
        time_to_threshold([0, 1], [0.1], 0.2)


def test_censored_mean_counts_misses_as_the_budget():
    c = censored_mean([10.0, 20.0, math.nan], budget=60.0)
    assert c == Censored(30.0, 2, 3) and c.censored
    assert str(c) == "≥ 30 (2/3)"
    assert str(censored_mean([math.nan] * 2, budget=45.0)) == "> 45 (0/2)"
    assert str(censored_mean([4.0, 6.0], budget=45.0)) == "5 (2/2)"


def test_speedup_says_which_way_censoring_bends_it():
    fast, slow = Censored(5.0, 3, 3), Censored(40.0, 3, 3)
    assert speedup(fast, slow) == "8×"
    assert speedup(fast, Censored(60.0, 0, 3)) == "≥ 12×"
    assert speedup(Censored(10.0, 2, 3), slow) == "≤ 4×"
    assert speedup(Censored(10.0, 2, 3), Censored(60.0, 1, 3)) == "? 6×"
    assert speedup(Censored(60.0, 0, 3), slow) == "n/a (never reached)"
