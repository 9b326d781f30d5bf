"""Agents: interface, registry, each kind on a tiny configuration, preconditioning."""

import json
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest
import torch

from neuralpaint import actions as A
from neuralpaint.agents import Agent, Budget, Task, available_agents, get_agent_class
from neuralpaint.agents.amortized import AmortizedAgent
from neuralpaint.agents.commands import parse_agent_args, parse_budget
from neuralpaint.agents.differentiable import paint_step, to_tensor, white
from neuralpaint.agents.evaluation import evaluate_on_mypaint
from neuralpaint.agents.preconditioning import (
    PreconditioningSchedule,
    human_strokes,
    precondition,
    stroke_order_agreement,
)
from neuralpaint.painters import checkpoint as ckpt
from neuralpaint.painters.broadcast import BroadcastPainter


@pytest.fixture(scope="module")
def painter_folder(tmp_path_factory):
    torch.manual_seed(0)
    module = BroadcastPainter(width=8)  # small: agents' tests paint thousands of strokes
    folder = tmp_path_factory.mktemp("painter")
    config = {"kind": "regression", "size": 64, "discrete": False, "arch": {"width": 8}}
    return ckpt.save(folder, ckpt.join("painter", module.state_dict()), config)


def bar_targets(n: int = 12) -> np.ndarray:
    """Dark vertical bars at different positions: a task a few steps can improve on."""
    images = np.ones((n, 64, 64, 3), np.float32)
    for i in range(n):
        x = 10 + 4 * i % 40
        images[i, 12:52, x : x + 8] = 0.0
    return images


@pytest.fixture
def task(painter_folder):
    targets = bar_targets()
    return Task(
        strokes=2, painter=str(painter_folder), train_targets=targets, test_targets=targets[:3]
    )


def l2_of(agent: AmortizedAgent, targets: np.ndarray) -> float:
    with torch.no_grad():
        t = to_tensor(targets, agent.device)
        return float(((agent.rollout(t)[1] - t) ** 2).mean())


def test_budget_and_argument_parsing():
    assert parse_budget("90s") == Budget(seconds=90)
    assert parse_budget("2m,500steps") == Budget(seconds=120, steps=500)
    assert Budget(steps=10).exhausted(0.0, 10) and not Budget(seconds=5).exhausted(1.0, 10**6)
    with pytest.raises(ValueError, match="not understood"):
        parse_budget("ten minutes")
    with pytest.raises(ValueError, match="seconds, steps or both"):
        Budget()
    assert parse_agent_args(["lr=0.01", "batch-size=4", "name=x"]) == {
        "lr": 0.01,
        "batch_size": 4,
        "name": "x",
    }


def test_amortized_agent_improves_and_round_trips(task, tmp_path):
    agent = AmortizedAgent(task, seed=0, batch_size=8, progress=False, device="cpu")
    before = l2_of(agent, task.targets("train"))
    agent.train(Budget(steps=25))
    after = l2_of(agent, task.targets("train"))
    assert after < before
    assert agent.trained_steps == 25

    agent.save(tmp_path)
    loaded = Agent.load(tmp_path)
    assert isinstance(loaded, AmortizedAgent) and loaded.trained_steps == 25
    targets = task.targets("test")
    assert np.allclose(loaded.paint(targets), agent.paint(targets))

    (tmp_path / "policy.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(ValueError, match="corrupt"):
        Agent.load(tmp_path)


def test_amortized_agent_resumes_its_optimiser_and_sampler(task, tmp_path):
    kwargs = {"seed": 0, "batch_size": 4, "progress": False, "device": "cpu"}
    straight = AmortizedAgent(task, **kwargs)
    straight.train(Budget(steps=6))
    halves = AmortizedAgent(task, **kwargs)
    halves.train(Budget(steps=3))
    halves.save(tmp_path)
    resumed = Agent.load(tmp_path, task)
    # Adam's moments and step count come back with the weights
    saved, loaded = halves.optimizers[0].state_dict(), resumed.optimizers[0].state_dict()
    for key, state in saved["state"].items():
        assert torch.equal(state["exp_avg"], loaded["state"][key]["exp_avg"])
        assert torch.equal(state["step"], loaded["state"][key]["step"])
    resumed.train(Budget(steps=3))
    assert resumed.trained_steps == 6
    # 3 + save + load + 3 steps is the same run as 6 steps in one go
    for a, b in zip(straight.policy.parameters(), resumed.policy.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-6)


def test_amortized_agent_resumes_its_critic_and_its_optimiser(task, tmp_path):
    agent = AmortizedAgent(
        task, seed=1, batch_size=2, adversarial_weight=1.0, progress=False, device="cpu"
    )
    agent.train(Budget(steps=2))
    agent.save(tmp_path)
    resumed = Agent.load(tmp_path, task)
    for a, b in zip(agent.critic.parameters(), resumed.critic.parameters(), strict=True):
        assert torch.equal(a, b)
    saved, loaded = agent.optimizers[1].state_dict(), resumed.optimizers[1].state_dict()
    assert saved["state"] and saved["state"].keys() == loaded["state"].keys()
    for key, state in saved["state"].items():
        assert torch.equal(state["exp_avg_sq"], loaded["state"][key]["exp_avg_sq"])


def test_amortized_agent_saved_without_optimiser_state_still_loads(task, tmp_path):
    from neuralpaint.agents.amortized import TRAINING_STATE

    agent = AmortizedAgent(task, seed=0, batch_size=2, progress=False, device="cpu")
    agent.train(Budget(steps=1))
    agent.save(tmp_path)
    (tmp_path / TRAINING_STATE).unlink()  # as saved before the optimiser was
    loaded = Agent.load(tmp_path, task)
    assert loaded.optimizers is None
    loaded.train(Budget(steps=1))
    assert loaded.trained_steps == 2
    agent.save(tmp_path)  # a stale optimiser state (a save killed half-way) is dropped
    (tmp_path / "agent.json").write_text(
        (tmp_path / "agent.json").read_text().replace('"trained_steps": 1', '"trained_steps": 0')
    )
    stale = Agent.load(tmp_path, task)
    with pytest.warns(UserWarning, match="starts afresh"):
        stale.train(Budget(steps=1))
    (tmp_path / TRAINING_STATE).write_bytes(b"not a torch file")
    with pytest.raises(ValueError, match="corrupt"):
        Agent.load(tmp_path)


def test_amortized_agent_with_critic_trains(task):
    agent = AmortizedAgent(
        task, seed=1, batch_size=4, adversarial_weight=1.0, progress=False, device="cpu"
    )
    agent.train(Budget(steps=3))
    assert agent.trained_steps == 3 and np.isfinite(agent.last_train_losses).all()


def test_stroke_optimizer_lowers_its_loss(task):
    agent = get_agent_class("stroke-optimizer")(task, iterations=25, device="cpu")
    actions = agent.paint(task.targets("test"))
    assert agent.last_losses[-1] < agent.last_losses[0]
    assert actions.shape == (3, 2, 12)


@pytest.mark.parametrize("name", ["random", "stroke-optimizer", "amortized"])
def test_actions_of_every_gradient_agent_are_valid_for_mypaint(name, task):
    kwargs = {"random": {}, "stroke-optimizer": {"iterations": 3}, "amortized": {"progress": False}}
    agent = get_agent_class(name)(task, **kwargs[name])
    result = evaluate_on_mypaint(agent, task.targets("test"), seed=0)
    assert result.actions.shape == (3, task.strokes, A.ACTION_DIM)
    assert np.isfinite(result.actions).all() and result.actions.min() >= 0
    assert result.actions.max() <= 1 and np.all(result.actions[..., A.COLOR_SLICE] == 0)
    assert result.mypaint_images.shape == (3, 64, 64, 3)
    assert np.isfinite(result.mypaint_l2).all() and result.transfer_gap.shape == (3,)


def test_registry_finds_an_agent_from_another_module(tmp_path, monkeypatch):
    module = tmp_path / "my_plugin_agents.py"
    module.write_text(
        textwrap.dedent(
            """
            import numpy as np
            from neuralpaint.agents import Agent

            class CornerAgent(Agent):
                name = "corner"

                def train(self, budget, callback=None):
                    pass

                def paint(self, targets):
                    return np.zeros((len(targets), self.task.strokes, self.task.action_dim))
            """
        )
    )
    dist = tmp_path / "my_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: my-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[neuralpaint.agents]\ncorner = my_plugin_agents:CornerAgent\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    by_spec = get_agent_class("my_plugin_agents:CornerAgent")
    by_entry_point = get_agent_class("corner")
    assert by_spec is by_entry_point and by_spec.name == "corner"
    assert "corner" in available_agents()
    with pytest.raises(ValueError, match="unknown agent 'nope'"):
        get_agent_class("nope")
    with pytest.raises(TypeError, match="not a subclass"):
        get_agent_class("sys:path")
    sys.modules.pop("my_plugin_agents", None)


def test_preconditioning_pulls_strokes_towards_the_human_example(painter_folder):
    human = human_strokes()
    labels = np.array([1, 7])
    targets = np.ones((2, 64, 64, 3), np.float32)
    task = Task(strokes=8, painter=str(painter_folder), train_targets=targets, test_targets=targets)
    agent = AmortizedAgent(
        task, seed=0, batch_size=2, progress=False, device="cpu", lr=3e-3, hidden=64, width=8
    )
    precondition(agent, labels, PreconditioningSchedule(forcing_only_steps=1000))

    def distance() -> float:
        return float(np.abs(agent.paint(targets)[..., :9] - human[labels][..., :9]).mean())

    before = distance()
    agent.train(Budget(steps=15))
    assert distance() < 0.7 * before


def test_stroke_order_agreement():
    human = human_strokes()
    labels = np.arange(10)
    assert np.allclose(stroke_order_agreement(human, labels), 1.0)
    assert np.allclose(stroke_order_agreement(human[:, ::-1], labels), -1.0)
    assert human.shape == (10, 8, 12)
    # every human example starts each stroke where the last one ended
    assert np.allclose(human[:, 1:, 0:2], human[:, :-1, 4:6])


def test_paint_step_composites_in_black_for_mnist(painter_folder):
    task = Task(painter=str(painter_folder))
    agent_painter = BroadcastPainter()
    action = torch.rand(2, 12)
    canvas = paint_step(agent_painter, white(2, 64, torch.device("cpu")), action, task.color)
    assert torch.all(canvas <= 1.0) and torch.all(canvas[:, 0] == canvas[:, 1])


@pytest.mark.parametrize(
    ("name", "variant", "kwargs"),
    [
        ("ppo", "continuous", {"n_steps": 16, "batch_size": 16}),
        ("ppo", "grid", {"n_steps": 16, "batch_size": 16}),
        ("sac", "continuous", {"learning_starts": 8, "batch_size": 8, "train_freq": 4}),
    ],
)
def test_rl_baselines_train_on_mypaint_and_paint_valid_actions(
    name, variant, kwargs, painter_folder, tmp_path
):
    strokes = 3
    task = Task(variant=variant, strokes=strokes, painter=str(painter_folder))
    agent = get_agent_class(name)(task, n_envs=2, device="cpu", **kwargs)
    weights = [p.detach().clone() for p in agent.model.policy.parameters()]
    agent.train(Budget(steps=32))
    assert agent.trained_steps >= 32
    changed = [
        not torch.equal(w, p) for w, p in zip(weights, agent.model.policy.parameters(), strict=True)
    ]
    assert any(changed)  # the algorithm updated its networks
    targets = task.targets("test")[:2]
    result = evaluate_on_mypaint(agent, targets, seed=0)
    assert result.actions.shape == (2, strokes, task.action_dim)
    assert np.isfinite(result.actions).all() and result.actions.min() >= 0
    if variant == "grid":  # pen moves come back as lifted strokes
        assert set(np.unique(result.actions[..., A.LIFT_INDEX])) <= {0.0, 1.0}
    agent.save(tmp_path)
    assert np.allclose(Agent.load(tmp_path).paint(targets), agent.paint(targets))


def test_sac_refuses_the_grid_variant(painter_folder):
    with pytest.raises(ValueError, match="continuous"):
        get_agent_class("sac")(Task(variant="grid", painter=str(painter_folder)))


def test_gradient_agents_refuse_the_grid_variant(painter_folder):
    with pytest.raises(ValueError, match="MultiDiscrete"):
        AmortizedAgent(Task(variant="grid", painter=str(painter_folder)), progress=False)


def test_agent_benchmark_tiny(tmp_path, painter_folder):
    from neuralpaint.benchmarks import agents as bench

    saved = tmp_path / "amortized"
    task = Task.from_env_id("NeuralPaint-MNIST-v0", painter=str(painter_folder))
    AmortizedAgent(task, progress=False, hidden=32, width=8).save(saved)
    table = bench.run(
        ["random", str(saved)], preset="tiny", out_dir=tmp_path, painter=str(painter_folder)
    )
    assert list(table["agent"]) == ["random", str(saved)]
    assert (table["seeds"] == 2).all() and (table["MyPaint L2 per pixel"] > 0).all()
    raw = pd.read_csv(tmp_path / "agents_NeuralPaint-MNIST-v0.csv", comment="#")
    assert len(raw) == 2 * 2 * 3  # agents x seeds x targets
    assert (tmp_path / "agents_NeuralPaint-MNIST-v0.png").is_file()


def test_cli_train_agent_resumes_and_paint_writes_outputs(tmp_path, painter_folder, capsys):
    from PIL import Image

    from neuralpaint.cli import main

    out = tmp_path / "agent"
    args = ["agent", "train", f"amortized@{painter_folder}", "--out", str(out)]
    args += ["--device", "cpu", "--threads", "1"]
    arguments = ["batch_size=2", "hidden=16", "width=4", "log_every_seconds=0"]
    assert main([*args, "--budget", "2steps", *(f"--agent-arg={a}" for a in arguments)]) == 0
    assert main([*args, "--budget", "3steps", "--resume"]) == 0
    saved = json.loads((out / "agent.json").read_text())
    assert saved["trained_steps"] == 5 and saved["trains_on"] == str(painter_folder)
    # The resumed run's log continues the step count and the clock.
    log = pd.read_csv(out / "progress.csv")
    assert list(log["steps"]) == [1, 2, 3, 4, 5]
    assert log["seconds"].is_monotonic_increasing

    digit = np.full((28, 28, 3), 255, np.uint8)
    digit[5:23, 12:16] = 0
    Image.fromarray(digit).save(tmp_path / "digit.png")
    paint_dir = tmp_path / "painting"
    target = str(tmp_path / "digit.png")
    assert (
        main(["agent", "paint", "--agent", str(out), "--target", target, "--out", str(paint_dir)])
        == 0
    )
    assert Image.open(paint_dir / "side_by_side.png").size == (3 * (3 * 66 + 2), 3 * 68)
    assert Image.open(paint_dir / "0_strokes.gif").n_frames == 8
    (tmp_path / "broken.png").write_bytes(b"not an image")
    assert (
        main(["agent", "paint", "--agent", str(out), "--target", str(tmp_path / "broken.png")]) == 2
    )
    assert "error: cannot read target image" in capsys.readouterr().err


def test_the_painter_is_named_one_way_and_recorded(tmp_path, painter_folder):
    from neuralpaint.agents.registry import make_agent

    with pytest.raises(ValueError, match="MyPaint has no gradient"):
        make_agent("amortized@mypaint")
    with pytest.raises(ValueError, match="ppo@mypaint"):
        make_agent("ppo", kwargs={"renderer": "mypaint"})
    # PPO takes the Grid variant, with the Grid episode length.
    ppo = make_agent(
        "ppo", "NeuralPaint-MNIST-Grid-v0", kwargs={"n_envs": 1, "n_steps": 16, "batch_size": 16}
    )
    assert ppo.task.variant == "grid" and ppo.task.strokes == 20
    assert ppo.trains_on == "mypaint"
    on_painter = make_agent(
        f"ppo@{painter_folder}", kwargs={"n_envs": 1, "n_steps": 16, "batch_size": 16}
    )
    assert on_painter.trains_on == str(painter_folder)
    assert on_painter.task.painter == str(painter_folder)
    saved = json.loads((ppo.save(tmp_path) / "agent.json").read_text())
    assert saved["trains_on"] == "mypaint" and saved["task"]["variant"] == "grid"


def test_rl_progress_bar_reaches_the_end(tmp_path, capsys):
    from neuralpaint.cli import main

    argv = ["agent", "train", "ppo", "--budget", "32steps", "--out", str(tmp_path)]
    arguments = ["n_envs=1", "n_steps=16", "batch_size=16", "n_epochs=1"]
    assert main([*argv, "--device", "cpu", *(f"--agent-arg={a}" for a in arguments)]) == 0
    assert "100%" in capsys.readouterr().err
