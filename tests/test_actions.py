import numpy as np
import pytest

from neuralpaint import actions as A


def test_field_names_and_dims():
    assert A.ACTION_DIM == 12 and len(A.FIELDS) == 12
    assert A.DISCRETE_FIELDS[-1] == "lift" and A.DISCRETE_ACTION_DIM == 13
    assert A.FIELDS[:9] == A.SHAPE_FIELDS


def test_control_point_is_on_curve_at_half():
    action = np.array([0.1, 0.2, 0.7, 0.9, 0.8, 0.3, 0.5, 0.5, 0.5, 0, 0, 0])
    xs, ys = A.bezier_points(action, steps=101)
    assert (xs[0], ys[0]) == pytest.approx((0.1, 0.2))
    assert (xs[50], ys[50]) == pytest.approx((0.7, 0.9))
    assert (xs[-1], ys[-1]) == pytest.approx((0.8, 0.3))


def test_radius_is_log_spaced_and_scales_with_canvas():
    assert A.radius_px(0.0) == pytest.approx(A.RADIUS_MIN_PX)
    assert A.radius_px(1.0) == pytest.approx(A.RADIUS_MAX_PX)
    mid = A.radius_px(0.5)
    assert mid == pytest.approx(np.sqrt(A.RADIUS_MIN_PX * A.RADIUS_MAX_PX))
    assert A.radius_px(0.5, canvas_px=128) == pytest.approx(2 * mid)


def test_pressure_interpolates_along_the_stroke():
    action = np.array([0, 0, 0.5, 0.5, 1, 1, 0.0, 1.0, 0.5, 0, 0, 0])
    path = A.to_brush_path(action, canvas_px=64)
    assert path.pressures[0] == pytest.approx(A.PRESSURE_MIN)
    assert path.pressures[-1] == pytest.approx(A.PRESSURE_MAX)
    assert np.all(np.diff(path.pressures) > 0)
    assert path.xs[-1] == pytest.approx(64.0)


def test_out_of_range_is_clipped():
    action = np.full(12, 0.5)
    action[0], action[8] = -3.0, 7.0
    out = A.validate(action)
    assert out[0] == 0.0 and out[8] == 1.0 and out[1] == 0.5


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_names_the_field(bad):
    action = np.full(12, 0.5)
    action[8] = bad
    with pytest.raises(ValueError, match="'size'"):
        A.validate(action)
    batch = np.full((3, 12), 0.5)
    batch[2, 10] = bad
    with pytest.raises(ValueError, match="'green'.*row 2"):
        A.validate(batch)


@pytest.mark.parametrize("shape", [(11,), (13,), (2, 3, 12), (4, 5)])
def test_wrong_shape_is_rejected(shape):
    with pytest.raises(ValueError, match="shape"):
        A.validate(np.zeros(shape))


def test_quantize_discrete_levels_and_lift():
    action = np.full(13, 0.5)
    action[A.SIZE_INDEX] = 0.52
    action[A.PRESSURE_INDICES[0]] = 0.04
    action[A.LIFT_INDEX] = 0.7
    q = A.quantize_discrete(action)
    assert q[A.SIZE_INDEX] == pytest.approx(5 / 9)
    assert q[A.PRESSURE_INDICES[0]] == 0.0
    assert q[A.LIFT_INDEX] == 1.0 and A.is_lifted(q)
    levels = A.quantize_level(np.linspace(0, 1, 1000))
    assert len(np.unique(levels)) == A.DISCRETE_LEVELS
    assert q[0] == 0.5  # positions are not quantized


def test_describe_names_fields():
    d = A.describe(np.arange(12) / 12)
    assert list(d) == list(A.FIELDS) and d["blue"] == pytest.approx(11 / 12)
