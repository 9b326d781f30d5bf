"""The dab twin against libmypaint itself: its dabs, its pixels and its gradients."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from cffi import FFI

from neuralpaint import actions as A
from neuralpaint.painters import checkpoint as ckpt
from neuralpaint.painters import compiled, dab_kernel, metrics
from neuralpaint.painters import libmypaint as L
from neuralpaint.painters.dabs import (
    GAUSS_REACH,
    DabTwin,
    StraightThrough,
    UnsupportedBrushError,
    dab_brushes,
    dab_coefficients,
    expected_opacity,
    gauss_nodes,
    jitter_kernel,
    next_dabs,
    noisy_nodes,
    render_dabs,
)
from neuralpaint.painters.mypaint import MyPaintRenderer, _Brush, resolve_brush, stroke_paths
from neuralpaint.painters.neural import load_painter, painter_for_brush, weights_digest

NIBS = ("classic/pen", "classic/calligraphy", "classic/marker_fat")
RANDOM = ("classic/charcoal", "classic/ink_blot")
"""Brushes that jitter their dabs' position (both) and radius (ink_blot)."""


class DabRecorder:
    """A libmypaint surface whose ``draw_dab`` records each dab instead of painting it."""

    CDEF = """
    typedef struct MyPaintSurface MyPaintSurface;
    typedef struct { int x; int y; int width; int height; } MyPaintRectangle;
    typedef int (*DrawDab)(MyPaintSurface *s, float x, float y, float radius, float r,
        float g, float b, float opaque, float hardness, float alpha_eraser,
        float aspect_ratio, float angle, float lock_alpha, float colorize);
    typedef void (*GetColor)(MyPaintSurface *s, float x, float y, float radius,
        float *r, float *g, float *b, float *a);
    typedef void (*Begin)(MyPaintSurface *s);
    typedef void (*End)(MyPaintSurface *s, MyPaintRectangle *roi);
    typedef void (*Other)(MyPaintSurface *s);
    struct MyPaintSurface { DrawDab draw_dab; GetColor get_color; Begin begin_atomic;
        End end_atomic; Other destroy; void *save_png; int refcount; };
    """

    def __init__(self) -> None:
        self.ffi = FFI()
        self.ffi.cdef(self.CDEF)
        self.dabs: list[tuple[float, ...]] = []

        def draw(s, x, y, radius, r, g, b, opaque, hardness, eraser, ratio, angle, lock, col):
            self.dabs.append((x, y, radius, opaque, hardness, ratio, angle))
            return 1

        self._callbacks = [
            self.ffi.callback("DrawDab", draw),
            self.ffi.callback("Begin", lambda s: None),
            self.ffi.callback("End", lambda s, roi: None),
        ]
        self.struct = self.ffi.new("struct MyPaintSurface *")
        self.struct.draw_dab, self.struct.begin_atomic, self.struct.end_atomic = self._callbacks
        self.struct.refcount = 1
        lffi, _ = L.load()
        self.surface = lffi.cast("MyPaintSurface *", self.ffi.cast("uintptr_t", self.struct))

    def record(self, actions: np.ndarray, brush: str) -> list[np.ndarray]:
        """Each stroke's drawn dabs, painted as ``render_masks(actions, seed=0)`` paints
        them."""
        path = resolve_brush(brush)
        painter = _Brush(path.read_bytes(), path, (0, 0))
        painter.set_color((0.0, 0.0, 0.0))
        out = []
        for xs, ys, ps, radius in stroke_paths(actions, 64):
            self.dabs.clear()
            painter.set_radius(radius)
            painter.paint(self, xs, ys, ps, A.STROKE_DTIME)
            dabs = np.array(self.dabs, np.float64).reshape(-1, 7)
            drawn = (dabs[:, 4] > 0) & (dabs[:, 2] >= 0.1) & (dabs[:, 3] > 0)
            out.append(dabs[drawn])  # what the tiled surface draws (draw_dab_internal)
        return out


def strokes(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).random((n, A.ACTION_DIM))


@pytest.mark.parametrize("brush", ["classic/pen", "classic/calligraphy", "classic/marker_fat"])
def test_render_dabs_paints_libmypaints_own_dabs_as_libmypaint_does(brush):
    """Given the very dabs libmypaint draws, the twin's pixels are libmypaint's: the
    dab shapes (hard, anti-aliased, elliptical) and the blending are exact. Half the
    strokes are thin, so their dabs take the anti-aliased path (radius below 3)."""
    actions = strokes(12, 1)
    actions[:6, A.SIZE_INDEX] = 0.05
    recorded = DabRecorder().record(actions, brush)
    dabs = torch.tensor(np.concatenate(recorded))
    owner = torch.repeat_interleave(
        torch.arange(len(recorded)), torch.tensor([len(d) for d in recorded])
    )
    real = torch.tensor(MyPaintRenderer(64, brush).render_masks(actions, seed=0))
    for fused in (False, True):  # float32: the compiled rasteriser, when asked for
        ours = render_dabs(dabs.float(), owner, len(recorded), 64, fused=fused)[:, 0]
        assert float((ours - real).abs().max()) < 0.002
        assert metrics.all_metrics(ours[:, None], real[:, None])["r2"] > 0.99999


@pytest.mark.parametrize("brush", NIBS)
def test_the_twin_places_libmypaints_dabs(brush):
    """The twin's dynamics (slow tracking, speed filters, dab spacing, input curves,
    anti-aliasing) put as many dabs as libmypaint, where libmypaint puts them."""
    actions = strokes(6, 2)
    recorded = DabRecorder().record(actions, brush)
    twin = DabTwin(brush).double()
    dabs, owner, noise = twin.dabs(torch.tensor(actions))
    assert noise is None  # a nib has no randomness
    for i, real in enumerate(recorded):
        ours = dabs[owner == i].numpy()
        assert abs(len(ours) - len(real)) <= 1
        # the first dab's phase depends on the previous stroke (the twin takes half a
        # dab), so each real dab lies up to half a spacing from the twin's nearest
        gap = np.hypot(*(real[:, None, :2] - ours[None, :, :2]).transpose(2, 0, 1))
        nearest = gap.argmin(1)
        spacing = np.median(np.hypot(*np.diff(real[:, :2], axis=0).T))
        assert np.median(gap.min(1)) < 0.5 * spacing + 0.1
        assert np.median(np.abs(ours[nearest, 2] / real[:, 2] - 1)) < 0.02  # radius


@pytest.mark.parametrize("brush", [*NIBS, "deevad/liner", "ramon/BigAirbrush"])
def test_the_twin_is_as_close_to_mypaint_as_mypaint_is_to_itself(brush):
    actions = strokes(48, 3)
    renderer = MyPaintRenderer(64, brush)
    real = torch.tensor(renderer.render_masks(actions, seed=0))[:, None]
    again = torch.tensor(renderer.render_masks(actions, seed=1))[:, None]
    with torch.no_grad():
        ours = load_painter(f"dabs:{brush}")(torch.tensor(actions, dtype=torch.float32))
    twin, itself = metrics.all_metrics(ours, real), metrics.all_metrics(again, real)
    assert twin["r2"] > 0.97  # (a soft brush's ink IoU is low for MyPaint itself)
    assert twin["r2"] > itself["r2"] - 0.01 and twin["ink_iou"] > itself["ink_iou"] - 0.01


def test_gradients_match_finite_differences():
    """Moving a whole stroke changes no dab count, so along that direction the loss is
    smooth but for the kinks of the dab profile (hence a small step): autograd's
    derivative must match a central difference."""
    twin = DabTwin("classic/pen").double()
    actions = torch.tensor(strokes(4, 4) * 0.6 + 0.2)
    target = torch.rand(
        4, 1, 64, 64, generator=torch.Generator().manual_seed(0), dtype=torch.float64
    )
    direction = torch.zeros_like(actions)
    direction[:, [0, 2, 4]] = 1.0 / 64  # one pixel to the right

    def loss(a):
        return (twin(a) * target).sum()

    a = actions.clone().requires_grad_(True)
    loss(a).backward()
    analytic = float((a.grad * direction).sum())
    eps = 1e-5
    numeric = float((loss(actions + eps * direction) - loss(actions - eps * direction)) / (2 * eps))
    assert abs(analytic - numeric) < 0.02 * abs(numeric)
    assert a.grad[:, [A.SIZE_INDEX, 6, 7]].abs().sum() > 0  # size and pressure matter too


@pytest.mark.parametrize(
    "name", ["dabs:classic/pen", "dabs:classic/calligraphy", "dabs-fast:classic/charcoal"]
)
def test_a_strokes_gradient_in_its_length_follows_the_ink_its_next_dab_adds(name):
    """A stroke's ink grows by a dab at a time as it lengthens, so the drawn canvas's
    own derivative in the length misses the growth (between dabs it only spreads them).
    The count gradient must give the slope of the ink over many dab spacings, and must
    not change what is painted."""
    twin = load_painter(name).double()
    ends = torch.linspace(0.45, 0.65, 41, dtype=torch.float64)
    actions = torch.tensor(
        [0.2, 0.5, 0.3, 0.5, 0.4, 0.5, 0.6, 0.6, 0.4, 0, 0, 0], dtype=torch.float64
    )
    actions = actions.repeat(len(ends), 1)
    actions[:, 4], actions[:, 2] = ends, (0.2 + ends) / 2  # a straight stroke, lengthening

    def slopes(module):
        a = actions.clone().requires_grad_(True)
        painted = module(a)
        painted.sum().backward()
        per_end = a.grad[:, 4] + 0.5 * a.grad[:, 2]
        return painted.detach(), float(per_end.mean())

    painted, with_count = slopes(twin)
    twin.count_gradient = False
    unchanged, without_count = slopes(twin)
    ink = painted.sum(dim=(1, 2, 3))
    secant = float((ink[-1] - ink[0]) / (ends[-1] - ends[0]))
    assert torch.equal(painted, unchanged)
    assert secant > 0
    assert abs(with_count - secant) < 0.25 * secant, (with_count, secant)
    assert without_count < 0.5 * secant, (without_count, secant)


def test_the_next_dab_steps_on_from_each_strokes_last_two():
    """A stroke's next dab is its last moved by the step between its last two; a
    stroke with one dab repeats it, a stroke with none gets none."""
    dabs = torch.arange(5 * 7, dtype=torch.float32).reshape(5, 7)
    owner = torch.tensor([0, 0, 0, 2, 3])  # stroke 1 has no dab, 2 and 3 one each
    noise = torch.arange(5 * 5, dtype=torch.float32).reshape(5, 5)
    ahead, ahead_owner, ahead_noise = next_dabs(dabs, owner, noise, 4)
    assert ahead_owner.tolist() == [0, 2, 3]
    torch.testing.assert_close(ahead[0, :2], dabs[2, :2] + (dabs[2, :2] - dabs[1, :2]))
    torch.testing.assert_close(ahead[0, 2:], dabs[2, 2:])
    torch.testing.assert_close(ahead[1:], dabs[3:])
    torch.testing.assert_close(ahead_noise, noise[[2, 3, 4]])


def random_dabs(count: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Dabs of every kind the rasteriser knows: below and above radius 3 (anti-aliased
    and plain), convex and concave, elliptical at any angle, some off the canvas."""
    g = torch.Generator().manual_seed(seed)

    def uniform(low, high):
        return low + (high - low) * torch.rand(count, generator=g)

    columns = [
        uniform(-6, 70),
        uniform(-6, 70),
        uniform(0.3, 9),
        uniform(0.05, 1),
        uniform(0.05, 0.98),
        uniform(1, 6),
        uniform(-180, 180),
    ]
    return torch.stack(columns, 1), torch.randint(0, 3, (count,), generator=g)


def random_noise(dabs: torch.Tensor, seed: int) -> torch.Tensor:
    """Position noise (none for a quarter of the dabs), radius noise (none for half),
    and the radius, hardness and anti-aliasing before softening."""
    g = torch.Generator().manual_seed(seed)
    count = len(dabs)
    jitter = 3 * torch.rand(count, generator=g) * (torch.rand(count, generator=g) > 0.25)
    spread = 0.4 * torch.rand(count, generator=g) * (torch.rand(count, generator=g) > 0.5)
    aa = torch.rand(count, generator=g)
    return torch.stack([jitter, spread, dabs[:, 2], dabs[:, 4], aa], 1)


@pytest.mark.parametrize("random", [False, True], ids=["plain dabs", "random dabs"])
def test_the_fused_rasteriser_paints_and_differentiates_as_the_torch_one_does(random):
    """The compiled kernels are the torch rasteriser fused: the same canvases and the
    same gradient for every dab column, on every path (anti-aliased, plain, convex,
    concave, elliptical, partly off the canvas), and for random dabs every noise column
    (position noise blurred at one and at two sub-pixel phases, radius noise)."""
    dabs, owner = random_dabs(300, 0)
    noise = random_noise(dabs, 1) if random else None
    assert dab_kernel.usable(dabs)
    weights = torch.rand(3, 1, 64, 64, generator=torch.Generator().manual_seed(1)) - 0.5
    canvases, grads = [], []
    for fused in (False, True):
        leaves = [dabs.clone().requires_grad_(True)]
        if random:
            leaves.append(noise.clone().requires_grad_(True))
        canvas = render_dabs(leaves[0], owner, 3, 64, *leaves[1:], fused=fused)
        (canvas * weights).sum().backward()
        canvases.append(canvas.detach())
        grads.append(torch.cat([leaf.grad for leaf in leaves], 1))
    assert canvases[0].amax() > 0.9 and float((canvases[1] - canvases[0]).abs().max()) < 1e-5
    torch_grad, fused_grad = grads
    fed = [0, 1, 3, 5, 7, 8, 9, 10] if random else [0, 1, 2, 3, 4, 5]
    assert torch_grad[:, fed].norm(dim=0).gt(0).all()
    error = (fused_grad - torch_grad).norm(dim=0) / torch_grad.norm(dim=0).clamp(min=1e-6)
    assert float(error.max()) < 1e-4


def test_the_fused_gradients_split_ties_as_torch_does():
    """Where torch's min or max meets a tie it splits the gradient in half: anti-aliased
    dabs on whole pixels at right angles tie in the clamps that find the pixel's point
    nearest the dab. The kernel must split them too. (At hardness exactly one half the
    profile's two lines coincide only up to rounding, which each side rounds its own way:
    the derivative there has a kink, and either one-sided value is a fair answer.)"""
    grid = torch.tensor([[20.0, 30.0], [31.5, 12.0], [44.0, 44.0], [10.0, 50.5]])
    columns = []
    for radius, angle in [(1.2, 0.0), (2.5, 90.0), (5.0, 0.0), (2.0, 45.0)]:
        for x, y in grid.tolist():
            columns.append([x, y, radius, 0.8, 0.7, 1.0 + (angle == 45.0), angle])
    dabs, owner = torch.tensor(columns), torch.zeros(len(columns), dtype=torch.long)
    weights = torch.rand(1, 1, 64, 64, generator=torch.Generator().manual_seed(7))
    grads = []
    for fused in (False, True):
        leaf = dabs.clone().requires_grad_(True)
        (render_dabs(leaf, owner, 1, 64, fused=fused) * weights).sum().backward()
        grads.append(leaf.grad)
    assert grads[0][:, [0, 1, 4]].abs().sum(0).gt(0).all()
    assert torch.allclose(grads[1], grads[0], rtol=1e-4, atol=1e-5)


def test_the_fused_kernels_take_any_upstream_gradient_and_refuse_foreign_tensors():
    """A non-contiguous gradient into a random dab's expected window (copied, and the
    copy kept alive through the call); the kernel reads raw float32 buffers, so it
    refuses float64, and float64 noise beside float32 dabs is cast to float32 first."""
    dabs, owner = random_dabs(40, 6)
    noise = random_noise(dabs, 7)
    noise[:, 0] = 1.5
    window = torch.stack([torch.arange(12)] * 40)[:, None, :] + dabs[:, :1, None].floor() - 6
    fx, fy = window.float(), window.transpose(1, 2).float()
    nodes, jitter = noisy_nodes(dabs, noise), noise[:, 0]
    weights = torch.rand(40, 22, 22, generator=torch.Generator().manual_seed(8))
    grads = []
    for fused in (False, True):
        leaf = nodes.clone().requires_grad_(True)
        opacity = expected_opacity(leaf, jitter, fx, fy, 5, 2, fused=fused)
        (opacity.transpose(1, 2) * weights).sum().backward()
        grads.append(leaf.grad)
    assert grads[0].abs().sum() > 0 and torch.allclose(grads[1], grads[0], rtol=1e-4, atol=1e-6)
    reference = render_dabs(dabs, owner, 3, 64, noise, fused=False)
    assert not dab_kernel.usable(dabs, noise.double())
    mixed = render_dabs(dabs, owner, 3, 64, noise.double())
    assert float((mixed - reference).abs().max()) < 1e-5


def test_the_fused_rasteriser_refuses_windows_it_would_write_outside_of():
    dabs, owner = random_dabs(4, 2)
    coef = dab_coefficients(dabs)
    angle = torch.zeros(4, 2)
    window = torch.zeros(4, 6, dtype=torch.int64)
    with pytest.raises(ValueError, match="window must be"):
        dab_kernel.raster(coef, angle, window[:, :5], 1, 64)
    window[:, 4] = 1
    with pytest.raises(ValueError, match="outside 0..0"):
        dab_kernel.raster(coef, angle, window, 1, 64)
    flags, corner = torch.zeros(4, dtype=torch.int64), torch.zeros(4, 2, dtype=torch.int64)
    with pytest.raises(ValueError, match="taps must be"):
        dab_kernel.expected(coef, angle, flags, corner, (1, 5, 5, 2, 1), torch.zeros(4, 4))
    with pytest.raises(ValueError, match="taps go with a shift"):
        dab_kernel.expected(coef, angle, flags, corner, (1, 13, 13, 0, 4), None)
    with pytest.raises(ValueError, match="taps go with a shift"):
        dab_kernel.expected(coef, angle, flags, corner, (1, 5, 5, 2, 1), None)
    with pytest.raises(ValueError, match="flags must be"):
        dab_kernel.expected(coef, angle, flags.int(), corner, (1, 5, 5, 0, 1), None)
    with pytest.raises(ValueError, match="coef must be"):
        dab_kernel.raster(coef.double(), angle, window, 2, 64)
    place = torch.tensor([[0, 0, 2, 3, 0]])
    with pytest.raises(ValueError, match="width \\* height"):
        dab_kernel.compose(torch.zeros(5), place, 1, 64)
    with pytest.raises(ValueError, match="outside 0..0"):
        dab_kernel.compose(torch.zeros(6), place + torch.tensor([0, 0, 0, 0, 1]), 1, 64)


def test_a_kernel_that_does_not_compile_leaves_the_torch_rasteriser(monkeypatch, tmp_path):
    """The kernel compiles the source text read at import (so editing the file while a
    job runs cannot pair the wrapper with another kernel); a compiler error is a warning
    with the compiler's message, and the twin keeps painting through torch."""
    dabs, owner = random_dabs(20, 5)
    monkeypatch.setattr(dab_kernel, "SOURCE_TEXT", b"int broken(void) { return }\n")
    monkeypatch.setattr(compiled, "default_data_root", lambda: tmp_path)
    dab_kernel.load_kernel.cache_clear()
    try:
        with pytest.warns(UserWarning, match="compiling dab_raster.c failed"):
            assert not dab_kernel.usable(dabs)
        assert not list((tmp_path / "kernels").glob("*.so"))  # nothing half-written kept
        assert render_dabs(dabs, owner, 3, 64).amax() > 0.5
    finally:
        dab_kernel.load_kernel.cache_clear()


def test_without_a_c_compiler_the_twin_keeps_its_torch_rasteriser(monkeypatch, tmp_path):
    """No compiler: one warning that says what to install, and the same canvas."""
    dabs, owner = random_dabs(50, 3)
    noise = random_noise(dabs, 4)
    fused = [render_dabs(dabs, owner, 3, 64), render_dabs(dabs, owner, 3, 64, noise)]
    monkeypatch.setattr(dab_kernel, "library_path", lambda: tmp_path / "missing.so")
    monkeypatch.setattr(compiled.shutil, "which", lambda name: None)
    dab_kernel.load_kernel.cache_clear()
    try:
        with pytest.warns(UserWarning, match="apt-get install gcc"):
            assert not dab_kernel.usable(dabs)
        assert float((render_dabs(dabs, owner, 3, 64) - fused[0]).abs().max()) < 1e-5
        assert float((render_dabs(dabs, owner, 3, 64, noise) - fused[1]).abs().max()) < 1e-5
    finally:
        dab_kernel.load_kernel.cache_clear()


def test_the_jitter_kernel_moves_ink_as_rand_gauss_moves_a_dab():
    """Each column spreads one pixel's value over the grown window: nothing is lost,
    the mean stays put, and the spread is the shift's variance plus the linear
    interpolation's. No jitter leaves the window as it was."""
    sigma = torch.tensor([0.0, 0.4, 1.5, 5.0], dtype=torch.float64)
    side, shift = 5, int(math.ceil(GAUSS_REACH * 5.0)) + 1
    kernel = jitter_kernel(sigma, side, shift)
    assert kernel.shape == (4, side + 2 * shift, side)
    torch.testing.assert_close(kernel.sum(1), torch.ones(4, side, dtype=torch.float64))
    moved = torch.arange(side + 2 * shift, dtype=torch.float64)[:, None] - shift
    mean = (kernel * moved).sum(1)
    torch.testing.assert_close(mean, torch.arange(side, dtype=torch.float64).expand(4, -1))
    variance = (kernel * (moved - mean[:, None]) ** 2).sum(1)[:, 0]
    # interpolating a shift t between two pixels adds frac(t)(1 - frac(t)) of variance:
    # between 0 and 1/4, 1/6 on average once the shift spreads over several pixels
    assert bool(((variance >= sigma**2) & (variance <= sigma**2 + 0.25)).all())
    torch.testing.assert_close(variance[2:], sigma[2:] ** 2 + 1 / 6, atol=1e-3, rtol=0)
    assert kernel[0, shift : shift + side].diagonal().min() > 0.999
    nodes = np.array(gauss_nodes(4))
    np.testing.assert_allclose(nodes, -nodes[::-1], atol=1e-9)  # symmetric
    assert 0 < nodes[-1] < GAUSS_REACH


def test_a_jittered_dabs_expected_opacity_is_the_mean_of_jittered_dabs(monkeypatch):
    """One small dab jittered as libmypaint jitters it (each axis a sum of four
    uniforms): the closed form at four phases per pixel matches a Monte Carlo mean of
    the dab drawn at 20,000 random offsets."""
    dab = torch.tensor([[20.3, 20.7, 1.5, 0.5, 0.2, 1.0, 90.0]], dtype=torch.float64)
    noise = torch.tensor([[0.8, 0.0, 1.5, 0.2, 0.0]], dtype=torch.float64)
    generator = torch.Generator().manual_seed(0)
    draws = torch.rand(20_000, 2, 4, generator=generator, dtype=torch.float64).sum(-1)
    shifted = dab.repeat(len(draws), 1)
    shifted[:, :2] += (draws - 2.0) * math.sqrt(3.0) * 0.8
    sampled = render_dabs(shifted, torch.arange(len(draws)), len(draws), 40)[:, 0].mean(0)
    monkeypatch.setattr("neuralpaint.painters.dabs.SUBPIXEL_PHASES", 4)
    expected = render_dabs(dab, torch.tensor([0]), 1, 40, noise)[0, 0]
    assert float((expected - sampled).abs().max()) < 0.003
    assert abs(float(expected.sum() / sampled.sum()) - 1) < 0.01


@pytest.mark.parametrize("brush", RANDOM)
def test_a_random_brushs_twin_paints_mypaints_expected_stroke(brush):
    """For a brush that jitters its dabs, the twin paints the expectation over the
    jitter: closer to any one MyPaint render than the mean of four other renders is,
    and far closer than another render."""
    actions = strokes(48, 6)
    renderer = MyPaintRenderer(64, brush)
    real = torch.tensor(renderer.render_masks(actions, seed=0))[:, None]
    others = [torch.tensor(renderer.render_masks(actions, seed=s))[:, None] for s in (1, 2, 3, 4)]
    with torch.no_grad():
        ours = load_painter(f"dabs:{brush}")(torch.tensor(actions, dtype=torch.float32))
    twin = metrics.all_metrics(ours, real)
    mean4 = metrics.all_metrics(torch.stack(others).mean(0), real)
    one = metrics.all_metrics(others[0], real)
    assert twin["r2"] > mean4["r2"] and twin["r2"] > one["r2"] + 0.02
    assert twin["ink_iou"] > mean4["ink_iou"] - 0.01


@pytest.mark.parametrize("expectation", ["exact", "fast"])
def test_a_random_brushs_gradients_match_finite_differences(expectation):
    """Pressure sets charcoal's jitter, so its derivative runs through the jitter
    kernel (or the fast mean's stroke-wide blur) as well as the dabs' opacity; the same
    holds for the brush's size. Both change the dab count too, whose gradient the drawn
    canvas lacks by construction, so it is left out here."""
    twin = DabTwin("classic/charcoal", expectation=expectation, count_gradient=False).double()
    actions = torch.tensor(strokes(3, 7) * 0.6 + 0.2)
    target = torch.rand(
        3, 1, 64, 64, generator=torch.Generator().manual_seed(1), dtype=torch.float64
    )

    def loss(a):
        return (twin(a) * target).sum()

    a = actions.clone().requires_grad_(True)
    loss(a).backward()
    for index in (6, A.SIZE_INDEX):
        direction = torch.zeros_like(actions)
        direction[:, index] = 1.0
        analytic = float((a.grad * direction).sum())
        eps = 1e-6
        numeric = float(
            (loss(actions + eps * direction) - loss(actions - eps * direction)) / (2 * eps)
        )
        assert abs(analytic - numeric) < 0.02 * abs(numeric) + 1e-6


def test_the_twin_paints_only_brushes_it_can_follow():
    brushes = dab_brushes()
    assert set(NIBS) <= set(brushes)
    assert set(RANDOM) | {"classic/dry_brush"} <= set(brushes)
    assert not {"classic/smudge", "classic/knife", "classic/coarse_bulk_2"} & set(brushes)
    with pytest.raises(UnsupportedBrushError, match=r"classic/knife.*reads direction.*pen"):
        DabTwin("classic/knife")
    with pytest.raises(FileNotFoundError, match="classic/no_such_brush"):
        DabTwin("classic/no_such_brush")
    with pytest.raises(ckpt.CheckpointError, match="dabs:<brush>"):
        load_painter("dabs:")
    with pytest.raises(ValueError, match=r"\(B, 12\)"):
        DabTwin("classic/pen")(torch.zeros(2, 13))


def test_dab_twins_load_by_name_and_follow_the_brush_asked_for():
    twin = load_painter("dabs:classic/pen", brush="classic/pen")
    assert twin.brush == "classic/pen" and not twin.painter_config["discrete"]
    with pytest.raises(ckpt.CheckpointError, match="classic/calligraphy"):
        load_painter("dabs:classic/pen", brush="classic/calligraphy")
    with pytest.raises(ckpt.CheckpointError, match="continuous"):
        load_painter("dabs:classic/pen", expect_discrete=True)
    assert (
        painter_for_brush("dabs:classic/pen", "classic/calligraphy") == "dabs:classic/calligraphy"
    )
    assert weights_digest("dabs:classic/pen") != weights_digest("dabs:classic/calligraphy")
    assert twin(torch.zeros(0, A.ACTION_DIM)).shape == (0, 1, 64, 64)


def test_an_environment_paints_through_a_dab_twin_and_offers_it_to_gradient_agents():
    import gymnasium as gym

    import neuralpaint  # noqa: F401  (registers the environments)

    env = gym.make(
        "NeuralPaint-MNIST-v0", brush="classic/calligraphy", renderer="dabs:classic/calligraphy"
    )
    assert env.unwrapped.renderer.name == "dabs:classic/calligraphy"
    obs, _ = env.reset(seed=0)
    stroke = np.array([0.2, 0.2, 0.5, 0.4, 0.8, 0.8, 1.0, 1.0, 0.6, 0.0, 0.0, 0.0], np.float32)
    obs, *_ = env.step(stroke)
    assert (obs[..., :3] < 128).any()  # the stroke is painted
    mypaint = gym.make("NeuralPaint-MNIST-v0", brush="classic/calligraphy")
    mypaint.reset(seed=0)
    twin = mypaint.unwrapped.differentiable(painter="dabs:classic/calligraphy")
    assert twin is not None


def test_a_straight_through_pair_paints_exactly_and_differentiates_smoothly():
    """``dabs:<brush>~<painter>`` paints what the dab twin paints and takes the
    gradient the neural twin gives; it follows a change of brush as a pair."""
    pair = load_painter("dabs:classic/pen~regression-pen")
    exact, smooth = load_painter("dabs:classic/pen"), load_painter("regression-pen")
    actions = torch.tensor(strokes(6, 8), dtype=torch.float32)
    with torch.no_grad():
        torch.testing.assert_close(pair(actions), exact(actions))
    weights = torch.rand(6, 1, 64, 64, generator=torch.Generator().manual_seed(2))
    grads = []
    for module in (pair, smooth):
        a = actions.clone().requires_grad_(True)
        (module(a) * weights).sum().backward()
        grads.append(a.grad)
    torch.testing.assert_close(grads[0], grads[1])
    # the gradients come from the brush's network, whatever its default twin is
    assert painter_for_brush("dabs:classic/pen~regression-pen", "classic/marker_fat") == (
        "dabs:classic/marker_fat~regression-marker"
    )
    assert painter_for_brush("dabs:classic/pen~regression-pen", "classic/calligraphy") == (
        "dabs:classic/calligraphy~regression-calligraphy"
    )
    assert weights_digest("dabs:classic/pen~regression-pen") != weights_digest("dabs:classic/pen")
    with pytest.raises(ckpt.CheckpointError, match="neural twin"):
        load_painter("dabs:classic/pen~dabs:classic/pen")
    with pytest.raises(ckpt.CheckpointError, match="no painter 'no-such-painter'"):
        load_painter("dabs:classic/pen~no-such-painter")
    from neuralpaint.agents.registry import make_agent

    agent = make_agent("stroke-optimizer@dabs:classic/pen~regression-pen", brush="classic/pen")
    assert isinstance(agent.painter, StraightThrough)
