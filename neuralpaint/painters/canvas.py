"""A differentiable canvas of any size, stitched from overlapping painter cells.

A neural painter only paints on its own small canvas (64 px). To paint larger images
(the paper's section 5.2) the big canvas is covered by a grid of painter-sized
*cells* that overlap, and every cell gets its own strokes. All strokes are then
composited onto **one** global canvas with the usual ``canvas * (1 - a) + a * c``, in
one fixed global order: stroke ``k`` of every cell before stroke ``k + 1`` of any cell.
Because it is one canvas and one order, an overlap region is not a blend of two
separately painted pictures; it is simply painted by the strokes of both cells, in
order, exactly as one painter would paint it. That is what makes overlaps consistent.

Seams. A cell's mask ends at the cell's edge, so a stroke running off its cell would
be cut along a straight line. Each mask is therefore multiplied by a *feather
window* that ramps from 0 at a cell edge to 1 at ``feather`` pixels inside it (edges on
the border of the whole canvas are not feathered: no neighbour covers them). With
``feather <= overlap / 2`` every pixel lies in the full-strength interior of some cell,
so the whole canvas stays paintable and no stroke ever ends in a hard cut.

Speed. Cells ``ceil(cell / stride)`` apart do not overlap, so all cells of one such
*group* paint their ``k``-th stroke in one full-canvas compositing step (the masks are
tiled into place). That is exactly sequential compositing, since non-overlapping
strokes commute, and it needs ``strokes_per_cell * groups`` steps instead of one per
stroke (16 steps for the default 256 px, 7x7-cell, 4-stroke canvas).

Parameterization. Strokes are unconstrained raw numbers passed through a sigmoid, so
every action the painter and MyPaint see is valid ([0, 1], finite) whatever the
optimiser does. In grayscale mode one gray level replaces the three colour fields.

Transfer to MyPaint. :meth:`StitchedCanvas.mypaint_actions` maps every cell stroke to
global canvas fractions so the real MyPaint program can repaint the same strokes at
full resolution (:meth:`StitchedCanvas.render_mypaint`). Brush radii are defined on a
64 px canvas and grow with the canvas (:func:`neuralpaint.actions.radius_px`), so to
keep a stroke's radius in pixels the size field is lowered by
``log(side / cell) / log(RADIUS_MAX_PX / RADIUS_MIN_PX)``. A canvas of side ``S`` cannot
paint thinner than ``S / 64`` px, so thinner strokes are **clipped** to that radius
(4 px on a 256 px canvas): MyPaint's re-rendering of a big canvas is thicker than the
neural one. :attr:`TransferReport.clipped` counts them. MyPaint also does not feather
or cut strokes at cell edges.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from neuralpaint import actions as A
from neuralpaint.painters.mypaint import DEFAULT_BRUSH, MyPaintCanvas


@dataclass(frozen=True)
class GridLayout:
    """Where the cells sit on a canvas of ``height`` x ``width`` pixels.

    The cells form a regular grid with ``stride = cell - overlap``; the grid covers a
    ``full_height`` x ``full_width`` area at least as large as the canvas, centred on
    it, and the output is cropped to the canvas (``crop_y``, ``crop_x`` pixels off the
    top and left).
    """

    height: int
    width: int
    cell: int
    overlap: int
    rows: int
    cols: int
    feather: int

    @property
    def stride(self) -> int:
        return self.cell - self.overlap

    @property
    def full_height(self) -> int:
        return self.cell + (self.rows - 1) * self.stride

    @property
    def full_width(self) -> int:
        return self.cell + (self.cols - 1) * self.stride

    @property
    def crop_y(self) -> int:
        return (self.full_height - self.height) // 2

    @property
    def crop_x(self) -> int:
        return (self.full_width - self.width) // 2

    @property
    def group_step(self) -> int:
        """Cells this many rows (or columns) apart never overlap."""
        return math.ceil(self.cell / self.stride)

    def origin(self, row: int, col: int) -> tuple[int, int]:
        """Top-left pixel of a cell on the full (uncropped) grid area."""
        return row * self.stride, col * self.stride


def make_layout(
    height: int, width: int, cell: int = 64, overlap: int = 32, feather: int | None = None
) -> GridLayout:
    """The smallest grid of ``cell``-px cells with the given overlap covering the canvas.

    Raises:
        ValueError: for a canvas smaller than one cell, or an overlap that leaves no
            stride or a feather too wide to keep every pixel at full strength.
    """
    if height < cell or width < cell:
        raise ValueError(
            f"canvas {width}x{height} is smaller than one painter cell ({cell} px); "
            f"use a size of at least {cell}"
        )
    if not 0 <= overlap < cell:
        raise ValueError(f"overlap must be in [0, {cell}) pixels, got {overlap}")
    stride = cell - overlap
    rows = 1 + math.ceil((height - cell) / stride)
    cols = 1 + math.ceil((width - cell) / stride)
    if feather is None:
        feather = min(overlap // 2, 8)
    if not 0 <= feather <= overlap // 2:
        raise ValueError(
            f"feather must be in [0, overlap/2 = {overlap // 2}] pixels so that every pixel "
            f"is at full strength in some cell, got {feather}"
        )
    return GridLayout(height, width, cell, overlap, rows, cols, feather)


def feather_windows(layout: GridLayout) -> torch.Tensor:
    """``(rows, cols, cell, cell)`` multipliers: 1 inside, ramping to 0 at inner edges.

    The ramp value at pixel ``i`` from an edge is ``min(1, (i + 0.5) / feather)``, so
    it never quite reaches 0 inside the cell and is 1 from ``feather`` pixels in.
    """
    cell, f = layout.cell, layout.feather
    if f == 0:
        return torch.ones(layout.rows, layout.cols, cell, cell)
    i = torch.arange(cell, dtype=torch.float32)
    rise = ((i + 0.5) / f).clamp(max=1.0)
    fall = rise.flip(0)

    def ramps(n: int) -> list[torch.Tensor]:
        out = []
        for k in range(n):
            ramp = torch.ones(cell)
            if k > 0:
                ramp = ramp * rise
            if k < n - 1:
                ramp = ramp * fall
            out.append(ramp)
        return out

    ry, rx = ramps(layout.rows), ramps(layout.cols)
    return torch.stack([torch.stack([y[:, None] * x[None, :] for x in rx]) for y in ry])


@dataclass(frozen=True)
class TransferReport:
    """What the MyPaint re-rendering had to change."""

    strokes: int
    """Strokes painted."""
    clipped: int
    """Strokes whose radius was below the global canvas's smallest and was raised."""


class StitchedCanvas(nn.Module):
    """Strokes on a grid of overlapping painter cells, composited on one big canvas.

    Args:
        painter: a neural painter mapping ``(N, 12)`` actions to ``(N, 1, c, c)`` masks;
            its ``size`` attribute (default 64) is the cell size ``c``.
        height, width: the canvas in pixels (any size of at least one cell).
        strokes_per_cell: strokes painted in every cell.
        overlap: pixels shared by neighbouring cells (the paper: 32 of 64).
        feather: pixels over which masks fade out towards inner cell edges; ``None``
            picks ``min(overlap // 2, 8)``.
        grayscale: paint with gray levels only (one colour parameter per stroke).
        batch: independent paintings optimised together.
        init_scale: standard deviation of the raw (pre-sigmoid) initial parameters.
        generator: seeds the initial strokes.

    The only trainable parameter is ``raw``, shape ``(batch, rows, cols, strokes, 12)``;
    the painter's own weights are frozen. Call the module to get ``(batch, 3, height,
    width)`` images in [0, 1].
    """

    def __init__(
        self,
        painter: nn.Module,
        height: int = 256,
        width: int | None = None,
        strokes_per_cell: int = 4,
        overlap: int = 32,
        feather: int | None = None,
        grayscale: bool = False,
        batch: int = 1,
        init_scale: float = 1.0,
        generator: torch.Generator | None = None,
    ):
        super().__init__()
        if strokes_per_cell < 1:
            raise ValueError(f"strokes_per_cell must be at least 1, got {strokes_per_cell}")
        self.painter = painter.eval()
        for p in self.painter.parameters():
            p.requires_grad_(False)
        cell = int(getattr(painter, "size", A.REFERENCE_CANVAS_PX))
        self.layout = make_layout(height, width or height, cell, overlap, feather)
        self.strokes_per_cell = strokes_per_cell
        self.grayscale = grayscale
        lay = self.layout
        shape = (batch, lay.rows, lay.cols, strokes_per_cell, A.ACTION_DIM)
        device = next(painter.parameters(), torch.empty(0)).device
        raw = torch.randn(shape, generator=generator) * init_scale
        self.raw = nn.Parameter(raw.to(device))
        self.register_buffer("window", feather_windows(lay).to(device), persistent=False)

    def actions(self) -> torch.Tensor:
        """Cell-local actions in [0, 1], ``(batch, rows, cols, strokes, 12)``."""
        act = torch.sigmoid(self.raw)
        if self.grayscale:
            gray = act[..., A.COLOR_SLICE.start : A.COLOR_SLICE.start + 1]
            act = torch.cat([act[..., : A.COLOR_SLICE.start], gray.expand(*gray.shape[:-1], 3)], -1)
        return act

    def forward(self, start: int = 0, base: torch.Tensor | None = None) -> torch.Tensor:
        """Paint stroke layers ``start`` onwards and return ``(batch, 3, height, width)``.

        Layer ``s`` is stroke ``s`` of every cell. ``base`` is what lies under them, a
        ``(batch or 1, 3, full_height, full_width)`` image in [0, 1] (white when
        ``None``): a closed loop passes MyPaint's painting of layers ``0..start-1``
        (:func:`neuralpaint.parameterization.closed_loop.optimise`), so that the
        painter only has to predict the strokes still to come.
        """
        lay = self.layout
        if not 0 <= start < self.strokes_per_cell:
            raise ValueError(f"start must be a stroke layer in [0, {self.strokes_per_cell})")
        act = self.actions()[:, :, :, start:]
        b, rows, cols, k, _ = act.shape
        masks = self.painter(act.reshape(-1, A.ACTION_DIM))
        masks = masks.reshape(b, rows, cols, k, lay.cell, lay.cell)
        masks = masks * self.window[None, :, :, None]
        colors = act[..., A.COLOR_SLICE]
        full = (3, lay.full_height, lay.full_width)
        if base is None:
            canvas = act.new_ones(b, *full)
        elif tuple(base.shape[1:]) != full:
            raise ValueError(
                f"base must be (batch, {full[0]}, {full[1]}, {full[2]}), got {tuple(base.shape)}"
            )
        else:
            canvas = base.to(act)
        step = lay.group_step
        for s in range(k):
            for gy in range(min(step, rows)):
                for gx in range(min(step, cols)):
                    m = masks[:, gy::step, gx::step, s]
                    c = colors[:, gy::step, gx::step, s]
                    alpha = self._place(m[:, None], gy, gx)
                    paint = self._place(m[:, None] * c[..., None, None].movedim(3, 1), gy, gx)
                    canvas = canvas * (1.0 - alpha) + paint
        y, x = lay.crop_y, lay.crop_x
        return canvas[:, :, y : y + lay.height, x : x + lay.width]

    def _place(self, tiles: torch.Tensor, gy: int, gx: int) -> torch.Tensor:
        """Tile one group's ``(B, C, ny, nx, cell, cell)`` patches onto a zero canvas.

        The group's cells are ``step * stride >= cell`` pixels apart, so each patch is
        zero-padded to that spacing, the patches are laid side by side, and the result
        is shifted to the group's first origin and padded (or cropped) to full size.
        """
        lay = self.layout
        b, c, ny, nx, cell, _ = tiles.shape
        spacing = lay.group_step * lay.stride
        tiles = F.pad(tiles, (0, spacing - cell, 0, spacing - cell))
        plane = tiles.permute(0, 1, 2, 4, 3, 5).reshape(b, c, ny * spacing, nx * spacing)
        oy, ox = lay.origin(gy, gx)
        return F.pad(
            plane,
            (ox, lay.full_width - ox - nx * spacing, oy, lay.full_height - oy - ny * spacing),
        )

    def mypaint_actions(self, index: int = 0) -> tuple[np.ndarray, int, int]:
        """Painting ``index``'s strokes in global fractions of a square MyPaint canvas.

        Returns ``(actions (N, 12), side, clipped)``: the strokes in painting order,
        for a MyPaint canvas of ``side`` pixels whose top-left part is the full grid
        area, and how many strokes had their size clipped (see the module docstring).
        """
        lay = self.layout
        act = self.actions()[index].detach().cpu().double().numpy()  # (rows, cols, k, 12)
        side = max(lay.full_height, lay.full_width)
        shift = math.log(side / lay.cell) / math.log(A.RADIUS_MAX_PX / A.RADIUS_MIN_PX)
        out, clipped = [], 0
        for s in range(self.strokes_per_cell):
            for gy in range(min(lay.group_step, lay.rows)):
                for gx in range(min(lay.group_step, lay.cols)):
                    for row in range(gy, lay.rows, lay.group_step):
                        for col in range(gx, lay.cols, lay.group_step):
                            a = act[row, col, s].copy()
                            oy, ox = lay.origin(row, col)
                            a[0:6:2] = (ox + a[0:6:2] * lay.cell) / side
                            a[1:6:2] = (oy + a[1:6:2] * lay.cell) / side
                            size = a[A.SIZE_INDEX] - shift
                            clipped += int(size < 0)
                            a[A.SIZE_INDEX] = max(size, 0.0)
                            out.append(a)
        return np.clip(np.array(out), 0.0, 1.0), side, clipped

    def layer_slice(self, start: int, stop: int) -> slice:
        """The rows of :meth:`mypaint_actions` that paint stroke layers ``start..stop-1``."""
        cells = self.layout.rows * self.layout.cols
        return slice(start * cells, stop * cells)

    def crop(self, image: np.ndarray) -> np.ndarray:
        """The canvas's part of a MyPaint image whose top-left is the full grid area."""
        lay = self.layout
        return image[lay.crop_y : lay.crop_y + lay.height, lay.crop_x : lay.crop_x + lay.width]

    def render_mypaint(
        self, index: int = 0, brush: str = DEFAULT_BRUSH, seed: int = 0
    ) -> tuple[np.ndarray, TransferReport]:
        """Repaint painting ``index`` with the real MyPaint program at full resolution.

        Returns the ``(height, width, 3)`` float32 image (cropped like the neural one)
        and a :class:`TransferReport`.
        """
        actions, side, clipped = self.mypaint_actions(index)
        canvas = MyPaintCanvas(side, brush=brush, seed=seed)
        canvas.paint_many(actions)
        return self.crop(canvas.image()), TransferReport(len(actions), clipped)
