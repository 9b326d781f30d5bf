"""Convergence: how fast each agent learns to paint, judged on the real MyPaint program.

Every agent trains from scratch in slices of wall-clock time. After each slice its
strokes for a fixed set of held-out targets are painted by MyPaint and scored (mean
squared error per pixel); evaluation time is not counted as training time. The
curves are drawn against wall-clock seconds and against strokes rendered while
training (environment steps for RL, painter calls for gradient agents).

A threshold turns each curve into a time to threshold, and the paper's headline claim
into a number: how many times sooner the gradient agent gets there than the best RL
baseline. The threshold is a fraction of the better of two paintings that need no
learning, the blank canvas and the random agent's strokes (on photos, random coloured
strokes beat a white canvas; on digits, the blank canvas wins).

Agents are given as ``name[@painter]``: ``amortized@gan`` learns through the GAN
painter; ``ppo@regression`` trains PPO on the regression painter instead of MyPaint.
``name`` is anything the registry knows (``mypkg.module:MyAgent`` included).

``neuralpaint bench convergence`` writes ``results/convergence/``: ``convergence.csv``
(one row per environment, agent, seed and evaluation), ``convergence.md`` and
``convergence_<env>.png``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from neuralpaint.agents.base import Budget
from neuralpaint.agents.evaluation import evaluate_on_mypaint
from neuralpaint.agents.registry import get_agent_class, make_agent, parse_agent_spec
from neuralpaint.agents.rl import SB3Agent
from neuralpaint.benchmarks import provenance
from neuralpaint.benchmarks.agents import held_out_targets
from neuralpaint.benchmarks.aggregate import (
    Censored,
    censored_mean,
    mean_ci,
    speedup,
    time_to_threshold,
)
from neuralpaint.benchmarks.cells import DEFAULT_CACHE, run_cells, threads_per_worker
from neuralpaint.benchmarks.figures import save_figure
from neuralpaint.io import write_text

GRADIENT_AGENT = "amortized@regression"
"""The gradient agent of the headline ratio (the paper's set-up)."""


@dataclass(frozen=True)
class ConvergenceConfig:
    seconds: float = 45.0
    """Training wall-clock per run."""
    evaluations: int = 6
    """Evaluations after equal slices of training (plus one before training)."""
    targets: int = 16
    """Held-out test targets painted at each evaluation."""
    seeds: int = 3
    threshold: float = 0.75
    """Time to threshold: the first evaluation with L2 at or below this fraction of the
    trivial L2 (see :func:`trivial_l2`)."""
    envs: tuple[str, ...] = ("NeuralPaint-MNIST-v0", "NeuralPaint-Photos-v0")
    agents: tuple[str, ...] = (
        "amortized@regression",
        "amortized@gan",
        "amortized@vae",
        "ppo",
        "sac",
        "random",
    )
    agent_kwargs: dict[str, dict] = field(default_factory=dict)
    """Per agent name: constructor arguments (e.g. a smaller batch for a CPU budget)."""
    workers: int = 2


PRESETS = {
    "tiny": ConvergenceConfig(
        seconds=4.0,
        evaluations=2,
        targets=2,
        seeds=1,
        envs=("NeuralPaint-MNIST-v0",),
        agents=("amortized@vae", "ppo", "random"),
        agent_kwargs={
            "amortized": {"batch_size": 2},
            "ppo": {"n_steps": 16, "n_envs": 2, "batch_size": 32},
        },
        workers=1,
    ),
    # 40 s runs are short: the threshold asks for 15% below a blank canvas.
    "quick": ConvergenceConfig(
        seconds=40.0,
        evaluations=5,
        threshold=0.85,
        agent_kwargs={"amortized": {"batch_size": 8, "lr": 1e-3}},
    ),
    "full": ConvergenceConfig(
        seconds=1800.0,
        evaluations=20,
        targets=200,
        seeds=5,
        threshold=0.5,
        agent_kwargs={"amortized": {"batch_size": 32, "lr": 1e-3}},
        workers=1,
    ),
}


def is_rl_agent(spec: str) -> bool:
    """Whether ``spec`` names a stable-baselines3 agent (built-in or plug-in); specs
    that no longer resolve (a plug-in since uninstalled) count as not RL."""
    try:
        return issubclass(get_agent_class(parse_agent_spec(spec)[0]), SB3Agent)
    except ValueError:
        return False


def convergence_cell(cell: dict) -> list[dict]:
    """Train one agent from scratch, evaluating on MyPaint after each slice."""
    agent = make_agent(
        cell["agent"], cell["env"], cell["seed"], cell["agent_kwargs"], cell["device"]
    )
    _, targets = held_out_targets(agent.task, cell["targets"])
    blank = float(((1.0 - targets) ** 2).mean())
    rows = []

    def evaluate(index: int) -> None:
        result = evaluate_on_mypaint(agent, targets, seed=cell["seed"]).summary()
        rows.append(
            {
                "env": cell["env"],
                "agent": cell["agent"],
                "seed": cell["seed"],
                "evaluation": index,
                "seconds": agent.trained_seconds,
                "strokes_rendered": agent.strokes_rendered,
                "blank_l2": blank,
                "mypaint_l2": result["mypaint_l2"],
                "neural_l2": result.get("neural_l2", math.nan),
                "transfer_gap": result.get("transfer_gap", math.nan),
            }
        )

    evaluate(0)
    slices = cell["seconds"] * np.arange(1, cell["evaluations"] + 1) / cell["evaluations"]
    for index, until in enumerate(slices, start=1):
        agent.train(Budget(seconds=max(until - agent.trained_seconds, 1e-3)))
        if agent.trained_steps == 0:
            break  # nothing to learn (random): one evaluation stands for the whole run
        evaluate(index)
    return rows


def trivial_l2(env_rows: pd.DataFrame) -> float:
    """The better of the blank canvas's L2 and the random agent's (when it ran)."""
    random = env_rows.loc[env_rows["agent"] == "random", "mypaint_l2"]
    blank = float(env_rows["blank_l2"].iloc[0])
    return min(blank, float(random.mean())) if len(random) else blank


def summarize(raw: pd.DataFrame, config: ConvergenceConfig) -> dict[str, pd.DataFrame]:
    """Per environment: each agent's final L2 (mean ± 95% CI over seeds) and its time
    and strokes to threshold."""
    tables = {}
    for env, env_rows in raw.groupby("env", sort=False):
        threshold = config.threshold * trivial_l2(env_rows)
        most_strokes = env_rows["strokes_rendered"].max()
        rows = []
        for agent, group in env_rows.groupby("agent", sort=False):
            finals = group.loc[group.groupby("seed")["evaluation"].idxmax()]
            times, strokes = [], []
            for _, run in group.groupby("seed"):
                times.append(time_to_threshold(run["seconds"], run["mypaint_l2"], threshold))
                strokes.append(
                    time_to_threshold(run["strokes_rendered"], run["mypaint_l2"], threshold)
                )
            l2, l2_ci = mean_ci(finals["mypaint_l2"])
            rows.append(
                {
                    "agent": agent,
                    "final MyPaint L2": l2,
                    "± 95% CI": l2_ci,
                    "neural L2": finals["neural_l2"].mean(),
                    "transfer gap": finals["transfer_gap"].mean(),
                    "seconds to threshold": censored_mean(times, config.seconds),
                    "strokes to threshold": censored_mean(strokes, most_strokes),
                    "seconds trained": finals["seconds"].mean(),
                    "strokes rendered": finals["strokes_rendered"].mean(),
                    "seeds": len(finals),
                }
            )
        tables[env] = pd.DataFrame(rows)
    return tables


def headline(table: pd.DataFrame) -> str:
    """The gradient agent's speed-up over the best RL baseline, as a sentence."""
    times = dict(zip(table["agent"], table["seconds to threshold"], strict=True))
    rl = {a: t for a, t in times.items() if is_rl_agent(a)}
    if GRADIENT_AGENT not in times or not rl:
        return f"(no speed-up: needs {GRADIENT_AGENT} and an RL agent in the run)"
    final = dict(zip(table["agent"], table["final MyPaint L2"], strict=True))
    # fastest to the threshold; among equals (e.g. none got there), the lowest final L2
    best_name, best = min(rl.items(), key=lambda kv: (-kv[1].reached, kv[1].mean, final[kv[0]]))
    grad: Censored = times[GRADIENT_AGENT]
    return (
        f"**Speed-up**: {GRADIENT_AGENT} reaches the threshold {speedup(grad, best)} sooner "
        f"in wall-clock time than the best RL baseline, {best_name} ({grad} s vs {best} s; "
        "a seed that never got there counts as the whole budget)."
    )


def plot(raw: pd.DataFrame, env: str, threshold: float, path: Path) -> Path:
    """L2 against seconds and against strokes rendered: mean over seeds with a 95% band."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    rows = raw[raw["env"] == env]
    for agent, group in rows.groupby("agent", sort=False):
        by_eval = group.groupby("evaluation")
        l2 = by_eval["mypaint_l2"].apply(lambda v: mean_ci(v.to_numpy())).tolist()
        mean = np.array([m for m, _ in l2])
        half = np.nan_to_num(np.array([h for _, h in l2]))
        for ax, column in zip(axes, ("seconds", "strokes_rendered"), strict=True):
            x = by_eval[column].mean().to_numpy()
            if len(x) == 1:  # nothing learned: a flat line
                ax.axhline(mean[0], ls=":", color="gray", label=agent)
                continue
            (line,) = ax.plot(x, mean, marker="o", ms=3, label=agent)
            ax.fill_between(x, mean - half, mean + half, color=line.get_color(), alpha=0.2)
    for ax in axes:
        ax.axhline(threshold, color="black", lw=0.8, ls="--", label="threshold")
        ax.set(ylabel="MyPaint L2 per pixel (held-out)", yscale="log")
    axes[0].set(xlabel="training wall-clock (s)", title=f"{env}: L2 vs time")
    axes[1].set_xscale("symlog", linthresh=100)  # log scale that keeps the untrained point
    axes[1].set(xlabel="strokes rendered in training", title="L2 vs strokes", xlim=(0, None))
    axes[1].legend(fontsize=7)
    return save_figure(fig, path)


def run(
    preset: str = "quick",
    out_dir: str | Path = "results/convergence",
    agents: list[str] | None = None,
    envs: list[str] | None = None,
    seeds: int | None = None,
    device: str = "cpu",
    workers: int | None = None,
    seconds: float | None = None,
    cache: str | Path = DEFAULT_CACHE,
    fresh: bool = False,
) -> dict[str, pd.DataFrame]:
    """Train and evaluate every (env, agent, seed) cell; write CSV, Markdown and plots."""
    if preset not in PRESETS:
        raise ValueError(f"preset must be one of {sorted(PRESETS)}, got {preset!r}")
    config = PRESETS[preset]
    overrides = {
        "agents": agents,
        "envs": envs,
        "seeds": seeds,
        "workers": workers,
        "seconds": seconds,
    }
    config = ConvergenceConfig(
        **asdict(config)
        | {k: tuple(v) if isinstance(v, list) else v for k, v in overrides.items() if v}
    )
    for spec in config.agents:
        get_agent_class(parse_agent_spec(spec)[0])  # fail before training anything
    cells = [
        {
            "env": env,
            "agent": agent,
            "seed": seed,
            "seconds": config.seconds,
            "evaluations": config.evaluations,
            "targets": config.targets,
            "agent_kwargs": config.agent_kwargs.get(parse_agent_spec(agent)[0], {}),
            "device": device,
        }
        for env in config.envs
        for agent in config.agents
        for seed in range(config.seeds)
    ]
    raw = pd.DataFrame(
        run_cells("convergence", cells, convergence_cell, cache, config.workers, fresh)
    )
    tables = summarize(raw, config)
    out = Path(out_dir)
    command = (
        f"neuralpaint bench convergence --preset {preset} --agents {','.join(config.agents)} "
        f"--envs {','.join(config.envs)} --seeds {config.seeds} --device {device}"
        + (f" --seconds {seconds:g}" if seconds else "")
    )
    write_text(out / "convergence.csv", provenance.csv_header(command) + raw.to_csv(index=False))
    md = [
        "# Convergence on held-out targets, painted by MyPaint\n",
        provenance.markdown_header(command),
        f"- **config**: {config.seconds:g} s of training per run, evaluated {config.evaluations}"
        f" times (plus once untrained) on {config.targets} held-out test targets; "
        f"{config.seeds} seeds; {config.workers} runs side by side, each on "
        f"{threads_per_worker(config.workers)} torch thread(s); agent settings "
        f"{config.agent_kwargs or 'defaults'}\n",
        "- Time to threshold: the first evaluation at or below "
        f"{config.threshold:g} × the better of the blank canvas's and the random agent's L2, "
        "as mean over seeds (seeds that got there / seeds); a seed that never got there "
        "counts as the whole budget. Strokes rendered: environment steps (RL) or painter "
        "calls (gradient agents).\n",
    ]
    for env, table in tables.items():
        env_rows = raw[raw["env"] == env]
        threshold = config.threshold * trivial_l2(env_rows)
        blank = env_rows["blank_l2"].iloc[0]
        figure = plot(raw, env, threshold, out / f"convergence_{env}.png")
        md += [
            f"\n## {env}\n\nBlank canvas L2 {blank:.4f}; threshold: L2 ≤ {threshold:.4f}.\n\n",
            table.to_markdown(index=False, floatfmt=".4g"),
            f"\n\n{headline(table)}\n\n![convergence]({figure.name})\n",
        ]
    write_text(out / "convergence.md", "".join(md))
    return tables
