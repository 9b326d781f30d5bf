"""The convergence suite end to end on a tiny preset, through the command line."""

import math

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from neuralpaint.agents.registry import parse_agent_spec
from neuralpaint.benchmarks import convergence
from neuralpaint.benchmarks.claims import ROWS, write_claims
from neuralpaint.cli import main


def test_convergence_tiny_through_the_cli(tmp_path, capsys):
    args = ["bench", "convergence", "--preset", "tiny", "--results", str(tmp_path)]
    args += ["--cache", str(tmp_path / "cache"), "--agents", "amortized@vae,ppo,random"]
    assert main(args) == 0
    out = tmp_path / "convergence"
    raw = pd.read_csv(out / "convergence.csv", comment="#")
    config = convergence.PRESETS["tiny"]
    trained = raw[raw["agent"] != "random"]
    # one evaluation before training and one after each slice, per trained agent
    assert trained.groupby("agent")["evaluation"].max().tolist() == [config.evaluations] * 2
    assert (trained.groupby("agent")["strokes_rendered"].max() > 0).all()
    assert len(raw[raw["agent"] == "random"]) == 1, "nothing to learn: one evaluation"
    assert raw["mypaint_l2"].between(0, 1).all() and (raw["blank_l2"] > 0).all()
    seconds = trained.groupby("agent")["seconds"].max()
    assert (seconds >= config.seconds * 0.9).all(), "each agent trained for its budget"
    md = (out / "convergence.md").read_text()
    assert "## NeuralPaint-MNIST-v0" in md and "seconds to threshold" in md and "commit" in md
    assert (out / "convergence_NeuralPaint-MNIST-v0.png").stat().st_size > 1000
    with Image.open(out / "convergence_NeuralPaint-MNIST-v0.png") as png:
        assert {"Command", "Commit", "Machine", "Versions"} <= set(png.text)
    # A rerun finds every cell finished and trains nothing: identical rows.
    assert main(args) == 0
    again = pd.read_csv(out / "convergence.csv", comment="#")
    pd.testing.assert_frame_equal(again, raw)
    assert "vae" in capsys.readouterr().out
    # The claims page reads the results back; suites that did not run are "not measured".
    claims = write_claims(tmp_path).read_text()
    assert "## 1. Faster convergence" in claims and "NeuralPaint-MNIST-v0" in claims
    assert claims.count("**not measured**") == 2 * (len(ROWS) - 1)  # table and details


def curve(agent, seed, seconds, l2):
    return [
        {
            "env": "E",
            "agent": agent,
            "seed": seed,
            "evaluation": i,
            "seconds": s,
            "strokes_rendered": 100 * s,
            "blank_l2": 0.2,
            "mypaint_l2": v,
            "neural_l2": v,
            "transfer_gap": 0.0,
        }
        for i, (s, v) in enumerate(zip(seconds, l2, strict=True))
    ]


def test_summary_times_to_threshold_and_headline():
    rows = []
    for seed in range(2):  # threshold 0.75 * 0.2 = 0.15
        rows += curve("amortized@regression", seed, [0, 10, 20], [0.2, 0.14, 0.1])
        rows += curve("ppo", seed, [0, 10, 20], [0.2, 0.19, 0.14 if seed == 0 else 0.18])
        rows += curve("sac", seed, [0, 10, 20], [0.2, 0.2, 0.2])
    config = convergence.ConvergenceConfig(seconds=20.0, threshold=0.75)
    table = convergence.summarize(pd.DataFrame(rows), config)["E"].set_index("agent")
    grad, ppo = table.loc["amortized@regression"], table.loc["ppo"]
    assert str(grad["seconds to threshold"]) == "10 (2/2)"
    assert str(ppo["seconds to threshold"]) == "≥ 20 (1/2)"
    assert str(table.loc["sac", "seconds to threshold"]) == "> 20 (0/2)"
    assert str(grad["strokes to threshold"]) == "1e+03 (2/2)"
    assert grad["final MyPaint L2"] == pytest.approx(0.1) and grad["± 95% CI"] == 0.0
    assert ppo["final MyPaint L2"] == pytest.approx(0.16)
    line = convergence.headline(table.reset_index())
    assert "≥ 2× sooner" in line and "ppo" in line


def test_bad_agent_spec_fails_before_training(tmp_path):
    with pytest.raises(ValueError, match="no name"):
        parse_agent_spec("@gan")
    with pytest.raises((KeyError, ValueError), match="nosuchagent"):
        convergence.run("tiny", tmp_path, agents=["nosuchagent"], cache=tmp_path)
    assert parse_agent_spec("amortized@gan") == ("amortized", "gan")
    assert parse_agent_spec("ppo") == ("ppo", None)


def test_threshold_follows_the_better_trivial_painting():
    rows = pd.DataFrame(
        {
            "agent": ["random", "random", "ppo"],
            "seed": [0, 1, 0],
            "evaluation": [0, 0, 0],
            "blank_l2": [0.3, 0.3, 0.3],
            "mypaint_l2": [0.1, 0.2, 0.25],
        }
    )
    # random strokes (mean 0.15) beat the blank canvas (0.3): they set the bar
    assert convergence.trivial_l2(rows) == pytest.approx(0.15)
    # without a random agent in the run, the blank canvas does
    assert convergence.trivial_l2(rows[rows["agent"] == "ppo"]) == pytest.approx(0.3)


def test_agents_from_other_modules_join_by_module_and_class(tmp_path):
    spec = "neuralpaint.agents.random_agent:RandomAgent"
    tables = convergence.run("tiny", tmp_path, agents=[spec], cache=tmp_path / "cache")
    table = tables["NeuralPaint-MNIST-v0"]
    assert list(table["agent"]) == [spec]
    assert table["final MyPaint L2"].iloc[0] > 0.1, "random strokes are far from a digit"


def test_claims_of_older_results_read_the_budget_from_the_command(tmp_path):
    from neuralpaint.benchmarks import provenance

    rows = []
    for seed in range(2):
        rows += curve("amortized@regression", seed, [0, 5, 20], [0.2, 0.14, 0.1])
        rows += curve("ppo", seed, [0, 5, 20], [0.2, 0.19, 0.19])
    for folder, extra in ((tmp_path, ""), (tmp_path / "long", " --seconds 20")):
        command = f"neuralpaint bench convergence --preset quick{extra}"
        text = provenance.csv_header(command) + pd.DataFrame(rows).to_csv(index=False)
        (folder / "convergence").mkdir(parents=True)
        (folder / "convergence" / "convergence.csv").write_text(text)
    claims = write_claims(tmp_path).read_text()
    assert "--seconds 20`" in claims
    # quick's budget (40 s) and the longer runs' (20 s) censor ppo's never-reached seeds
    assert "≥ 8× sooner" in claims and "≥ 4× sooner" in claims


def test_a_retrained_painter_reruns_the_cells_that_used_it(tmp_path):
    import shutil

    from safetensors.torch import load_file, save_file

    from neuralpaint.benchmarks.cells import cell_path
    from neuralpaint.painters.neural import resolve

    painter = tmp_path / "painter"
    shutil.copytree(resolve("regression"), painter)
    cell = {"env": "NeuralPaint-MNIST-v0", "agent": f"amortized@{painter}", "seed": 0}
    rl_cell = {"env": "NeuralPaint-MNIST-v0", "agent": "ppo@mypaint", "seed": 0}
    before = cell_path(tmp_path, "convergence", cell)
    rl_before = cell_path(tmp_path, "convergence", rl_cell)
    assert cell_path(tmp_path, "convergence", cell) == before  # stable
    tensors = load_file(painter / "model.safetensors")
    name = next(iter(tensors))
    tensors[name] = tensors[name] + 1e-3
    save_file(tensors, painter / "model.safetensors")
    assert cell_path(tmp_path, "convergence", cell) != before
    assert cell_path(tmp_path, "convergence", rl_cell) == rl_before  # judged on another one


def test_a_changed_agent_reruns_its_cells(tmp_path, monkeypatch):
    from neuralpaint.benchmarks.cells import cell_path

    module = tmp_path / "my_agents.py"
    source = (
        "from neuralpaint.agents.random_agent import RandomAgent\n\n\n"
        "class Mine(RandomAgent):\n    lr = {lr}\n"
    )
    module.write_text(source.format(lr=1e-3))
    monkeypatch.syspath_prepend(str(tmp_path))
    cell = {"env": "NeuralPaint-MNIST-v0", "agent": "my_agents:Mine", "seed": 0}
    other = {"env": "NeuralPaint-MNIST-v0", "agent": "random", "seed": 0}
    before, other_before = (cell_path(tmp_path, "convergence", c) for c in (cell, other))
    assert cell_path(tmp_path, "convergence", cell) == before  # stable
    module.write_text(source.format(lr=1e-4))  # a new default in the agent's code
    assert cell_path(tmp_path, "convergence", cell) != before
    assert cell_path(tmp_path, "convergence", other) == other_before
    missing = {"env": "NeuralPaint-MNIST-v0", "agent": "no_such_module:Agent", "seed": 0}
    assert cell_path(tmp_path, "convergence", missing).name.endswith(".json")  # no crash


def test_run_writes_its_config_into_the_csv_header(tmp_path, monkeypatch):
    from neuralpaint.benchmarks import provenance

    rows = []
    for seed in range(2):  # the cells' rows, without training anything
        rows += curve("amortized@vae", seed, [0, 2, 4], [0.2, 0.1, 0.05])
        rows += curve("ppo", seed, [0, 2, 4], [0.2, 0.19, 0.18])
    monkeypatch.setattr(convergence, "run_cells", lambda *args: rows)
    convergence.run("tiny", tmp_path, agents=["amortized@vae", "ppo"], seconds=4, cache=tmp_path)
    path = tmp_path / "convergence.csv"
    saved = provenance.read_csv_config(path)
    assert saved["preset"] == "tiny" and saved["agents"] == ["amortized@vae", "ppo"]
    preset, config = convergence.read_config(path)
    assert preset == "tiny" and config.seconds == 4 and config.agent_seconds == {}
    md = (tmp_path / "convergence.md").read_text()
    assert "amortized@vae gets there ≥ 2× sooner than ppo" in md and "- **commit**" in md


def test_the_log_grid_starts_early_and_keeps_a_fixed_ratio():
    times = convergence.evaluation_times(600.0, 16, "log", 0.01)
    assert len(times) == 16 and times[0] == pytest.approx(6.0) and times[-1] == 600.0
    assert (np.diff(times) > 0).all() and (times > 0).all() and (times <= 600.0).all()
    ratios = times[1:] / times[:-1]
    assert ratios == pytest.approx(np.full(15, convergence.grid_factor(16, 0.01)))
    assert convergence.grid_factor(16, 0.01) == pytest.approx(1.359, abs=1e-3)
    # the linear grid is the equal slices it always was
    assert convergence.evaluation_times(40.0, 4).tolist() == [10.0, 20.0, 30.0, 40.0]
    assert convergence.evaluation_times(40.0, 1, "log").tolist() == [40.0]
    for bad in ({"grid": "cubic"}, {"grid": "log", "first": 1.0}, {"grid": "log", "first": 0}):
        with pytest.raises(ValueError):
            convergence.evaluation_times(40.0, 4, **bad)


def test_long_preset_evaluates_on_the_log_grid_and_linear_cells_keep_their_keys():
    long = convergence.PRESETS["long"]
    assert long.eval_grid == "log" and 0.005 <= long.first_evaluation <= 0.02
    for agent in long.agents:  # the first evaluation within the first 10 s of any run
        assert convergence.evaluation_times(long.budget(agent), long.evaluations, "log")[0] < 10
    assert long.grid_settings() == {"eval_grid": "log", "first_evaluation": 0.01}
    # presets on the linear grid add no key to their cells: their cache files stay valid
    assert convergence.PRESETS["quick"].grid_settings() == {}


def test_long_preset_gives_ppo_the_sweeps_setting():
    import torch

    from neuralpaint.agents.registry import make_agent

    kwargs = convergence.PRESETS["long"].agent_kwargs["ppo"]
    assert kwargs == {"log_std_init": -2.0, "ent_coef": 0.01}
    agent = make_agent("ppo", "NeuralPaint-MNIST-v0", 0, kwargs | {"n_envs": 1})
    assert agent.model.ent_coef == 0.01
    log_std = agent.model.policy.log_std
    assert torch.allclose(log_std, torch.full_like(log_std, -2.0))


def test_ppo_stops_between_rollouts_not_part_way():
    from neuralpaint.agents import Budget
    from neuralpaint.agents.registry import make_agent

    kwargs = {"n_envs": 2, "n_steps": 8, "batch_size": 16}
    agent = make_agent("ppo", "NeuralPaint-MNIST-v0", 0, kwargs)
    agent.train(Budget(seconds=1e-3))  # spent at once: one vector step, no rollout
    assert agent.trained_steps == 2
    agent.train(Budget(seconds=0.3))  # whole rollouts of 16 steps, then the stopping step
    assert agent.trained_steps > 2 + 16 and (agent.trained_steps - 4) % 16 == 0


class SteppingAgent:
    """Trains in whole steps of ``step`` seconds."""

    stochastic, strokes_rendered, task = False, 0, None

    def __init__(self, step: float):
        self.step, self.trained_seconds, self.trained_steps = step, 0.0, 0

    def train(self, budget):
        steps = max(1, math.ceil(budget.seconds / self.step - 1e-9))
        self.trained_seconds += steps * self.step
        self.trained_steps += steps


def test_a_cell_on_the_log_grid_is_evaluated_at_its_times(monkeypatch):
    from types import SimpleNamespace

    monkeypatch.setattr(convergence, "make_agent", lambda *args: SteppingAgent(0.01))
    monkeypatch.setattr(convergence, "held_out_targets", lambda *a: (None, np.zeros((2, 4, 4, 3))))
    score = SimpleNamespace(summary=lambda: {"mypaint_l2": 0.1})
    monkeypatch.setattr(convergence, "evaluate_on_mypaint", lambda *a, **k: score)
    cell = {"env": "E", "agent": "a", "seed": 0, "seconds": 4.0, "evaluations": 3}
    cell |= {"targets": 2, "agent_kwargs": {}, "device": "cpu"}
    rows = convergence.convergence_cell(cell | {"eval_grid": "log", "first_evaluation": 0.05})
    assert [r["evaluation"] for r in rows] == [0, 1, 2, 3]
    grid = convergence.evaluation_times(4.0, 3, "log", 0.05)  # 0.2, 0.89, 4 s
    # each evaluation at its time, not the linear grid's 1.33, 2.67, 4 s
    assert [r["seconds"] for r in rows] == pytest.approx([0, *grid], abs=0.011)
    linear = convergence.convergence_cell(cell)
    assert [r["seconds"] for r in linear] == pytest.approx([0, 4 / 3, 8 / 3, 4], abs=0.011)


def test_log_grid_times_to_threshold_headline_and_markdown(tmp_path, monkeypatch):
    rows = []  # threshold 0.75 * 0.2 = 0.15; uneven times, as the log grid gives
    for seed in range(3):
        short, long = [0, 1, 2.7, 7.4, 20], [0, 2, 5.4, 15, 40]
        rows += curve("amortized@regression", seed, short, [0.2, 0.19, 0.12, 0.1, 0.08])
        rows += curve("ddpg@regression", seed, long, [0.2, 0.19, 0.16, 0.14, 0.1])
        rows += curve("ppo", seed, long, [0.2, 0.19, 0.19, 0.18, 0.14])
    config = convergence.ConvergenceConfig(
        seconds=20.0,
        agent_seconds={"ddpg": 40.0, "ppo": 40.0},
        evaluations=4,
        eval_grid="log",
        first_evaluation=0.05,
        threshold=0.75,
    )
    a = convergence.analyse(pd.DataFrame(rows), config)["E"]
    table = a["table"].set_index("agent")
    assert str(table.loc["amortized@regression", "seconds to threshold"]) == "2.7 (3/3)"
    assert str(table.loc["ddpg@regression", "seconds to threshold"]) == "15 (3/3)"
    free, based = convergence.headlines(a["table"], a["curves"], a["threshold"])
    assert "5.56× sooner" in based and "upper bound" not in based and "may be" not in based
    assert "14.8× sooner" in free
    # the Markdown says how the runs were evaluated and how fine the grid is
    monkeypatch.setitem(
        convergence.PRESETS,
        "tiny",
        convergence.replace(
            convergence.PRESETS["tiny"], evaluations=4, eval_grid="log", first_evaluation=0.05
        ),
    )
    seen = []
    monkeypatch.setattr(convergence, "run_cells", lambda _, cells, *a: seen.extend(cells) or rows)
    convergence.run("tiny", tmp_path, agents=["amortized@regression", "ddpg@regression", "ppo"])
    assert {(c["eval_grid"], c["first_evaluation"]) for c in seen} == {("log", 0.05)}
    md = (tmp_path / "convergence.md").read_text()
    assert "(plus once untrained) at log-spaced times from 5% of each run's" in md
    assert "each 2.71× the one before" in md and "at most 2.71× later" in md
    assert convergence.read_config(tmp_path / "convergence.csv")[1].eval_grid == "log"


def test_long_results_from_before_the_config_header_keep_the_preset_they_ran(tmp_path):
    from neuralpaint.benchmarks import provenance

    path = tmp_path / "convergence.csv"
    path.write_text(provenance.csv_header("neuralpaint bench convergence --preset long") + "a\n1\n")
    preset, config = convergence.read_config(path)
    assert preset == "long" and config.evaluations == 8 and config.eval_grid == "linear"
    assert "ppo" not in config.agent_kwargs and config.budget("ppo") == 600


def test_headline_says_where_the_seeds_that_fell_short_ended():
    rows = []  # threshold 0.75 * 0.2 = 0.15; ppo gets there in seeds 0 and 1, not 2
    for seed in range(3):
        rows += curve("amortized@regression", seed, [0, 10, 20], [0.2, 0.14, 0.1])
        rows += curve("ppo", seed, [0, 20, 40], [0.2, 0.152, 0.14 if seed < 2 else 0.16])
    config = convergence.ConvergenceConfig(seconds=40.0, threshold=0.75)
    a = convergence.analyse(pd.DataFrame(rows), config)["E"]
    (free,) = convergence.headlines(a["table"], a["curves"], a["threshold"])
    assert "≥ 4× sooner" in free and "(2/3)" in free
    assert "ppo never got there in seed 2, which ended at L2 0.1600 (lowest 0.1520)" in free
    assert "the threshold is 0.1500." in free
