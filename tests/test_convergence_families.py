"""The convergence suite on hand-made inputs: the reference paintings and
threshold, the declared policy rule, the per-family headline, mid-cell checkpoints."""

import json
import math

import pandas as pd
import pytest

from neuralpaint.benchmarks import cells, convergence
from neuralpaint.benchmarks.aggregate import curve_slope, time_at_slope


def test_curve_slope_and_time_left_at_that_slope():
    times, l2 = [0, 100, 200, 300, 400], [0.3, 0.18, 0.16, 0.14, 0.12]
    assert curve_slope(times, l2) == pytest.approx(-0.0002)  # the last half: 200 to 400 s
    assert curve_slope(times, l2, tail=1.0) < -0.0002  # the steep start counts too
    assert math.isnan(curve_slope([0, 10], [0.2, 0.1], tail=0.1))
    assert time_at_slope(0.12, -0.0002, 0.085) == pytest.approx(175)
    assert time_at_slope(0.08, -0.0002, 0.085) == 0.0
    assert time_at_slope(0.12, 0.0001, 0.085) == math.inf
    assert time_at_slope(0.12, math.nan, 0.085) == math.inf


def curve(agent, seed, seconds, l2, policy="default", budget=40.0):
    return [
        {
            "env": "E",
            "agent": agent,
            "seed": seed,
            "policy": policy,
            "evaluation": i,
            "seconds": s,
            "budget_seconds": budget,
            "strokes_rendered": 100 * s,
            "blank_l2": 0.2,
            "mypaint_l2": v,
            "neural_l2": v,
            "transfer_gap": 0.0,
        }
        for i, (s, v) in enumerate(zip(seconds, l2, strict=True))
    ]


@pytest.fixture
def raw() -> pd.DataFrame:
    rows = []
    for seed in range(3):  # threshold: 0.85 x fixed-sequence's 0.1 = 0.085
        rows += curve("amortized@regression", seed, [0, 10, 20], [0.2, 0.08, 0.05], budget=20)
        rows += curve("ppo", seed, [0, 20, 40], [0.2, 0.1, 0.08], "sampled")
        rows += curve("ppo", seed, [0, 20, 40], [0.2, 0.16, 0.15], "deterministic")
        rows += curve("sac", seed, [0, 20, 40], [0.2, 0.19, 0.18], "sampled")
        rows += curve("sac", seed, [0, 20, 40], [0.2, 0.2, 0.19], "deterministic")
        seconds, l2 = [0, 100, 200, 300, 400], [0.3, 0.18, 0.16, 0.14, 0.12]
        rows += curve("ddpg@regression", seed, seconds, l2, budget=400)
        rows += curve("fixed-sequence@regression", seed, [0, 5], [0.2, 0.1], budget=5)
        rows += curve("random", seed, [0], [0.4], budget=5)
    return pd.DataFrame(rows)


def test_threshold_references_policy_rule_and_flags(raw):
    config = convergence.ConvergenceConfig(threshold=0.85)
    a = convergence.analyse(raw, config)["E"]
    assert a["references"] == pytest.approx(
        {"blank canvas": 0.2, "random": 0.4, "fixed-sequence": 0.1}
    )
    assert a["threshold"] == pytest.approx(0.085)
    table = a["table"].set_index("agent")
    ppo = table.loc["ppo"]
    assert ppo["policy"] == "sampled" and ppo["final MyPaint L2"] == pytest.approx(0.08)
    assert ppo["other policy's L2"] == pytest.approx(0.15)
    assert table.loc["sac", "policy"] == "sampled"
    assert str(ppo["seconds to threshold"]) == "40 (3/3)"
    assert table.loc["ddpg@regression", "budget (s)"] == 400
    assert str(table.loc["ddpg@regression", "seconds to threshold"]) == "> 400 (0/3)"
    assert ppo["beats fixed-sequence"] == "yes"
    assert table.loc["sac", "beats fixed-sequence"] == "**no**"
    assert pd.isna(table.loc["random", "beats fixed-sequence"])
    # the curves kept are those of the chosen policy only
    assert set(a["curves"].loc[a["curves"]["agent"] == "ppo", "policy"]) == {"sampled"}


def test_headline_per_family_measured_or_bounded_with_a_slope(raw):
    config = convergence.ConvergenceConfig(threshold=0.85)
    free, based = convergence.headlines(
        **{
            k: v
            for k, v in convergence.analyse(raw, config)["E"].items()
            if k in ("table", "curves", "threshold")
        }
    )
    assert free.startswith("**Speed-up over model-free RL**")
    assert "4× sooner" in free and "than ppo" in free and "4× fewer strokes" in free
    assert "≥" not in free.split("(")[0], "a measured ratio, not a bound"
    assert based.startswith("**Speed-up over model-based RL**") and "lower bound" in based
    assert "≥ 40× sooner than ddpg@regression" in based
    assert "-0.02 per 100 s" in based and "about 175 s more" in based


def test_headline_says_when_the_evaluation_grid_limits_the_ratio(raw):
    config = convergence.ConvergenceConfig(threshold=0.85)
    fast = raw[raw["agent"] != "ddpg@regression"]
    rows = []
    for seed in range(3):  # model-based RL already below 0.085 at its first evaluation
        rows += curve("ddpg@regression", seed, [0, 50, 100], [0.3, 0.08, 0.05], budget=100)
    a = convergence.analyse(pd.concat([fast, pd.DataFrame(rows)]), config)["E"]
    free, based = convergence.headlines(a["table"], a["curves"], a["threshold"])
    assert "ddpg@regression was below the threshold at its first evaluation" in based
    assert "upper bound" in based and "upper bound" not in free
    # the gradient agent crossed at its first evaluation (10 s) in both sentences
    assert "may be larger" in free and "may be larger" in based


def test_old_results_without_policy_or_budget_columns_still_summarise(raw):
    old = raw[raw["policy"] != "deterministic"].drop(columns=["policy", "budget_seconds"])
    config = convergence.ConvergenceConfig(seconds=40.0, agent_seconds={"ddpg": 400.0})
    table = convergence.summarize(old, config)["E"].set_index("agent")
    assert set(table["policy"]) == {"default"}
    assert table.loc["ddpg@regression", "budget (s)"] == 400
    assert table.loc["ppo", "budget (s)"] == 40


def test_long_preset_is_sized_and_checkpoints():
    config = convergence.PRESETS["long"]
    assert config.checkpoints and config.workers == 2 and config.seeds == 3
    assert set(config.envs) == {"NeuralPaint-MNIST-v0", "NeuralPaint-Photos-v0"}
    runs = len(config.envs) * config.seeds
    hours = sum(config.budget(a) for a in config.agents) * runs / config.workers / 3600
    assert 1.2 < hours < 2.0, "training alone; 16 evaluations add about half again"
    assert config.budget("ppo") > config.budget("amortized@regression")
    assert {convergence.agent_family(a) for a in config.agents} >= set(convergence.FAMILIES)


def test_run_cells_gives_a_checkpointing_cell_its_folder_and_removes_it(tmp_path):
    seen = []

    def work(cell):
        folder = cell.get("checkpoint_dir")
        seen.append(folder)
        return [{"ok": folder is not None}]

    assert cells.run_cells("s", [{"agent": "a", "checkpoint": True}], work, tmp_path) == [
        {"ok": True}
    ]
    assert seen[0].endswith(".partial") and not any(tmp_path.rglob("*.partial"))
    assert cells.run_cells("s", [{"agent": "b"}], work, tmp_path) == [{"ok": False}]


class Killed(Exception):
    pass


def test_a_long_cell_killed_mid_run_resumes_from_its_checkpoint(tmp_path, monkeypatch):
    cell = {
        "env": "NeuralPaint-MNIST-v0",
        "agent": "ppo",
        "seed": 0,
        "seconds": 1.5,
        "evaluations": 3,
        "targets": 2,
        "agent_kwargs": {"n_steps": 8, "n_envs": 2, "batch_size": 16},
        "device": "cpu",
        "checkpoint_dir": str(tmp_path / "cell.partial"),
    }
    real = convergence.evaluate_on_mypaint
    calls = []

    def dies_at_the_second_evaluation(agent, *args, **kwargs):
        calls.append(agent.trained_seconds)
        if len(calls) == 5:  # evaluations 0 and 1 done, both policies each
            raise Killed
        return real(agent, *args, **kwargs)

    monkeypatch.setattr(convergence, "evaluate_on_mypaint", dies_at_the_second_evaluation)
    with pytest.raises(Killed):
        convergence.convergence_cell(cell)
    saved = json.loads((tmp_path / "cell.partial" / "progress.json").read_text())
    assert [r["evaluation"] for r in saved["rows"]] == [0, 0, 1, 1]
    assert {r["policy"] for r in saved["rows"]} == {"deterministic", "sampled"}
    monkeypatch.setattr(convergence, "evaluate_on_mypaint", real)
    rows = convergence.convergence_cell(cell)
    assert rows[:4] == saved["rows"], "finished evaluations are kept, not rerun"
    assert [r["evaluation"] for r in rows] == [0, 0, 1, 1, 2, 2, 3, 3]
    at = {r["evaluation"]: r for r in rows}
    assert at[2]["strokes_rendered"] > at[1]["strokes_rendered"] > 0, "continued training"
    assert at[2]["seconds"] > at[1]["seconds"] >= 0.45, "from the checkpoint, not from 0"
    assert len(list((tmp_path / "cell.partial").glob("agent-*"))) == 1


def test_headline_bounds_nothing_when_the_gradient_agent_also_fell_short(raw):
    config = convergence.ConvergenceConfig(threshold=0.85)
    rows = []  # the gradient agent gets there in one seed of three, PPO in none
    for seed, last in enumerate([0.05, 0.09, 0.09]):
        rows += curve("amortized@regression", seed, [0, 10, 20], [0.2, 0.1, last], budget=20)
        rows += curve("ppo", seed, [0, 20, 40], [0.2, 0.1, 0.09], "sampled")
    keep = ~raw["agent"].isin(["amortized@regression", "ppo", "sac", "ddpg@regression"])
    a = convergence.analyse(pd.concat([raw[keep], pd.DataFrame(rows)]), config)["E"]
    (free,) = convergence.headlines(a["table"], a["curves"], a["threshold"])
    assert "bounds no speed-up against ppo" in free and "(1/3)" in free
    assert "amortized@regression reached it in 1 of 3 seeds" in free
    assert "lower bound" not in free and "?" not in free
    # the slope sentence names the RL agent it is about
    assert "ppo's learning curve ends at L2" in free


def test_the_headline_judges_the_best_gradient_agent(raw):
    config = convergence.ConvergenceConfig(threshold=0.85)
    rows = []
    for seed in range(3):  # through the VAE painter, there sooner than through regression
        rows += curve("amortized@vae", seed, [0, 5, 20], [0.2, 0.08, 0.05], budget=20)
        rows += curve("greedy@mypaint", seed, [0, 1], [0.2, 0.01], budget=20)  # not gradient
    a = convergence.analyse(pd.concat([raw, pd.DataFrame(rows)]), config)["E"]
    assert convergence.best_gradient_agent(a["table"]) == "amortized@vae"
    free, based = convergence.headlines(a["table"], a["curves"], a["threshold"])
    assert free.startswith("Judged on amortized@vae, the run's best of 2 gradient agents")
    assert "amortized@vae reaches the threshold 8× sooner" in free
    assert "amortized@vae" in based and "amortized@regression gets" not in based
    # asked for by name, the headline judges that agent
    (named, _) = convergence.headlines(a["table"], agent="amortized@regression")
    assert named.startswith("**Speed-up over model-free RL**: amortized@regression")


def test_with_no_gradient_agent_there_to_judge_the_best_is_the_lowest_l2(raw):
    config = convergence.ConvergenceConfig(threshold=0.85)
    rows = []
    for seed in range(3):  # neither gets to 0.085
        rows += curve("amortized@regression", seed, [0, 10], [0.2, 0.12], budget=10)
        rows += curve("amortized@gan", seed, [0, 10], [0.2, 0.1], budget=10)
    keep = raw["agent"].isin(["ppo", "fixed-sequence@regression"])
    a = convergence.analyse(pd.concat([raw[keep], pd.DataFrame(rows)]), config)["E"]
    assert convergence.best_gradient_agent(a["table"]) == "amortized@gan"
    assert convergence.best_gradient_agent(a["table"][a["table"]["agent"] == "ppo"]) is None
