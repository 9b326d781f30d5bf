"""Quality on MyPaint against compute per image: the per-image frontier.

A learned painter is only worth its training if it beats what a user could do without
one: search on the real program, per image. Every method here paints the same held-out
targets within a per-image budget and is judged on MyPaint's painting of its strokes:

* ``amortized``: a shipped amortised agent as it is (one forward pass; MNIST);
* ``amortized+refine``: its strokes refined by Adam through the painter, open loop;
* ``stroke-optimizer``: Adam through the painter from random strokes, open loop;
* ``greedy`` and ``cem``: search on MyPaint (:mod:`neuralpaint.agents.search`);
* ``hybrid``: planning through the painter from the real canvas, checked on MyPaint
  (:mod:`neuralpaint.agents.hybrid`), started from the amortised agent on MNIST and
  from ``cem`` on colour photos.

Each cell (env, method, budget, seed) paints every target on one thread; cells run
side by side, one per core. Quality is L2 per pixel, PSNR and SSIM on MyPaint's canvas;
compute is wall-clock seconds per image, MyPaint renders and painter evaluations.

``neuralpaint bench frontier`` writes ``results/frontier/``: ``frontier.csv`` (one row
per cell, means over its targets), ``frontier.md`` (tables and, per budget, the method
on the frontier) and ``frontier_<env>.png`` (L2 against seconds, log-log).
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from neuralpaint.benchmarks import provenance
from neuralpaint.benchmarks.cells import DEFAULT_CACHE, run_cells
from neuralpaint.io import write_text

EVAL_SEED = 515151
"""Seeds the MyPaint canvases every method's strokes are judged on."""
MNIST, PHOTOS = "NeuralPaint-MNIST-v0", "NeuralPaint-Photos-v0"
AMORTIZED = {MNIST: "amortized-mnist"}
"""The shipped amortised agent of each env (Photos has none yet)."""
METHODS = ("amortized", "amortized+refine", "stroke-optimizer", "greedy", "cem", "hybrid")
TOLERANCE = 1.1
"""A method is within a budget when its measured seconds per image are at most this many
times the budget: time budgets are kept to within scheduling noise, not to the
millisecond, and a few percent over should not drop a method from the frontier."""


@dataclass(frozen=True)
class FrontierConfig:
    """A preset: targets per env, per-image budgets in seconds, seeds.

    Budgets up to ``few_seeds_above`` seconds get ``seeds`` seeds, larger ones one.
    """

    targets: int = 16
    budgets: tuple[float, ...] = (0.1, 0.3, 1.0, 2.0, 5.0, 10.0, 30.0)
    seeds: int = 3
    few_seeds_above: float = 3.0
    envs: tuple[str, ...] = (MNIST, PHOTOS)
    methods: tuple[str, ...] = METHODS
    workers: int = 2


PRESETS = {
    "tiny": FrontierConfig(targets=2, budgets=(0.1, 0.3), seeds=1, workers=1),
    "quick": FrontierConfig(targets=4, budgets=(0.3, 1.0, 3.0), seeds=1),
    "full": FrontierConfig(),
}


def method_spec(method: str, env: str, budget: float) -> tuple[str, dict]:
    """The agent spec and arguments of ``method`` at a per-image ``budget`` in seconds."""
    if method == "amortized+refine":
        # open loop: plan every stroke jointly from the amortised strokes, paint them all
        kwargs = {"init": AMORTIZED[env], "chunk": 10**6, "verify": False}
        return "hybrid@regression", {**kwargs, "seconds": budget, "starts": 1}
    if method == "stroke-optimizer":
        return "stroke-optimizer@regression", {"seconds": budget, "iterations": 10**6}
    if method in ("greedy", "cem"):
        return f"{method}@mypaint", {"seconds": budget}
    if method == "hybrid":
        init = AMORTIZED.get(env, "cem")
        return "hybrid@regression", {"seconds": budget, "init": init, "starts": 1}
    raise ValueError(f"unknown frontier method {method!r}; the methods are {', '.join(METHODS)}")


def applies(method: str, env: str) -> bool:
    """Whether ``method`` runs on ``env`` (the amortised ones need a shipped agent)."""
    return env in AMORTIZED or not method.startswith("amortized")


def target_indices(count: int, available: int) -> np.ndarray:
    """Evenly spaced held-out targets, so a few cover the whole test set."""
    if count > available:
        raise ValueError(f"targets: {count} asked for, the test set has {available}")
    return np.linspace(0, available - 1, count).round().astype(int)


def cells_for(config: FrontierConfig, device: str = "cpu") -> list[dict]:
    cells = []
    for env in config.envs:
        for method in config.methods:
            if not applies(method, env):
                continue
            budgets = [None] if method == "amortized" else list(config.budgets)
            for budget in budgets:
                many = budget is None or budget <= config.few_seeds_above
                for seed in range(config.seeds if many else 1):
                    cells.append(
                        {
                            "env": env,
                            "agent": method,
                            "budget": budget,
                            "seed": seed,
                            "targets": config.targets,
                            "device": device,
                        }
                    )
    return cells


def psnr(l2: np.ndarray) -> np.ndarray:
    """PSNR in dB of images in [0, 1] from their mean squared error."""
    return 10.0 * np.log10(1.0 / np.maximum(l2, 1e-10))


def ssim_per_image(images: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """SSIM of each ``(H, W, 3)`` image against its target (pytorch_msssim, 11 px window)."""
    import torch
    from pytorch_msssim import ssim

    a = torch.as_tensor(images).permute(0, 3, 1, 2).float()
    b = torch.as_tensor(targets).permute(0, 3, 1, 2).float()
    return ssim(a, b, data_range=1.0, size_average=False).numpy()


def run_cell(cell: dict) -> list[dict]:
    """Paint the cell's targets with its method and judge them on MyPaint."""
    from neuralpaint.agents.base import Agent
    from neuralpaint.agents.commands import resolve_agent_folder
    from neuralpaint.agents.evaluation import paint_on_mypaint
    from neuralpaint.agents.registry import make_agent
    from neuralpaint.agents.task import Task

    env, method, budget = cell["env"], cell["agent"], cell["budget"]
    task = Task.from_env_id(env)
    test = task.targets("test")
    targets = test[target_indices(cell["targets"], len(test))]
    if method == "amortized":
        agent = Agent.load(resolve_agent_folder(AMORTIZED[env]))
    else:
        spec, kwargs = method_spec(method, env, budget)
        agent = make_agent(spec, env, seed=cell["seed"], kwargs=kwargs, device=cell["device"])
    start = time.perf_counter()
    actions = agent.paint(targets)
    seconds = (time.perf_counter() - start) / len(targets)
    stats = getattr(agent, "last_stats", None) or []
    renders = float(np.mean([s["mypaint_renders"] for s in stats])) if stats else 0.0
    evals = float(np.mean([s["painter_evals"] for s in stats])) if stats else 0.0
    if method == "stroke-optimizer":
        evals = len(agent.last_losses) * task.strokes
    elif method == "amortized":
        evals = float(task.strokes)
    images = paint_on_mypaint(actions, task.size, EVAL_SEED)
    l2 = ((images - targets) ** 2).mean(axis=(1, 2, 3))
    return [
        {
            "env": env,
            "agent": method,
            "budget": budget if budget is not None else math.nan,
            "seed": cell["seed"],
            "targets": len(targets),
            "seconds_per_image": seconds,
            "mypaint_renders": renders,
            "painter_evals": evals,
            "renders_per_second": renders / seconds if seconds > 0 else math.nan,
            "mypaint_l2": float(l2.mean()),
            "psnr": float(psnr(l2).mean()),
            "ssim": float(ssim_per_image(images, targets).mean()),
        }
    ]


def frontier_methods(table: pd.DataFrame) -> pd.DataFrame:
    """For each env and budget: the method with the lowest mean MyPaint L2 among those
    that took at most that many seconds per image, give or take :data:`TOLERANCE` (the
    frontier at that budget)."""
    means = (
        table.groupby(["env", "agent", "budget"], dropna=False)[["seconds_per_image", "mypaint_l2"]]
        .mean()
        .reset_index()
    )
    rows = []
    budgets = sorted(b for b in table["budget"].dropna().unique())
    for env, group in means.groupby("env"):
        for budget in budgets:
            within = group[group["seconds_per_image"] <= budget * TOLERANCE]
            if within.empty:
                rows.append({"env": env, "budget": budget, "best": "none within budget"})
                continue
            best = within.loc[within["mypaint_l2"].idxmin()]
            rows.append(
                {
                    "env": env,
                    "budget": budget,
                    "best": best["agent"],
                    "mypaint_l2": best["mypaint_l2"],
                    "seconds_per_image": best["seconds_per_image"],
                }
            )
    return pd.DataFrame(rows)


def summary(table: pd.DataFrame) -> pd.DataFrame:
    """Means over seeds per env, method and budget, with the seed count."""
    cols = [
        "seconds_per_image",
        "mypaint_l2",
        "psnr",
        "ssim",
        "mypaint_renders",
        "painter_evals",
        "renders_per_second",
    ]
    grouped = table.groupby(["env", "agent", "budget"], dropna=False)
    out = grouped[cols].mean()
    out["seeds"] = grouped.size()
    return out.reset_index()


def plot(table: pd.DataFrame, env: str, path: Path) -> Path:
    """MyPaint L2 against seconds per image, one line per method, the frontier dashed."""
    import matplotlib.pyplot as plt

    from neuralpaint.benchmarks.figures import save_figure

    means = summary(table[table["env"] == env])
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for method in METHODS:
        rows = means[means["agent"] == method].sort_values("seconds_per_image")
        if rows.empty:
            continue
        style = "*" if method == "amortized" else "o-"
        color = f"C{METHODS.index(method)}"  # the same colour for a method in every plot
        ax.plot(
            rows["seconds_per_image"], rows["mypaint_l2"], style, color=color, label=method, ms=6
        )
    pts = means.sort_values("seconds_per_image")
    best = pts["mypaint_l2"].cummin()
    ax.step(pts["seconds_per_image"], best, "--", color="0.5", where="post", label="frontier")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("seconds per image (1 thread)")
    ax.set_ylabel("L2 per pixel on MyPaint's canvas")
    ax.set_title(f"{env}: quality against compute per image")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    return save_figure(fig, path)


def markdown(table: pd.DataFrame, header: str, machine_time: str) -> str:
    """The Markdown page: the provenance ``header``, the ``machine_time`` line, a table
    and a plot per env, and the method on the frontier at each budget."""
    lines = ["# Quality against compute per image, judged on MyPaint", "", header, machine_time, ""]
    for env, rows in summary(table).groupby("env"):
        lines += [
            f"## {env}",
            "",
            rows.drop(columns="env").to_markdown(index=False, floatfmt=".4g"),
        ]
        lines += ["", f"![{env}](frontier_{env}.png)", ""]
    lines += [
        "## The method on the frontier at each budget",
        "",
        "The lowest mean MyPaint L2 among methods that took at most the budget per image "
        f"(up to {TOLERANCE:g} × the budget: time budgets are kept within scheduling noise).",
        "",
        frontier_methods(table).to_markdown(index=False, floatfmt=".4g"),
        "",
    ]
    return "\n".join(lines)


def run(
    preset: str = "quick",
    out_dir: str | Path = "results/frontier",
    envs: list[str] | None = None,
    methods: list[str] | None = None,
    device: str = "cpu",
    cache: str | Path = DEFAULT_CACHE,
    fresh: bool = False,
    workers: int | None = None,
) -> pd.DataFrame:
    """Run the frontier suite and write its files; returns the per-cell table.

    Raises:
        ValueError: for an unknown preset, env or method.
    """
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; the presets are {', '.join(PRESETS)}")
    config = PRESETS[preset]
    if envs:
        unknown = set(envs) - {MNIST, PHOTOS}
        if unknown:
            raise ValueError(f"unknown env {sorted(unknown)}; frontier runs {MNIST}, {PHOTOS}")
        config = FrontierConfig(**{**asdict(config), "envs": tuple(envs)})
    if methods:
        unknown = set(methods) - set(METHODS)
        if unknown:
            raise ValueError(f"unknown method {sorted(unknown)}; the methods are {METHODS}")
        config = FrontierConfig(**{**asdict(config), "methods": tuple(methods)})
    if workers is not None:
        config = FrontierConfig(**{**asdict(config), "workers": workers})
    start = time.perf_counter()
    cells = cells_for(config, device)
    rows = run_cells("frontier", cells, run_cell, cache, config.workers, fresh)
    minutes = (time.perf_counter() - start) / 60
    table = pd.DataFrame(rows)
    out = Path(out_dir)
    command = f"neuralpaint bench frontier --preset {preset}"
    header = provenance.csv_header(command, config={**asdict(config), "preset": preset})
    write_text(out / "frontier.csv", header + table.to_csv(index=False))
    machine_time = (
        f"Machine time: {minutes:.1f} minutes of wall-clock for {len(table)} cells on "
        f"{config.workers} worker(s), each on 1 thread. Targets: {config.targets} evenly "
        f"spaced held-out images per env. Seeds: {config.seeds} for budgets up to "
        f"{config.few_seeds_above:g} s, 1 above."
    )
    write_text(
        out / "frontier.md", markdown(table, provenance.markdown_header(command), machine_time)
    )
    for env in config.envs:
        plot(table, env, out / f"frontier_{env}.png")
    return table


def rewrite_markdown(csv: str | Path) -> Path:
    """Write ``frontier.md`` again from ``frontier.csv`` (no painting), keeping the
    provenance header and machine-time line of the run that made them, so the page
    follows the current analysis (``neuralpaint bench report`` calls this). The plots
    are left as the run drew them: their metadata names the run's commit."""
    csv = Path(csv)
    page = csv.with_name("frontier.md")
    old = page.read_text().splitlines() if page.is_file() else []
    header = "\n".join(line for line in old if line.startswith("- **")) + "\n"
    machine = next((line for line in old if line.startswith("Machine time:")), "")
    table = pd.read_csv(csv, comment="#")
    return write_text(page, markdown(table, header, machine))


__all__ = ["PRESETS", "FrontierConfig", "frontier_methods", "run", "summary"]
