"""Per-image search on the real program (greedy, cem) and the hybrid planner."""

from __future__ import annotations

import numpy as np
import pytest

from neuralpaint.agents.evaluation import paint_on_mypaint
from neuralpaint.agents.registry import make_agent
from neuralpaint.agents.search import _layers
from neuralpaint.agents.search_common import PerImageBudget, Spending, best_colors

MNIST, PHOTOS = "NeuralPaint-MNIST-v0", "NeuralPaint-Photos-v0"


def brute_force(masks, target, base, under, mode):
    """Grid search over colours: the least squares that best_colors solves in closed form."""
    levels = np.linspace(0, 1, 101)
    out = []
    for m in masks:
        if mode == "black":
            c = np.zeros(3)
        elif mode == "gray":
            errs = [((target - base - m[..., None] * (g - under)) ** 2).sum() for g in levels]
            c = np.full(3, levels[int(np.argmin(errs))])
        else:
            c = np.array(
                [
                    levels[
                        np.argmin(
                            [
                                (
                                    (target[..., k] - base[..., k] - m * (v - under[..., k])) ** 2
                                ).sum()
                                for v in levels
                            ]
                        )
                    ]
                    for k in range(3)
                ]
            )
        out.append((c, ((target - base - m[..., None] * (c - under)) ** 2).sum()))
    return out


@pytest.mark.parametrize("mode", ["rgb", "gray", "black"])
def test_best_colors_match_a_brute_force_search(mode):
    rng = np.random.default_rng(0)
    masks = rng.random((4, 8, 8)).astype(np.float32)
    target, base, under = (rng.random((8, 8, 3)).astype(np.float32) for _ in range(3))
    colors, errors = best_colors(masks, target, base, under, mode)
    for (c, err), got_c, got_err in zip(
        brute_force(masks, target, base, under, mode), colors, errors, strict=True
    ):
        assert np.allclose(got_c, c, atol=0.011)
        assert got_err <= err + 1e-3  # the closed form is at least as good as the grid


def test_best_colors_error_is_the_error_of_painting_that_colour():
    rng = np.random.default_rng(1)
    masks = rng.random((3, 6, 6)).astype(np.float32)
    target, canvas = rng.random((6, 6, 3)), rng.random((6, 6, 3))
    colors, errors = best_colors(masks, target, canvas)
    for m, c, err in zip(masks, colors, errors, strict=True):
        painted = canvas * (1 - m[..., None]) + m[..., None] * c
        assert err == pytest.approx(((target - painted) ** 2).sum(), rel=1e-4)


def test_layers_recompose_the_sequential_painting():
    rng = np.random.default_rng(2)
    masks, colors = rng.random((5, 6, 6)), rng.random((5, 3))
    painting = np.ones((6, 6, 3))
    for m, c in zip(masks, colors, strict=True):
        painting = painting * (1 - m[..., None]) + m[..., None] * c
    for i in range(5):
        under, above, cover = _layers(masks, colors, i)
        layer = under * (1 - masks[i, ..., None]) + masks[i, ..., None] * colors[i]
        assert np.allclose(layer * cover[..., None] + above, painting, atol=1e-6)


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"seconds": float("nan")}, "seconds"),
        ({"seconds": -1.0}, "seconds"),
        ({"renders": 0}, "renders"),
    ],
)
def test_bad_budgets_are_refused_by_name(kwargs, words):
    with pytest.raises(ValueError, match=words):
        PerImageBudget(**kwargs)


def test_spending_splits_a_render_budget_by_weight():
    spending = Spending(PerImageBudget(renders=90), 2, weights=[2.0, 1.0])
    spending.begin_slice()
    assert spending.renders_left_in_slice() == 60
    spending.renders += 60
    assert spending.slice_fraction() == pytest.approx(1.0)
    spending.end_slice()
    spending.begin_slice()
    assert spending.renders_left_in_slice() == 30


def test_greedy_spends_exactly_its_renders_and_beats_a_blank_canvas():
    agent = make_agent("greedy@mypaint", MNIST, seed=3, kwargs={"proposals": 16, "batch": 8})
    targets = agent.task.targets("test")[:2]
    actions = agent.paint(targets)
    assert actions.shape == (2, 8, 12)
    assert np.all(actions[..., 9:] == 0.0)  # MNIST's black strokes keep their colour
    assert [s["mypaint_renders"] for s in agent.last_stats] == [16 * 8, 16 * 8]
    painted = paint_on_mypaint(actions, 64, seed=0)
    assert ((painted - targets) ** 2).mean() < ((1.0 - targets) ** 2).mean()
    again = make_agent("greedy@mypaint", MNIST, seed=3, kwargs={"proposals": 16, "batch": 8})
    assert np.array_equal(again.paint(targets), actions)  # a render budget is reproducible


def test_cem_refines_and_revisits_within_its_render_budget():
    kwargs = {"renders": 600, "batch": 16, "passes": 1}
    agent = make_agent("cem@mypaint", PHOTOS, seed=0, kwargs=kwargs)
    targets = agent.task.targets("test")[:1]
    actions = agent.paint(targets)
    assert actions.shape == (1, 15, 12)
    assert agent.last_stats[0]["mypaint_renders"] <= 600 + 15 + 15  # + one per forced start
    painted = paint_on_mypaint(actions, 64, seed=0)
    flat = targets.mean(axis=(1, 2), keepdims=True)
    assert ((painted - targets) ** 2).mean() < ((flat - targets) ** 2).mean()


def test_hybrid_keeps_the_plan_mypaint_paints_best():
    agent = make_agent("hybrid@regression", PHOTOS, seed=0, kwargs={"steps": 1, "seconds": 5.0})
    target = agent.task.targets("test")[0]
    canvas = np.ones_like(target)
    good = np.zeros((1, 12))
    good[0, :9] = [0.1, 0.5, 0.5, 0.5, 0.9, 0.5, 1, 1, 1]  # a wide stroke across the middle
    good[0, 9:] = target.reshape(-1, 3).mean(axis=0)
    bad = good.copy()
    bad[0, :6], bad[0, 8] = [0.0, 0.0, 0.01, 0.0, 0.02, 0.0], 0.0  # a speck in a corner
    plans = np.stack([bad, good])
    import torch

    target_t = torch.as_tensor(target).permute(2, 0, 1)[None]
    spending = Spending(PerImageBudget(seconds=5.0), 1)
    rng = np.random.default_rng(0)
    chosen = agent.choose(plans, target, target_t, canvas, rng, spending)
    assert np.allclose(chosen[0, :9], good[0, :9])
    assert spending.renders == 2


def test_hybrid_from_the_amortised_agent_paints_valid_strokes_and_counts_its_work():
    kwargs = {"init": "amortized-mnist", "steps": 2, "seconds": 10.0}
    agent = make_agent("hybrid@regression", MNIST, seed=0, kwargs=kwargs)
    assert agent.horizon == "all" and agent.chunk == 4 and agent.starts == 1
    targets = agent.task.targets("test")[:1]
    actions = agent.paint(targets)
    assert actions.shape == (1, 8, 12) and np.isfinite(actions).all()
    stats = agent.last_stats[0]
    # two plans (8 strokes, then the 4 left), 2 Adam steps each, plus the final check
    assert stats["painter_evals"] >= 8 + 2 * 8 + 2 * 4
    assert stats["mypaint_renders"] == 2 * 4 + 2 * 4  # the start and the refined plan, checked


@pytest.mark.parametrize(
    ("spec", "kwargs", "words"),
    [
        ("greedy@mypaint", {"proposals": 0}, "proposals"),
        ("greedy@regression", {}, "greedy@mypaint"),
        ("cem@mypaint", {"seconds": -2.0}, "seconds"),
        ("hybrid@mypaint", {}, "hybrid@regression"),
        ("hybrid@regression", {"horizon": "later"}, "horizon"),
        ("hybrid@regression", {"init_share": 1.0}, "init_share"),
    ],
)
def test_bad_arguments_name_the_argument(spec, kwargs, words):
    with pytest.raises(ValueError, match=words):
        make_agent(spec, PHOTOS, kwargs=kwargs)


def test_a_target_of_the_wrong_shape_is_refused():
    agent = make_agent("greedy@mypaint", PHOTOS, kwargs={"proposals": 1})
    with pytest.raises(ValueError, match="targets"):
        agent.paint(np.zeros((1, 32, 32, 3)))
    with pytest.raises(ValueError, match="targets"):
        agent.paint(np.zeros((1, 64, 64, 4)))


def test_agent_paint_makes_a_search_agent_from_its_spec(tmp_path, capsys):
    from PIL import Image

    from neuralpaint.cli import main

    target = tmp_path / "t.png"
    Image.fromarray(np.full((64, 64, 3), 200, np.uint8)).save(target)
    base = ["agent", "paint", "--target", str(target), "--out", str(tmp_path / "o")]
    spec = ["--agent", "greedy@mypaint", "--env", PHOTOS, "--agent-arg", "proposals=4"]
    assert main([*base, *spec]) == 0
    assert (tmp_path / "o" / "side_by_side.png").is_file()
    assert main([*base, "--agent", "ppo@mypaint"]) == 2  # RL must be trained first
    assert "train it first" in capsys.readouterr().err
