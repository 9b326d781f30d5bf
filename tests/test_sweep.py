"""Hyperparameter sweeps as benchmark cells: grids, Optuna searches, failed trials."""

import numpy as np
import pandas as pd
import pytest

from neuralpaint.agents.random_agent import RandomAgent
from neuralpaint.benchmarks import sweep
from neuralpaint.cli import main

AGENT = "test_sweep:ToyAgent"


class ToyAgent(RandomAgent):
    """Random strokes scaled by ``ink``; ``fail`` breaks construction."""

    def __init__(self, task, seed: int = 0, ink: float = 1.0, fail: bool = False):
        if fail:
            raise ValueError("this setting cannot work")
        super().__init__(task, seed)
        self.ink = ink

    def paint(self, targets: np.ndarray) -> np.ndarray:
        shape = (len(targets), self.task.strokes, self.task.action_dim)
        return self.task.finalize(self.rng.random(shape) * self.ink)


def test_grid_sweep_has_one_row_per_trial_and_resumes(tmp_path):
    space = {"ink": [0.2, 1.0], "fail": [False]}
    kwargs = {"budget_seconds": 0.1, "targets": 2, "cache": tmp_path}
    table = sweep.run_sweep(AGENT, space, **kwargs)
    assert list(table["trial"]) == [0, 1] and list(table["ink"]) == [0.2, 1.0]
    assert (table["status"] == "ok").all() and table[sweep.SCORE].between(0, 1).all()
    assert table[sweep.SCORE].nunique() == 2, "the argument reached the agent"
    pd.testing.assert_frame_equal(sweep.run_sweep(AGENT, space, **kwargs), table)  # cached
    with pytest.raises(ValueError, match="grid has 2 trials"):
        sweep.run_sweep(AGENT, space, trials=1, **kwargs)


def test_optuna_search_asks_in_parallel_batches(tmp_path):
    space = {"ink": {"low": 0.1, "high": 1.0}}
    kwargs = {"budget_seconds": 0.1, "targets": 2, "cache": tmp_path, "search": "optuna"}
    table = sweep.run_sweep(AGENT, space, trials=3, parallel=2, **kwargs)
    assert list(table["trial"]) == [0, 1, 2] and table["ink"].between(0.1, 1.0).all()
    assert (table["status"] == "ok").all()
    # the seeded sampler replays its proposals, so a rerun is served from the cache
    again = sweep.run_sweep(AGENT, space, trials=3, parallel=2, **kwargs)
    pd.testing.assert_frame_equal(again, table)


def test_failed_trials_keep_their_row_and_fail_the_command(tmp_path, capsys):
    args = ["bench", "sweep", "--preset", "tiny", "--agents", AGENT, "--seconds", "0.1"]
    args += ["--space", '{"fail": [false, true]}', "--results", str(tmp_path)]
    assert main([*args, "--cache", str(tmp_path / "cache")]) == 1
    out = capsys.readouterr().out
    assert "| trial 1 | ValueError: this setting cannot work |" in out
    csv = next((tmp_path / "sweep").glob("sweep_*.csv"))
    table = pd.read_csv(csv, comment="#")
    assert list(table["status"]) == ["ok", "failed"]
    assert table[sweep.SCORE].isna().tolist() == [False, True]
    md = csv.with_suffix(".md").read_text()
    assert "**executor**: `local`" in md and "this setting cannot work" in md
