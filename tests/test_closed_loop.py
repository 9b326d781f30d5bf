"""The parameterization tools' closed loop: stroke layers painted on MyPaint in chunks,
the rest re-planned on the real canvas."""

import numpy as np
import pytest
import torch

from neuralpaint.painters.broadcast import BroadcastPainter
from neuralpaint.painters.canvas import StitchedCanvas
from neuralpaint.parameterization import closed_loop


def test_painting_later_layers_over_a_base_equals_painting_them_all():
    # 48 px with 16 px cells and overlap 8 covers the canvas exactly: nothing is cropped,
    # so the first layers' painting is itself the full-area base.
    torch.manual_seed(0)
    painter = BroadcastPainter(16)
    whole = StitchedCanvas(painter, 48, strokes_per_cell=5, overlap=8, init_scale=2.0)
    first = StitchedCanvas(painter, 48, strokes_per_cell=2, overlap=8)
    with torch.no_grad():
        first.raw.copy_(whole.raw[:, :, :, :2])
        torch.testing.assert_close(whole(2, first()), whole(), atol=1e-5, rtol=0)
        assert not torch.allclose(whole(2), whole(), atol=1e-3)  # the base matters
    with pytest.raises(ValueError, match="start must be a stroke layer"):
        whole(5)
    with pytest.raises(ValueError, match="base must be"):
        whole(1, torch.ones(1, 3, 40, 48))


def test_chunks_and_steps_split_the_work_and_bad_chunks_name_the_limit():
    assert closed_loop.chunk_bounds(30, 4) == [0, 8, 15, 22, 30]
    assert closed_loop.chunk_bounds(4, 1) == [0, 4]
    for steps, chunks in [(200, 4), (7, 3), (1, 1)]:
        schedule = closed_loop.step_schedule(steps, chunks)
        assert len(schedule) == chunks and sum(schedule) == steps and min(schedule) >= 0
    assert closed_loop.step_schedule(200, 4)[0] == 100
    assert closed_loop.default_chunks(None, 30) == 4 and closed_loop.default_chunks(None, 3) == 3
    with pytest.raises(ValueError, match=r"chunks must be in \[1, 3\]"):
        closed_loop.chunk_bounds(3, 4)


def dark_target_loss(image: torch.Tensor) -> torch.Tensor:
    """Pull the left half of the canvas to black, keep the right half white."""
    target = torch.ones_like(image)
    target[..., : image.shape[-1] // 2] = 0.0
    return ((image - target) ** 2).mean()


@pytest.mark.parametrize("chunks", [1, 3])
def test_the_loop_paints_on_mypaint_exactly_the_final_strokes(chunks):
    """Strokes are frozen once MyPaint has painted them: repainting the final plan in one
    go gives the loop's painting bit for bit, and every stroke was optimised."""
    torch.manual_seed(0)
    canvas = StitchedCanvas(BroadcastPainter(16), 48, strokes_per_cell=3, overlap=8)
    before = canvas.actions().detach().clone()
    result = closed_loop.optimise(
        canvas, dark_target_loss, steps=12, lr=0.1, chunks=chunks, seed=3, progress=False
    )
    again, report = canvas.render_mypaint(0, seed=3)
    np.testing.assert_array_equal(result.mypaint, again)
    assert report == result.report and result.report.strokes == 3 * 25  # 5 x 5 cells
    assert len(result.losses) == 12
    moved = (canvas.actions().detach() - before).abs().amax(dim=(0, 1, 2, 4))
    assert torch.all(moved > 1e-3)  # every layer, even the first, was optimised
    assert result.neural.shape == (1, 3, 48, 48)


def test_after_the_first_chunk_the_optimiser_sees_mypaint_under_the_strokes():
    torch.manual_seed(1)
    canvas = StitchedCanvas(BroadcastPainter(16), 48, strokes_per_cell=2, overlap=8)
    seen = []

    def loss(image: torch.Tensor) -> torch.Tensor:
        seen.append(image.detach().clone())
        return dark_target_loss(image)

    # lr 0: the strokes stay put, so each view can be recomputed here
    closed_loop.optimise(canvas, loss, steps=4, lr=0.0, chunks=2, seed=0, progress=False)
    first = StitchedCanvas(BroadcastPainter(16), 48, strokes_per_cell=1, overlap=8)
    with torch.no_grad():
        first.raw.copy_(canvas.raw[:, :, :, :1])
        under = torch.as_tensor(first.render_mypaint(0, seed=0)[0]).permute(2, 0, 1)[None]
        torch.testing.assert_close(seen[0], canvas())  # first chunk: all neural
        torch.testing.assert_close(seen[-1], canvas(1, under))  # then MyPaint underneath
    assert not torch.allclose(seen[0], seen[-1], atol=1e-2)


def test_one_painting_at_a_time():
    canvas = StitchedCanvas(BroadcastPainter(16), 16, strokes_per_cell=2, overlap=8, batch=2)
    with pytest.raises(ValueError, match="one painting"):
        closed_loop.optimise(canvas, dark_target_loss, steps=1, lr=0.1, progress=False)
