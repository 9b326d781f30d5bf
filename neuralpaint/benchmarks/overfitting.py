"""Overfitting to the painter: does optimising harder on the neural canvas widen the gap?

Strokes for held-out MNIST digits are optimised with Adam through the neural painter
(the per-image stroke optimiser's loop). At checkpoints along the way they are painted
by MyPaint too. If the optimiser learns to exploit what the painter gets wrong, the
neural L2 keeps falling while the MyPaint L2 stalls or rises: the gap widens.

Part of ``neuralpaint bench transfer``: writes ``overfitting.csv`` (one row per
checkpoint and target), a section of ``painter_fidelity.md`` and ``overfitting.png``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from neuralpaint.agents.differentiable import frozen_painter, paint_step, to_tensor, white
from neuralpaint.agents.evaluation import paint_on_mypaint
from neuralpaint.agents.task import Task
from neuralpaint.benchmarks.aggregate import mean_ci
from neuralpaint.benchmarks.figures import save_figure

SEED = 5151


@dataclass(frozen=True)
class OverfittingConfig:
    targets: int = 16
    checkpoints: tuple[int, ...] = (0, 25, 50, 100, 200, 400)
    lr: float = 0.05


PRESETS = {
    "tiny": OverfittingConfig(targets=2, checkpoints=(0, 2, 4)),
    "quick": OverfittingConfig(),
    "full": OverfittingConfig(targets=100, checkpoints=(0, 25, 50, 100, 200, 400, 800, 1600)),
}


def measure(config: OverfittingConfig, painter: str = "regression") -> pd.DataFrame:
    """Neural and MyPaint L2 of the optimised strokes at each checkpoint."""
    task = Task(painter=painter)
    test = task.targets("test")
    chosen = np.random.default_rng(SEED).permutation(len(test))[: config.targets]
    targets = test[chosen]
    device = torch.device("cpu")
    module = frozen_painter(task, device)
    target = to_tensor(targets, device)
    gen = torch.Generator().manual_seed(SEED)
    logits = (torch.randn(len(targets), task.strokes, 12, generator=gen) * 0.5).requires_grad_(True)
    opt = torch.optim.Adam([logits], lr=config.lr)
    rows = []
    for step in range(max(config.checkpoints) + 1):
        actions = torch.sigmoid(logits)
        canvas = white(len(targets), task.size, device)
        for i in range(task.strokes):
            canvas = paint_step(module, canvas, actions[:, i], task.color)
        per_target = ((canvas - target) ** 2).mean(dim=(1, 2, 3))
        if step in config.checkpoints:
            strokes = task.finalize(actions.detach().numpy())
            mypaint = paint_on_mypaint(strokes, task.size, seed=SEED)
            mypaint_l2 = ((mypaint - targets) ** 2).mean(axis=(1, 2, 3))
            neural_l2 = per_target.detach().numpy()
            for i in range(len(targets)):
                rows.append(
                    {
                        "iterations": step,
                        "target": int(chosen[i]),
                        "neural_l2": float(neural_l2[i]),
                        "mypaint_l2": float(mypaint_l2[i]),
                        "gap": float(mypaint_l2[i] - neural_l2[i]),
                    }
                )
        opt.zero_grad(set_to_none=True)
        per_target.mean().backward()
        opt.step()
    return pd.DataFrame(rows)


def summarize(raw: pd.DataFrame) -> pd.DataFrame:
    """Mean ± 95% interval over targets at each checkpoint."""
    rows = []
    for step, g in raw.groupby("iterations"):
        row = {"Adam iterations": step}
        for col, name in (("neural_l2", "neural L2"), ("mypaint_l2", "MyPaint L2"), ("gap", "gap")):
            mean, half = mean_ci(g[col])
            row[name], row[f"± {name}"] = mean, half
        rows.append(row)
    return pd.DataFrame(rows)


def plot(table: pd.DataFrame, out: Path) -> Path:
    fig, ax = plt.subplots(figsize=(5, 3.2))
    x = table["Adam iterations"]
    ax.errorbar(x, table["neural L2"], table["± neural L2"], marker="o", label="neural canvas")
    ax.errorbar(x, table["MyPaint L2"], table["± MyPaint L2"], marker="s", label="MyPaint")
    ax.set(xlabel="Adam iterations through the painter", ylabel="L2 per pixel", yscale="log")
    ax.set_title("Optimising harder on the painter")
    ax.legend()
    return save_figure(fig, out / "overfitting.png")
