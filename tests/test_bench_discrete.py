"""The discrete-action benchmark (lift flicker, size rounding, stuck training and its
remedies) on a tiny preset, and the relaxations themselves."""

import numpy as np
import pandas as pd
import pytest
import torch

from neuralpaint import actions as A
from neuralpaint.agents import relaxations as X
from neuralpaint.benchmarks import discrete


def test_discrete_bench_tiny(tmp_path):
    lift, size, remedies = discrete.run("tiny", tmp_path, cache=tmp_path / "cache")
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
    # (b)/(d): one run per remedy, each with a gradient-norm history and a final row
    assert list(remedies["remedy"]) == list(X.RELAXATIONS)
    runs = pd.read_csv(tmp_path / "remedies.csv", comment="#")
    history = runs[runs["kind"] == "history"]
    assert set(history["remedy"]) == set(X.RELAXATIONS)
    assert (history["grad_norm"] >= 0).all() and history["visible"].between(0, 1).all()
    assert remedies["MyPaint L2"].between(0, 1).all() and (remedies["plan gap (MSE)"] >= 0).all()
    assert "## Stuck training and remedies" in md and "Best here" in md
    assert (tmp_path / "remedies.png").stat().st_size > 1000
    # Finished runs are cached: a second run trains nothing and gives the same table.
    again = discrete.run("tiny", tmp_path, cache=tmp_path / "cache")[2]
    pd.testing.assert_frame_equal(again, remedies)


def test_relaxations_round_like_mypaint_and_pass_gradients():
    torch.manual_seed(0)
    action = torch.rand(64, A.DISCRETE_ACTION_DIM, requires_grad=True)
    hard = X.round_discrete(action).detach().numpy()
    assert np.allclose(hard, A.quantize_discrete(action.detach().numpy()), atol=1e-6)
    for name in ("straight-through", "gumbel"):
        seen = X.painter_view(action, name, training=name == "straight-through")
        assert np.allclose(seen.detach().numpy(), hard, atol=1e-6), name
        (grad,) = torch.autograd.grad(seen.sum(), action)
        assert (grad.abs().sum(dim=0) > 0).all(), f"{name}: every field gets a gradient"
    noisy = X.painter_view(action, "gumbel", training=True)
    lift = noisy[:, A.LIFT_INDEX]
    assert lift.min() >= 0 and lift.max() <= 1 and not torch.allclose(lift, action[:, -1])
    (grad,) = torch.autograd.grad(lift.sum(), action)
    # a higher lift makes a lifted sample likelier (saturated samples may give 0)
    assert (grad[:, A.LIFT_INDEX] >= 0).all() and (grad[:, A.LIFT_INDEX] > 0).float().mean() > 0.8
    # continuous actions pass through untouched
    twelve = torch.rand(4, A.ACTION_DIM)
    assert X.painter_view(twelve, "straight-through", True) is twelve
    with pytest.raises(ValueError, match="relaxation must be one of"):
        X.check_relaxation("softmax")


def test_opacity_mask_scales_the_lift_free_stroke():
    class Ink(torch.nn.Module):  # a painter whose mask depends on the lift input
        def forward(self, a):
            return (1 - a[:, -1])[:, None, None, None] * torch.ones(len(a), 1, 4, 4) * 0.5

    action = torch.zeros(3, A.DISCRETE_ACTION_DIM)
    action[:, A.LIFT_INDEX] = torch.tensor([0.0, 0.5, 1.0])
    mask = X.opacity_mask(Ink(), action)
    assert torch.allclose(mask[:, 0, 0, 0], torch.tensor([0.5, 0.25, 0.0]))


def test_total_variation_known_answer():
    mask = np.zeros((1, 4, 4))
    mask[0, 1:3, 1:3] = 1.0  # a 2x2 square: 4 edges of 2 pixels each
    assert discrete.total_variation(mask)[0] == 8.0


def test_the_best_remedy_is_the_one_that_paints_best():
    from neuralpaint.benchmarks.remedies import verdict

    rows = [("none", "0/3", 0.0, 0.24), ("gumbel", "2/3", 2 / 3, 0.09), ("opacity", "3/3", 1, 0.1)]
    table = pd.DataFrame(
        [
            {"remedy": r, "stuck seeds": s, "stuck fraction": f, "MyPaint L2": l2}
            | {"plan gap (MSE)": 0.01}
            for r, s, f, l2 in rows
        ]
    )
    text = verdict(table)
    assert text.startswith("Best here: **gumbel** (stuck 2/3, MyPaint L2 0.0900")
    assert "without a remedy: stuck 0/3, MyPaint L2 0.2400" in text
