"""Benchmark cells and stroke-dataset shards on Ray (a local Ray with 2 CPUs), against
the local executor."""

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from neuralpaint import executors
from neuralpaint.agents.registry import parse_agent_spec
from neuralpaint.benchmarks import convergence
from neuralpaint.benchmarks.cells import CellsFailed, cell_path, run_cells
from neuralpaint.cli import main
from neuralpaint.executors import LocalExecutor, RayExecutor
from neuralpaint.painters.dataset import StrokeDatasetSpec, generate, shard_path

ray = pytest.importorskip("ray")
TESTS = Path(__file__).parent


@pytest.fixture(scope="module")
def local_ray():
    """One local Ray for the module; workers import this folder's test modules."""
    path = os.pathsep.join(p for p in (str(TESTS), os.environ.get("PYTHONPATH", "")) if p)
    executor = RayExecutor(retries=1)
    executor.start(
        num_cpus=2, logging_level=logging.ERROR, runtime_env={"env_vars": {"PYTHONPATH": path}}
    )
    yield executor
    ray.shutdown()


def test_importing_neuralpaint_and_using_an_env_never_imports_ray():
    code = (
        "import sys, gymnasium as gym, neuralpaint, neuralpaint.cli\n"
        "from neuralpaint.benchmarks import cells, sweep\n"
        "neuralpaint.cli.build_parser()\n"
        "env = gym.make('NeuralPaint-MNIST-v0')\n"
        "env.reset(seed=0); env.step(env.action_space.sample())\n"
        "print('ray' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_tiny_convergence_on_ray_matches_local_and_resumes(local_ray, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    args = ["bench", "convergence", "--preset", "tiny", "--cache", str(cache)]
    assert main([*args, "--results", str(tmp_path / "ray"), "--executor", "ray"]) == 0
    raw = pd.read_csv(tmp_path / "ray" / "convergence" / "convergence.csv", comment="#")
    config = convergence.PRESETS["tiny"]
    assert set(raw["agent"]) == set(config.agents)
    # the cell files are the ones a local run writes (names hash every setting)
    local_cache = tmp_path / "local-cache"
    local = ["bench", "convergence", "--preset", "tiny", "--agents", "random"]
    assert main([*local, "--cache", str(local_cache), "--results", str(tmp_path / "local")]) == 0
    local_raw = pd.read_csv(tmp_path / "local" / "convergence" / "convergence.csv", comment="#")
    assert list(local_raw.columns) == list(raw.columns)
    written = sorted(p.name for p in (cache / "convergence").glob("*.json"))
    cells = [
        {
            "env": env,
            "agent": agent,
            "seed": seed,
            "seconds": config.seconds,
            "evaluations": config.evaluations,
            "targets": config.targets,
            "agent_kwargs": config.agent_kwargs.get(parse_agent_spec(agent)[0], {}),
            "device": "cpu",
        }
        for env in config.envs
        for agent in config.agents
        for seed in range(config.seeds)
    ]
    assert written == sorted(cell_path(cache, "convergence", c).name for c in cells)
    local_cell = next((local_cache / "convergence").glob("*.json")).name
    assert local_cell in written
    header = (tmp_path / "ray" / "convergence" / "convergence.md").read_text()
    assert "**executor**: `ray at local: 1 node(s), 2 CPUs" in header
    # A rerun submits nothing to Ray and reproduces the table.
    submitted = []
    original = RayExecutor.imap

    def counting(self, fn, tasks, *a, **kw):
        submitted.append(len(tasks))
        return original(self, fn, tasks, *a, **kw)

    monkeypatch.setattr(RayExecutor, "imap", counting)
    assert main([*args, "--results", str(tmp_path / "ray"), "--executor", "ray"]) == 0
    assert submitted == [0]
    again = pd.read_csv(tmp_path / "ray" / "convergence" / "convergence.csv", comment="#")
    pd.testing.assert_frame_equal(again, raw)


def flaky_cell(cell: dict) -> list[dict]:
    """Raises on its first attempt (marked by a file), then succeeds; ``always``
    cells raise every time."""
    if cell.get("always"):
        raise ValueError(f"cell {cell['seed']} is broken")
    marker = Path(cell["marker"])
    if not marker.exists():
        marker.write_text("tried")
        raise RuntimeError("first attempt fails")
    return [{"seed": cell["seed"], "value": cell["seed"] * 10}]


@pytest.fixture(params=["local", "ray"])
def executor(request):
    if request.param == "ray":
        return request.getfixturevalue("local_ray")
    return LocalExecutor(retries=1)


def test_a_cell_that_raises_once_is_retried(executor, tmp_path):
    cells = [{"seed": s, "marker": str(tmp_path / f"tried-{s}")} for s in range(2)]
    rows = run_cells("flaky", cells, flaky_cell, tmp_path / "cache", workers=1, executor=executor)
    assert rows == [{"seed": 0, "value": 0}, {"seed": 1, "value": 10}]


def test_a_cell_that_always_raises_is_reported_and_the_others_kept(executor, tmp_path):
    cells = [{"seed": s, "marker": str(tmp_path / f"tried-{s}")} for s in range(3)]
    cells[1]["always"] = True
    cache = tmp_path / "cache"
    with pytest.raises(CellsFailed) as failed:
        run_cells("flaky", cells, flaky_cell, cache, workers=2, executor=executor)
    name = cell_path(cache, "flaky", cells[1]).stem
    assert failed.value.failures == {name: "ValueError: cell 1 is broken"}
    assert failed.value.finished == 2
    assert f"| {name} | ValueError: cell 1 is broken |" in failed.value.table()
    for i in (0, 2):
        assert json.loads(cell_path(cache, "flaky", cells[i]).read_text())[0]["seed"] == i
    assert not cell_path(cache, "flaky", cells[1]).exists()


SHARDS = StrokeDatasetSpec(strokes=90, shard_size=30, seed=5)


@pytest.mark.parametrize("shared", [False, True], ids=["returned", "written-by-workers"])
def test_dataset_shards_from_ray_are_bit_identical_to_local(local_ray, tmp_path, shared):
    local = generate(SHARDS, tmp_path / "local", workers=1, progress=False)
    remote = generate(SHARDS, tmp_path / "ray", progress=False, executor=local_ray, shared=shared)
    for i in range(SHARDS.shards):
        with np.load(shard_path(local, i)) as x, np.load(shard_path(remote, i)) as y:
            for key in ("actions", "masks"):
                assert x[key].dtype == y[key].dtype and x[key].tobytes() == y[key].tobytes()


def test_dataset_command_takes_the_executor(local_ray, tmp_path):
    out = tmp_path / "data"
    args = ["painter", "dataset", "--strokes", "20", "--shard-size", "10", "--out", str(out)]
    assert main([*args, "--executor", "ray"]) == 0
    assert sorted(p.name for p in out.glob("shard-*.npz")) == ["shard-00000.npz", "shard-00001.npz"]


def test_executor_defaults_to_local_and_is_scoped():
    assert executors.current() == LocalExecutor()
    with executors.using(RayExecutor(address="auto")) as ex:
        assert executors.current() is ex
    assert executors.current() == LocalExecutor()


def test_sweep_trials_run_as_ray_tasks(local_ray, tmp_path):
    from neuralpaint.benchmarks import sweep

    space = {"ink": [0.2, 1.0], "fail": [False, True]}
    table = sweep.run_sweep(
        "test_sweep:ToyAgent",
        space,
        budget_seconds=0.1,
        targets=2,
        cache=tmp_path,
        executor=local_ray,
    )
    assert list(table["status"]) == ["ok", "failed", "ok", "failed"]
    assert set(table.loc[table["status"] == "failed", "error"]) == {
        "ValueError: this setting cannot work"
    }


def test_overhead_script_writes_a_side_by_side_table(local_ray, tmp_path, monkeypatch):
    from neuralpaint.benchmarks import executor_overhead

    ran = []
    monkeypatch.setattr(  # the real suite is the lead's to time on an idle machine
        executor_overhead.convergence,
        "run",
        lambda preset, *a, **kw: ran.append((preset, executors.current().name)),
    )
    assert executor_overhead.main(["--strokes", "40", "--out", str(tmp_path)]) == 0
    assert ran == [("tiny", "local"), ("tiny", "ray")]
    md = (tmp_path / "overhead.md").read_text()
    assert "bit-identical" in md and "| painter dataset, 40 strokes " in md
    assert "**executor**: `local, and ray at local: 1 node(s), 2 CPUs" in md
    csv = pd.read_csv(tmp_path / "overhead.csv", comment="#")
    assert set(csv["executor"]) == {"local", "ray"}
