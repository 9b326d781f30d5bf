"""The stitched canvas: exact compositing order, no seams, transfer to MyPaint."""

import numpy as np
import pytest
import torch

from neuralpaint import actions as A
from neuralpaint.painters.broadcast import BroadcastPainter
from neuralpaint.painters.canvas import StitchedCanvas, make_layout
from neuralpaint.painters.mypaint import MyPaintCanvas


def sequential_reference(canvas: StitchedCanvas) -> torch.Tensor:
    """Composite every stroke one by one onto its cell's window of one big canvas,
    in the documented order (stroke k of all cells, group by group)."""
    lay = canvas.layout
    act = canvas.actions()
    cell = lay.cell
    masks = canvas.painter(act.reshape(-1, A.ACTION_DIM))
    masks = masks.reshape(*act.shape[:4], cell, cell) * canvas.window[None, :, :, None]
    out = torch.ones(act.shape[0], 3, lay.full_height, lay.full_width)
    step = lay.group_step
    for s in range(canvas.strokes_per_cell):
        for gy in range(min(step, lay.rows)):
            for gx in range(min(step, lay.cols)):
                for row in range(gy, lay.rows, step):
                    for col in range(gx, lay.cols, step):
                        oy, ox = lay.origin(row, col)
                        m = masks[:, row, col, s][:, None]
                        color = act[:, row, col, s, A.COLOR_SLICE][:, :, None, None]
                        window = out[:, :, oy : oy + cell, ox : ox + cell]
                        out[:, :, oy : oy + cell, ox : ox + cell] = window * (1 - m) + m * color
    y, x = lay.crop_y, lay.crop_x
    return out[:, :, y : y + lay.height, x : x + lay.width]


@pytest.mark.parametrize(
    ("height", "width", "overlap"), [(16, 16, 8), (40, 28, 8), (40, 40, 4), (30, 50, 12)]
)
def test_stitched_canvas_equals_stroke_by_stroke_compositing(height, width, overlap):
    torch.manual_seed(0)
    painter = BroadcastPainter(16)
    canvas = StitchedCanvas(
        painter, height, width, strokes_per_cell=3, overlap=overlap, batch=2, init_scale=2.0
    )
    with torch.no_grad():
        fast = canvas()
        slow = sequential_reference(canvas)
    assert fast.shape == (2, 3, height, width)
    torch.testing.assert_close(fast, slow, atol=1e-5, rtol=0)


def seam_ratio(canvas: StitchedCanvas) -> float:
    """Mean absolute step between neighbouring pixels across inner cell edges, relative to
    the median step anywhere (a seam shows up as a large ratio)."""
    with torch.no_grad():
        img = canvas()[0]
    lay = canvas.layout
    steps = []
    for axis, n, size, crop in (
        (2, lay.cols, lay.width, lay.crop_x),
        (1, lay.rows, lay.height, lay.crop_y),
    ):
        diff = img.diff(dim=axis).abs().mean(dim=(0, 3 - axis))
        edges = {
            e - 1
            for k in range(n)
            for e in (k * lay.stride - crop, k * lay.stride + lay.cell - crop)
            if 0 < e < size
        }
        steps.append(float(diff[sorted(edges)].max() / diff.median()))
    return max(steps)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_feathered_cells_leave_no_seams_and_hard_cells_do(seed):
    # An untrained painter inks every cell a little everywhere, so a cell's edge would
    # show as a line; feathering must hide it. The hard-edged control proves the test
    # can fail.
    torch.manual_seed(seed)
    painter = BroadcastPainter(16)

    def canvas(feather: int) -> StitchedCanvas:
        gen = torch.Generator().manual_seed(seed)
        return StitchedCanvas(
            painter, 48, strokes_per_cell=3, overlap=8, feather=feather, generator=gen, init_scale=2
        )

    assert seam_ratio(canvas(4)) < 3.0
    assert seam_ratio(canvas(0)) > 8.0


def test_every_pixel_is_at_full_strength_in_some_cell():
    lay = make_layout(100, 100, cell=16, overlap=8, feather=4)
    canvas = StitchedCanvas(BroadcastPainter(16), 100, overlap=8, feather=4)
    best = torch.zeros(lay.full_height, lay.full_width)
    for row in range(lay.rows):
        for col in range(lay.cols):
            oy, ox = lay.origin(row, col)
            region = best[oy : oy + 16, ox : ox + 16]
            torch.maximum(region, canvas.window[row, col], out=region)
    assert torch.all(best == 1.0)


def test_layout_rejects_impossible_grids():
    with pytest.raises(ValueError, match="smaller than one painter cell"):
        make_layout(32, 32, cell=64)
    with pytest.raises(ValueError, match="overlap"):
        make_layout(128, 128, cell=64, overlap=64)
    with pytest.raises(ValueError, match="feather"):
        make_layout(128, 128, cell=64, overlap=32, feather=20)


def set_actions(canvas: StitchedCanvas, actions: np.ndarray) -> None:
    """Put exact actions into the canvas (through the inverse of its sigmoid)."""
    raw = torch.logit(torch.as_tensor(actions, dtype=torch.float32).clamp(1e-5, 1 - 1e-5))
    with torch.no_grad():
        canvas.raw.copy_(raw.reshape(canvas.raw.shape))


def ink_box(image: np.ndarray) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(image.mean(axis=2) < 0.6)
    return ys.min(), ys.max(), xs.min(), xs.max()


def test_mypaint_repaints_a_cell_stroke_at_its_global_place_and_pixel_radius():
    # 3x3 cells of 64 px on 128 px; white (invisible) strokes everywhere except one black
    # horizontal stroke in the centre cell, whose origin is (32, 32).
    canvas = StitchedCanvas(BroadcastPainter(64), 128, strokes_per_cell=1, overlap=32)
    acts = np.ones((3, 3, 1, A.ACTION_DIM))
    acts[..., A.SIZE_INDEX] = 0.0
    stroke = np.array([0.2, 0.5, 0.5, 0.5, 0.8, 0.5, 0.8, 0.8, 0.7, 0.0, 0.0, 0.0])
    acts[1, 1, 0] = stroke
    set_actions(canvas, acts)
    image, report = canvas.render_mypaint(seed=0)
    assert image.shape == (128, 128, 3)
    assert report.strokes == 9 and report.clipped == 8  # the size-0 white strokes
    # The same stroke painted alone on a 64 px MyPaint canvas, shifted by the cell's
    # origin (32, 32), inks the same box: same place, same pixel radius. (Dry-brush dabs
    # scatter well beyond the nominal radius, so the box is compared, not the radius.)
    alone = MyPaintCanvas(64, seed=0)
    alone.paint(stroke)
    expected = np.array(ink_box(alone.image())) + 32
    assert np.all(np.abs(np.array(ink_box(image)) - expected) <= 4)
    # A stroke twice as thick would miss that box: the check can fail.
    thick = MyPaintCanvas(128, seed=0)
    thick.paint(np.r_[stroke[:6] * 0.5 + 0.25, stroke[6:]])
    assert np.any(np.abs(np.array(ink_box(thick.image())) - expected) > 4)


def test_strokes_too_thin_for_a_big_mypaint_canvas_are_counted_as_clipped():
    canvas = StitchedCanvas(BroadcastPainter(64), 256, strokes_per_cell=1, overlap=32)
    acts = np.full((7, 7, 1, A.ACTION_DIM), 0.5)
    acts[..., A.SIZE_INDEX] = 0.9  # 6.5 px, paintable at 256 px (minimum 4 px)
    acts[0, 0, 0, A.SIZE_INDEX] = 0.1  # 1.2 px: below MyPaint's 4 px minimum there
    set_actions(canvas, acts)
    actions, side, clipped = canvas.mypaint_actions()
    assert side == 256 and clipped == 1
    assert np.all((actions >= 0) & (actions <= 1))
    radii = A.radius_px(actions[:, A.SIZE_INDEX], side)
    np.testing.assert_allclose(np.sort(radii)[1:], A.radius_px(0.9, 64), rtol=1e-4)
