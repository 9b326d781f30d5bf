"""Agents compared on held-out targets, every painting made by MyPaint.

``neuralpaint bench agents --agents random,stroke-optimizer,runs/agent-ppo,...`` paints a
fixed random subset of ``targets`` test images with each agent and judges the result on the
real MyPaint renderer, over several texture seeds. An agent is a registered name
(built fresh, for agents with nothing to train: ``random``, ``stroke-optimizer``), a
folder written by ``neuralpaint agent train`` or a shipped agent's name.

On MNIST with 8 strokes the table also gives each agent's stroke-order agreement with
the hand-made human examples (Kendall's tau, see :mod:`neuralpaint.agents.preconditioning`).

Outputs in ``results/agents/``: ``agents_<env>.csv`` (one row per agent, seed and
target), ``agents_<env>.md`` (mean and 95% interval over seeds) and
``agents_<env>.png`` (targets and each agent's MyPaint paintings).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from neuralpaint.agents.base import Agent
from neuralpaint.agents.commands import SHIPPED_AGENTS
from neuralpaint.agents.evaluation import evaluate_on_mypaint
from neuralpaint.agents.preconditioning import stroke_order_agreement
from neuralpaint.agents.registry import get_agent_class, make_agent
from neuralpaint.agents.task import Task
from neuralpaint.benchmarks import provenance
from neuralpaint.benchmarks.aggregate import mean_ci
from neuralpaint.io import save_png, tile, write_text

TARGET_SEED = 0
"""Seed of the fixed random subset of test targets."""


@dataclass(frozen=True)
class AgentBenchConfig:
    targets: int = 100
    seeds: int = 3
    gallery: int = 8


PRESETS = {
    "tiny": AgentBenchConfig(targets=3, seeds=2, gallery=2),
    "quick": AgentBenchConfig(),
    "full": AgentBenchConfig(targets=1000, seeds=5),
}


def load_agent(spec: str, task: Task, seed: int) -> Agent:
    """A saved agent (folder or shipped name) or a fresh agent from ``NAME[@PAINTER]``."""
    path = Path(spec)
    if (path / "agent.json").is_file():
        return Agent.load(path)
    if (SHIPPED_AGENTS / spec / "agent.json").is_file():
        return Agent.load(SHIPPED_AGENTS / spec)
    if "@" in spec:
        return make_agent(spec, task.env_id, seed)
    return get_agent_class(spec)(task, seed=seed)  # the suite's painter for neural rows


def held_out_targets(task: Task, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The first ``n`` of a fixed random order of the test split (test splits are often
    sorted by class): their indices and ``(n, H, W, 3)`` images."""
    test = task.targets("test")
    chosen = np.random.default_rng(TARGET_SEED).permutation(len(test))[:n]
    return chosen, test[chosen]


def run(
    agents: list[str],
    env_id: str = "NeuralPaint-MNIST-v0",
    preset: str = "quick",
    out_dir: str | Path = "results/agents",
    painter: str = "regression",
) -> pd.DataFrame:
    """Evaluate ``agents`` on MyPaint; write the CSV, Markdown table and gallery."""
    if preset not in PRESETS:
        raise ValueError(f"preset must be one of {sorted(PRESETS)}, got {preset!r}")
    config = PRESETS[preset]
    task = Task.from_env_id(env_id, painter=painter)
    chosen, targets = held_out_targets(task, config.targets)
    labels = task.labels("test")
    order_measured = task.dataset == "mnist" and task.strokes == 8 and labels is not None
    labels = labels[chosen] if labels is not None else None
    rows, gallery = [], [list(targets[: config.gallery])]
    for spec in agents:
        for seed in range(config.seeds):
            agent = load_agent(spec, task, seed)
            start = time.perf_counter()
            result = evaluate_on_mypaint(agent, targets, seed=seed)
            seconds = time.perf_counter() - start
            order = (
                stroke_order_agreement(result.actions, labels)
                if order_measured
                else np.full(len(targets), np.nan)
            )
            for i, l2 in enumerate(result.mypaint_l2):
                rows.append(
                    {
                        "agent": spec,
                        "seed": seed,
                        "target": int(chosen[i]),
                        "mypaint_l2": float(l2),
                        "neural_l2": float(result.neural_l2[i]),
                        "transfer_gap": float(result.transfer_gap[i]),
                        "stroke_order_agreement": float(order[i]),
                        "trained_seconds": agent.trained_seconds,
                        "paint_seconds_per_target": seconds / len(targets),
                    }
                )
            if seed == 0:
                gallery.append(list(result.mypaint_images[: config.gallery]))
    raw = pd.DataFrame(rows)
    table = summarize(raw)
    out = Path(out_dir)
    stem = f"agents_{env_id}"
    command = (
        f"neuralpaint bench agents --agents {','.join(agents)} --env {env_id} --preset {preset}"
    )
    write_text(out / f"{stem}.csv", provenance.csv_header(command) + raw.to_csv(index=False))
    grid = save_png(
        tile([im for row in gallery for im in row], config.gallery), out / f"{stem}.png", 2
    )
    md = (
        f"# Agents on {env_id}, painted by MyPaint\n\n"
        + provenance.markdown_header(command)
        + f"- **config**: {config}; painter for neural rows: {painter}\n\n"
        + table.to_markdown(index=False, floatfmt=".4f")
        + f"\n\n![paintings]({grid.name})\n\n*Top row: test targets. Then one row per agent "
        "in the table's order, painted by MyPaint (seed 0).*\n"
    )
    write_text(out / f"{stem}.md", md)
    return table


def summarize(raw: pd.DataFrame) -> pd.DataFrame:
    """Per agent: L2 on MyPaint (mean over targets, then mean ± 95% CI over seeds)."""
    per_seed = raw.groupby(["agent", "seed"], sort=False).mean(numeric_only=True).reset_index()
    rows = []
    for agent, group in per_seed.groupby("agent", sort=False):
        l2, l2_ci = mean_ci(group["mypaint_l2"])
        neural, _ = mean_ci(group["neural_l2"])
        gap, _ = mean_ci(group["transfer_gap"])
        order, _ = mean_ci(group["stroke_order_agreement"])
        rows.append(
            {
                "agent": agent,
                "MyPaint L2 per pixel": l2,
                "± 95% CI": l2_ci,
                "neural L2": neural,
                "transfer gap": gap,
                "stroke order (Kendall tau)": order,
                "trained seconds": group["trained_seconds"].iloc[0],
                "paint s/target": group["paint_seconds_per_target"].mean(),
                "seeds": len(group),
            }
        )
    return pd.DataFrame(rows)
