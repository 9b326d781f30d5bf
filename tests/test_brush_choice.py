"""Choosing the brush: ``brush=`` of every env id, agents and ``--brush`` on the command
line (real libmypaint, the shipped painters). A brush with a shipped twin (the pen) gets
it where a painter is needed; one without (the pencil) is refused by name there, while
MyPaint-only use of it works."""

from __future__ import annotations

import inspect
import re

import gymnasium as gym
import numpy as np
import pytest

import neuralpaint  # noqa: F401 - registers the ids
from neuralpaint.agents.evaluation import evaluate_on_mypaint, paint_on_mypaint
from neuralpaint.agents.registry import make_agent
from neuralpaint.envs.paint import PaintEnv
from neuralpaint.envs.registration import ENTRY_POINT, env_ids
from neuralpaint.errors import UserValueError
from neuralpaint.painters import DEFAULT_PAINTER
from neuralpaint.painters.mypaint import DEFAULT_BRUSH

PEN = "classic/pen"
PENCIL = "classic/pencil"  # normal blending, no shipped twin
MNIST = "NeuralPaint-MNIST-v0"
NO_TWIN = (
    r"no shipped twin of brush 'classic/pencil'; brushes with one: .*classic/pen \(regression-pen\)"
)
STROKE = np.array([0.1, 0.2, 0.5, 0.9, 0.8, 0.3, 0.7, 0.8, 0.9, 0, 0, 0], np.float32)


def test_every_id_takes_brush_as_a_keyword():
    assert "brush" in inspect.signature(PaintEnv).parameters
    for name in env_ids():
        assert gym.spec(name).entry_point == ENTRY_POINT, name  # PaintEnv makes every id
        assert "brush" not in gym.spec(name).kwargs  # the ids stay the default brush's


@pytest.mark.parametrize("env_id", [MNIST, "NeuralPaint-MNIST-Discrete-v0"])
def test_an_env_with_the_pen_paints_other_pixels_for_the_same_stroke(env_id):
    canvases = {}
    for brush in (None, PEN):
        env = gym.make(env_id, **({} if brush is None else {"brush": brush}))
        env.reset(seed=0)
        action = STROKE if env_id == MNIST else np.append(STROKE, 0.0).astype(np.float32)
        obs, *_ = env.step(action)
        assert env.unwrapped.brush == (brush or DEFAULT_BRUSH)
        canvases[brush] = obs[..., :3]
    assert (canvases[PEN] < 250).any() and (canvases[None] < 250).any()
    assert (canvases[PEN] != canvases[None]).any(axis=-1).sum() > 100


def test_grid_and_vector_envs_take_the_brush():
    env = gym.make("NeuralPaint-MNIST-Grid-v0", brush=PEN)
    assert env.unwrapped.renderer.brush == PEN
    vec = gym.make_vec(MNIST, num_envs=2, brush=PEN)
    assert all(e.renderer.brush == PEN for e in vec.envs)


def test_a_neural_env_of_a_brush_without_a_twin_is_refused_by_name():
    with pytest.raises(UserValueError, match=NO_TWIN) as raised:
        gym.make(MNIST, renderer="regression", brush=PENCIL)
    assert f"neuralpaint painter dataset --brush {PENCIL}" in str(raised.value)
    assert f"neuralpaint painter train --brush {PENCIL}" in str(raised.value)
    same = gym.make(MNIST, renderer="regression", brush=DEFAULT_BRUSH)  # the default's twin
    assert same.unwrapped.renderer.name == "regression"
    env = gym.make(MNIST, brush=PENCIL)
    env.reset(seed=0)
    with pytest.raises(UserValueError, match=NO_TWIN):
        env.unwrapped.differentiable(painter="regression")


def test_a_brush_with_a_shipped_twin_gets_it_where_a_painter_is_needed():
    env = gym.make(MNIST, renderer="regression", brush=PEN)
    assert env.unwrapped.renderer.name == "dabs:classic/pen"  # the pen's default twin
    obs, _ = env.reset(seed=0)
    obs, *_ = env.step(STROKE)
    assert (obs[..., :3] < 250).any()  # the pen's twin painted the stroke
    agent = make_agent("stroke-optimizer", MNIST, brush=PEN)
    assert agent.task.painter == "dabs:classic/pen" and agent.task.brush == PEN


@pytest.mark.parametrize("spec", ["amortized", "stroke-optimizer@regression", "hybrid@regression"])
def test_agents_that_learn_through_a_painter_need_the_brushs_twin(spec):
    with pytest.raises(UserValueError, match=NO_TWIN):
        make_agent(spec, MNIST, brush=PENCIL)


def test_a_gradient_agent_of_the_default_brush_is_as_before():
    agent = make_agent("stroke-optimizer", MNIST, brush=DEFAULT_BRUSH)
    assert agent.task.painter == DEFAULT_PAINTER and agent.task.brush == DEFAULT_BRUSH
    assert "brush" not in agent.task.describe()  # agent.json reads as before brushes


def test_a_search_agent_renders_and_is_judged_with_the_brush():
    targets = np.ones((1, 64, 64, 3), np.float32)
    targets[0, 20:44, 28:36] = 0.0
    for agent in (
        make_agent("greedy@mypaint", MNIST, kwargs={"renders": 64}, brush=PENCIL),
        make_agent("greedy@mypaint", MNIST, kwargs={"renders": 64, "brush": PENCIL}),
    ):
        assert agent.brush == PENCIL and agent.mypaint.brush == PENCIL
        assert agent.task.brush == PENCIL
        assert agent.task.painter == ""  # no twin: judged on MyPaint only
        result = evaluate_on_mypaint(agent, targets, seed=3)
        assert result.neural_images is None
        pencil = paint_on_mypaint(result.actions, 64, 3, brush=PENCIL)
        assert np.array_equal(result.mypaint_images, pencil)
        assert not np.array_equal(pencil, paint_on_mypaint(result.actions, 64, 3))


def test_bad_brushes_on_the_command_line_are_one_line_errors(capsys, tmp_path, monkeypatch):
    from PIL import Image

    from neuralpaint.cli import main

    monkeypatch.chdir(tmp_path)
    target = tmp_path / "t.png"
    Image.new("RGB", (64, 64), "white").save(target)
    for argv in (
        ["agent", "train", "amortized", "--brush", "classic/no_such", "--out", "a"],
        ["agent", "paint", "--agent", "greedy@mypaint", "--brush", "classic/no_such"]
        + ["--target", str(target), "--out", "p"],
    ):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: unknown brush 'classic/no_such'"), err
        assert "Traceback" not in err and err.count("\n") == 1
        assert "classic/{" in err and "pen" in err  # the valid ones are listed
    assert (
        main(["agent", "train", "amortized", "--brush", PENCIL, "--budget", "1s", "--out", "a"])
        == 2
    )
    err = capsys.readouterr().err
    assert re.match(f"error: {NO_TWIN}", err) and "Traceback" not in err
    assert not (tmp_path / "a").exists()
