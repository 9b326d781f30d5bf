"""Paint a whole picture on one real MyPaint canvas, coarse to fine, in a closed loop.

Stroke painters paint pictures by planning strokes for windows of the canvas, large
windows first (Learning to Paint, Stylized Neural Painting). Here each window ("cell")
is planned by a per-image agent of :mod:`neuralpaint.agents.search` or
:mod:`neuralpaint.agents.hybrid` at the 64 px scale it knows: the cell's target and
the cell as the **real canvas** shows it now are resampled to 64 px, the agent plans
a few strokes over it, and those strokes are painted on the picture's canvas with
their coordinates and brush radius scaled to the cell. The next cell is planned from
the canvas as it then is, so what is painted is what MyPaint really paints.

Levels halve the cell side from the picture's short side down to ``min_cell`` pixels.
Strokes are shared among levels in proportion to the square root of their cell count
(fine levels get more strokes, but fewer per cell), and within a level the cells with
the largest error are visited first.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from neuralpaint import actions as A
from neuralpaint.agents.search_common import PerImageBudget
from neuralpaint.painters import DEFAULT_PAINTER
from neuralpaint.painters.mypaint import DEFAULT_BRUSH, MyPaintCanvas, resolve_brush

CELL_PX = 64
"""The scale agents plan at: a cell is resampled to this many pixels a side."""
METHODS = ("greedy", "cem", "hybrid")
MAX_STROKES_PER_VISIT = 8
SIZE_RANGE = (64, 2048)
STROKES_RANGE = (1, 20000)


@dataclass(frozen=True)
class PaintingConfig:
    """How to paint a picture.

    Args:
        size: pixels on the picture's long side (the aspect ratio is kept).
        strokes: strokes in the whole painting.
        brush: a mypaint-brushes name or a ``.myb`` path.
        method: the per-cell planner: ``greedy``, ``cem`` or ``hybrid``.
        renders: MyPaint renders per stroke for planning (deterministic: the same seed
            gives the same painting).
        seconds: a wall-clock budget for the whole painting instead of ``renders``
            (then how far each cell's search gets depends on the machine).
        steps: Adam steps per plan of the hybrid with a ``renders`` budget.
        seed: seeds planning and the brush texture.
        painter: the neural painter the hybrid plans through.
        min_cell: the side of the finest cells, in pixels.
    """

    size: int = 256
    strokes: int = 500
    brush: str = DEFAULT_BRUSH
    method: str = "hybrid"
    renders: int = 192
    seconds: float | None = None
    steps: int = 10
    seed: int = 0
    painter: str = DEFAULT_PAINTER
    min_cell: int = 32

    def __post_init__(self) -> None:
        lo, hi = SIZE_RANGE
        if not lo <= int(self.size) <= hi:
            raise ValueError(f"size must be between {lo} and {hi} pixels, got {self.size}")
        lo, hi = STROKES_RANGE
        if not lo <= int(self.strokes) <= hi:
            raise ValueError(f"strokes must be between {lo} and {hi}, got {self.strokes}")
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {', '.join(METHODS)}, got {self.method!r}")
        if int(self.renders) < 1:
            raise ValueError(f"renders must be at least 1 per stroke, got {self.renders}")
        if self.seconds is not None and not (math.isfinite(self.seconds) and self.seconds > 0):
            raise ValueError(f"seconds must be a positive number, got {self.seconds}")
        if int(self.min_cell) < 8:
            raise ValueError(f"min_cell must be at least 8 pixels, got {self.min_cell}")
        resolve_brush(self.brush)  # an unknown brush fails here, with the folders searched


@dataclass(frozen=True)
class Cell:
    """A square window of the canvas: top-left corner and side, in pixels."""

    x: int
    y: int
    side: int


@dataclass
class Stroke:
    """One painted stroke: the 12-field action in its cell's coordinates, and the cell.

    :meth:`path` maps it to the canvas exactly as it was painted, so a replay is
    bit-identical."""

    action: list[float]
    cell: Cell

    def path(self) -> A.BrushPath:
        arr = np.asarray(self.action, dtype=np.float64)
        local = A.to_brush_path(arr, self.cell.side)
        return A.BrushPath(
            xs=local.xs + self.cell.x,
            ys=local.ys + self.cell.y,
            pressures=local.pressures,
            radius=local.radius,
            color=local.color,
        )


@dataclass
class Painting:
    """What painting produced: the canvas, the strokes in order, snapshots for a video."""

    config: PaintingConfig
    target: np.ndarray
    canvas: MyPaintCanvas
    strokes: list[Stroke] = field(default_factory=list)
    frames: list[np.ndarray] = field(default_factory=list)
    seconds: float = 0.0
    interrupted: bool = False

    @property
    def image(self) -> np.ndarray:
        return self.canvas.image()


def fit_size(image: np.ndarray, long_side: int) -> np.ndarray:
    """``image`` resized (area-averaged) so its long side is ``long_side``."""
    h, w = image.shape[:2]
    scale = long_side / max(h, w)
    size = (max(8, round(w * scale)), max(8, round(h * scale)))
    pil = Image.fromarray((np.clip(image, 0, 1) * 255).round().astype(np.uint8))
    return np.asarray(pil.resize(size, Image.Resampling.BOX), np.float32) / 255.0


def resample(window: np.ndarray, side: int = CELL_PX) -> np.ndarray:
    """A square float window resampled to ``side`` pixels (area-average down, bilinear up)."""
    if window.shape[0] == side and window.shape[1] == side:
        return window.astype(np.float32)
    out = [
        np.asarray(
            Image.fromarray(window[..., c].astype(np.float32), mode="F").resize(
                (side, side),
                Image.Resampling.BOX if window.shape[0] > side else Image.Resampling.BILINEAR,
            )
        )
        for c in range(3)
    ]
    return np.clip(np.stack(out, axis=-1), 0.0, 1.0)


def window(image: np.ndarray, cell: Cell) -> np.ndarray:
    """The part of ``image`` under ``cell``."""
    return image[cell.y : cell.y + cell.side, cell.x : cell.x + cell.side]


def levels(width: int, height: int, min_cell: int) -> list[list[Cell]]:
    """Cells of each level, coarse to fine: squares of the short side halved each level,
    tiling the canvas (the last row and column aligned with its edges)."""
    out = []
    side = min(width, height)
    while True:
        xs = _starts(width, side)
        ys = _starts(height, side)
        out.append([Cell(x, y, side) for y in ys for x in xs])
        if side // 2 < min_cell:
            return out
        side //= 2


def _starts(length: int, side: int) -> list[int]:
    count = -(-length // side)
    return sorted({min(i * side, length - side) for i in range(count)})


def strokes_per_level(cells: list[list[Cell]], total: int) -> list[int]:
    """``total`` strokes shared in proportion to the square root of each level's cells."""
    weights = np.sqrt([len(level) for level in cells])
    shares = np.floor(total * weights / weights.sum()).astype(int)
    shares[-1] += total - shares.sum()
    return shares.tolist()


class PicturePainter:
    """Paints pictures with one of the per-image planners, cell by cell.

    Args:
        config: what to paint and how (:class:`PaintingConfig`).
        device: where the hybrid's painter runs.
    """

    def __init__(self, config: PaintingConfig, device: str = "cpu"):
        self.config, self.device = config, device
        self._agents: dict[int, object] = {}

    def agent(self, strokes: int):
        """The planner for a visit of ``strokes`` strokes (made once per count)."""
        if strokes not in self._agents:
            from neuralpaint.agents.hybrid import HybridPlanner
            from neuralpaint.agents.search import CEMSearch, GreedySearch
            from neuralpaint.agents.task import Task

            cfg = self.config
            task = Task(
                env_id="NeuralPaint-Photos-v0",
                dataset="photos",
                strokes=strokes,
                color="rgb",
                painter=cfg.painter,
                size=CELL_PX,
            )
            budget = {"renders": cfg.renders * strokes}
            if cfg.method == "hybrid":
                self._agents[strokes] = HybridPlanner(
                    task,
                    cfg.seed,
                    renderer=cfg.painter,
                    init="cem",
                    steps=None if cfg.seconds else cfg.steps,
                    device=self.device,
                    brush=cfg.brush,
                    **({"seconds": 1.0} if cfg.seconds else budget),
                )
            else:
                cls = GreedySearch if cfg.method == "greedy" else CEMSearch
                kwargs = {"seconds": 1.0} if cfg.seconds else budget
                self._agents[strokes] = cls(task, cfg.seed, brush=cfg.brush, **kwargs)
        return self._agents[strokes]

    def visits(self, width: int, height: int) -> list[tuple[list[Cell], int, int]]:
        """``(cells, strokes per visit, strokes in the round)`` rounds, coarse to fine,
        adding up to the configured number of strokes."""
        cells = levels(width, height, self.config.min_cell)
        rounds = []
        for level_cells, share in zip(
            cells, strokes_per_level(cells, self.config.strokes), strict=True
        ):
            left = share
            while left > 0:
                per_cell = min(MAX_STROKES_PER_VISIT, -(-left // len(level_cells)))
                n = min(left, per_cell * len(level_cells))
                rounds.append((level_cells, per_cell, n))
                left -= n
        return rounds

    def paint(
        self,
        image: np.ndarray,
        progress: Callable[[int], None] | None = None,
        frames: int = 60,
    ) -> Painting:
        """Paint ``image`` (``(H, W, 3)`` floats in [0, 1], any size) on a new canvas.

        ``progress`` is called with the number of strokes painted after each visit.
        Ctrl-C stops painting and returns what is painted so far (``interrupted``).
        """
        cfg = self.config
        target = fit_size(image, cfg.size)
        height, width = target.shape[:2]
        canvas = MyPaintCanvas(width, cfg.brush, seed=(cfg.seed, 0), height=height)
        painting = Painting(cfg, target, canvas)
        rng = np.random.default_rng(cfg.seed)
        every = max(1, cfg.strokes // frames)
        painting.frames.append(canvas.image())
        start = time.perf_counter()
        try:
            for cells, per_cell, round_strokes in self.visits(width, height):
                current = canvas.image()
                errors = [
                    float(((window(current, c) - window(target, c)) ** 2).mean()) for c in cells
                ]
                for k in np.argsort(errors)[::-1]:
                    n = min(per_cell, round_strokes)
                    if n <= 0:
                        break
                    self._visit(painting, cells[int(k)], n, rng, start)
                    round_strokes -= n
                    if len(painting.strokes) // every != (len(painting.strokes) - n) // every:
                        painting.frames.append(canvas.image())
                    if progress:
                        progress(len(painting.strokes))
        except KeyboardInterrupt:
            painting.interrupted = True
        painting.seconds = time.perf_counter() - start
        painting.frames.append(canvas.image())
        return painting

    def _visit(self, painting: Painting, cell: Cell, strokes: int, rng, start: float):
        """Plan ``strokes`` strokes for ``cell`` from the real canvas and paint them."""
        cfg = self.config
        agent = self.agent(strokes)
        c = cell
        target = resample(window(painting.target, c))
        now = resample(painting.canvas.region(c.x, c.y, c.side, c.side))
        if cfg.seconds:
            left = max(cfg.seconds - (time.perf_counter() - start), 1e-3)
            remaining = cfg.strokes - len(painting.strokes)
            agent.budget = PerImageBudget(seconds=left * strokes / remaining)
        spending = agent._spending()
        visit = len(painting.strokes)
        actions = agent.plan(target, rng, spending, canvas_seed=(cfg.seed, 1, visit), start=now)
        for action in actions:
            stroke = Stroke([float(v) for v in action], cell)
            painting.canvas.paint_path(stroke.path())
            painting.strokes.append(stroke)


def replay(strokes: list[Stroke], width: int, height: int, brush: str, seed: int) -> MyPaintCanvas:
    """Paint recorded strokes on a fresh canvas: the same pixels as the painting."""
    canvas = MyPaintCanvas(width, brush, seed=(seed, 0), height=height)
    for stroke in strokes:
        canvas.paint_path(stroke.path())
    return canvas


def mosaic(image: np.ndarray, cells: int) -> np.ndarray:
    """The same-count reference: ``image`` averaged over a grid of about ``cells`` cells
    (aspect kept), then upsampled bilinearly."""
    h, w = image.shape[:2]
    gy = max(1, round(math.sqrt(cells * h / w)))
    gx = max(1, round(cells / gy))
    pil = Image.fromarray((np.clip(image, 0, 1) * 255).round().astype(np.uint8))
    small = pil.resize((gx, gy), Image.Resampling.BOX)
    return np.asarray(small.resize((w, h), Image.Resampling.BILINEAR), np.float32) / 255.0


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(((np.asarray(a, np.float64) - b) ** 2).mean())
    return 10.0 * math.log10(1.0 / max(mse, 1e-12))


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    import torch
    from pytorch_msssim import ssim as _ssim

    x = torch.as_tensor(np.asarray(a, np.float32)).permute(2, 0, 1)[None]
    y = torch.as_tensor(np.asarray(b, np.float32)).permute(2, 0, 1)[None]
    return float(_ssim(x, y, data_range=1.0))


__all__ = [
    "METHODS",
    "Painting",
    "PaintingConfig",
    "PicturePainter",
    "Stroke",
    "mosaic",
    "psnr",
    "replay",
    "ssim",
]
