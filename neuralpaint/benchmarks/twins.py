"""Twins: how fast each painter design runs against MyPaint, and how faithful each brush's
twin is against that brush's own noise ceiling.

Two suites:

* ``neuralpaint bench twins`` (:func:`run_twins`). For every architecture of
  :data:`~neuralpaint.painters.presets.ARCH_PRESETS` (untrained: speed does not depend
  on the weights) and every trained painter given with ``--painters``: forward and
  forward+backward strokes per second on one thread at batch 256, with the weights
  frozen as agents use them, in rounds that alternate with MyPaint's own
  ``render_masks`` in the same process, so each ratio holds on a busy machine. Also the
  forward FLOPs per stroke (``torch.utils.flop_counter``) and parameters, and with
  ``--compile``, the same under ``torch.compile``. A trained painter also gets its
  fidelity on the held-out shard of its own dataset (single renders; brush-down
  strokes only for a discrete painter), beside the reference painter's
  (``--reference``, default ``regression``), and whether it keeps R² and ink IoU within
  :data:`FIDELITY_MARGIN` of it.
* ``neuralpaint bench brushes`` (:func:`run_brushes`). One row per brush: MyPaint
  against itself (one other render; its R² is the brush's stochasticity), the mean of
  several renders, the noise ceiling (the expected stroke, as in
  :mod:`neuralpaint.benchmarks.transfer`), and the brush's twin with R² and IoU as a
  share of that ceiling, texture ratio and spectral distance. Then the transfer gap:
  strokes optimised with Adam through the twin for held-out MNIST digits, repainted by
  MyPaint with the same brush (MyPaint L2 minus the twin's). A plot shows the gap
  against the brush's stochasticity.

Outputs: ``results/twins/{twins.csv,twins.md}`` and ``results/brushes/``:
``brush_fidelity.csv``, ``brush_fidelity.md``, ``transfer_gaps.csv``,
``gap_vs_stochasticity.png`` and ``transfer_digits.csv`` (each digit's L2s, so that two
runs of other twins compare digit by digit).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from neuralpaint import actions as A
from neuralpaint.benchmarks import provenance
from neuralpaint.benchmarks.transfer import (
    FIDELITY_COLUMNS,
    HELD_OUT_SEED,
    held_out_actions,
    mypaint_reference_rows,
    stroke_rows,
)
from neuralpaint.io import write_text
from neuralpaint.painters import dab_kernel, metrics
from neuralpaint.painters.blurred import GradientBlur
from neuralpaint.painters.brushes import TWIN_BRUSHES, require_twin_brushes
from neuralpaint.painters.dataset import StrokeShards, default_data_root, judged_dataset
from neuralpaint.painters.mypaint import DEFAULT_BRUSH, MyPaintCanvas, MyPaintRenderer
from neuralpaint.painters.neural import build_painter, default_twin, load_painter
from neuralpaint.painters.presets import ARCH_PRESETS
from neuralpaint.painters.rounded import RoundedTwin
from neuralpaint.progress import progress_bar

FIDELITY_MARGIN = 0.005
"""A faster twin keeps fidelity when its held-out R² and ink IoU are at most this much
below the reference painter's."""
DISCRETE_BAR = {"r2": 0.90, "ink_iou": 0.76}
"""The discrete twin's bar on brush-down held-out strokes."""
TARGET_RATIOS = {"forward": 2.0, "forward+backward": 1.0}
"""Speed targets: a twin's strokes/s over MyPaint's, on one thread at batch 256."""
SEED = 6161


@dataclass(frozen=True)
class TwinsConfig:
    batch: int = 256
    rounds: int = 3
    designs: tuple[str, ...] = tuple(
        name for name, arch in ARCH_PRESETS.items() if not arch.get("icnr")
    ) + ("fast-nchw",)
    """Presets to time (an ICNR preset only changes its base design's initial weights,
    so it runs at that design's speed)."""
    held_out_strokes: int | None = None
    """Held-out strokes per trained painter (default: the whole shard)."""


@dataclass(frozen=True)
class BrushesConfig:
    strokes: int = 2000
    """Held-out strokes per brush."""
    ceiling_renders: int = 31
    """MyPaint renders averaged for the noise ceiling (odd: half of them give the
    second point of the IoU extrapolation)."""
    targets: int = 16
    """MNIST digits whose strokes are optimised through each twin."""
    iterations: int = 200
    """Adam iterations per digit's strokes."""
    lr: float = 0.05
    grid_strokes: int = 8
    """Held-out strokes in the picture of each brush's strokes, MyPaint's and its twin's."""
    brushes: tuple[str, ...] = field(default_factory=lambda: tuple(t.brush for t in TWIN_BRUSHES))


TWINS_PRESETS = {
    "tiny": TwinsConfig(batch=16, rounds=1, designs=("broadcast", "fast"), held_out_strokes=50),
    "quick": TwinsConfig(held_out_strokes=2000),
    "full": TwinsConfig(rounds=5),
}
BRUSHES_PRESETS = {
    "tiny": BrushesConfig(
        strokes=24,
        ceiling_renders=4,
        targets=2,
        iterations=3,
        brushes=(DEFAULT_BRUSH, "classic/pen"),
    ),
    "quick": BrushesConfig(),
    "full": BrushesConfig(strokes=4000, targets=64, iterations=400),
}


# --------------------------------------------------------------------------- speed


def design_module(name: str, discrete: bool = False) -> torch.nn.Module:
    """An untrained painter of a named design (``fast-nchw``: ``fast`` without
    channels-last)."""
    arch = {**ARCH_PRESETS["fast"], "channels_last": False} if name == "fast-nchw" else None
    if arch is None:
        if name not in ARCH_PRESETS:
            raise ValueError(f"unknown design {name!r}; one of {[*ARCH_PRESETS, 'fast-nchw']}")
        arch = ARCH_PRESETS[name]
    config = {"kind": "regression", "size": 64, "discrete": discrete, "arch": dict(arch)}
    module = build_painter(config)
    module.painter_config = config
    return module


def forward_flops(module: torch.nn.Module, actions: torch.Tensor) -> float:
    """Forward FLOPs per stroke (matrix products and convolutions, as counted by
    ``torch.utils.flop_counter``)."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter, torch.no_grad():
        module(actions[:8])
    return counter.get_total_flops() / 8


def _timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def speed(
    modules: dict[str, torch.nn.Module],
    brushes: list[str],
    batch: int,
    rounds: int,
    compiled: bool = False,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Strokes per second on one thread: each module forward and forward+backward (its
    weights frozen, gradients to the actions only), and MyPaint with each brush, in
    alternating rounds (median over rounds).

    Returns:
        One row per module (with ``÷ MyPaint`` ratios to the first brush), and one row
        per brush with MyPaint's rate.
    """
    runs: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {}
    inputs, notes = {}, {}
    for name, module in modules.items():
        module.requires_grad_(False).eval()
        discrete = bool(module.painter_config["discrete"])
        inputs[name] = torch.as_tensor(
            held_out_actions(batch, discrete, HELD_OUT_SEED + 3), dtype=torch.float32
        )
        if discrete:
            inputs[name][:, A.LIFT_INDEX] = 0.0  # brush down: the strokes agents pay for
        runs[name] = module
        if compiled:
            try:
                runs[f"{name} (compiled)"] = torch.compile(module)
                inputs[f"{name} (compiled)"] = inputs[name]
            except Exception as exc:  # noqa: BLE001 - reported in the table instead
                notes[f"{name} (compiled)"] = f"torch.compile failed: {exc}"[:200]
    actions = held_out_actions(batch, discrete=False, seed=HELD_OUT_SEED + 3)
    renderers = {brush: MyPaintRenderer(64, brush) for brush in brushes}
    times: dict[tuple[str, str], list[float]] = {}
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for name in list(runs):  # warm-up (and compilation) outside the timed rounds
            try:
                with torch.no_grad():
                    runs[name](inputs[name])
                x = inputs[name].clone().requires_grad_(True)
                runs[name](x).sum().backward()
            except Exception as exc:  # noqa: BLE001 - a compiled run that fails to run
                notes[name] = f"failed: {exc}"[:200]
                del runs[name]
        for _ in range(rounds):
            for brush, renderer in renderers.items():
                times.setdefault((brush, "mypaint"), []).append(
                    _timed(lambda r=renderer: r.render_masks(actions, seed=0))
                )
            for name, run in runs.items():
                with torch.no_grad():
                    times.setdefault((name, "forward"), []).append(
                        _timed(lambda r=run, n=name: r(inputs[n]))
                    )
                x = inputs[name].clone().requires_grad_(True)
                times.setdefault((name, "forward+backward"), []).append(
                    _timed(lambda r=run, x=x: r(x).sum().backward())
                )
    finally:
        torch.set_num_threads(threads)
    mypaint = {b: batch / float(np.median(times[(b, "mypaint")])) for b in brushes}
    reference = mypaint[brushes[0]]
    rows = []
    for name in dict.fromkeys([*modules, *runs, *notes]):
        base = modules.get(name.removesuffix(" (compiled)"))
        row = {"design": name}
        inner = base  # through discrete: and blur-grad: to the painter they wrap
        while isinstance(inner, RoundedTwin | GradientBlur):
            inner = inner.continuous if isinstance(inner, RoundedTwin) else inner.painter
        if base is not None and getattr(inner, "painter_config", {}).get("kind") == "dabs":
            # elementwise work per dab, which the FLOP counter does not see
            engine = "compiled kernels" if dab_kernel.load_kernel() else "torch"
            notes.setdefault(name, f"libmypaint's dab engine, {engine} (no weights)")
        elif base is not None:
            row["MFLOP/stroke"] = (
                forward_flops(base, inputs[name.removesuffix(" (compiled)")]) / 1e6
            )
            row["parameters"] = sum(p.numel() for p in base.parameters())
        for kind in TARGET_RATIOS:
            if (name, kind) in times:
                rate = batch / float(np.median(times[(name, kind)]))
                row[f"{kind} strokes/s"] = rate
                row[f"{kind} ÷ MyPaint"] = rate / reference
        row["note"] = notes.get(name, "")
        rows.append(row)
    by_brush = pd.DataFrame(
        [
            {"brush": b, "MyPaint strokes/s": rate, "÷ first brush": rate / reference}
            for b, rate in mypaint.items()
        ]
    )
    return pd.DataFrame(rows), by_brush


# ------------------------------------------------------------------------ fidelity


def paint_masks(module: torch.nn.Module, actions: np.ndarray) -> torch.Tensor:
    """A painter's ``(N, 1, H, W)`` masks of ``(N, D)`` actions, 500 at a time."""
    with torch.no_grad():
        return torch.cat(
            [module(a) for a in torch.as_tensor(actions, dtype=torch.float32).split(500)]
        )


def held_out_fidelity(painter: str, strokes: int | None = None) -> dict[str, float]:
    """A painter's measures on the held-out (last) shard of its own dataset's
    single-render sibling; brush-down strokes only for a discrete painter.

    Raises:
        FileNotFoundError: when the dataset is not on this machine, saying how to make it.
    """
    module = load_painter(painter)
    config = module.painter_config
    try:
        shards = StrokeShards(default_data_root() / judged_dataset(config))
    except ValueError as exc:
        raise ValueError(f"{painter}: {exc}") from exc
    single = StrokeShards(shards.folder.parent / shards.spec.single_render().name)
    acts, masks = single.load_shard(single.paths[-1])
    if config["discrete"]:
        down = acts[:, A.LIFT_INDEX] < 0.5
        acts, masks = acts[down], masks[down]
    acts, masks = acts[:strokes], masks[:strokes]
    pred = paint_masks(module, acts)
    target = torch.as_tensor(masks[:, None])
    spread = metrics.bootstrap_r2_iou(pred, target)
    return {
        **metrics.all_metrics(pred, target),
        "± r2": spread["r2"],
        "± ink_iou": spread["ink_iou"],
        "strokes": len(acts),
        "shard": f"{single.folder.name}/{single.paths[-1].name}",
    }


def fidelity_table(painters: list[str], reference: str, strokes: int | None) -> pd.DataFrame:
    """Held-out fidelity of each trained painter beside the reference painter of the
    same variant, and whether it keeps R² and IoU within :data:`FIDELITY_MARGIN`. A
    painter of another brush than the reference's gets its fidelity only: the two were
    measured on different strokes."""
    refs: dict[bool, dict] = {}
    rows = []
    for name in painters:
        found = held_out_fidelity(name, strokes)
        module = load_painter(name)
        discrete = bool(module.painter_config["discrete"])
        if discrete not in refs:
            ref_name = (
                "regression-discrete" if discrete and reference == "regression" else reference
            )
            refs[discrete] = {
                "painter": ref_name,
                "brush": load_painter(ref_name).brush,
                **held_out_fidelity(ref_name, strokes),
            }
        ref = refs[discrete]
        if module.brush != ref["brush"]:
            reference_row = {"reference": f"none ({module.brush})", "keeps fidelity": "–"}
            rows.append({"painter": name, **reference_row, **found})
            continue
        row = {"painter": name, "reference": ref["painter"], **found}
        row["Δ r2"] = found["r2"] - ref["r2"]
        row["Δ ink_iou"] = found["ink_iou"] - ref["ink_iou"]
        keeps = row["Δ r2"] >= -FIDELITY_MARGIN and row["Δ ink_iou"] >= -FIDELITY_MARGIN
        if discrete:
            keeps = keeps and all(found[k] >= v for k, v in DISCRETE_BAR.items())
        row["keeps fidelity"] = bool(keeps)
        rows.append(row)
    return pd.DataFrame(rows)


def run_twins(
    preset: str = "quick",
    out_dir: str | Path = "results/twins",
    painters: list[str] | None = None,
    reference: str = "regression",
    brushes: list[str] | None = None,
    compiled: bool = False,
    designs: list[str] | None = None,
    speed_only: bool = False,
) -> pd.DataFrame:
    """Speed of every design and trained painter against MyPaint, and the trained
    painters' held-out fidelity; writes ``twins.csv`` and ``twins.md``. ``designs``
    replaces the preset's untrained designs (``[]``: time the painters only).
    ``speed_only`` skips the fidelity, which needs each painter's stroke dataset: the
    fidelity is the same on every host, the ratios to MyPaint are not."""
    if preset not in TWINS_PRESETS:
        raise ValueError(f"preset must be one of {sorted(TWINS_PRESETS)}, got {preset!r}")
    config = TWINS_PRESETS[preset]
    if designs is not None:
        config = replace(config, designs=tuple(designs))
    brushes = require_twin_brushes(brushes or [DEFAULT_BRUSH])
    painters = painters or []
    modules = {f"design: {name}": design_module(name) for name in config.designs}
    for name in [reference, *painters]:
        modules[name] = load_painter(name)
    table, by_brush = speed(modules, brushes, config.batch, config.rounds, compiled)
    fidelity = (
        fidelity_table(painters, reference, config.held_out_strokes)
        if painters and not speed_only
        else None
    )
    command = f"neuralpaint bench twins --preset {preset}" + (
        f" --painters {','.join(painters)}" if painters else ""
    )
    if brushes != [DEFAULT_BRUSH]:
        command += f" --brushes {','.join(brushes)}"
    if reference != "regression":
        command += f" --reference {reference}"
    if designs is not None:
        command += f" --designs {','.join(designs) or 'none'}"
    if compiled:
        command += " --compile"
    if speed_only:
        command += " --speed-only"
    out = Path(out_dir)
    write_text(
        out / "twins.csv",
        provenance.csv_header(command, config={**asdict(config), "brushes": brushes})
        + table.to_csv(index=False),
    )
    md = (
        "# Twins: speed against MyPaint\n\n"
        + provenance.markdown_header(command)
        + f"- **config**: {config}\n\n"
        + table.to_markdown(index=False, floatfmt=".3g")
        + f"\n\n*Speed*: strokes/s on one thread, batch {config.batch}, median of"
        f" {config.rounds} round(s) alternating with MyPaint's `render_masks`"
        f" ({brushes[0]}; ratios are to it). Weights frozen, gradients to the actions only,"
        " as agents use a painter. Targets: forward"
        f" ≥ {TARGET_RATIOS['forward']:g}×, forward+backward"
        f" ≥ {TARGET_RATIOS['forward+backward']:g}× MyPaint. *design*: an untrained"
        " architecture of `neuralpaint/painters/presets.py` (speed only).\n\n"
        + by_brush.to_markdown(index=False, floatfmt=".3g")
        + "\n"
    )
    if fidelity is None:  # a fidelity table left by an earlier run is not this run's
        (out / "twins_fidelity.csv").unlink(missing_ok=True)
    else:
        write_text(
            out / "twins_fidelity.csv",
            provenance.csv_header(command) + fidelity.to_csv(index=False),
        )
        cols = [
            "painter",
            "reference",
            "strokes",
            "r2",
            "± r2",
            "ink_iou",
            "± ink_iou",
            "Δ r2",
            "Δ ink_iou",
            "texture_ratio",
            "spectral_db",
            "keeps fidelity",
            "shard",
        ]
        md += (
            "\n## Held-out fidelity\n\n"
            + fidelity[[c for c in cols if c in fidelity]].to_markdown(index=False, floatfmt=".4f")
            + f"\n\n*keeps fidelity*: R² and ink IoU at most {FIDELITY_MARGIN} below the"
            " reference's on the same shard (single MyPaint renders); for a discrete painter,"
            f" brush-down strokes only and also R² ≥ {DISCRETE_BAR['r2']}, IoU ≥"
            f" {DISCRETE_BAR['ink_iou']}. A twin of another brush has no reference here"
            " (`neuralpaint bench brushes` measures it against its own brush).\n"
        )
    write_text(out / "twins.md", md)
    return table if fidelity is None else pd.concat([table, fidelity], ignore_index=True)


# ------------------------------------------------------------------------- brushes


def brush_rows(brush: str, twin: str | None, config: BrushesConfig) -> list[dict]:
    """MyPaint against itself, the mean of renders, the ceiling and the twin, for one
    brush, on held-out actions (R² and IoU also as shares of the brush's ceiling)."""
    renderer = MyPaintRenderer(64, brush)
    actions = held_out_actions(config.strokes, discrete=False)
    real = renderer.render_masks(actions, seed=HELD_OUT_SEED)
    rows = list(mypaint_reference_rows(renderer, actions, real, config.ceiling_renders))
    ceiling = rows[-1]
    rows[0]["grid_db"] = metrics.grid_peak_db(torch.as_tensor(real[:, None]))
    if twin is not None:
        pred = paint_masks(load_painter(twin, brush=brush), actions)
        rows.append(stroke_rows(twin, pred[:, 0].numpy(), real))
        rows[-1]["grid_db"] = metrics.grid_peak_db(pred)
    for row in rows:
        row["brush"] = brush
        row["r2_of_ceiling"] = row["r2"] / ceiling["r2"]
        row["iou_of_ceiling"] = row["ink_iou"] / ceiling["ink_iou"]
    return rows


def transfer_gap(
    brush: str, twin: str, config: BrushesConfig
) -> tuple[dict[str, float], pd.DataFrame]:
    """Strokes optimised through the twin for held-out MNIST digits (Adam on the logits
    of 8 strokes each), then painted by MyPaint with the brush: both L2s and their gap
    (mean and 95% interval over digits), and each digit's L2s. Every twin gets the same
    digits and starting strokes, so two twins' per-digit L2s compare in pairs."""
    from neuralpaint.agents.task import Task
    from neuralpaint.benchmarks.aggregate import mean_ci
    from neuralpaint.painters.compositing import composite

    task = Task(painter=twin)
    test = task.targets("test")
    chosen = np.random.default_rng(SEED).permutation(len(test))[: config.targets]
    targets = test[chosen]
    module = load_painter(twin, brush=brush).requires_grad_(False)
    target = torch.as_tensor(targets).permute(0, 3, 1, 2)
    gen = torch.Generator().manual_seed(SEED)
    logits = torch.randn(len(targets), task.strokes, A.ACTION_DIM, generator=gen) * 0.5
    logits.requires_grad_(True)
    opt = torch.optim.Adam([logits], lr=config.lr)
    black = torch.zeros(len(targets), 3)
    for _ in range(config.iterations + 1):
        actions = torch.sigmoid(logits)
        canvas = torch.ones_like(target)
        for i in range(task.strokes):
            canvas = composite(canvas, module(actions[:, i]), black)
        per_target = ((canvas - target) ** 2).mean(dim=(1, 2, 3))
        opt.zero_grad(set_to_none=True)
        per_target.mean().backward()
        opt.step()
    strokes = task.finalize(actions.detach().numpy())
    neural = per_target.detach().numpy()
    real = np.empty(len(targets))
    for i, seq in enumerate(strokes):
        canvas = MyPaintCanvas(task.size, brush, seed=(SEED, i))
        canvas.paint_many(seq)
        real[i] = float(((canvas.image() - targets[i]) ** 2).mean())
    gap, gap_ci = mean_ci(real - neural)
    mypaint, mypaint_ci = mean_ci(real)
    summary = {
        "neural L2": float(neural.mean()),
        "MyPaint L2": mypaint,
        "± MyPaint L2": mypaint_ci,
        "gap": gap,
        "± gap": gap_ci,
        "digits": len(targets),
    }
    columns = {"test index": chosen, "neural L2": neural, "MyPaint L2": real}
    per_digit = pd.DataFrame({"brush": brush, "twin": twin, **columns})
    return summary, per_digit


LABEL_CHAR, LABEL_LINE = 0.016, 0.05
"""A 7-point label's character width and line height, as fractions of the gap plot's
axes (5 × 3.4 inches)."""


def label_rows(xs: np.ndarray, ys: np.ndarray, names: list[str]) -> np.ndarray:
    """The line above its point each label goes on: the lowest on which its box (in
    fractions of the data's span) overlaps no label placed before it, in order of x, so
    brushes whose points nearly coincide (the deterministic nibs) keep readable labels."""
    if not len(xs):
        return np.zeros(0, dtype=int)
    fx = (xs - xs.min()) / max(np.ptp(xs), 1e-12)
    fy = (ys - ys.min()) / max(np.ptp(ys), 1e-12)
    rows, boxes = np.zeros(len(xs), dtype=int), []
    for i, name in enumerate(names):
        width = LABEL_CHAR * len(name)
        for row in range(len(xs) + 1):
            x0, y0 = fx[i], fy[i] + row * LABEL_LINE
            if all(
                x0 >= b[2] or b[0] >= x0 + width or y0 >= b[3] or b[1] >= y0 + LABEL_LINE
                for b in boxes
            ):
                break
        rows[i] = row
        boxes.append((x0, y0, x0 + width, y0 + LABEL_LINE))
    return rows


def plot_gap(table: pd.DataFrame, out: Path) -> Path:
    """The transfer gap of each brush's twin against its stochasticity."""
    import matplotlib.pyplot as plt

    from neuralpaint.benchmarks.figures import save_figure

    fig, ax = plt.subplots(figsize=(5, 3.4))
    done = table.dropna(subset=["gap"]).sort_values("stochasticity r2")
    xs, ys = done["stochasticity r2"].to_numpy(), done["gap"].to_numpy()
    ax.errorbar(xs, ys, done["± gap"], fmt="o")
    names = [brush.split("/")[-1] for brush in done["brush"]]
    for x, y, name, row in zip(xs, ys, names, label_rows(xs, ys, names), strict=True):
        ax.annotate(
            name,
            (x, y),
            fontsize=7,
            xytext=(3, 3 + 9 * row),
            textcoords="offset points",
            arrowprops={"arrowstyle": "-", "lw": 0.4, "color": "grey"} if row else None,
        )
    ax.set(xlabel="R² of one MyPaint render against another", ylabel="transfer gap (L2)")
    ax.xaxis.set_major_locator(plt.MaxNLocator(4))  # near-equal R²s: few, readable ticks
    ax.set_title("Transfer gap against brush stochasticity")
    return save_figure(fig, out / "gap_vs_stochasticity.png")


def stroke_grid(brushes: list[str], twins: dict[str, str | None], strokes: int, out: Path) -> Path:
    """The same held-out strokes painted by MyPaint with each brush, and by its twin below
    (a brush without a twin gets its MyPaint row only): what the table's numbers look like."""
    import matplotlib.pyplot as plt

    from neuralpaint.benchmarks.figures import save_figure
    from neuralpaint.io import tile

    actions = held_out_actions(strokes, discrete=False, seed=HELD_OUT_SEED + 2)
    rows, labels = [], []
    for brush in brushes:
        short = brush.split("/")[-1]
        rows.append(MyPaintRenderer(64, brush).render_masks(actions, seed=HELD_OUT_SEED))
        labels.append(f"{short}\nMyPaint")
        if twins[brush]:
            twin = load_painter(twins[brush], brush=brush)
            rows.append(paint_masks(twin, actions)[:, 0].numpy())
            labels.append(f"{short}\ntwin")
    pad = 2
    images = [np.repeat(1 - m[..., None], 3, axis=-1) for row in rows for m in row]
    grid = tile(images, columns=strokes, pad=pad)
    fig, ax = plt.subplots(figsize=(1.0 * strokes + 1.6, 1.0 * len(rows) + 0.4))
    ax.imshow(np.clip(grid, 0, 1), interpolation="nearest")
    ax.set_yticks([pad + (64 + pad) * i + 32 for i in range(len(rows))], labels, fontsize=8)
    ax.set_xticks([])
    ax.set_title("Held-out strokes: MyPaint, then the brush's twin", fontsize=9)
    return save_figure(fig, out / "brush_strokes.png")


def run_brushes(
    preset: str = "quick",
    out_dir: str | Path = "results/brushes",
    brushes: list[str] | None = None,
    twins: dict[str, str] | None = None,
) -> pd.DataFrame:
    """The per-brush fidelity table and transfer gaps; writes ``brush_fidelity.csv``,
    ``brush_fidelity.md``, ``gap_vs_stochasticity.png`` and ``brush_strokes.png``.

    Args:
        brushes: default: the preset's (the curated twins).
        twins: the painter of each brush (default: :func:`default_twin`; a brush without
            one gets only its MyPaint rows).
    """
    if preset not in BRUSHES_PRESETS:
        raise ValueError(f"preset must be one of {sorted(BRUSHES_PRESETS)}, got {preset!r}")
    config = BRUSHES_PRESETS[preset]
    brushes = require_twin_brushes(list(brushes or config.brushes))
    chosen = dict(twins or {})
    twins = dict(chosen)
    for brush in brushes:
        if brush not in twins:
            try:
                twins[brush] = default_twin(brush)
            except ValueError:
                twins[brush] = None
    rows, gaps, digits = [], [], []
    for brush in progress_bar(brushes, desc="bench brushes", unit="brush"):
        found = brush_rows(brush, twins[brush], config)
        rows += found
        gap = {}
        if twins[brush]:
            gap, per_digit = transfer_gap(brush, twins[brush], config)
            digits.append(per_digit)
        gaps.append(
            {"brush": brush, "twin": twins[brush], "stochasticity r2": found[0]["r2"], **gap}
        )
    table = pd.DataFrame(rows)
    gap_table = pd.DataFrame(gaps)
    for column in ("gap", "± gap"):
        if column not in gap_table:
            gap_table[column] = np.nan
    out = Path(out_dir)
    command = f"neuralpaint bench brushes --preset {preset}"
    if brushes != list(config.brushes):
        command += f" --brushes {','.join(brushes)}"
    if chosen:
        command += f" --twins {','.join(f'{b}={t}' for b, t in chosen.items())}"
    write_text(
        out / "brush_fidelity.csv",
        provenance.csv_header(command, config={**asdict(config), "brushes": tuple(brushes)})
        + table.to_csv(index=False),
    )
    write_text(
        out / "transfer_gaps.csv", provenance.csv_header(command) + gap_table.to_csv(index=False)
    )
    if digits:
        write_text(
            out / "transfer_digits.csv",
            provenance.csv_header(command) + pd.concat(digits).to_csv(index=False),
        )
    plot = plot_gap(gap_table, out)
    grid = stroke_grid(brushes, twins, config.grid_strokes, out)
    cols = ["brush", *FIDELITY_COLUMNS, "texture_ratio", "spectral_db", "grid_db"]
    md = (
        "# Twins of each brush against MyPaint\n\n"
        + provenance.markdown_header(command)
        + f"- **config**: {replace(config, brushes=tuple(brushes))}; held-out action seed"
        f" {HELD_OUT_SEED}\n\n"
        + table[cols].to_markdown(index=False, floatfmt=".3f")
        + "\n\nEach brush against its own noise ceiling: *expected stroke (ceiling)* is the"
        f" mean of {config.ceiling_renders} renders corrected to infinitely many (as in"
        " `bench transfer`); *r2_of_ceiling*, *iou_of_ceiling*: shares of it (target ≥ 0.97"
        " for a shipped twin). *mypaint (one other render)*: the brush's stochasticity."
        " *grid_db*: the spectral peak at the harmonics of 4 px over the neighbouring"
        " frequencies, for MyPaint's render and for the twin: a twin far above MyPaint"
        " shows its decoder's upsampling grid (a checkerboard).\n\n"
        "## Transfer gap\n\n"
        f"Strokes for {config.targets} held-out MNIST digits optimised with Adam"
        f" ({config.iterations} iterations) through the brush's twin, then painted by MyPaint"
        " with that brush; gap = MyPaint L2 - the twin's (mean ± 95% interval over digits).\n\n"
        + gap_table.to_markdown(index=False, floatfmt=".4f")
        + f"\n\n![gap against stochasticity]({plot.name})\n"
        + f"\n## Strokes\n\n![MyPaint's strokes and each twin's]({grid.name})\n"
    )
    write_text(out / "brush_fidelity.md", md)
    return table
