"""The per-image frontier: quality on MyPaint against seconds per image."""

from __future__ import annotations

import pandas as pd
import pytest

from neuralpaint.benchmarks import frontier
from neuralpaint.benchmarks.provenance import read_csv_config

COLUMNS = {
    "env",
    "agent",
    "budget",
    "seed",
    "seconds_per_image",
    "mypaint_renders",
    "mypaint_l2",
    "psnr",
    "ssim",
    "renders_per_second",
}


def test_tiny_frontier_writes_the_table_the_plot_and_the_frontier(tmp_path):
    out = tmp_path / "frontier"
    table = frontier.run(
        "tiny",
        out,
        envs=[frontier.MNIST],
        methods=["amortized", "greedy", "hybrid"],
        cache=tmp_path / "cache",
    )
    assert set(table.columns) >= COLUMNS
    # amortized runs once (no budget); greedy and hybrid at each of the preset's budgets
    assert sorted(table["agent"]) == ["amortized", "greedy", "greedy", "hybrid", "hybrid"]
    assert (table["mypaint_l2"] > 0).all() and (table["psnr"] > 5).all()
    assert table["ssim"].between(-1, 1).all()
    greedy = table[table["agent"] == "greedy"]
    assert (greedy["mypaint_renders"] > 0).all() and (greedy["painter_evals"] == 0).all()
    assert (table[table["agent"] == "hybrid"]["painter_evals"] > 0).all()
    saved = pd.read_csv(out / "frontier.csv", comment="#")
    assert len(saved) == len(table)
    assert read_csv_config(out / "frontier.csv")["preset"] == "tiny"
    assert (out / f"frontier_{frontier.MNIST}.png").stat().st_size > 10_000
    assert "on the frontier" in (out / "frontier.md").read_text()


def test_the_frontier_names_the_best_method_within_each_budget():
    rows = [
        ("a", 1.0, 0.5, 0.02),
        ("b", 1.0, 1.5, 0.01),  # better, but over a 1 s budget
        ("a", 10.0, 9.0, 0.015),
        ("b", 10.0, 9.5, 0.005),
    ]
    table = pd.DataFrame(
        [
            {"env": "E", "agent": a, "budget": b, "seconds_per_image": s, "mypaint_l2": err}
            for a, b, s, err in rows
        ]
    )
    best = frontier.frontier_methods(table).set_index("budget")["best"]
    assert best[1.0] == "a" and best[10.0] == "b"


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"preset": "huge"}, "preset"),
        ({"envs": ["NeuralPaint-Nope-v0"]}, "env"),
        ({"methods": ["magic"]}, "method"),
    ],
)
def test_bad_frontier_arguments_are_named(tmp_path, kwargs, words):
    with pytest.raises(ValueError, match=words):
        frontier.run(out_dir=tmp_path, **{"preset": "tiny", **kwargs})


def test_more_targets_than_the_test_set_is_refused():
    with pytest.raises(ValueError, match="targets"):
        frontier.target_indices(20, 10)
