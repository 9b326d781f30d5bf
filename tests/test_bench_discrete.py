"""The discrete-action benchmark (lift flicker, size rounding) on a tiny preset."""

import numpy as np
import pandas as pd

from neuralpaint.benchmarks import discrete


def test_discrete_bench_tiny(tmp_path):
    lift, size = discrete.run("tiny", tmp_path)
    raw = pd.read_csv(tmp_path / "discrete.csv", comment="#")
    assert set(raw["test"]) == {"lift", "size"}
    assert len(raw) == 8 * 5 + 8 * 2  # strokes x (lift values + size offsets)
    # MyPaint's answer is a step: the whole stroke below 0.5, nothing from 0.5 on
    assert (lift.loc[lift["lift"] < 0.5, "MyPaint ink (px)"] > 0).all()
    assert (lift.loc[lift["lift"] >= 0.5, "MyPaint ink (px)"] == 0).all()
    # the painter paints a stroke when lift is 0 and (almost) nothing when it is 1
    assert lift["painter ink (px)"].iloc[0] > 10 * lift["painter ink (px)"].iloc[-1]
    assert (
        np.isfinite(size["transfer gap (MSE)"]).all()
        and (size["painter ink / MyPaint ink"] > 0).all()
    )
    md = (tmp_path / "discrete.md").read_text()
    assert "## Lift flicker" in md and "## Size rounding" in md and "commit" in md
    assert (tmp_path / "lift_flicker.png").stat().st_size > 1000
    assert (tmp_path / "size_rounding.png").stat().st_size > 1000


def test_total_variation_known_answer():
    mask = np.zeros((1, 4, 4))
    mask[0, 1:3, 1:3] = 1.0  # a 2x2 square: 4 edges of 2 pixels each
    assert discrete.total_variation(mask)[0] == 8.0
