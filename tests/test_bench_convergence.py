"""The convergence suite end to end on a tiny preset, through the command line."""

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
