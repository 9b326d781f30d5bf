"""Stuck training with a lift flag, and the remedies for it (section 3.1 (b) and (d)).

The amortised agent learns the discrete variant through the discrete painter, once per
relaxation (:mod:`neuralpaint.agents.relaxations`: none, straight-through,
Gumbel-softmax, lift as opacity) and seed. Each run records the policy's gradient
norm and the fraction of visible strokes (``lift < 0.5``) at every optimizer step,
then is judged on held-out targets:

* **stuck**: the agent paints (almost) only invisible strokes; fewer than
  ``STUCK_VISIBLE`` of its strokes on the held-out targets are put down;
* MyPaint L2 of its paintings (rounded the way MyPaint is driven);
* **plan gap**: mean squared difference between the canvas the agent planned (the
  painter's view under its relaxation, without noise) and MyPaint's painting of the
  rounded strokes. This is size rounding (c) and lift flicker seen by a trained agent.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from neuralpaint import actions as A
from neuralpaint.agents.amortized import AmortizedAgent
from neuralpaint.agents.base import Budget
from neuralpaint.agents.differentiable import to_tensor
from neuralpaint.agents.evaluation import paint_on_mypaint
from neuralpaint.agents.relaxations import RELAXATIONS
from neuralpaint.agents.task import Task
from neuralpaint.benchmarks.agents import held_out_targets
from neuralpaint.benchmarks.aggregate import mean_ci
from neuralpaint.benchmarks.cells import DEFAULT_CACHE, run_cells
from neuralpaint.benchmarks.figures import save_figure

STUCK_VISIBLE = 0.05
"""A run is stuck when fewer than this fraction of its strokes are visible."""


@dataclass(frozen=True)
class RemedyConfig:
    seconds: float = 30.0
    """Training wall-clock per run."""
    seeds: int = 3
    targets: int = 16
    remedies: tuple[str, ...] = RELAXATIONS
    env: str = "NeuralPaint-MNIST-Discrete-v0"
    batch_size: int = 8
    lr: float = 1e-3
    workers: int = 2


def remedy_cell(cell: dict) -> list[dict]:
    """Train the amortised agent with one relaxation; history rows and one final row."""
    task = Task.from_env_id(cell["env"], painter=cell["painter"])
    agent = AmortizedAgent(
        task,
        seed=cell["seed"],
        device=cell["device"],
        batch_size=cell["batch_size"],
        lr=cell["lr"],
        relaxation=cell["agent"],
    )
    agent.train(Budget(seconds=cell["seconds"]))
    _, targets = held_out_targets(task, cell["targets"])
    actions = agent.paint(targets)
    mypaint = paint_on_mypaint(actions, task.size, seed=cell["seed"])
    with torch.no_grad():
        agent.policy.eval()
        planned = agent.rollout(to_tensor(targets, agent.device))[1]
    planned = planned.permute(0, 2, 3, 1).cpu().numpy()
    key = {"remedy": cell["agent"], "seed": cell["seed"]}
    final = key | {
        "kind": "final",
        "step": agent.trained_steps,
        "seconds": agent.trained_seconds,
        "visible": float((actions[..., A.LIFT_INDEX] < 0.5).mean()),
        "mypaint_l2": float(((mypaint - targets) ** 2).mean()),
        "blank_l2": float(((1.0 - targets) ** 2).mean()),
        "plan_gap": float(((planned - mypaint) ** 2).mean()),
        "grad_norm": float(np.median([h["grad_norm"] for h in agent.history[-10:]])),
    }
    return [key | {"kind": "history"} | h for h in agent.history] + [final]


def run_remedies(
    config: RemedyConfig,
    painter: str,
    device: str = "cpu",
    cache: str | Path = DEFAULT_CACHE,
    fresh: bool = False,
) -> pd.DataFrame:
    """Every (remedy, seed) cell; one row per optimizer step plus one final row per run."""
    cells = [
        {
            "env": config.env,
            "agent": remedy,
            "seed": seed,
            "painter": painter,
            "seconds": config.seconds,
            "targets": config.targets,
            "batch_size": config.batch_size,
            "lr": config.lr,
            "device": device,
        }
        for remedy in config.remedies
        for seed in range(config.seeds)
    ]
    return pd.DataFrame(run_cells("remedies", cells, remedy_cell, cache, config.workers, fresh))


def summarize(raw: pd.DataFrame) -> pd.DataFrame:
    """Per remedy: stuck seeds, visible strokes, MyPaint L2 and plan gap (mean ± 95% CI
    over seeds)."""
    final = raw[raw["kind"] == "final"]
    rows = []
    for remedy, g in final.groupby("remedy", sort=False):
        l2, l2_ci = mean_ci(g["mypaint_l2"])
        gap, gap_ci = mean_ci(g["plan_gap"])
        stuck = int((g["visible"] < STUCK_VISIBLE).sum())
        rows.append(
            {
                "remedy": remedy,
                "stuck seeds": f"{stuck}/{len(g)}",
                "stuck fraction": stuck / len(g),
                "visible strokes": g["visible"].mean(),
                "MyPaint L2": l2,
                "± L2": l2_ci,
                "plan gap (MSE)": gap,
                "± gap": gap_ci,
                "final grad norm": g["grad_norm"].median(),
                "steps": g["step"].mean(),
            }
        )
    return pd.DataFrame(rows)


def plot(raw: pd.DataFrame, path: Path) -> Path:
    """Gradient norm and visible strokes over training, per remedy (median over seeds)."""
    history = raw[raw["kind"] == "history"]
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.4))
    for remedy, g in history.groupby("remedy", sort=False):
        by_step = g.groupby("step")
        (line,) = axes[0].plot(by_step["grad_norm"].median(), label=remedy)
        axes[1].plot(by_step["visible"].median(), color=line.get_color(), label=remedy)
        for _, run in g.groupby("seed"):  # each seed faintly, to show stuck runs
            axes[0].plot(run["step"], run["grad_norm"], color=line.get_color(), alpha=0.15)
    axes[0].set(xlabel="optimizer step", ylabel="policy gradient norm", yscale="log")
    axes[0].set_title("Gradient norm (median over seeds; seeds faint)")
    axes[1].set(xlabel="optimizer step", ylabel="visible strokes (lift < 0.5)", ylim=(0, 1.02))
    axes[1].set_title("Strokes the agent puts down")
    axes[1].axhline(STUCK_VISIBLE, color="gray", ls=":", lw=0.8)
    axes[1].legend(fontsize=8)
    return save_figure(fig, path)


def verdict(table: pd.DataFrame) -> str:
    """Which remedy helps, from the table: the lowest MyPaint L2, since the painting is what
    is judged (ranking by stuck seeds first once named a remedy that painted worse than a
    blank canvas); its stuck seeds are given beside it."""
    if table.empty:
        return ""
    base = table[table["remedy"] == "none"]
    best = table.sort_values(["MyPaint L2", "stuck fraction"]).iloc[0]
    text = f"Best here: **{best['remedy']}** (stuck {best['stuck seeds']}, MyPaint L2 "
    text += f"{best['MyPaint L2']:.4f}, plan gap {best['plan gap (MSE)']:.4f})"
    if len(base):
        b = base.iloc[0]
        text += (
            f"; without a remedy: stuck {b['stuck seeds']}, MyPaint L2 {b['MyPaint L2']:.4f}, "
            f"plan gap {b['plan gap (MSE)']:.4f}"
        )
    return text + "."
