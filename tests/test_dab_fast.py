"""The fast approximation of a random brush's expected stroke (``dabs-fast:<brush>``)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from neuralpaint import actions as A
from neuralpaint.errors import UserValueError
from neuralpaint.painters import dab_kernel, metrics
from neuralpaint.painters.dabs import (
    FAST_PAD,
    GAUSS_REACH,
    DabTwin,
    _blur_matrices,
    jitter_kernel,
    jitter_taps,
    render_dabs,
    render_dabs_fast,
)
from neuralpaint.painters.mypaint import MyPaintRenderer
from neuralpaint.painters.neural import (
    load_painter,
    painter_for_brush,
    read_painter_config,
    weights_digest,
)

RANDOM = ("classic/charcoal", "classic/ink_blot")


def strokes(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).random((n, A.ACTION_DIM))


def random_dabs(
    count: int, canvases: int, seed: int, radius: tuple[float, float], ratio: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """``count`` dabs ``(x, y, radius, opacity, hardness, ratio, angle)`` anywhere on a
    64 px canvas, with radii in ``radius``, aspect ratios up to ``1 + ratio`` and angles
    at random, and the canvas each lands on."""
    generator = torch.Generator().manual_seed(seed)

    def uniform(low: float, high: float) -> torch.Tensor:
        return low + torch.rand(count, generator=generator) * (high - low)

    dabs = torch.stack(
        [
            uniform(0, 64),
            uniform(0, 64),
            uniform(*radius),
            uniform(0.1, 0.9),
            uniform(0, 1),
            uniform(1, 1 + ratio),
            uniform(-180, 180),
        ],
        1,
    )
    return dabs, torch.randint(0, canvases, (count,), generator=generator)


@pytest.mark.parametrize("shift", [1, 3, FAST_PAD, 9, 40])
def test_the_blur_matrices_are_the_jitter_kernels_rows_for_the_canvas(shift):
    """The strided build must equal the gathered one, also when the jitter reaches
    further than the padding."""
    sigma = torch.tensor([0.2, 1.3, 11.0], dtype=torch.float64)
    side, size = 64 + 2 * FAST_PAD, 64
    built = _blur_matrices(jitter_taps(sigma, shift), side, size, FAST_PAD, shift)
    rows = jitter_kernel(sigma, side, shift)[:, FAST_PAD + shift : FAST_PAD + shift + size]
    assert built.shape == (3, size, side)
    torch.testing.assert_close(built, rows, rtol=0, atol=0)


def test_the_blur_is_differentiable_in_the_canvas_and_the_deviation():
    generator = torch.Generator().manual_seed(0)
    side, size, pad, shift = 14, 8, 3, 5
    log_clear = -torch.rand(2, side, side, generator=generator, dtype=torch.float64)
    sigma = torch.tensor([0.6, 1.2], dtype=torch.float64)

    def blur(canvas, deviation):
        matrix = _blur_matrices(jitter_taps(deviation, shift), side, size, pad, shift)
        return matrix @ canvas @ matrix.transpose(1, 2)

    assert torch.autograd.gradcheck(
        blur, (log_clear.requires_grad_(), sigma.requires_grad_()), eps=1e-6, atol=1e-5
    )


@pytest.mark.parametrize("brush", RANDOM)
def test_the_fast_mean_stays_close_to_the_exact_mean_and_to_mypaints(brush):
    """Against a MyPaint render, the fast mean keeps at least 0.97 of the exact mean's
    R² and ink IoU, and stays closer to it than a second render is."""
    actions = strokes(64, 11)
    a = torch.tensor(actions, dtype=torch.float32)
    renderer = MyPaintRenderer(64, brush)
    real = torch.tensor(renderer.render_masks(actions, seed=0))[:, None]
    other = torch.tensor(renderer.render_masks(actions, seed=1))[:, None]
    with torch.no_grad():
        exact = load_painter(f"dabs:{brush}")(a)
        fast = load_painter(f"dabs-fast:{brush}")(a)
    ours, reference = metrics.all_metrics(fast, real), metrics.all_metrics(exact, real)
    assert ours["r2"] > 0.97 * reference["r2"]
    assert ours["ink_iou"] > 0.97 * reference["ink_iou"]
    assert ours["r2"] > metrics.all_metrics(other, real)["r2"] + 0.01
    assert float((fast - exact).abs().mean()) < 0.02


def test_the_fast_mean_paints_each_stroke_as_it_would_alone():
    """Radius draws go in turn along each stroke, not along the batch."""
    twin = DabTwin("classic/ink_blot", expectation="fast")
    a = torch.tensor(strokes(4, 3), dtype=torch.float32)
    with torch.no_grad():
        together = twin(a)
        alone = torch.cat([twin(a[i : i + 1]) for i in range(len(a))])
    torch.testing.assert_close(together, alone, rtol=0, atol=1e-6)
    dabs, owner, noise = twin.dabs(a)
    with pytest.raises(ValueError, match="owner must be sorted"):
        render_dabs_fast(dabs, owner.flip(0), len(a), 64, noise)


@pytest.mark.parametrize("brush", RANDOM)
def test_the_fast_mean_is_the_same_through_the_kernels_and_through_torch(brush):
    twin = DabTwin(brush)
    actions = torch.tensor(strokes(6, 5) * 0.6 + 0.2, dtype=torch.float32)
    weight = torch.rand(6, 1, 64, 64, generator=torch.Generator().manual_seed(2))
    outs, grads = [], []
    for fused in (True, False):
        a = actions.clone().requires_grad_(True)
        dabs, owner, noise = twin.dabs(a)
        out = render_dabs_fast(dabs, owner, len(a), 64, noise, fused=fused)
        (out * weight).sum().backward()
        outs.append(out)
        grads.append(a.grad)
    torch.testing.assert_close(outs[0], outs[1], rtol=0, atol=1e-5)
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-3, atol=1e-3)


def test_plain_dabs_paint_the_same_through_the_kernels_and_through_torch():
    dabs, owner = random_dabs(40, 3, seed=4, radius=(0.5, 4.0), ratio=3.0)  # many below 3
    fused = render_dabs(dabs, owner, 3, 64, antialias=False)
    plain = render_dabs(dabs, owner, 3, 64, fused=False, antialias=False)
    subpixel = render_dabs(dabs, owner, 3, 64, fused=False)
    torch.testing.assert_close(fused, plain, rtol=0, atol=1e-5)
    assert float((plain - subpixel).abs().max()) > 1e-3  # the flag changes something


def test_fast_dab_twins_load_by_name_and_refuse_deterministic_brushes():
    twin = load_painter("dabs-fast:classic/charcoal", brush="classic/charcoal")
    assert twin.expectation == "fast" and twin.brush == "classic/charcoal"
    assert read_painter_config("dabs-fast:classic/ink_blot")["expectation"] == "fast"
    assert "expectation" not in read_painter_config("dabs:classic/ink_blot")
    assert (
        painter_for_brush("dabs-fast:classic/charcoal", "classic/ink_blot")
        == "dabs-fast:classic/ink_blot"
    )
    assert weights_digest("dabs-fast:classic/charcoal")
    # a brush that does not jitter has no fast mean: its exact twin is as fast
    assert painter_for_brush("dabs-fast:classic/ink_blot", "classic/pen") == "dabs:classic/pen"
    assert (
        painter_for_brush("discrete:dabs-fast:classic/ink_blot", "classic/pen")
        == "discrete:dabs:classic/pen"
    )
    with pytest.raises(UserValueError, match=r"classic/pen.*dabs:classic/pen.*random brushes"):
        load_painter("dabs-fast:classic/pen")
    with pytest.raises(UserValueError, match=r"expectation must be one of"):
        DabTwin("classic/charcoal", expectation="sampled")


def test_the_blur_kernel_blurs_and_differentiates_as_the_matrices_do():
    """The kernel works only around each canvas's inked box: an empty canvas, a box in a
    corner and a single inked pixel must come out as the dense product does, and so
    must the gradients (on the inked pixels, the only ones a dab can have painted)."""
    generator = torch.Generator().manual_seed(0)
    size, pad = 64, FAST_PAD
    side = size + 2 * pad
    sigma = torch.tensor([0.3, 1.0, 2.5, 6.0, 11.0, 0.8])
    reach = torch.ceil(GAUSS_REACH * sigma).long() + 1
    shift = int(reach.max())
    canvas = -torch.rand(len(sigma), side, side, generator=generator)
    canvas[1] = 0.0
    canvas[2, :30] = 0.0
    canvas[2, :, 50:] = 0.0
    canvas[3] = 0.0
    canvas[3, side - 2, 0] = -0.5
    canvas[5, 10:20, 3:9] = 0.0
    weight = torch.rand(len(sigma), size, size, generator=generator)
    results = []
    for fused in (True, False):
        logs = canvas.clone().requires_grad_(True)
        spread = sigma.clone().requires_grad_(True)
        taps = jitter_taps(spread, shift)
        if fused:
            out = dab_kernel.blur(logs, taps, reach, size, pad, shift)
        else:
            matrix = _blur_matrices(taps, side, size, pad, shift)
            out = matrix @ logs @ matrix.transpose(1, 2)
        (out * weight).sum().backward()
        results.append((out.detach(), logs.grad * (canvas != 0), spread.grad))
    (out, grad, grad_sigma), (dense, dense_grad, dense_sigma) = results
    torch.testing.assert_close(out, dense, rtol=0, atol=2e-5)
    torch.testing.assert_close(grad, dense_grad, rtol=0, atol=2e-5)
    scale = float(dense_sigma.abs().max())
    torch.testing.assert_close(grad_sigma, dense_sigma, rtol=0, atol=2e-3 * scale)
    assert float(out[1].abs().max()) == 0.0 and float(grad_sigma[1]) == 0.0


def test_the_blur_kernel_refuses_what_it_would_read_wrongly():
    canvas, taps = torch.zeros(2, 72, 72), torch.zeros(2, 9)
    reach = torch.tensor([1, 4])
    with pytest.raises(ValueError, match="reach must lie in 0..4"):
        dab_kernel.blur(canvas, taps, torch.tensor([1, 5]), 64, FAST_PAD, 4)
    with pytest.raises(ValueError, match="taps must be"):
        dab_kernel.blur(canvas, taps, reach, 64, FAST_PAD, 3)
    with pytest.raises(ValueError, match="cannot hold 64"):
        dab_kernel.blur(canvas, taps, reach, 64, 5, 4)
    with pytest.raises(ValueError, match="canvas must be"):
        dab_kernel.blur(canvas.double(), taps, reach, 64, FAST_PAD, 4)


def test_a_log_canvas_is_the_sum_of_the_dabs_logs_through_both_rasterisers():
    dabs, owner = random_dabs(30, 2, seed=5, radius=(1.0, 5.0), ratio=0.0)
    count = len(dabs)
    logs, grads = [], []
    for fused in (True, False):
        d = dabs.clone().requires_grad_(True)
        out = render_dabs(d, owner, 2, 64, fused=fused, antialias=False, log_clear=True)
        out.square().sum().backward()
        logs.append(out.detach())
        grads.append(d.grad)
    alpha = render_dabs(dabs, owner, 2, 64, antialias=False)
    torch.testing.assert_close(logs[0], torch.log1p(-alpha), rtol=0, atol=1e-5)
    torch.testing.assert_close(logs[0], logs[1], rtol=0, atol=1e-5)
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-3, atol=1e-3)
    # many opaque dabs on one pixel: the logs add up where a product of 1 - opacity
    # would underflow float32
    stacked = torch.tensor([[32.0, 32.0, 4.0, 1.0, 0.9, 1.0, 0.0]] * 21)
    logs = [
        render_dabs(
            stacked,
            torch.zeros(21, dtype=torch.long),
            1,
            64,
            fused=fused,
            antialias=False,
            log_clear=True,
        )
        for fused in (True, False)
    ]
    torch.testing.assert_close(logs[0], logs[1], rtol=1e-5, atol=1e-12)
    assert float(logs[0].min()) < -100  # the product would stop at log(1e-38), about -87
    with pytest.raises(ValueError, match="noise=None"):
        render_dabs(dabs, owner, 2, 64, noise=torch.zeros(count, 5), log_clear=True)
