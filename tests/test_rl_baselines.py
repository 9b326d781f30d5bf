"""RL baselines set up as their library advises, DDPG, the fixed sequence."""

import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env as gym_check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env
from stable_baselines3.common.vec_env import VecNormalize

from neuralpaint.agents import Agent, Budget, Task, get_agent_class
from neuralpaint.agents.evaluation import evaluate_on_mypaint
from neuralpaint.agents.rl import SB3View
from neuralpaint.envs.paint import PaintEnv
from neuralpaint.painters import checkpoint as ckpt
from neuralpaint.painters.broadcast import BroadcastPainter


@pytest.fixture(scope="module")
def painter_folder(tmp_path_factory):
    torch.manual_seed(0)
    module = BroadcastPainter(width=8)  # small and untrained: these tests check wiring
    folder = tmp_path_factory.mktemp("painter")
    config = {"kind": "regression", "size": 64, "discrete": False, "arch": {"width": 8}}
    return ckpt.save(folder, ckpt.join("painter", module.state_dict()), config)


def test_sb3_agents_see_a_symmetric_box_and_fresh_ppo_covers_the_range(painter_folder):
    task = Task(strokes=2, painter=str(painter_folder))
    ppo = get_agent_class("ppo")(task, n_envs=1, n_steps=8, batch_size=8, device="cpu")
    sac = get_agent_class("sac")(task, n_envs=1, device="cpu")
    for agent in (ppo, sac):
        box = agent.model.action_space
        assert (box.low == -1).all() and (box.high == 1).all(), agent.name
    assert isinstance(ppo.env, VecNormalize) and not isinstance(sac.env, VecNormalize)
    env = PaintEnv(strokes=2)
    view = SB3View(env)
    obs, _ = env.reset(seed=0)
    torch.manual_seed(0)
    sampled = np.stack([ppo.model.predict(obs, deterministic=False)[0] for _ in range(300)])
    strokes = view.to_env(sampled)
    assert strokes.min() >= 0 and strokes.max() <= 1
    # every field spreads over [0, 1]; on the env's raw box half of each would be 0
    assert (strokes.min(axis=0) < 0.15).all() and (strokes.max(axis=0) > 0.85).all()
    assert (strokes == 0).mean() < 0.05
    mode = view.to_env(ppo.model.predict(obs, deterministic=True)[0])
    assert 0.3 < mode.mean() < 0.7, "a fresh policy's mode is the middle of the box"


def test_ppo_paints_both_ways_and_its_normalizer_round_trips(painter_folder, tmp_path):
    task = Task(strokes=2, painter=str(painter_folder))
    agent = get_agent_class("ppo")(task, n_envs=2, n_steps=8, batch_size=16, device="cpu")
    agent.train(Budget(steps=32))
    stats = agent.env.ret_rms.var.copy(), agent.env.ret_rms.count
    targets = task.targets("test")[:2]
    det = evaluate_on_mypaint(agent, targets, deterministic=True).actions
    sampled = evaluate_on_mypaint(agent, targets, deterministic=False).actions
    assert not np.allclose(det, sampled)
    assert np.allclose(sampled, agent.paint(targets, deterministic=False)), "seeded samples"
    assert agent.env.ret_rms.count == stats[1], "painting leaves the normalizer alone"
    agent.save(tmp_path)
    loaded = Agent.load(tmp_path)
    assert np.allclose(loaded.env.ret_rms.var, stats[0])
    assert np.allclose(loaded.paint(targets), det)


def test_step_channel_counts_strokes_and_passes_check_env():
    env = PaintEnv(strokes=4, step_channel=True)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (64, 64, 7) and (obs[..., 6] == 0).all()
    obs, *_ = env.step(env.action_space.sample())
    assert (obs[..., 6] == round(255 / 4)).all()
    gym_check_env(PaintEnv(strokes=4, step_channel=True))
    sb3_check_env(PaintEnv(strokes=4, step_channel=True), warn=False)


def bar_targets(n: int = 8) -> np.ndarray:
    images = np.ones((n, 64, 64, 3), np.float32)
    for i in range(n):
        x = 10 + 4 * i % 40
        images[i, 12:52, x : x + 8] = 0.0
    return images


@pytest.fixture
def task(painter_folder):
    targets = bar_targets()
    return Task(
        strokes=4, painter=str(painter_folder), train_targets=targets, test_targets=targets[:2]
    )


def painter_gradients(agent) -> list[float]:
    """Wraps the agent's painter so each forward records the gradient reaching its
    output (an empty list: the painter was never called)."""
    seen: list[float] = []

    def hook(module, inputs, output):
        if output.requires_grad:
            output.register_hook(lambda g: seen.append(float(g.abs().sum())))
        else:
            seen.append(0.0)

    agent.painter.register_forward_hook(hook)
    return seen


@pytest.mark.parametrize("name", ["ddpg", "ddpg-free"])
def test_ddpg_actor_learns_through_the_painter_only_when_model_based(name, task, tmp_path):
    cfg = {"n_envs": 4, "batch_size": 8, "learning_starts": 8, "width": 8, "hidden": 32}
    agent = get_agent_class(name)(task, device="cpu", **cfg)
    assert agent.bundle == 4 and agent.decisions == 1
    agent.train(Budget(steps=16))
    assert len(agent.buffer) == 16 and agent.strokes_rendered > 0
    batch = agent.buffer.sample(8, agent.rng, agent.device)
    seen = painter_gradients(agent)
    before = [p.detach().clone() for p in agent.actor.parameters()]
    agent.actor_update(batch)
    assert any(not torch.equal(b, p) for b, p in zip(before, agent.actor.parameters(), strict=True))
    if name == "ddpg":
        assert seen and all(g > 0 for g in seen), "the actor's gradient crosses the painter"
    else:
        assert seen == [], "the model-free actor update never calls the painter"
    actions = agent.paint(task.targets("test"))
    assert actions.shape == (2, 4, 12) and actions.min() >= 0 and actions.max() <= 1
    agent.save(tmp_path)
    loaded = Agent.load(tmp_path, task)
    assert np.allclose(loaded.paint(task.targets("test")), actions)
    assert loaded.strokes_rendered == agent.strokes_rendered


def test_fixed_sequence_beats_blank_on_mnist_and_ignores_the_target(tmp_path):
    task = Task.from_env_id("NeuralPaint-MNIST-v0", painter="regression")
    agent = get_agent_class("fixed-sequence")(task, device="cpu", restarts=2)
    agent.train(Budget(steps=40))
    targets = task.targets("test")[::50][:16]
    result = evaluate_on_mypaint(agent, targets, seed=0)
    blank = ((1 - targets) ** 2).mean()
    assert result.mypaint_l2.mean() < 0.9 * blank
    assert (result.actions == result.actions[0]).all(), "one painting for every target"
    agent.save(tmp_path)
    assert np.allclose(Agent.load(tmp_path, task).paint(targets[:2]), result.actions[:2])
