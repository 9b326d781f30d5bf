"""The real renderer, tested against libmypaint itself."""

import numpy as np
import pytest
from conftest import straight

from neuralpaint import actions as A
from neuralpaint.painters import libmypaint as L
from neuralpaint.painters import mypaint
from neuralpaint.painters.mypaint import (
    TEXTURE_CHUNK,
    MyPaintCanvas,
    MyPaintRenderer,
    resolve_brush,
)


def centroid(mask: np.ndarray) -> np.ndarray:
    ys, xs = np.mgrid[: mask.shape[0], : mask.shape[1]]
    return np.array([(xs * mask).sum(), (ys * mask).sum()]) / mask.sum()


def arc_centroid(curve: np.ndarray) -> np.ndarray:
    """Centroid of a polyline weighted by arc length (dabs are spaced by distance)."""
    seg = np.linalg.norm(np.diff(curve, axis=0), axis=1)
    mids = 0.5 * (curve[1:] + curve[:-1])
    return (mids * seg[:, None]).sum(0) / seg.sum()


def test_stroke_lands_on_its_curve(renderer, rng):
    for _ in range(10):
        a = rng.uniform(0.2, 0.8, A.ACTION_DIM)
        a[A.SIZE_INDEX] = 0.3
        a[list(A.PRESSURE_INDICES)] = 0.8
        mask = renderer.render_masks(a[None], seed=int(rng.integers(1000)))[0]
        fx, fy = A.bezier_points(a, steps=200)
        curve = np.stack([fx, fy], 1) * 64
        ink = np.argwhere(mask > 0.5)[:, ::-1] + 0.5  # (x, y) pixel centres
        assert len(ink) > 0
        dist = np.linalg.norm(ink[:, None] - curve[None], axis=-1).min(1)
        radius = A.radius_px(a[A.SIZE_INDEX])
        # dry_brush scatters dabs by up to ~1.4 radii (Gaussian), so allow 5 radii.
        assert np.percentile(dist, 95) < 5 * radius
        # the ink's centroid is the curve's own centroid
        assert np.linalg.norm(centroid(mask) - arc_centroid(curve)) < 3.0


def test_straight_stroke_centroid_is_its_midpoint(renderer):
    mask = renderer.render_masks(straight(0.2, 0.3, 0.8, 0.6)[None], seed=0)[0]
    assert centroid(mask) == pytest.approx([32.0, 28.8], abs=2.5)


def test_larger_size_gives_more_ink(renderer, rng):
    base = rng.uniform(0.2, 0.8, (20, A.ACTION_DIM))
    small, large = base.copy(), base.copy()
    small[:, A.SIZE_INDEX], large[:, A.SIZE_INDEX] = 0.1, 0.9
    ink_small = renderer.render_masks(small, seed=1).sum(axis=(1, 2))
    ink_large = renderer.render_masks(large, seed=1).sum(axis=(1, 2))
    assert (ink_large > ink_small).mean() >= 0.9
    assert ink_large.mean() > 3 * ink_small.mean()


@pytest.mark.parametrize("rgb", [(1.0, 0.0, 0.0), (0.1, 0.7, 0.3), (0.2, 0.3, 0.9)])
def test_colour_comes_out_right(rgb):
    canvas = MyPaintCanvas(64, seed=5)
    for _ in range(3):  # overlapping strokes saturate to the stroke colour
        canvas.paint(straight(0.2, 0.5, 0.8, 0.5, size=0.8, pressure=1.0, rgb=rgb))
    image = canvas.image()
    ink = 1 - image.min(axis=-1) + image.max(axis=-1)  # distance from white, roughly
    darkest = image[np.unravel_index(np.argmax(ink), ink.shape)]
    assert darkest == pytest.approx(rgb, abs=0.06)
    assert np.allclose(image[2, 2], 1.0)  # far from the stroke stays white


@pytest.mark.parametrize("rgb", [(1.0, 0.0, 0.0), (0.2, 0.6, 0.9), (0.5, 0.5, 0.1)])
def test_mask_composite_matches_mypaint(rgb):
    action = np.array([0.1, 0.2, 0.5, 0.6, 0.9, 0.8, 0.9, 0.6, 0.8, *rgb])
    black = MyPaintCanvas(64, seed=3)
    black.paint(np.concatenate([action[:9], [0, 0, 0]]))
    alpha = 1 - black.image()[..., :1]
    coloured = MyPaintCanvas(64, seed=3)
    coloured.paint(action)
    composite = 1.0 * (1 - alpha) + alpha * np.array(rgb)
    assert np.abs(composite - coloured.image()).max() < 2e-3
    assert alpha.max() > 0.9


def test_render_masks_matches_canvas_alpha(renderer):
    action = straight(0.1, 0.1, 0.9, 0.7)
    mask = renderer.render_masks(action[None], seed=11)[0]
    assert mask.shape == (64, 64) and mask.dtype == np.float32
    assert mask.min() >= 0.0 and mask.max() <= 1.0 and mask.max() > 0.9


def test_same_seed_same_pixels_other_seed_other_texture(renderer, rng):
    actions = rng.random((8, A.ACTION_DIM))
    a = renderer.render_masks(actions, seed=7)
    b = renderer.render_masks(actions, seed=7)
    c = renderer.render_masks(actions, seed=8)
    assert np.array_equal(a, b)
    assert np.abs(a - c).mean() > 1e-3

    first, second = MyPaintCanvas(64, seed=3), MyPaintCanvas(64, seed=3)
    episode = rng.random((5, A.ACTION_DIM))
    first.paint_many(episode)
    second.paint_many(episode)
    assert np.array_equal(first.image(), second.image())


def test_strokes_of_one_episode_differ_in_texture(renderer):
    repeated = np.repeat(straight(0.2, 0.2, 0.8, 0.8, pressure=1.0)[None], 4, axis=0)
    masks = renderer.render_masks(repeated, seed=0)
    for i in range(1, 4):
        assert np.abs(masks[0] - masks[i]).mean() > 1e-3
    # and the same on a persistent canvas: paint, clear, paint again
    canvas = MyPaintCanvas(64, seed=0)
    canvas.paint(repeated[0])
    one = canvas.image()
    canvas.clear()
    canvas.paint(repeated[0])
    assert np.abs(one - canvas.image()).mean() > 1e-3


def test_reset_restores_the_texture():
    canvas = MyPaintCanvas(64, seed=4)
    action = straight(0.2, 0.3, 0.8, 0.7)
    canvas.paint(action)
    first = canvas.image()
    canvas.reset(4)
    canvas.paint(action)
    assert np.array_equal(first, canvas.image())


def test_parallel_rendering_equals_serial(renderer, rng):
    actions = rng.random((TEXTURE_CHUNK + 40, A.ACTION_DIM))
    serial = renderer.render_masks(actions, seed=2)
    parallel = renderer.render_masks(actions, seed=2, workers=2, progress=True)
    assert np.array_equal(serial, parallel)


def test_discrete_actions_lift_and_quantize(renderer):
    action = np.concatenate([straight(0.2, 0.2, 0.8, 0.8, size=0.52), [0.0]])
    lifted = action.copy()
    lifted[A.LIFT_INDEX] = 1.0
    snapped = action.copy()
    snapped[A.SIZE_INDEX] = 5 / 9
    masks = renderer.render_masks(np.stack([action, lifted, snapped]), seed=0)
    assert masks[1].max() == 0.0
    assert np.array_equal(masks[0][None], renderer.render_masks(snapped[None, :], seed=0))

    canvas = MyPaintCanvas(64, seed=0)
    canvas.paint(lifted)
    assert np.all(canvas.image() == 1.0) and canvas.strokes == 1


def test_canvas_larger_than_one_tile():
    canvas = MyPaintCanvas(100, seed=0)
    canvas.paint(straight(0.75, 0.75, 0.95, 0.95, rgb=(0, 0, 1)))
    image = canvas.image()
    assert image.shape == (100, 100, 3)
    dark = np.argwhere(image.sum(-1) < 2.0)
    assert dark.min() >= 60  # ink only in the bottom-right tile region
    assert np.all(image[:50, :50] == 1.0)


def test_brush_by_name_and_path(tmp_path):
    path = resolve_brush("classic/dry_brush")
    assert path.name == "dry_brush.myb"
    assert resolve_brush(path) == path
    other = MyPaintRenderer(64, brush="classic/pencil")
    mask = other.render_masks(straight(0.2, 0.2, 0.8, 0.8)[None])[0]
    assert mask.sum() > 0


def test_missing_brush_names_it_and_lists_the_installed_ones():
    with pytest.raises(FileNotFoundError, match="classic/no_such_brush") as raised:
        MyPaintRenderer(64, brush="classic/no_such_brush")
    assert "classic/{" in str(raised.value) and "dry_brush" in str(raised.value)


def test_missing_brush_without_any_installed_says_how_to_install(monkeypatch):
    monkeypatch.setattr(mypaint, "installed_brushes", dict)
    with pytest.raises(FileNotFoundError, match="apt-get install libmypaint-1.5-1 mypaint-brushes"):
        MyPaintRenderer(64, brush="classic/no_such_brush")


def test_corrupt_brush_file_is_reported(tmp_path):
    bad = tmp_path / "bad.myb"
    bad.write_text("{ this is not json")
    with pytest.raises(ValueError, match="could not parse brush file"):
        MyPaintCanvas(64, brush=bad)


def test_missing_library_says_how_to_install():
    with pytest.raises(L.LibMyPaintNotFoundError, match="brew install libmypaint"):
        L.open_library(["/nonexistent/libmypaint-1.5.so.1", "libno-such-mypaint.so"])
    assert any("libmypaint" in p for p in L.candidate_paths())


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        (np.full(12, np.nan), "'start_x'"),
        (np.zeros(7), "shape"),
    ],
)
def test_bad_actions_raise(renderer, bad, match):
    with pytest.raises(ValueError, match=match):
        MyPaintCanvas(64, seed=0).paint(bad)
    with pytest.raises(ValueError, match=match):
        renderer.render_masks(np.atleast_2d(bad))


def test_bad_size_rejected():
    with pytest.raises(ValueError, match="size"):
        MyPaintCanvas(4)
