"""Convergence: how fast each agent learns to paint, judged on the real MyPaint program.

Every agent trains from scratch in slices of wall-clock time. After each slice its
strokes for a fixed set of held-out targets are painted by MyPaint and scored (mean
squared error per pixel); evaluation time is not counted as training time. The
curves are drawn against wall-clock seconds and against strokes rendered while
training (environment steps for RL, painter calls for gradient agents).

A threshold turns each curve into a time to threshold, and the paper's headline claim
into numbers: how many times sooner the run's best gradient agent (the fastest to the
threshold; see :func:`best_gradient_agent`) gets there than the best agent of each
reinforcement-learning family (model-free: PPO, SAC, model-free DDPG;
model-based: DDPG through the painter). The threshold is a fraction of the best of
three paintings that need nothing from the target in front of them: the blank canvas,
the random agent's strokes and, when it ran, the ``fixed-sequence`` agent's one
painting for every target (on photos random coloured strokes beat a white canvas; on
digits the average digit beats both). Below it, an agent must have painted *this*
target; the table flags any agent that does not beat ``fixed-sequence``.

Stochastic policies (the SB3 agents) are judged both ways, as their mode
(``deterministic``) and sampled; the CSV keeps both. Declared before any run, and the
same for every agent: an agent's headline curve is the policy with the lower final
L2, averaged over seeds (agents with one policy have only that one).

Agents are given as ``name[@painter]``: ``amortized@gan`` learns through the GAN
painter; ``ppo@regression`` trains PPO on the regression painter instead of MyPaint.
``name`` is anything the registry knows (``mypkg.module:MyAgent`` included).

``neuralpaint bench convergence`` writes ``results/convergence/``: ``convergence.csv``
(one row per environment, agent, seed and evaluation), ``convergence.md`` and
``convergence_<env>.png``.
"""

from __future__ import annotations

import json
import math
import re
import shutil
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from neuralpaint.agents.base import Agent, Budget
from neuralpaint.agents.evaluation import evaluate_on_mypaint
from neuralpaint.agents.registry import get_agent_class, make_agent, parse_agent_spec
from neuralpaint.benchmarks import provenance
from neuralpaint.benchmarks.agents import held_out_targets
from neuralpaint.benchmarks.aggregate import (
    censored_mean,
    curve_slope,
    mean_ci,
    speedup,
    time_at_slope,
    time_to_threshold,
)
from neuralpaint.benchmarks.cells import DEFAULT_CACHE, run_cells, threads_per_worker
from neuralpaint.benchmarks.figures import save_figure
from neuralpaint.io import write_text

NOT_GRADIENT_PAINTERS = ("mypaint",)
"""Agents that run on these renderers learn nothing through a painter's gradients."""
FAMILIES = ("model-free", "model-based")
"""The reinforcement-learning families the headline compares against, each alone."""
REFERENCE_AGENTS = ("random", "fixed-sequence")
"""Agents that need nothing from the target: with the blank canvas they set the bar."""


@dataclass(frozen=True)
class ConvergenceConfig:
    seconds: float = 45.0
    """Training wall-clock per run (for agents not in ``agent_seconds``)."""
    agent_seconds: dict[str, float] = field(default_factory=dict)
    """Per agent name: its own training wall-clock per run (the table records it)."""
    evaluations: int = 6
    """Evaluations during training (plus one before training), at the times
    ``eval_grid`` sets."""
    eval_grid: str = "linear"
    """When a run is evaluated (see :func:`evaluation_times`): ``linear``, after equal
    slices of its budget; ``log``, at log-spaced times from ``first_evaluation`` of its
    budget to the end, each a fixed factor after the one before. A time to threshold is
    the first evaluation below it, so the log grid measures an agent that gets there
    early as finely, relative to its time, as one that gets there late."""
    first_evaluation: float = 0.01
    """The ``log`` grid's first evaluation, as a fraction of the run's budget."""
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
        "fixed-sequence@regression",
        "random",
    )
    agent_kwargs: dict[str, dict] = field(default_factory=dict)
    """Per agent name: constructor arguments (e.g. a smaller batch for a CPU budget)."""
    workers: int = 2
    checkpoints: bool = False
    """Save each run's agent at every evaluation, so a killed run resumes mid-way."""

    def budget(self, spec: str) -> float:
        """Training seconds of a run of the agent ``spec``."""
        return float(self.agent_seconds.get(parse_agent_spec(spec)[0], self.seconds))

    def grid_settings(self) -> dict:
        """The evaluation grid's keys of a cell: none for the ``linear`` grid, so that
        cells from before the option keep their cache keys."""
        if self.eval_grid == "linear":
            return {}
        return {"eval_grid": self.eval_grid, "first_evaluation": self.first_evaluation}

    def grid_text(self) -> str:
        """How runs are evaluated, for the Markdown."""
        text = f"evaluated {self.evaluations} times (plus once untrained)"
        if self.eval_grid == "linear":
            return text
        factor = grid_factor(self.evaluations, self.first_evaluation)
        return (
            f"{text} at log-spaced times from {self.first_evaluation * 100:g}% of each run's "
            f"budget to its end, each {factor:.3g}× the one before,"
        )


EVAL_GRIDS = ("linear", "log")


def evaluation_times(
    budget: float, evaluations: int, grid: str = "linear", first: float = 0.01
) -> np.ndarray:
    """Training seconds at which a run of ``budget`` seconds is evaluated (after the one
    before training); the last is the budget.

    Args:
        grid: ``linear``, ``evaluations`` equal slices; ``log``, ``evaluations``
            log-spaced times from ``first × budget`` to ``budget``.
        first: the ``log`` grid's first time, as a fraction of the budget (in (0, 1)).
    """
    if evaluations < 1:
        raise ValueError(f"evaluations must be at least 1, got {evaluations}")
    if grid == "linear":
        return budget * np.arange(1, evaluations + 1) / evaluations
    if grid != "log":
        raise ValueError(f"eval_grid must be one of {EVAL_GRIDS}, got {grid!r}")
    if not 0 < first < 1:
        raise ValueError(f"first_evaluation must be a fraction in (0, 1), got {first}")
    if evaluations == 1:
        return np.array([float(budget)])
    times = budget * np.geomspace(first, 1.0, evaluations)
    times[-1] = budget  # exactly
    return times


def grid_factor(evaluations: int, first: float) -> float:
    """The ratio of each time of the ``log`` grid to the one before: a time to threshold
    read on it is at most this many times the true crossing (once past the first)."""
    return float((1 / first) ** (1 / max(evaluations - 1, 1)))


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
    # 40 s runs are short: the threshold asks for 15% below the best painting that needs
    # nothing from the target (the blank canvas, random or fixed-sequence strokes).
    "quick": ConvergenceConfig(
        seconds=40.0,
        evaluations=5,
        threshold=0.85,
        agent_kwargs={"amortized": {"batch_size": 8, "lr": 1e-3}},
    ),
    # MNIST and Photos, 3 seeds, two runs side by side on one thread each: 56 minutes of
    # training per dataset (run cells x budget / 2), and with evaluation about 70 (MNIST
    # measured 69 minutes alone on the machine). The budget goes to the agents that need
    # it, RL. Evaluated on a log grid from 1% of each budget (16 times, each 1.36x the
    # one before), so that agents that get there within the first minute (amortized,
    # ddpg through the painter, fixed-sequence) are timed, not bounded by a first
    # evaluation at 1/8 of the budget.
    "long": ConvergenceConfig(
        seconds=180.0,
        agent_seconds={
            "ppo": 600.0,
            "sac": 600.0,
            "ddpg": 420.0,
            "ddpg-free": 240.0,
            "fixed-sequence": 30.0,
        },
        evaluations=16,
        eval_grid="log",
        first_evaluation=0.01,
        targets=64,
        seeds=3,
        threshold=0.85,
        agents=(
            "amortized@regression",
            "ppo",
            "sac",
            "ddpg@regression",
            "ddpg-free@regression",
            "fixed-sequence@regression",
            "random",
        ),
        agent_kwargs={
            "amortized": {"batch_size": 8, "lr": 1e-3},
            # ddpg-free's actor_lr is its default, stated so the table's header shows it
            "ddpg-free": {"actor_lr": 1e-4},
            # PPO: the sweep's choice (results/sweep/sweep_ppo_NeuralPaint-MNIST-v0.md,
            # 4 optuna trials, 120 s, MNIST): its three best trials all had log_std_init
            # -2 (rl-zoo3's CarRacing value; PPOConfig's default is -1) and ent_coef
            # 0.01 (PPOConfig's 0), the worst had -1 and 0. Its learning rate and n_steps
            # (3.5e-4, 64) are PPOConfig's 3e-4 and 64, kept.
            "ppo": {"log_std_init": -2.0, "ent_coef": 0.01},
        },
        workers=2,
        checkpoints=True,
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

PRESETS_BEFORE_CONFIG_HEADER = {
    "long": replace(
        PRESETS["long"],
        evaluations=8,
        eval_grid="linear",
        agent_kwargs={"amortized": {"batch_size": 8, "lr": 1e-3}, "ddpg-free": {"actor_lr": 1e-4}},
    ),
}
"""Presets changed since ``convergence.csv`` headers began to hold their config: what
they were for the files from before (see :func:`read_config`)."""


def agent_family(spec: str) -> str | None:
    """The reinforcement-learning family of the agent ``spec`` (``model-free`` or
    ``model-based``), or ``None``; specs that no longer resolve (a plug-in since
    uninstalled) have none."""
    try:
        return get_agent_class(parse_agent_spec(spec)[0]).family
    except ValueError:
        return None


def is_rl_agent(spec: str) -> bool:
    """Whether ``spec`` names a reinforcement-learning agent of either family."""
    return agent_family(spec) is not None


def is_gradient_agent(spec: str) -> bool:
    """Whether ``spec`` names an agent that learns through a painter's gradients: not
    reinforcement learning, not a reference painting, not on the real program."""
    name, painter = parse_agent_spec(spec)
    return (
        not is_rl_agent(spec)
        and name not in REFERENCE_AGENTS
        and painter not in NOT_GRADIENT_PAINTERS
    )


def best_gradient_agent(table: pd.DataFrame) -> str | None:
    """The gradient agent a run is judged on: of those most seeds brought to the
    threshold, the fastest; if none got there, the one with the lowest final L2.
    ``None`` when the run has no gradient agent."""
    rows = table.set_index("agent")
    rows = rows[[is_gradient_agent(a) for a in rows.index]]
    if not len(rows):
        return None
    reached = rows[[reached_by_most(t) for t in rows["seconds to threshold"]]]
    if len(reached):
        return min(reached.index, key=lambda a: reached.loc[a, "seconds to threshold"].mean)
    return rows["final MyPaint L2"].idxmin()


CHECKPOINT_FILE = "progress.json"


def save_checkpoint(folder: Path, agent: Agent, rows: list[dict], index: int) -> None:
    """Save the agent after evaluation ``index`` and the rows so far. The rows file,
    written atomically last, names the agent folder, so a kill at any moment leaves
    the previous checkpoint whole."""
    name = f"agent-{index}"
    agent.save(folder / name)
    write_text(folder / CHECKPOINT_FILE, json.dumps({"agent": name, "rows": rows}))
    for old in folder.glob("agent-*"):
        if old.name != name:
            shutil.rmtree(old, ignore_errors=True)


def load_checkpoint(folder: Path, agent: Agent) -> list[dict]:
    """Restore ``agent`` from a checkpoint and return its rows; ``[]`` if none."""
    path = folder / CHECKPOINT_FILE
    if not path.is_file():
        return []
    saved = json.loads(path.read_text())
    agent_folder = folder / saved["agent"]
    agent.load_state(agent_folder)
    meta = json.loads((agent_folder / "agent.json").read_text())
    agent.trained_seconds, agent.trained_steps = meta["trained_seconds"], meta["trained_steps"]
    return saved["rows"]


def convergence_cell(cell: dict) -> list[dict]:
    """Train one agent from scratch, evaluating on MyPaint after each slice; with
    ``checkpoint_dir`` (see :mod:`cells`), checkpoint after each evaluation and resume
    from the last checkpoint."""
    agent = make_agent(
        cell["agent"], cell["env"], cell["seed"], cell["agent_kwargs"], cell["device"]
    )
    _, targets = held_out_targets(agent.task, cell["targets"])
    blank = float(((1.0 - targets) ** 2).mean())
    policies = ("deterministic", "sampled") if agent.stochastic else ("default",)
    folder = Path(cell["checkpoint_dir"]) if cell.get("checkpoint_dir") else None
    rows = load_checkpoint(folder, agent) if folder else []
    done = max((r["evaluation"] for r in rows), default=-1)

    def evaluate(index: int) -> None:
        for policy in policies:
            result = evaluate_on_mypaint(
                agent, targets, seed=cell["seed"], deterministic=policy != "sampled"
            ).summary()
            rows.append(
                {
                    "env": cell["env"],
                    "agent": cell["agent"],
                    "seed": cell["seed"],
                    "policy": policy,
                    "evaluation": index,
                    "seconds": agent.trained_seconds,
                    "budget_seconds": cell["seconds"],
                    "strokes_rendered": agent.strokes_rendered,
                    "blank_l2": blank,
                    "mypaint_l2": result["mypaint_l2"],
                    "neural_l2": result.get("neural_l2", math.nan),
                    "transfer_gap": result.get("transfer_gap", math.nan),
                }
            )
        if folder:
            save_checkpoint(folder, agent, rows, index)

    if done < 0:
        evaluate(0)
    slices = evaluation_times(
        cell["seconds"],
        cell["evaluations"],
        cell.get("eval_grid", "linear"),
        cell.get("first_evaluation", 0.01),
    )
    for index, until in enumerate(slices, start=1):
        if index <= done:
            continue
        # (an agent that stops only between updates, PPO, can be past an early time of
        # the log grid: it then takes one step and is evaluated)
        agent.train(Budget(seconds=max(until - agent.trained_seconds, 1e-3)))
        if agent.trained_steps == 0:
            break  # nothing to learn (random): one evaluation stands for the whole run
        evaluate(index)
    return rows


def with_defaults(raw: pd.DataFrame, config: ConvergenceConfig) -> pd.DataFrame:
    """Rows of older results get the columns they lack: one ``default`` policy, and the
    preset's budget."""
    raw = raw.copy()
    if "policy" not in raw:
        raw["policy"] = "default"
    raw["policy"] = raw["policy"].fillna("default")
    budgets = pd.Series([config.budget(a) for a in raw["agent"]], index=raw.index)
    raw["budget_seconds"] = (
        raw["budget_seconds"].fillna(budgets) if "budget_seconds" in raw else budgets
    )
    return raw


def final_rows(group: pd.DataFrame) -> pd.DataFrame:
    """Each seed's last evaluation."""
    return group.loc[group.groupby("seed")["evaluation"].idxmax()]


def select_policy(raw: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The declared rule: for each environment and agent, keep the policy whose final
    L2, averaged over seeds, is lower. Returns the kept rows and, per environment and
    agent, each policy's final L2 (columns ``deterministic``, ``sampled``, ...)."""
    finals = (
        raw.groupby(["env", "agent", "policy"], sort=False)
        .apply(lambda g: final_rows(g)["mypaint_l2"].mean(), include_groups=False)
        .unstack("policy")
    )
    best = finals.idxmin(axis=1)
    chosen = zip(raw["env"], raw["agent"], raw["policy"], strict=True)
    keep = [best[(e, a)] == p for e, a, p in chosen]
    return raw[keep], finals


def references(env_rows: pd.DataFrame) -> dict[str, float]:
    """The L2 of each painting that needs nothing from the target: the blank canvas,
    and the final L2 of the reference agents that ran (mean over seeds)."""
    out = {"blank canvas": float(env_rows["blank_l2"].iloc[0])}
    for spec, group in env_rows.groupby("agent", sort=False):
        name = parse_agent_spec(spec)[0]
        if name in REFERENCE_AGENTS:
            out[name] = float(final_rows(group)["mypaint_l2"].mean())
    return out


def trivial_l2(env_rows: pd.DataFrame) -> float:
    """The best (lowest) of the blank canvas's L2 and the reference agents'."""
    return min(references(env_rows).values())


def summarize(raw: pd.DataFrame, config: ConvergenceConfig) -> dict[str, pd.DataFrame]:
    """Per environment: each agent's final L2 (mean ± 95% CI over seeds), its time and
    strokes to threshold (censored at its own budget) and its budget; for stochastic
    agents the policy kept and the other's final L2; whether it beats
    ``fixed-sequence`` when that ran."""
    raw, finals = select_policy(with_defaults(raw, config))
    tables = {}
    for env, env_rows in raw.groupby("env", sort=False):
        threshold = config.threshold * trivial_l2(env_rows)
        fixed = references(env_rows).get("fixed-sequence")
        rows = []
        for agent, group in env_rows.groupby("agent", sort=False):
            finals_ = final_rows(group)
            times, strokes = [], []
            for _, run in group.groupby("seed"):
                times.append(time_to_threshold(run["seconds"], run["mypaint_l2"], threshold))
                strokes.append(
                    time_to_threshold(run["strokes_rendered"], run["mypaint_l2"], threshold)
                )
            l2, l2_ci = mean_ci(finals_["mypaint_l2"])
            policy = group["policy"].iloc[0]
            others = finals.loc[(env, agent)].drop(policy).dropna()
            row = {
                "agent": agent,
                "policy": policy,
                "final MyPaint L2": l2,
                "± 95% CI": l2_ci,
                "other policy's L2": others.iloc[0] if len(others) else math.nan,
                "neural L2": finals_["neural_l2"].mean(),
                "transfer gap": finals_["transfer_gap"].mean(),
                "seconds to threshold": censored_mean(times, group["budget_seconds"].max()),
                "strokes to threshold": censored_mean(strokes, group["strokes_rendered"].max()),
                "seconds trained": finals_["seconds"].mean(),
                "budget (s)": group["budget_seconds"].max(),
                "strokes rendered": finals_["strokes_rendered"].mean(),
                "seeds": len(finals_),
            }
            if fixed is not None and parse_agent_spec(agent)[0] not in REFERENCE_AGENTS:
                row["beats fixed-sequence"] = "yes" if l2 < fixed else "**no**"
            rows.append(row)
        tables[env] = pd.DataFrame(rows)
    return tables


def learning_rate(curves: pd.DataFrame, agent: str) -> float:
    """The slope of an agent's mean learning curve (L2 per second) over the second half
    of its run."""
    mean = curves[curves["agent"] == agent].groupby("evaluation")[["seconds", "mypaint_l2"]]
    mean = mean.mean()
    return curve_slope(mean["seconds"], mean["mypaint_l2"])


def at_first_evaluation(curves: pd.DataFrame, agent: str, times) -> bool:
    """Whether ``agent``'s mean time to threshold is no later than its first evaluation
    after training started: its true time is then unresolved, somewhere below that."""
    trained = curves[(curves["agent"] == agent) & (curves["evaluation"] == 1)]["seconds"]
    return len(trained) > 0 and times.mean <= trained.mean() * 1.001


def fell_short(curves: pd.DataFrame, agent: str, threshold: float) -> str:
    """A sentence on the seeds of ``agent`` that never reached the threshold: where each
    ended and the lowest L2 it reached; empty if every seed got there."""
    parts = []
    for seed, run in curves[curves["agent"] == agent].groupby("seed"):
        if (run["mypaint_l2"] <= threshold).any():
            continue
        final, lowest = float(final_rows(run)["mypaint_l2"].iloc[0]), run["mypaint_l2"].min()
        parts.append(f"seed {seed}, which ended at L2 {final:.4f} (lowest {lowest:.4f})")
    if not parts:
        return ""
    return f" {agent} never got there in {'; in '.join(parts)}; the threshold is {threshold:.4f}."


def reached_by_most(times) -> bool:
    """A measured time exists: most seeds reached the threshold."""
    return 2 * times.reached > times.seeds


def headlines(
    table: pd.DataFrame,
    curves: pd.DataFrame | None = None,
    threshold: float | None = None,
    agent: str | None = None,
) -> list[str]:
    """The speed-up of the gradient ``agent`` (by default the run's best, see
    :func:`best_gradient_agent`) over each RL family, one paragraph per family.

    Against the fastest family member that most seeds brought to the threshold, the
    ratio of times and of strokes rendered. Where no member did, a lower bound
    against the member with the lowest final L2, and (given the ``curves`` the table
    summarises and the ``threshold``) the slope of its learning curve and how far
    that slope leaves it from the threshold.
    """
    rows = table.set_index("agent")
    grad_name = agent or best_gradient_agent(table)
    if grad_name is None or grad_name not in rows.index:
        return ["(no speed-up: needs a gradient agent in the run)"]
    grad = rows.loc[grad_name]
    out = []
    time, strokes = "seconds to threshold", "strokes to threshold"
    for family in FAMILIES:
        members = rows[[agent_family(a) == family for a in rows.index]]
        if not len(members):
            continue
        label = f"**Speed-up over {family} RL**"
        reached = members[[reached_by_most(t) for t in members[time]]]
        if len(reached):
            best = min(reached.index, key=lambda a: reached.loc[a, time].mean)
            b = rows.loc[best]
            out.append(
                f"{label}: {grad_name} reaches the threshold "
                f"{speedup(grad[time], b[time])} sooner in wall-clock time than {best}, the "
                f"fastest {family} agent that got there ({grad[time]} s vs {b[time]} s). "
                f"It renders {speedup(grad[strokes], b[strokes])} fewer strokes "
                f"({grad[strokes]} vs {b[strokes]})."
            )
            if curves is not None and threshold is not None and b[time].censored:
                out[-1] += fell_short(curves, best, threshold)
            if curves is not None:  # the evaluation grid can be what the ratio measures
                if at_first_evaluation(curves, best, b[time]):
                    out[-1] += (
                        f" {best} was below the threshold at its first evaluation, so its "
                        "true time may be shorter: this ratio is an upper bound."
                    )
                if at_first_evaluation(curves, grad_name, grad[time]):
                    out[-1] += (
                        f" {grad_name} was below it at its first evaluation, so the "
                        "ratio may be larger."
                    )
            continue
        best = members["final MyPaint L2"].idxmin()
        b = rows.loc[best]
        times = f"({grad[time]} s vs {b[time]} s)"
        budget = f"A seed that never got there counts as its whole budget, {b['budget (s)']:.0f} s."
        text = f"{label}: no {family} agent reached the threshold in most seeds."
        if grad[time].censored:  # both fell short somewhere: no bound
            text += (
                f" {grad_name} reached it in {grad[time].reached} of {grad[time].seeds} "
                f"seeds, so this run bounds no speed-up against {best}, the {family} agent "
                f"with the lowest final L2 {times}. {budget}"
            )
        else:
            text += (
                f" This is a lower bound: {grad_name} gets there "
                f"{speedup(grad[time], b[time])} sooner than {best}, the {family} agent "
                f"with the lowest final L2 {times}. {budget}"
            )
        if curves is not None and threshold is not None:
            slope = learning_rate(curves, best)
            left = time_at_slope(b["final MyPaint L2"], slope, threshold)
            rate = f"{slope * 100:+.2g} per 100 s" if np.isfinite(slope) else "not measured"
            text += (
                f" {best}'s learning curve ends at L2 {b['final MyPaint L2']:.4f} against a "
                f"threshold of {threshold:.4f}, changing {rate} over the second half of "
                + (
                    f"its run: at that rate about {left:.3g} s more."
                    if np.isfinite(left)
                    else "its run: at that rate it never gets there."
                )
            )
        out.append(text)
    if not out:
        return [f"(no speed-up: needs {grad_name} and an RL agent in the run)"]
    gradient = [a for a in rows.index if is_gradient_agent(a)]
    if agent is None and len(gradient) > 1:
        out[0] = (
            f"Judged on {grad_name}, the run's best of {len(gradient)} gradient agents "
            f"({', '.join(gradient)}). " + out[0]
        )
    return out


def headline(
    table: pd.DataFrame, curves: pd.DataFrame | None = None, threshold: float | None = None
) -> str:
    """:func:`headlines` as one paragraph."""
    return " ".join(headlines(table, curves, threshold))


def analyse(raw: pd.DataFrame, config: ConvergenceConfig) -> dict[str, dict]:
    """Everything the Markdown and the claims page say per environment: the table, the
    kept curves, the reference paintings, the threshold and the headline."""
    tables = summarize(raw, config)
    kept, _ = select_policy(with_defaults(raw, config))
    out = {}
    for env, table in tables.items():
        curves = kept[kept["env"] == env]
        refs = references(curves)
        threshold = config.threshold * min(refs.values())
        out[env] = {
            "table": table,
            "curves": curves,
            "references": refs,
            "threshold": threshold,
            "headline": headline(table, curves, threshold),
        }
    return out


def markdown(
    analysis: dict[str, dict], config: ConvergenceConfig, header: str, figures: dict[str, str]
) -> str:
    """``convergence.md``: the provenance ``header`` (Markdown lines), the settings, and
    per environment the table, the headline and its figure (``figures``: file names)."""
    budgets = ", ".join(f"{a} {config.budget(a):g} s" for a in config.agents)
    resolution = ""
    if config.eval_grid == "log":
        factor = grid_factor(config.evaluations, config.first_evaluation)
        resolution = (
            f" A time to threshold is an evaluation's, so later than the curve's crossing: "
            f"on this grid at most {factor:.3g}× later, unless it is the first evaluation's."
        )
    md = [
        "# Convergence on held-out targets, painted by MyPaint\n",
        header,
        f"- **config**: training per run: {budgets}; {config.grid_text()}"
        f" on {config.targets} held-out test targets; "
        f"{config.seeds} seeds; {config.workers} runs side by side, each on "
        f"{threads_per_worker(config.workers)} torch thread(s); agent settings "
        f"{config.agent_kwargs or 'defaults'}\n",
        "- Time to threshold: the first evaluation at or below "
        f"{config.threshold:g} × the best of the blank canvas's, the random agent's and the "
        "fixed-sequence agent's L2 (those that ran), as mean over seeds (seeds that got "
        "there / seeds); a seed that never got there counts as its whole budget. Strokes "
        "rendered: environment steps (RL on a renderer) or painter calls (agents that "
        f"paint through the painter, DDPG included).{resolution}\n",
        "- Policies: stochastic agents are judged as their mode (deterministic) and "
        "sampled; each agent's row and curve use the policy with the lower final L2 "
        "averaged over seeds (`policy`), the other's final L2 is beside it. The rule is "
        "the same for every agent; the CSV has both.\n",
    ]
    for env, a in analysis.items():
        refs = "; ".join(f"{name} {l2:.4f}" for name, l2 in a["references"].items())
        md += [
            f"\n## {env}\n\nPaintings that need nothing from the target: {refs}. "
            f"Threshold: L2 ≤ {a['threshold']:.4f}.\n\n",
            a["table"].to_markdown(index=False, floatfmt=".4g"),
            f"\n\n{a['headline']}\n\n![convergence]({figures[env]})\n",
        ]
    return "".join(md)


def rewrite_markdown(path: str | Path) -> Path:
    """Write ``convergence.md`` again beside the ``convergence.csv`` at ``path``, from
    its rows and its header alone (no training; the figures are kept), so that its
    tables and headlines follow the current analysis. The provenance is the CSV's."""
    path = Path(path)
    raw = pd.read_csv(path, comment="#")
    _, config = read_config(path)
    config = replace(  # what ran, for files whose header predates the config
        config,
        agents=tuple(raw["agent"].unique()),
        envs=tuple(raw["env"].unique()),
        seeds=int(raw["seed"].nunique()),
    )
    fields = provenance.read_csv_header(path)
    fields.pop(provenance.CONFIG, None)
    header = "\n".join(f"- **{k}**: `{v}`" for k, v in fields.items()) + "\n"
    analysis = analyse(raw, config)
    md = markdown(analysis, config, header, {env: f"convergence_{env}.png" for env in analysis})
    return write_text(path.with_suffix(".md"), md)


def read_config(path: str | Path) -> tuple[str, ConvergenceConfig]:
    """The preset and settings a ``convergence.csv`` was written with, from the header
    :func:`run` writes. Files from before the header held them fall back on the
    command's ``--preset`` and ``--seconds`` (the budget that censors unreached seeds)."""
    saved = provenance.read_csv_config(path)
    if saved is not None:
        preset = saved.pop("preset", "quick")
        known = {f.name for f in fields(ConvergenceConfig)}
        values = {k: tuple(v) if isinstance(v, list) else v for k, v in saved.items() if k in known}
        return preset, ConvergenceConfig(**values)
    command = provenance.read_csv_header(path).get("command", "")
    preset = re.search(r"--preset (\w+)", command)
    preset = preset.group(1) if preset and preset.group(1) in PRESETS else "quick"
    config = PRESETS_BEFORE_CONFIG_HEADER.get(preset, PRESETS[preset])
    if seconds := re.search(r"--seconds ([0-9.]+)", command):
        config = replace(config, seconds=float(seconds.group(1)), agent_seconds={})
    return preset, config


def plot(raw: pd.DataFrame, env: str, threshold: float, path: Path, log_time: bool = False) -> Path:
    """L2 against seconds and against strokes rendered: mean over seeds with a 95% band;
    with ``log_time`` (runs evaluated on the log grid), seconds on a log scale too."""
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
    if log_time:  # the untrained point at 0 s stays, on the linear part below 1 s
        axes[0].set_xscale("symlog", linthresh=1.0)
        axes[0].set(xlim=(0, None))
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
    from neuralpaint.envs.registration import env_ids
    from neuralpaint.errors import UserValueError

    for name, value in (("seeds", seeds), ("workers", workers), ("seconds", seconds)):
        if value is not None and not value > 0:  # 0 or less would train nothing
            raise UserValueError(f"{name} (--{name}) must be positive, got {value}")
    if unknown := [env for env in envs or () if env not in env_ids()]:
        raise UserValueError(  # before any cell starts, rather than one traceback per cell
            f"unknown environment id {', '.join(map(repr, unknown))}; the ids are "
            + ", ".join(env_ids())
        )
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
        | ({"agent_seconds": {}} if seconds else {})  # --seconds is every run's budget
    )
    for spec in config.agents:
        get_agent_class(parse_agent_spec(spec)[0])  # fail before training anything
    # a grid it does not know, too
    evaluation_times(1.0, config.evaluations, config.eval_grid, config.first_evaluation)
    cells = [
        {
            "env": env,
            "agent": agent,
            "seed": seed,
            "seconds": config.budget(agent),
            "evaluations": config.evaluations,
            "targets": config.targets,
            "agent_kwargs": config.agent_kwargs.get(parse_agent_spec(agent)[0], {}),
            "device": device,
        }
        | config.grid_settings()
        | ({"checkpoint": True} if config.checkpoints else {})
        for env in config.envs
        for agent in config.agents
        for seed in range(config.seeds)
    ]
    raw = pd.DataFrame(
        run_cells("convergence", cells, convergence_cell, cache, config.workers, fresh)
    )
    analysis = analyse(raw, config)
    out = Path(out_dir)
    command = (
        f"neuralpaint bench convergence --preset {preset} --agents {','.join(config.agents)} "
        f"--envs {','.join(config.envs)} --seeds {config.seeds} --device {device}"
        + (f" --seconds {seconds:g}" if seconds else "")
    )
    header = provenance.csv_header(command, config={"preset": preset} | asdict(config))
    write_text(out / "convergence.csv", header + raw.to_csv(index=False))
    log_time = config.eval_grid == "log"
    figures = {
        env: plot(a["curves"], env, a["threshold"], out / f"convergence_{env}.png", log_time).name
        for env, a in analysis.items()
    }
    md = markdown(analysis, config, provenance.markdown_header(command), figures)
    write_text(out / "convergence.md", md)
    return {env: a["table"] for env, a in analysis.items()}
