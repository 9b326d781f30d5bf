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
    _kernel_dabs,
    jitter_kernel,
    jitter_taps,
    next_dabs,
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


def fast_inputs(dabs: torch.Tensor, canvas: torch.Tensor, sigma: torch.Tensor):
    """What :func:`dab_kernel.fast_logs` takes for dabs on canvases of side 64 + 2 pad,
    canvas ``n`` added to stroke ``n // 2``: the dabs in canvas order, their first
    indices, the strokes and the reach of each canvas's blur (0 for ``sigma`` 0)."""
    coef, angles, window = _kernel_dabs(dabs, canvas, antialias=False)
    order = torch.argsort(canvas, stable=True)
    counts = torch.bincount(canvas, minlength=len(sigma))
    first = torch.cat([torch.zeros(1, dtype=torch.long), torch.cumsum(counts, 0)])
    reach = torch.where(sigma > 0, torch.ceil(GAUSS_REACH * sigma).long() + 1, 0)
    dabs_in_order = (coef[order], angles[order], window[order])
    return dabs_in_order, first, torch.arange(len(sigma)) // 2, reach


def test_the_fast_kernel_paints_and_differentiates_as_torch_does():
    """Canvas by canvas, the kernel rasterises, blurs and sums as the torch rasteriser
    and the dense blur matrices do: an empty canvas, dabs cut by the canvas's edges, a
    lone small dab, and a canvas left unblurred (a one-tap crop)."""
    size, pad = 64, FAST_PAD
    side = size + 2 * pad
    dabs, canvas = random_dabs(60, 5, seed=3, radius=(0.5, 6.0), ratio=2.0)
    dabs[:, :2] += pad
    dabs[canvas == 2, :2] = torch.tensor([-2.0, side - 1.0])  # a corner of canvas 2
    dabs = torch.cat([dabs, torch.tensor([[30.5, 40.5, 0.7, 0.5, 0.6, 1.0, 0.0]])])
    canvas = torch.cat([canvas, torch.tensor([6])])  # canvas 6: one small dab
    sigma = torch.tensor([0.3, 1.0, 2.5, 0.0, 6.0, 0.8, 1.5, 0.0])  # canvas 7 is empty
    weight = torch.rand(4, size, size, generator=torch.Generator().manual_seed(1))
    results = []
    for fused in (True, False):
        d, spread = dabs.clone().requires_grad_(True), sigma.clone().requires_grad_(True)
        (coef, angles, window), first, target, reach = fast_inputs(d, canvas, sigma)
        shift = int(reach.max())
        crop = torch.zeros(2 * shift + 1)
        crop[shift] = 1.0
        taps = torch.where((sigma > 0)[:, None], jitter_taps(spread, shift), crop)
        if fused:
            out = dab_kernel.fast_logs(
                coef, angles, window, first, target, taps, reach, 4, size, pad
            )
        else:
            logs = render_dabs(
                d, canvas, len(sigma), side, fused=False, antialias=False, log_clear=True
            )
            matrix = _blur_matrices(taps, side, size, pad, shift)
            blurred = matrix @ logs[:, 0] @ matrix.transpose(1, 2)
            out = blurred.new_zeros(4, size, size).index_add(0, target, blurred)
        (out * weight).sum().backward()
        results.append((out.detach(), d.grad, spread.grad))
    (out, grad, grad_sigma), (dense, dense_grad, dense_sigma) = results
    torch.testing.assert_close(out, dense, rtol=0, atol=2e-5)
    torch.testing.assert_close(grad, dense_grad, rtol=1e-3, atol=1e-3)
    torch.testing.assert_close(
        grad_sigma, dense_sigma, rtol=0, atol=2e-3 * float(dense_sigma.abs().max())
    )
    assert float(out[3].abs().max()) > 0.0 and float(grad[-1].abs().max()) > 0.0
    assert float(grad_sigma[7]) == 0.0 and float(grad_sigma[3]) == 0.0
    # with no gradient wanted the kernel keeps nothing, and paints the same
    with torch.no_grad():
        (coef, angles, window), first, target, reach = fast_inputs(dabs, canvas, sigma)
        taps = torch.where((sigma > 0)[:, None], jitter_taps(sigma, int(reach.max())), 0.0)
        taps[sigma == 0, int(reach.max())] = 1.0
        again = dab_kernel.fast_logs(coef, angles, window, first, target, taps, reach, 4, size, pad)
    torch.testing.assert_close(again, out, rtol=0, atol=0)


def test_the_fast_kernel_adds_logs_where_a_product_would_underflow():
    """21 opaque dabs on one pixel: log(1 - alpha) goes below -87, where a float32
    product of 1 - opacity would stop at the smallest normal number."""
    stacked = torch.tensor([[36.0, 36.0, 4.0, 1.0, 0.9, 1.0, 0.0]] * 21)
    canvas, sigma = torch.zeros(21, dtype=torch.long), torch.zeros(1)
    (coef, angles, window), first, target, reach = fast_inputs(stacked, canvas, sigma)
    out = dab_kernel.fast_logs(
        coef, angles, window, first, target, torch.ones(1, 1), reach, 1, 64, FAST_PAD
    )
    logs = render_dabs(
        stacked, canvas, 1, 64 + 2 * FAST_PAD, fused=False, antialias=False, log_clear=True
    )
    torch.testing.assert_close(
        out, logs[:, 0, FAST_PAD:-FAST_PAD, FAST_PAD:-FAST_PAD], rtol=1e-5, atol=1e-12
    )
    assert float(out.min()) < -100
    with pytest.raises(ValueError, match="noise=None"):
        render_dabs(stacked, canvas, 1, 64, noise=torch.zeros(21, 5), log_clear=True)


def test_the_fast_kernel_refuses_what_it_would_read_wrongly():
    dabs, canvas = random_dabs(10, 2, seed=0, radius=(1.0, 3.0), ratio=0.0)
    (coef, angles, window), first, target, reach = fast_inputs(
        dabs, canvas, torch.tensor([1.0, 2.0])
    )
    shift = int(reach.max())
    taps = torch.zeros(2, 2 * shift + 1)

    def call(**change):
        given = dict(coef=coef, angle=angles, window=window, first=first, target=target)
        given.update(taps=taps, reach=reach, batch=1, size=64, pad=FAST_PAD)
        return dab_kernel.fast_logs(**{**given, **change})

    call()  # as built, it paints
    with pytest.raises(ValueError, match=f"reach must lie in 0..{shift}"):
        call(reach=torch.tensor([1, shift + 1]))
    with pytest.raises(ValueError, match="taps must be"):
        call(taps=torch.zeros(3, 2 * shift + 1))
    with pytest.raises(ValueError, match="first must rise from 0 to the 10 dabs"):
        call(first=torch.tensor([0, 6, 4]))
    with pytest.raises(ValueError, match="target names strokes outside 0..0"):
        call(target=torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="coef must be"):
        call(coef=coef.double())


@pytest.mark.parametrize("brush", RANDOM)
def test_the_count_gradients_next_dab_carries_the_exact_means_ink(brush):
    """The fast mean gives a stroke's dabs their radius nodes in turn; the next dab of
    the count gradient must take them all, or a brush with radius noise (ink_blot)
    gets a lone dab at its smaller radius, 0.59 of the exact mean's ink."""
    twin = DabTwin(brush, expectation="fast")
    actions = torch.tensor(strokes(32, 8) * 0.6 + 0.2, dtype=torch.float32)
    with torch.no_grad():
        dabs, owner, noise = twin.dabs(actions)
        ahead = next_dabs(dabs, owner, noise, len(actions))
        exact = render_dabs(ahead[0], ahead[1], len(actions), 64, ahead[2]).sum()
        fast = twin._render_ahead(*ahead, len(actions)).sum()
    assert abs(float(fast / exact) - 1.0) < 0.15, float(fast / exact)


def test_kernel_calls_split_into_ranges_that_never_share_a_canvas():
    """One range per torch thread, of about equal dabs, cut only where the canvas
    changes; one range on one thread, for little work, or for canvases out of order."""
    weight = torch.tensor([300, 10, 10, 300, 10, 10, 300, 300])
    keys = torch.tensor([0, 0, 1, 1, 1, 2, 3, 3])
    torch.set_num_threads(2)
    assert dab_kernel._parts(weight) == [(0, 4), (4, 8)]
    assert dab_kernel._parts(weight, keys) == [(0, 5), (5, 8)]  # 3 and 4 share canvas 1
    assert dab_kernel._parts(weight, keys.flip(0)) == [(0, 8)]
    assert dab_kernel._parts(weight // 10) == [(0, 8)]  # 123 dabs: not worth a thread
    torch.set_num_threads(3)
    parts = dab_kernel._parts(torch.ones(3000))
    assert parts == [(0, 1000), (1000, 2000), (2000, 3000)]
    torch.set_num_threads(1)
    assert dab_kernel._parts(weight) == [(0, 8)]


@pytest.mark.parametrize(
    "name", ["dabs:classic/pen", "dabs-fast:classic/charcoal", "dabs:classic/ink_blot"]
)
def test_dab_twins_paint_the_same_bits_on_two_threads(name, monkeypatch):
    """The plain rasteriser, the fast kernel and the expected opacity (ink_blot's exact
    mean) split over two threads give the canvases and the action gradients of one
    call, to the bit."""
    painter = load_painter(name).requires_grad_(False)
    actions = torch.rand(64, A.ACTION_DIM, generator=torch.Generator().manual_seed(5))
    weight = torch.rand(64, 1, 64, 64, generator=torch.Generator().manual_seed(6))
    torch.set_num_threads(2)
    results, calls = [], []
    real_run = dab_kernel._run

    def counted(parts, call):
        calls.append(len(parts))
        return real_run(parts, call)

    monkeypatch.setattr(dab_kernel, "_run", counted)
    for split in (True, False):
        if not split:
            monkeypatch.setattr(dab_kernel, "_parts", lambda w, keys=None, **_: [(0, len(w))])
        a = actions.clone().requires_grad_(True)
        masks = painter(a)
        (masks * weight).sum().backward()
        results.append((masks.detach(), a.grad))
    assert max(calls) == 2  # the first pass did split
    assert torch.equal(results[0][0], results[1][0]) and torch.equal(results[0][1], results[1][1])


def _split_in_child(queue):
    queue.put(sorted(_ranges_on_two_threads()))  # torch's thread count as the parent's


def _ranges_on_two_threads() -> list[tuple[int, int]]:
    """Two ranges through the kernels' thread pool; each reports its own range."""
    seen = []
    dab_kernel._run([(0, 5), (5, 9)], lambda start, stop: seen.append((start, stop)))
    return seen


def test_a_forked_process_runs_kernels_on_threads_of_its_own():
    """A pool's threads do not survive a fork (SB3's and Ray's worker processes may be
    forked): in a child of a process that used the pool, split calls still run, on a
    pool of the child's own. (The child runs no torch parallel region: libgomp's own
    threads are not fork-safe either.)"""
    import multiprocessing
    import threading

    torch.set_num_threads(2)  # a pool of two threads
    both = threading.Barrier(2, timeout=30)  # the parent's pool starts both its threads
    dab_kernel._run([(0, 5), (5, 9)], lambda start, stop: both.wait())
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_split_in_child, args=(queue,))
    child.start()
    try:
        ranges = queue.get(timeout=30)  # with the parent's pool the child would hang here
    finally:
        child.join(timeout=30)
        if child.is_alive():
            child.kill()
    assert ranges == [(0, 5), (5, 9)] and child.exitcode == 0
