"""How the discrete parts of the action break a neural painter (the paper's section 3.1).

* Lift flicker (Figure 8). The real program either paints a stroke (``lift < 0.5``) or
  paints nothing. A painter trained on those two cases is swept over the in-between
  values of ``lift``. The ink and the mask's total variation are plotted against it:
  anything other than a clean step is ink the real program would never paint.
* Size rounding (Figure 9). MyPaint, driven as the discrete variant, rounds the size to
  one of 10 levels. The painter interpolates between them. For sizes at a level and
  sizes between levels, the table compares the painter's mask with MyPaint's mask of
  the rounded size: the transfer gap, and the painter's ink relative to MyPaint's.

* Stuck training and remedies ((b) and (d), :mod:`neuralpaint.benchmarks.remedies`):
  the amortised agent trained on the discrete variant with each relaxation and seed.

``neuralpaint bench discrete`` writes ``results/discrete/``: ``discrete.csv`` (one row
per stroke and setting), ``remedies.csv`` (one row per optimizer step, and a final row,
per remedy and seed), ``discrete.md`` (means with 95% intervals) and
``lift_flicker.png`` / ``size_rounding.png`` / ``remedies.png``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from neuralpaint import actions as A
from neuralpaint.benchmarks import provenance
from neuralpaint.benchmarks import remedies as R
from neuralpaint.benchmarks.aggregate import mean_ci
from neuralpaint.benchmarks.cells import DEFAULT_CACHE
from neuralpaint.benchmarks.figures import save_figure
from neuralpaint.io import write_text
from neuralpaint.painters.mypaint import MyPaintRenderer
from neuralpaint.painters.neural import load_painter

SEED = 4242
"""Seed of the benchmark's random strokes (no training set uses it)."""


@dataclass(frozen=True)
class DiscreteBenchConfig:
    strokes: int = 200
    lift_values: int = 21
    size_offsets: tuple[float, ...] = (0.0, 0.25, 0.5)
    """Offsets from a size level, in units of the level spacing (0.5 = halfway)."""
    remedies: R.RemedyConfig = field(default_factory=R.RemedyConfig)


PRESETS = {
    "tiny": DiscreteBenchConfig(
        strokes=8,
        lift_values=5,
        size_offsets=(0.0, 0.5),
        remedies=R.RemedyConfig(seconds=1.5, seeds=1, targets=2, batch_size=2, workers=1),
    ),
    "quick": DiscreteBenchConfig(),
    "full": DiscreteBenchConfig(
        strokes=2000,
        lift_values=51,
        remedies=R.RemedyConfig(seconds=900, seeds=10, targets=200, batch_size=32, workers=1),
    ),
}


def base_actions(n: int) -> np.ndarray:
    """Random painting (``lift = 0``) discrete-variant actions, quantized."""
    raw = np.random.default_rng(SEED).random((n, A.DISCRETE_ACTION_DIM))
    raw[:, A.LIFT_INDEX] = 0.0
    return A.quantize_discrete(raw)


def total_variation(masks: np.ndarray) -> np.ndarray:
    """Per-mask sum of absolute neighbour differences."""
    dx = np.abs(np.diff(masks, axis=-1)).sum(axis=(-2, -1))
    dy = np.abs(np.diff(masks, axis=-2)).sum(axis=(-2, -1))
    return dx + dy


@torch.no_grad()
def lift_sweep(painter: torch.nn.Module, actions: np.ndarray, values: np.ndarray) -> pd.DataFrame:
    """Ink and total variation of the painter's masks at each lift value, with MyPaint's
    answer (the full stroke below 0.5, nothing above) as ``mypaint_ink``."""
    real = MyPaintRenderer(64).render_masks(actions, seed=SEED)
    rows = []
    for v in values:
        x = actions.copy()
        x[:, A.LIFT_INDEX] = v
        masks = painter(torch.as_tensor(x, dtype=torch.float32))[:, 0].numpy()
        ink, tv = masks.sum(axis=(1, 2)), total_variation(masks)
        real_ink = real.sum(axis=(1, 2)) * (v < 0.5)
        for i in range(len(actions)):
            rows.append(
                {
                    "test": "lift",
                    "setting": float(v),
                    "stroke": i,
                    "painter_ink": float(ink[i]),
                    "painter_tv": float(tv[i]),
                    "mypaint_ink": float(real_ink[i]),
                }
            )
    return pd.DataFrame(rows)


@torch.no_grad()
def size_rounding(
    painter: torch.nn.Module, actions: np.ndarray, offsets: tuple[float, ...]
) -> pd.DataFrame:
    """Painter masks at sizes off the 10 levels against MyPaint's masks of the rounded size."""
    spacing = 1.0 / (A.DISCRETE_LEVELS - 1)
    renderer = MyPaintRenderer(64)
    real = renderer.render_masks(actions, seed=SEED)  # sizes on levels: what MyPaint paints
    rows = []
    for offset in offsets:
        x = actions.copy()
        # move up from the level (down from the top level), staying inside [0, 1]
        direction = np.where(x[:, A.SIZE_INDEX] + offset * spacing <= 1.0, 1.0, -1.0)
        x[:, A.SIZE_INDEX] = x[:, A.SIZE_INDEX] + direction * offset * spacing
        masks = painter(torch.as_tensor(x, dtype=torch.float32))[:, 0].numpy()
        # MyPaint rounds the size back to the level it came from (at 0.5 exactly, the
        # rounding may pick the next level: quantize_discrete says which)
        rounded = A.quantize_discrete(x)
        moved = ~np.isclose(rounded[:, A.SIZE_INDEX], actions[:, A.SIZE_INDEX])
        target = real.copy()
        if moved.any():
            target[moved] = renderer.render_masks(rounded[moved], seed=SEED + 1)
        gap = ((masks - target) ** 2).mean(axis=(1, 2))
        ink_ratio = masks.sum(axis=(1, 2)) / np.maximum(target.sum(axis=(1, 2)), 1e-6)
        for i in range(len(actions)):
            rows.append(
                {
                    "test": "size",
                    "setting": float(offset),
                    "stroke": i,
                    "transfer_gap": float(gap[i]),
                    "ink_ratio": float(ink_ratio[i]),
                }
            )
    return pd.DataFrame(rows)


def summarize(raw: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Mean ± 95% interval over strokes for every setting of each test."""
    lift, size = [], []
    for v, g in raw[raw["test"] == "lift"].groupby("setting"):
        ink, ink_ci = mean_ci(g["painter_ink"])
        tv, tv_ci = mean_ci(g["painter_tv"])
        lift.append(
            {
                "lift": v,
                "painter ink (px)": ink,
                "± ink": ink_ci,
                "MyPaint ink (px)": g["mypaint_ink"].mean(),
                "painter total variation": tv,
                "± tv": tv_ci,
            }
        )
    for off, g in raw[raw["test"] == "size"].groupby("setting"):
        gap, gap_ci = mean_ci(g["transfer_gap"])
        ratio, ratio_ci = mean_ci(g["ink_ratio"])
        size.append(
            {
                "size offset (levels)": off,
                "transfer gap (MSE)": gap,
                "± gap": gap_ci,
                "painter ink / MyPaint ink": ratio,
                "± ratio": ratio_ci,
            }
        )
    return pd.DataFrame(lift), pd.DataFrame(size)


def plot(lift: pd.DataFrame, size: pd.DataFrame, out: Path) -> None:
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
    axes[0].errorbar(lift["lift"], lift["painter ink (px)"], lift["± ink"], label="painter")
    axes[0].step(lift["lift"], lift["MyPaint ink (px)"], where="mid", label="MyPaint", ls="--")
    axes[0].set(xlabel="lift input", ylabel="ink per stroke (pixels)", title="Ink vs lift")
    axes[0].legend()
    axes[1].errorbar(lift["lift"], lift["painter total variation"], lift["± tv"])
    axes[1].set(xlabel="lift input", ylabel="total variation", title="Mask total variation")
    save_figure(fig, out / "lift_flicker.png")
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
    x = size["size offset (levels)"]
    axes[0].errorbar(x, size["transfer gap (MSE)"], size["± gap"], marker="o")
    axes[0].set(xlabel="size offset from a level", ylabel="MSE vs MyPaint", title="Transfer gap")
    axes[1].errorbar(x, size["painter ink / MyPaint ink"], size["± ratio"], marker="o")
    axes[1].axhline(1.0, color="gray", ls="--")
    axes[1].set(xlabel="size offset from a level", ylabel="ink ratio", title="Thickness")
    save_figure(fig, out / "size_rounding.png")


def run(
    preset: str = "quick",
    out_dir: str | Path = "results/discrete",
    painter: str = "regression-discrete",
    seeds: int | None = None,
    device: str = "cpu",
    workers: int | None = None,
    cache: str | Path = DEFAULT_CACHE,
    fresh: bool = False,
    seconds: float | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Measure lift flicker, size rounding, stuck training and its remedies; write CSV,
    Markdown and plots. Returns the lift, size and remedy tables."""
    if preset not in PRESETS:
        raise ValueError(f"preset must be one of {sorted(PRESETS)}, got {preset!r}")
    config = PRESETS[preset]
    remedy_config = replace(
        config.remedies,
        seeds=seeds or config.remedies.seeds,
        workers=workers or config.remedies.workers,
        seconds=seconds or config.remedies.seconds,
    )
    config = replace(config, remedies=remedy_config)
    module = load_painter(painter, "cpu", expect_discrete=True)
    actions = base_actions(config.strokes)
    raw = pd.concat(
        [
            lift_sweep(module, actions, np.linspace(0, 1, config.lift_values)),
            size_rounding(module, actions, config.size_offsets),
        ],
        ignore_index=True,
    )
    lift, size = summarize(raw)
    out = Path(out_dir)
    command = (
        f"neuralpaint bench discrete --preset {preset} --painter {painter} "
        f"--seeds {remedy_config.seeds} --device {device}"
        + (f" --seconds {seconds:g}" if seconds else "")
    )
    write_text(out / "discrete.csv", provenance.csv_header(command) + raw.to_csv(index=False))
    plot(lift, size, out)
    remedy_raw = R.run_remedies(remedy_config, painter, device, cache, fresh)
    write_text(
        out / "remedies.csv", provenance.csv_header(command) + remedy_raw.to_csv(index=False)
    )
    remedy_table = R.summarize(remedy_raw)
    R.plot(remedy_raw, out / "remedies.png")
    md = (
        "# Discrete actions and a neural painter\n\n"
        + provenance.markdown_header(command)
        + f"- **config**: {config}; stroke seed {SEED}\n\n"
        "## Lift flicker\n\n"
        + lift.to_markdown(index=False, floatfmt=".3f")
        + "\n\n![lift flicker](lift_flicker.png)\n\n## Size rounding\n\n"
        + size.to_markdown(index=False, floatfmt=".4f")
        + "\n\n![size rounding](size_rounding.png)\n\n"
        "## Stuck training and remedies\n\n"
        f"The amortised agent on {remedy_config.env} through the {painter} painter, "
        f"{remedy_config.seconds:g} s per run, batch {remedy_config.batch_size}, lr "
        f"{remedy_config.lr:g}, {remedy_config.seeds} seeds per remedy, judged on "
        f"{remedy_config.targets} held-out targets. Stuck: fewer than {R.STUCK_VISIBLE:g} "
        "of the strokes visible. Plan gap: the painter's canvas as the agent planned it "
        "vs MyPaint's painting of the rounded strokes.\n\n"
        + remedy_table.drop(columns="stuck fraction").to_markdown(index=False, floatfmt=".4f")
        + f"\n\n{R.verdict(remedy_table)}\n\n![remedies](remedies.png)\n"
    )
    write_text(out / "discrete.md", md)
    return lift, size, remedy_table
