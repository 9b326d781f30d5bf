"""``discrete:<painter>``: a continuous twin driven as the discrete variant drives MyPaint."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from neuralpaint import actions as A
from neuralpaint.painters import checkpoint as ckpt
from neuralpaint.painters import metrics
from neuralpaint.painters.mypaint import MyPaintRenderer
from neuralpaint.painters.neural import (
    NeuralRenderer,
    default_twin,
    load_painter,
    painter_for_brush,
    weights_digest,
)
from neuralpaint.painters.rounded import RoundedTwin


def discrete_strokes(n: int, seed: int) -> np.ndarray:
    """Random 13-field actions, sizes and pressures off their levels, half lifted."""
    rng = np.random.default_rng(seed)
    actions = rng.uniform(0.1, 0.9, (n, A.DISCRETE_ACTION_DIM))
    actions[:, A.COLOR_SLICE] = 0.0
    actions[:, A.LIFT_INDEX] = np.tile([0.2, 0.8], n)[:n]
    return actions


def test_it_paints_the_continuous_twin_at_mypaints_levels_and_nothing_when_lifted():
    actions = discrete_strokes(8, 0)
    rounded = load_painter("discrete:regression-fast")
    assert isinstance(rounded, RoundedTwin) and rounded.discrete
    assert rounded.brush == "classic/dry_brush"
    with torch.no_grad():
        ours = rounded(torch.tensor(actions, dtype=torch.float32))
        plain = load_painter("regression-fast")(
            torch.tensor(A.quantize_discrete(actions)[:, : A.ACTION_DIM], dtype=torch.float32)
        )
    lifted = torch.tensor(A.is_lifted(actions))
    assert float(ours[lifted].abs().max()) == 0.0
    torch.testing.assert_close(ours[~lifted], plain[~lifted])
    # unrounded sizes paint other strokes: the rounding is what made them agree
    with torch.no_grad():
        raw = load_painter("regression-fast")(torch.tensor(actions[:, :12], dtype=torch.float32))
    assert float((raw[~lifted] - plain[~lifted]).abs().max()) > 0.05
    # and the environment's renderer, which rounds on the numpy side, paints the same
    masks = NeuralRenderer("discrete:regression-fast").render_masks(actions)
    np.testing.assert_allclose(masks, ours[:, 0].numpy(), atol=1e-6)


def test_through_the_pens_dab_twin_it_paints_what_mypaint_paints_for_discrete_strokes():
    actions = discrete_strokes(24, 1)
    real = torch.tensor(MyPaintRenderer(64, "classic/pen").render_masks(actions, seed=0))[:, None]
    with torch.no_grad():
        ours = load_painter("discrete:dabs:classic/pen")(torch.tensor(actions, dtype=torch.float32))
    down = ~torch.tensor(A.is_lifted(actions))
    assert float(real[~down].max()) == 0.0 and float(ours[~down].max()) == 0.0
    assert metrics.all_metrics(ours[down], real[down])["r2"] > 0.97


def test_gradients_pass_straight_through_the_rounding_and_the_lift():
    actions = torch.tensor(discrete_strokes(6, 2), dtype=torch.float32)
    rounded = load_painter("discrete:regression-fast")
    weights = torch.rand(6, 1, 64, 64, generator=torch.Generator().manual_seed(3))
    a = actions.clone().requires_grad_(True)
    (rounded(a) * weights).sum().backward()
    at_levels = torch.tensor(A.quantize_discrete(actions.numpy())[:, :12], dtype=torch.float32)
    b = at_levels.clone().requires_grad_(True)
    mask = rounded.continuous(b)
    (mask * weights).sum().backward()
    down = ~torch.tensor(A.is_lifted(actions.numpy()))
    torch.testing.assert_close(a.grad[down, :12], b.grad[down])
    assert float(a.grad[~down, :12].abs().max()) == 0.0  # a lifted stroke has no shape
    # lift acts as 1 - opacity: raising it removes the stroke's weighted ink
    torch.testing.assert_close(a.grad[:, A.LIFT_INDEX], -(mask * weights).sum((1, 2, 3)).detach())


def test_names_follow_the_brush_and_brushes_without_a_discrete_twin_get_one():
    assert default_twin(discrete=True) == "regression-discrete"  # a trained one ships
    assert default_twin("classic/pen", discrete=True) == "discrete:dabs:classic/pen"
    assert default_twin("classic/textured_ink", discrete=True) == "discrete:regression-ink"
    assert default_twin("classic/calligraphy", discrete=True) == (
        "discrete:blur-grad:dabs:classic/calligraphy"
    )
    assert painter_for_brush("discrete:regression-fast", "classic/textured_ink") == (
        "discrete:regression-ink"
    )
    assert painter_for_brush("discrete:regression-fast", "classic/calligraphy") == (
        "discrete:blur-grad:dabs:classic/calligraphy"
    )
    assert weights_digest("discrete:regression-fast") == weights_digest("regression-fast")
    assert load_painter("discrete:regression-pen", expect_discrete=True).brush == "classic/pen"


def test_it_refuses_what_it_cannot_round():
    with pytest.raises(ckpt.CheckpointError, match="names no painter"):
        load_painter("discrete:")
    with pytest.raises(ckpt.CheckpointError, match="already a discrete painter"):
        load_painter("discrete:regression-discrete")
    with pytest.raises(ckpt.CheckpointError, match="holds a discrete painter"):
        load_painter("discrete:regression-fast", expect_discrete=False)
    with pytest.raises(ckpt.CheckpointError, match="discrete:regression-fast drives it"):
        load_painter("regression-fast", expect_discrete=True)
    with pytest.raises(ValueError, match=r"shape \(B, 13\).*lift"):
        load_painter("discrete:regression-fast")(torch.rand(2, 12))
    with pytest.raises(ckpt.CheckpointError, match="imitates the brush"):
        load_painter("discrete:regression-fast", brush="classic/pen")


def test_a_discrete_agent_learns_through_it_on_a_brush_without_a_trained_discrete_twin():
    from neuralpaint.agents.differentiable import frozen_painter
    from neuralpaint.agents.task import Task

    task = Task(variant="discrete", brush="classic/pen", painter="regression-discrete")
    painter = frozen_painter(task, torch.device("cpu"))
    assert isinstance(painter, RoundedTwin) and painter.brush == "classic/pen"


def test_a_discrete_environment_of_another_brush_paints_through_its_rounded_twin():
    import gymnasium as gym

    import neuralpaint  # noqa: F401  (registers the environments)

    env = gym.make(
        "NeuralPaint-MNIST-Discrete-v0", brush="classic/pen", renderer="regression-discrete"
    )
    assert env.unwrapped.renderer.name == "discrete:dabs:classic/pen"
    env.reset(seed=0)
    stroke = np.array([0.2, 0.2, 0.5, 0.4, 0.8, 0.8, 1.0, 1.0, 0.6, 0, 0, 0, 0.0], np.float32)
    obs, *_ = env.step(stroke)
    assert (obs[..., :3] < 128).any()  # brush down: painted
    before = obs.copy()
    stroke[A.LIFT_INDEX] = 1.0
    obs, *_ = env.step(stroke)
    np.testing.assert_array_equal(obs[..., :3], before[..., :3])  # lifted: nothing


def test_untrained_twins_are_judged_on_their_brushs_own_dataset():
    from neuralpaint.painters.dataset import StrokeDatasetSpec, judged_dataset
    from neuralpaint.painters.neural import read_painter_config

    pen = "classic/pen"
    assert judged_dataset(read_painter_config("discrete:regression-pen")) == (
        StrokeDatasetSpec(brush=pen, discrete=True).name
    )
    assert (
        judged_dataset(read_painter_config("dabs:classic/pen")) == StrokeDatasetSpec(brush=pen).name
    )
    trained = read_painter_config("regression-pen")
    assert judged_dataset(trained) == trained["trained"]["dataset"]
    with pytest.raises(ValueError, match="several brushes"):
        judged_dataset({"kind": "regression", "discrete": False, "brushes": [pen], "trained": {}})
    with pytest.raises(ValueError, match="several brushes"):  # discrete: of such a painter
        judged_dataset({"kind": "rounded", "discrete": True, "brushes": [pen]})
