"""A differentiable twin that paints the way libmypaint does: dab by dab.

A neural twin learns a brush from examples and blurs what it cannot fit: thin nib
strokes and one-pixel edges. For a brush like ``classic/pen``, ``classic/calligraphy``
or ``classic/marker_fat`` there is nothing to learn: the stroke is a deterministic
function of the action (and, for a brush that jitters its dabs, so is its expectation),
written in libmypaint 1.6's ``mypaint-brush.c`` and ``mypaint-tiled-surface.c``.
:class:`DabTwin` computes it in torch, for a batch, with gradients:

1. **Where the dabs go.** libmypaint low-pass filters the pointer per event
   (``slow_tracking``), places a dab each time the distance moved, measured in dab
   radii (elliptical for a flat nib), adds up to one, and low-pass filters each dab's
   position again (``slow_tracking_per_dab``). Both filters are linear, so they are
   matrix products; the dab count per segment becomes a cumulative sum, and each dab is
   found by ``searchsorted`` on it (the count is discrete; where a dab falls inside its
   segment is differentiable). A stroke that grows gains ink a dab at a time, which the
   drawn canvas's gradient cannot see, so the twin adds the gradient of the ink in the
   count itself (:func:`count_gradient`): without it Adam cannot lengthen a stroke.
2. **What each dab looks like.** Radius, hardness, opacity, aspect ratio and angle come
   from the brush file's base values and input curves (pressure and the two speed
   filters), with libmypaint's opacity linearisation and its anti-aliasing, which trades
   hardness for radius below ``anti_aliasing`` pixels of fade.
3. **How dabs add up.** Each dab's opacity follows ``render_dab_mask`` (two linear
   segments in squared radius; the sub-pixel anti-aliased distance below radius 3), and
   normal blending of one colour composes as ``1 - prod(1 - opacity)``, computed as a
   sum of logarithms over a window around each dab.

4. **Random brushes** (``classic/charcoal``, ``classic/ink_blot``, ``classic/dry_brush``)
   jitter each dab's position (``offset_by_random``) or log radius
   (``radius_by_random``) with ``rand_gauss``, independently from dab to dab. The twin
   paints the expected stroke, MyPaint's mean over infinitely many renders, which is
   what a deterministic twin should aim at: with independent dabs,
   ``E[1 - prod(1 - a)] = 1 - prod(1 - E[a])``, so each dab is replaced by its expected
   opacity. The radius noise is averaged over :data:`RADIUS_NODES` equally likely radii;
   the position noise blurs the dab along each axis with ``rand_gauss``'s exact density
   (:func:`jitter_kernel`). ``offset_by_speed`` follows libmypaint's slow velocity filter.
   That exact mean costs each dab a window grown by the jitter's reach, so the twin
   also has a fast approximation of it (``expectation="fast"``, painter names
   ``dabs-fast:<brush>``, :func:`render_dabs_fast`).

What it does not reproduce: a stroke's first dab depends on the fraction of a dab left
over from the brush's previous stroke, which the twin takes as one half (the expected
value); speeds use each segment's own filter state, where libmypaint updates it a dab
later. Brushes whose settings read other inputs (random, direction, stroke, custom...)
or that smudge are refused with the inputs named.
"""

from __future__ import annotations

import functools
import json
import math
import os
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from neuralpaint import actions as A
from neuralpaint.errors import UserValueError
from neuralpaint.painters import dab_kernel
from neuralpaint.painters import libmypaint as L
from neuralpaint.painters.broadcast import brush_radius, curve_points
from neuralpaint.painters.brushes import quiet_stderr
from neuralpaint.painters.mypaint import format_brush_names, installed_brushes, resolve_brush

PREFIX = "dabs:"
"""Painter names of the form ``dabs:<brush>`` load a :class:`DabTwin` of that brush."""
FAST_PREFIX = "dabs-fast:"
"""``dabs-fast:<brush>`` loads a random brush's :class:`DabTwin` with the fast
approximation of its expected stroke (:func:`render_dabs_fast`)."""
EXPECTATIONS = ("exact", "fast")
"""How a random brush's twin takes the expectation over its noise."""
GRADIENT_SEPARATOR = "~"
"""``dabs:<brush>~<painter>`` paints with the dab twin and takes its gradients from
``<painter>`` (:class:`StraightThrough`)."""
EMULATED_INPUTS = frozenset({"pressure", "speed1", "speed2", "tilt_declination", "tilt_ascension"})
"""Inputs a brush setting may read; the tilt inputs are constant (no tilt is ever sent)."""
TILT = {"tilt_declination": 90.0, "tilt_ascension": 0.0}
"""libmypaint's tilt inputs for a pen held upright, as ``stroke_to(..., 0, 0, ...)`` gives."""
SETTINGS = (
    "opaque",
    "opaque_multiply",
    "opaque_linearize",
    "radius_logarithmic",
    "hardness",
    "anti_aliasing",
    "dabs_per_basic_radius",
    "dabs_per_actual_radius",
    "dabs_per_second",
    "speed1_slowness",
    "speed2_slowness",
    "speed1_gamma",
    "speed2_gamma",
    "slow_tracking_per_dab",
    "slow_tracking",
    "elliptical_dab_ratio",
    "elliptical_dab_angle",
    "pressure_gain_log",
    "offset_by_random",
    "radius_by_random",
    "offset_by_speed",
    "offset_by_speed_slowness",
)
"""The settings the twin reads; every other one must be zero without input curves, or
:data:`NEUTRAL`."""
NEUTRAL = {
    "paint_mode",
    "smudge_length",
    "stroke_duration_logarithmic",
    "direction_filter",
    "gridmap_scale_x",
    "gridmap_scale_y",
    "posterize_num",
    "custom_input_slowness",
    "smudge_radius_log",
    "color_h",
    "color_s",
    "color_v",
    "restore_color",
    "stroke_holdtime",
    "smudge_length_log",
    "smudge_bucket",
    "smudge_transparency",
    "gridmap_scale",
    "offset_multiplier",
    "offset_angle_adj",
}
"""Settings whose value does not change a black stroke painted by ``stroke_to``."""
RADIUS_MIN, RADIUS_MAX = 0.2, 1000.0
"""libmypaint's ACTUAL_RADIUS_MIN and ACTUAL_RADIUS_MAX."""
FILTER_WEIGHT_FLOOR = 1e-6
"""The per-dab position filter keeps as many dabs of history as have weights above this
(12 for libmypaint's usual ``slow_tracking_per_dab`` of 0.8); the rest of its weight goes
to the oldest dab kept."""
_AREA_ONE_RADIUS = math.sqrt(1.0 / math.pi)
RADIUS_NODES = 4
"""Equal-probability nodes over ``radius_by_random``'s noise: each noisy dab is drawn as
the mean of this many dabs, one per node."""
SUBPIXEL_PHASES = 2
"""A small jittered dab's profile is sampled at this many offsets per pixel along each
axis before the jitter blurs it: between whole pixels, a dab a few pixels wide is far
from linear, and interpolating it linearly flattens its peak."""
SUBPIXEL_RADIUS = 4.0
"""Dabs whose largest radius is below this many pixels are sampled at
:data:`SUBPIXEL_PHASES`; larger ones once per pixel."""
GAUSS_REACH = 2.0 * math.sqrt(3.0)
"""libmypaint's ``rand_gauss`` sums four uniforms and scales them to unit variance, so
it never leaves ±2√3: the reach of a jittered dab in standard deviations."""
FAST_RADIUS_NODES = 2
""":func:`render_dabs_fast` gives consecutive dabs of a stroke these many equally likely
radius draws in turn."""
FAST_PAD = 4
"""Pixels around the canvas that :func:`render_dabs_fast` paints before blurring; ink of
dabs further out that the jitter would carry back in is dropped."""
FAST_BLUR_MIN = 0.25
""":func:`render_dabs_fast` ignores position noise under this share of the dabs' radius."""


class UnsupportedBrushError(UserValueError):
    """A brush whose strokes the dab twin cannot reproduce."""


def read_brush(brush: str | os.PathLike) -> tuple[dict[str, float], dict[str, dict]]:
    """The brush's base values (through libmypaint, so defaults are the library's) and its
    input curves (from the ``.myb`` file).

    Raises:
        UnsupportedBrushError: naming the settings and inputs the twin cannot follow, and
            listing the installed brushes it can paint.
    """
    base, curves, problems = _read(str(resolve_brush(brush)))
    if problems:
        raise UnsupportedBrushError(
            f"the dab twin cannot paint brush {str(brush)!r}: {'; '.join(problems)}. It "
            "follows brushes whose settings read only pressure and speed and that do not "
            f"smudge; installed, those are {format_brush_names(dab_brushes())}. "
            "For the others use a neural twin (neuralpaint.painters.neural.default_twin)"
        )
    return base, curves


@functools.cache
def _read(path: str) -> tuple[dict[str, float], dict[str, dict], list[str]]:
    settings = json.loads(Path(path).read_text())["settings"]
    ffi, lib = L.load()
    handle = lib.mypaint_brush_new()
    try:
        with quiet_stderr():
            parsed = lib.mypaint_brush_from_string(handle, Path(path).read_bytes())
        if not parsed:
            return {}, {}, [f"libmypaint could not parse {path}"]
        base = {
            n: float(lib.mypaint_brush_get_base_value(handle, L.setting_id(n))) for n in SETTINGS
        }
    finally:
        lib.mypaint_brush_unref(handle)
    # a curve whose outputs are all zero adds nothing, whatever input it reads
    curves = {
        n: {i: p for i, p in s["inputs"].items() if any(y for _, y in p)}
        for n, s in settings.items()
    }
    problems = [
        f"{name} reads {', '.join(sorted(set(inputs) - EMULATED_INPUTS))}"
        for name, inputs in curves.items()
        if set(inputs) - EMULATED_INPUTS
    ]
    problems += [
        f"{name} is {s['base_value']:g}" + (" with input curves" if curves[name] else "")
        for name, s in settings.items()
        if name not in SETTINGS and name not in NEUTRAL and (s["base_value"] != 0 or curves[name])
    ]
    return base, {n: c for n, c in curves.items() if c and n in SETTINGS}, problems


def _jitters(base: dict[str, float], curves: dict[str, dict]) -> bool:
    return any(base[n] or n in curves for n in ("offset_by_random", "radius_by_random"))


def jitters(brush: str | os.PathLike) -> bool:
    """Whether a brush the dab twin can paint jitters its dabs' position or radius, so
    that its twin paints an expectation (and ``dabs-fast:`` applies)."""
    return _jitters(*read_brush(brush))


def dab_brushes() -> list[str]:
    """Installed brushes the dab twin paints exactly (by their settings)."""
    return [name for name, path in installed_brushes().items() if not _read(str(path))[2]]


def _curve(points: list[list[float]], x: torch.Tensor) -> torch.Tensor:
    """libmypaint's piecewise-linear input curve, extrapolated past its ends."""
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    segment = sum((x > xs[k]).long() for k in range(1, len(xs) - 1)) + torch.zeros_like(x).long()
    out = torch.zeros_like(x)
    for s in range(len(xs) - 1):
        x0, y0, x1, y1 = xs[s], ys[s], xs[s + 1], ys[s + 1]
        flat = x0 == x1 or y0 == y1
        value = torch.full_like(x, y0) if flat else (y1 * (x - x0) + y0 * (x1 - x)) / (x1 - x0)
        out = torch.where(segment == s, value, out)
    return out


def _gauss_cdf(z: float) -> float:
    """CDF of libmypaint's ``rand_gauss`` (the Irwin-Hall distribution of four)."""
    a = z / math.sqrt(3.0) + 2.0
    return sum((-1) ** k * math.comb(4, k) * max(a - k, 0.0) ** 4 for k in range(5)) / 24.0


@functools.cache
def gauss_nodes(n: int) -> tuple[float, ...]:
    """Midpoints, in probability, of ``n`` equally likely bins of ``rand_gauss``."""
    nodes = []
    for i in range(n):
        low, high = -GAUSS_REACH, GAUSS_REACH
        for _ in range(60):
            mid = 0.5 * (low + high)
            low, high = (mid, high) if _gauss_cdf(mid) < (i + 0.5) / n else (low, mid)
        nodes.append(0.5 * (low + high))
    return tuple(nodes)


def _ramp_mean(t: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """``E[(t - sigma * g)_+]`` for ``g`` from ``rand_gauss``, in closed form: the second
    antiderivative of the Irwin-Hall density. Past the middle it uses
    ``E[x_+] = E[x] + E[(-x)_+]`` and the distribution's symmetry, so the polynomial is
    only ever evaluated below 2, where it does not cancel catastrophically."""
    scale = sigma * math.sqrt(3.0)
    a = t / scale + 2.0
    low = torch.minimum(a, 4.0 - a).clamp(min=0.0)  # at most 2

    def tail(x):  # E[(x - S)_+] for S a sum of four uniforms, x <= 2
        return (
            sum((-1) ** k * math.comb(4, k) * (x - k).clamp(min=0.0) ** 5 for k in range(3)) / 120.0
        )

    return scale * torch.where(a <= 2.0, tail(low), (a - 2.0) + tail(low))


def jitter_taps(sigma: torch.Tensor, shift: int, phases: int = 1) -> torch.Tensor:
    """``(D, 2 shift phases + 1)`` taps of :func:`jitter_kernel`, whose matrices are
    Toeplitz and banded: entry ``(i, j * phases + a)`` is
    ``taps[(i - shift - j) * phases + a + shift * phases]``, and zero outside the taps
    (the jitter never moves a dab by ``shift`` pixels or more: ``shift`` must cover
    ``GAUSS_REACH * sigma + 1 / phases``, as :func:`render_dabs`' buckets do, or the ink
    beyond is dropped). The compiled kernel takes the taps, so the matrices are never
    built."""
    band = shift * phases
    g = torch.arange(-band - 1, band + 2, dtype=sigma.dtype, device=sigma.device) / phases
    ramp = _ramp_mean(g[None, :], sigma.clamp(min=1e-4)[:, None])
    return phases * (ramp[:, 2:] - 2.0 * ramp[:, 1:-1] + ramp[:, :-2])


def jitter_kernel(sigma: torch.Tensor, side: int, shift: int, phases: int = 1) -> torch.Tensor:
    """``(D, side + 2 shift, side * phases)`` matrices ``W[i, j * phases + a]``: the
    expected share of the value at pixel ``j`` of a dab moved by ``a / phases`` pixels
    (a window of ``side``) that lands on pixel ``i`` (the window grown by ``shift`` on
    each end) when the dab is shifted by ``sigma * rand_gauss()`` along one axis. The
    profile is interpolated linearly between the ``1 / phases`` steps, so ``W`` is the
    shift's density convolved with the interpolation's triangle:
    ``q (H(g + 1/q) - 2 H(g) + H(g - 1/q))`` at ``g = i - shift - j + a/q``, with
    ``q = phases`` and ``H`` :func:`_ramp_mean`."""
    reach, band = (side + shift) * phases, shift * phases
    taps = nn.functional.pad(jitter_taps(sigma, shift, phases), (reach - band, reach - band))
    i = torch.arange(side + 2 * shift, device=sigma.device)[:, None] - shift
    # column j * phases + a holds g = i - shift - j + a / phases
    j = torch.arange(side, device=sigma.device)[:, None] * phases
    column = (j - torch.arange(phases, device=sigma.device)[None, :]).reshape(1, -1)
    return taps[:, i * phases - column + reach]


def soften(radius, hardness, anti_aliasing):
    """libmypaint's anti-aliasing: a dab whose fade is under ``anti_aliasing`` pixels
    trades hardness for radius, keeping its optical radius."""
    fade = radius * (1 - hardness)
    optical = radius - (1 - hardness) * radius / 2
    softer = (optical - anti_aliasing / 2) / (optical + anti_aliasing / 2)
    softened = fade < anti_aliasing
    radius = torch.where(softened, anti_aliasing / (1 - softer).clamp(min=1e-6), radius)
    return radius, torch.where(softened, softer, hardness).clamp(0.0, 1.0)


def _decay(time_constant: float, t: float) -> float:
    """``1 - exp_decay(T, t)``: the share of the way a libmypaint filter moves."""
    return 1.0 if time_constant <= 0.001 else 1.0 - math.exp(-t / time_constant)


def _taps(share: float) -> int:
    """Dabs of history whose weight in the per-dab filter exceeds :data:`FILTER_WEIGHT_FLOOR`."""
    if share >= 1.0:
        return 1
    return max(1, math.ceil(math.log(FILTER_WEIGHT_FLOOR) / math.log(1.0 - share)))


def _filter_matrix(n: int, share: float, start_from_zero: bool = False) -> torch.Tensor:
    """``(n, n)`` weights of ``y_i = y_{i-1} + (x_i - y_{i-1}) * share`` started at
    ``y_{-1} = x_0`` (or 0)."""
    i = torch.arange(n, dtype=torch.float64)
    lag = i[:, None] - i[None, :]
    weights = torch.where(lag >= 0, share * (1 - share) ** lag.clamp(min=0), 0.0)
    if not start_from_zero:
        weights[:, 0] += (1 - share) ** (i + 1)
    return weights


class DabTwin(nn.Module):
    """libmypaint's stroke of one deterministic brush, differentiable in the action.

    Args:
        brush: a brush name or ``.myb`` path that :func:`read_brush` accepts.
        size: canvas side in pixels.
        partial_dab: the fraction of a dab carried over from the previous stroke, which
            sets where the first dab falls (libmypaint's own value varies from stroke to
            stroke; one half is its mean).
        expectation: for a random brush, ``"exact"`` paints MyPaint's expected stroke
            (:func:`render_dabs`), ``"fast"`` an approximation of it several times
            faster (:func:`render_dabs_fast`).
        count_gradient: add the gradient of each stroke's ink in its dab count
            (:func:`count_gradient`), which the canvas itself lacks: without it a
            stroke's gradient cannot say "grow". It changes no painted value; turn it
            off to differentiate the canvas exactly as drawn.

    ``forward`` maps ``(B, 12)`` actions to ``(B, 1, size, size)`` alpha masks.
    """

    def __init__(
        self,
        brush: str | os.PathLike,
        size: int = 64,
        partial_dab: float = 0.5,
        expectation: str = "exact",
        count_gradient: bool = True,
    ):
        super().__init__()
        if expectation not in EXPECTATIONS:
            raise UserValueError(f"expectation must be one of {EXPECTATIONS}, got {expectation!r}")
        self.base, self.curves = read_brush(brush)
        self.brush, self.size, self.discrete = str(brush), int(size), False
        self.partial_dab = float(partial_dab)
        steps = A.STROKE_STEPS
        b = self.base
        self.register_buffer(
            "event_filter", _filter_matrix(steps, _decay(b["slow_tracking"], 100 * A.STROKE_DTIME))
        )
        # the share of a speed filter's state left after one event
        self.speed_keep = [1.0 - _decay(b[f"speed{i}_slowness"], A.STROKE_DTIME) for i in (1, 2)]
        self.register_buffer(
            "speed_filters",
            torch.stack(
                [
                    _filter_matrix(steps - 1, 1 - keep, start_from_zero=True)
                    for keep in self.speed_keep
                ]
            ),
        )
        share = _decay(b["slow_tracking_per_dab"], 1.0)
        self.dab_share = share
        self.register_buffer(
            "dab_taps", share * (1 - share) ** torch.arange(_taps(share), dtype=torch.float64)
        )
        self.register_buffer("t", torch.linspace(0.0, 1.0, steps, dtype=torch.float64))
        self.offset_by_speed = bool(b["offset_by_speed"] or "offset_by_speed" in self.curves)
        # libmypaint's slow velocity filter (its time constant floored at 0.002 s)
        constant = max(math.exp(b["offset_by_speed_slowness"] * 0.01) - 1.0, 0.002)
        self.velocity_keep = 1.0 - _decay(constant, A.STROKE_DTIME)
        self.register_buffer(
            "velocity_filter",
            _filter_matrix(steps - 1, 1 - self.velocity_keep, start_from_zero=True),
        )
        self.random = _jitters(b, self.curves)
        if expectation == "fast" and not self.random:
            raise UserValueError(
                f"{brush} does not jitter its dabs, so {PREFIX}{brush} is exact and needs "
                f"no faster expectation; {FAST_PREFIX} is for random brushes, e.g. "
                f"{FAST_PREFIX}classic/charcoal"
            )
        self.expectation = expectation
        self.count_gradient = bool(count_gradient)

    # settings -----------------------------------------------------------------------
    def _setting(self, name: str, inputs: dict[str, torch.Tensor], base=None) -> torch.Tensor:
        value = torch.full_like(inputs["pressure"], self.base[name]) if base is None else base
        value = value.expand_as(inputs["pressure"])  # constant settings carry no gradient
        for source, points in self.curves.get(name, {}).items():
            value = value + _curve(points, inputs[source])
        return value

    def _speed_input(self, speed: torch.Tensor, which: int) -> torch.Tensor:
        gamma = math.exp(self.base[f"speed{which}_gamma"])
        slope = 0.015 * (45.0 + gamma)
        return torch.log(gamma + speed) * slope + 0.5 - slope * math.log(45.0 + gamma)

    def _inputs(self, pressure, speeds) -> dict[str, torch.Tensor]:
        inputs = {"pressure": pressure * math.exp(self.base["pressure_gain_log"])}
        for which, speed in enumerate(speeds, start=1):
            inputs[f"speed{which}"] = self._speed_input(speed, which)
        inputs.update({k: torch.full_like(pressure, v) for k, v in TILT.items()})
        return inputs

    # dabs ---------------------------------------------------------------------------
    def dabs(self, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """The ``(D, 7)`` dabs ``(x, y, radius, opacity, hardness, ratio, angle)`` that
        libmypaint draws for a batch, in canvas pixels and degrees, in painting order;
        the ``(D,)`` index of the stroke each belongs to; and for a random brush the
        ``(D, 5)`` noise :func:`render_dabs` takes the expectation over (``None``
        otherwise). A random brush's dabs are those drawn when ``rand_gauss`` gives 0."""
        dabs, owner, noise, _ = self._dabs(actions)
        return dabs, owner, noise

    def _dabs(
        self, actions: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None, torch.Tensor]:
        """:meth:`dabs` and each stroke's ``(B,)`` dab count, differentiable (the
        fraction of the next dab its length has covered, plus whole dabs)."""
        b, dt, n = self.base, A.STROKE_DTIME, A.STROKE_STEPS
        points = curve_points(actions, n) * self.size  # the points stroke_to is given
        t = self.t.to(actions.dtype)[None, :]
        pressure = A.PRESSURE_MIN + (actions[:, 6:7] * (1 - t) + actions[:, 7:8] * t) * (
            A.PRESSURE_MAX - A.PRESSURE_MIN
        )
        base_log = torch.log(brush_radius(actions)[:, None] * (self.size / A.REFERENCE_CANVAS_PX))
        base_radius = base_log.exp().clamp(RADIUS_MIN, RADIUS_MAX)
        # the pointer after per-event slow tracking, and each segment's speed
        pos = torch.einsum("ij,bjc->bic", self.event_filter.to(actions.dtype), points)
        seg = pos[:, 1:] - pos[:, :-1]
        speed = seg.norm(dim=-1) / dt
        filters = self.speed_filters.to(actions.dtype)
        speed_end = [torch.einsum("ij,bj->bi", f, speed) for f in filters]
        speed_start = [torch.cat([torch.zeros_like(s[:, :1]), s[:, :-1]], 1) for s in speed_end]

        def speeds_at(u, v, starts):
            return [v + (s - v) * keep**u for s, keep in zip(starts, self.speed_keep, strict=True)]

        # dab density per segment, from the radius at its middle
        half = torch.full_like(speed, 0.5)
        mid_in = self._inputs(
            pressure[:, :-1] + 0.5 * (pressure[:, 1:] - pressure[:, :-1]),
            speeds_at(half, speed, speed_start),
        )
        radius_mid = self._setting("radius_logarithmic", mid_in, base_log).exp()
        radius_mid = radius_mid.clamp(RADIUS_MIN, RADIUS_MAX)
        ratio = self._setting("elliptical_dab_ratio", mid_in)
        angle = torch.deg2rad(self._setting("elliptical_dab_angle", mid_in))
        cs, sn = torch.cos(angle), torch.sin(angle)
        dx, dy = seg[..., 0], seg[..., 1]
        across = (dy * cs - dx * sn) * ratio.clamp(min=1.0)  # a round dab: plain distance
        dist = (across**2 + (dy * sn + dx * cs) ** 2 + 1e-12).sqrt()
        density = dist * (
            b["dabs_per_actual_radius"] / radius_mid + b["dabs_per_basic_radius"] / base_radius
        )
        density = density + dt * b["dabs_per_second"]
        cumulative = torch.cumsum(density, 1)
        count = (
            int(torch.floor(cumulative[:, -1].detach().max() + self.partial_dab).item())
            if len(actions)
            else 0
        )
        count = max(count, 1)
        at = torch.arange(count, dtype=actions.dtype, device=actions.device)[None, :] + (
            1.0 - self.partial_dab
        )
        drawn = at <= cumulative[:, -1:]
        j = torch.searchsorted(
            cumulative.detach().contiguous(), at.expand(len(actions), count).contiguous()
        )
        j = j.clamp(max=n - 2)

        def take(x):
            return torch.gather(x, 1, j)

        before = cumulative - density
        u = ((at - take(before)) / take(density).clamp(min=1e-9)).clamp(0.0, 1.0)
        j2 = j[..., None].expand(-1, -1, 2)
        xy = torch.gather(pos[:, :-1], 1, j2) + u[..., None] * torch.gather(seg, 1, j2)
        if self.dab_share < 1.0:  # per-dab slow tracking, from the stroke's first point
            taps = len(self.dab_taps)
            history = torch.cat([points[:, :1].expand(-1, taps, 2), xy], 1)
            filtered = (1 - self.dab_share) ** taps * history[:, :count]
            for lag, weight in enumerate(self.dab_taps.tolist()):
                filtered = filtered + weight * history[:, taps - lag : taps - lag + count]
            xy = filtered
        # inputs as libmypaint reads them: the speed filter before this dab's step
        u_prev = torch.cat([torch.zeros_like(u[:, :1]), u[:, :-1]], 1)
        same = torch.cat([torch.zeros_like(j[:, :1], dtype=torch.bool), j[:, 1:] == j[:, :-1]], 1)
        u_speed = torch.where(same, u_prev, torch.zeros_like(u))[drawn]
        owner = torch.arange(len(actions), device=actions.device)[:, None].expand_as(drawn)[drawn]
        j, u, xy = j[drawn], u[drawn], xy[drawn]

        def flat(x):  # a per-segment value at each drawn dab
            return x[owner, j]

        p_start, p_end = flat(pressure[:, :-1]), flat(pressure[:, 1:])
        starts = [flat(s) for s in speed_start]
        inputs = self._inputs(
            p_start + u * (p_end - p_start), speeds_at(u_speed, flat(speed), starts)
        )
        radius = self._setting("radius_logarithmic", inputs, base_log[owner, 0]).exp()
        radius = radius.clamp(RADIUS_MIN, RADIUS_MAX)
        hardness = self._setting("hardness", inputs).clamp(0.0, 1.0)
        opacity = self._setting("opaque", inputs).clamp(min=0.0)
        opacity = (opacity * self._setting("opaque_multiply", inputs)).clamp(0.0, 1.0)
        if linearize := b["opaque_linearize"]:
            per_pixel = max((b["dabs_per_actual_radius"] + b["dabs_per_basic_radius"]) * 2.0, 1.0)
            per_pixel = 1.0 + linearize * (per_pixel - 1.0)
            opacity = 1.0 - (1.0 - opacity).clamp(min=1e-12) ** (1.0 / per_pixel)
        if self.offset_by_speed:  # the slow pointer velocity, as the speeds above
            velocity = seg / dt
            end = torch.einsum("ij,bjc->bic", self.velocity_filter.to(actions.dtype), velocity)
            start = torch.cat([torch.zeros_like(end[:, :1]), end[:, :-1]], 1)
            v, s = flat(velocity), flat(start)
            slow = v + (s - v) * (self.velocity_keep**u_speed)[:, None]
            xy = xy + slow * (self._setting("offset_by_speed", inputs) * 0.1)[:, None]
        noise = None
        if self.random:  # what rand_gauss() scales, before anti-aliasing softens the dab
            jitter = self._setting("offset_by_random", inputs).clamp(min=0.0)
            noise = torch.stack(
                [
                    jitter * base_log[owner, 0].exp(),
                    self._setting("radius_by_random", inputs),
                    radius,
                    hardness,
                    torch.full_like(radius, b["anti_aliasing"]),
                ],
                -1,
            )
        radius, hardness = soften(radius, hardness, b["anti_aliasing"])
        ratio = self._setting("elliptical_dab_ratio", inputs).clamp(min=1.0)
        angle = (
            torch.remainder(self._setting("elliptical_dab_angle", inputs) + 180.0, 180.0) - 180.0
        )
        keep = ((hardness > 0) & (radius >= 0.1) & (opacity > 0)).detach()
        dabs = torch.stack([xy[:, 0], xy[:, 1], radius, opacity, hardness, ratio, angle], -1)
        dabs, owner, noise = dabs[keep], owner[keep], None if noise is None else noise[keep]
        return dabs, owner, noise, cumulative[:, -1] + self.partial_dab

    # pixels -------------------------------------------------------------------------
    def forward(
        self, actions: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """``(B, 12)`` actions to ``(B, 1, size, size)`` masks. ``generator`` is accepted
        for the painter interface; this twin is deterministic."""
        if actions.ndim != 2 or actions.shape[1] != A.ACTION_DIM:
            raise UserValueError(
                f"the dab twin takes (B, {A.ACTION_DIM}) continuous actions, got "
                f"{tuple(actions.shape)}"
            )
        if not len(actions):
            return actions.new_zeros(0, 1, self.size, self.size)
        dabs, owner, noise, count = self._dabs(actions)
        canvas = self._render(dabs, owner, noise, len(actions))
        if self.count_gradient and torch.is_grad_enabled() and actions.requires_grad and len(dabs):
            canvas = count_gradient(
                canvas, count, *next_dabs(dabs, owner, noise, len(actions)), self._render_ahead
            )
        return canvas

    def _render(
        self, dabs: torch.Tensor, owner: torch.Tensor, noise: torch.Tensor | None, batch: int
    ) -> torch.Tensor:
        """Paint ``dabs`` by this twin's expectation (both give alpha masks)."""
        if self.expectation == "fast":
            return render_dabs_fast(dabs, owner, batch, self.size, noise)
        return render_dabs(dabs, owner, batch, self.size, noise)

    def _render_ahead(
        self, dabs: torch.Tensor, owner: torch.Tensor, noise: torch.Tensor | None, batch: int
    ) -> torch.Tensor:
        """Paint each stroke's next dab for :func:`count_gradient`. The fast mean gives a
        stroke's dabs its radius nodes in turn, so a lone dab would take only the first
        (for ink_blot 0.59 of the exact mean's ink); here it takes each, averaged."""
        radius_noise = noise is not None and bool((noise[:, 1] != 0).any())
        if self.expectation != "fast" or not radius_noise:
            return self._render(dabs, owner, noise, batch)
        nodes = [
            render_dabs_fast(dabs, owner, batch, self.size, noise, first_node=k)
            for k in range(FAST_RADIUS_NODES)
        ]
        return torch.stack(nodes).mean(0)


def next_dabs(
    dabs: torch.Tensor, owner: torch.Tensor, noise: torch.Tensor | None, batch: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """The dab each stroke would draw next if it were a little longer, detached: its
    last dab moved on by the step between its last two (a copy of a stroke's only dab
    stays put). Strokes without dabs get none, so a stroke too short to draw a dab gets
    no count gradient. ``owner`` must be sorted, as :meth:`DabTwin.dabs` gives it.
    Shapes as :meth:`DabTwin.dabs`."""
    ends = torch.searchsorted(owner, torch.arange(batch, device=owner.device), right=True)
    has = ends > torch.cat([ends.new_zeros(1), ends[:-1]])
    last = ends[has] - 1
    before = torch.where(last > 0, last - 1, last)
    before = torch.where(owner[before] == owner[last], before, last)
    step = dabs[last, :2] - dabs[before, :2]
    ahead = dabs[last].detach().clone()
    ahead[:, :2] += step.detach()
    return ahead, owner[last], None if noise is None else noise[last].detach()


class _CountGradient(torch.autograd.Function):
    """The canvas as it is, whose backward also hands each stroke's dab count the sum of
    ``grad * gain``: ``canvas + (count - count.detach()) * gain`` without the two passes
    that add zero to every pixel."""

    @staticmethod
    def forward(ctx, canvas, count, gain):  # noqa: D102
        ctx.save_for_backward(gain)
        return canvas.view_as(canvas)

    @staticmethod
    def backward(ctx, grad):  # noqa: D102
        (gain,) = ctx.saved_tensors
        return grad, (grad * gain).sum((1, 2, 3)), None


def count_gradient(
    canvas: torch.Tensor,
    count: torch.Tensor,
    ahead: torch.Tensor,
    ahead_owner: torch.Tensor,
    ahead_noise: torch.Tensor | None,
    render: Callable[[torch.Tensor, torch.Tensor, torch.Tensor | None, int], torch.Tensor],
) -> torch.Tensor:
    """The canvas, unchanged, with the gradient of each stroke's ink in its dab count.

    A stroke's dabs fall at whole counts of its length (in dab spacings), so a little
    more length adds no ink until the next dab appears, and the exact canvas's gradient
    in the length only spreads the dabs it has (measured on a straight pen stroke:
    -57 ink per canvas width, where the ink grows by +573). The expected ink over where
    the dab grid starts grows by one dab's new ink per count, which is this term's
    gradient: ``d canvas / d count = next dab's alpha * (1 - canvas)``. ``render``
    paints the next dabs as the stroke was painted (:meth:`DabTwin._render_ahead`)."""
    with torch.no_grad():
        alpha = render(ahead, ahead_owner, ahead_noise, len(canvas))
        gain = alpha * (1.0 - canvas)
    return _CountGradient.apply(canvas, count, gain)


def dab_coefficients(dabs: torch.Tensor) -> torch.Tensor:
    """``(D, 12)`` per-dab constants of :func:`dab_opacity`, computed once for all dabs:
    the centre, the ellipse's axes scaled by the radius (plain path), the profile's two
    lines times the opacity, and for the anti-aliased path the raw angle, ratio, 1/r²
    and the squared radius where its cheaper estimate applies."""
    x, y, radius, opaque, hardness, ratio, angle = dabs.unbind(1)
    rad = torch.deg2rad(angle)
    cs, sn = torch.cos(rad), torch.sin(rad)
    hard = hardness.clamp(min=1e-6, max=1 - 1e-6)
    aa_start = torch.clamp(radius - 1.0, min=0.0) ** 2 / ratio
    return torch.stack(
        [
            x,
            y,
            cs * ratio / radius,
            sn * ratio / radius,
            sn / radius,
            cs / radius,
            opaque,
            opaque * (1.0 - 1.0 / hard),
            opaque * hard / (1.0 - hard),
            1.0 / (radius * radius),
            aa_start,
            ratio,
        ],
        1,
    )


def dab_opacity(
    px: torch.Tensor, py: torch.Tensor, coef: torch.Tensor, angle, antialiased: bool, concave: bool
) -> torch.Tensor:
    """Opacity of dabs at pixels ``px`` (``(D, 1, W)``) and ``py`` (``(D, H, 1)``), as
    ``render_dab_mask`` computes it, times the dab's opacity. ``coef`` holds the dabs'
    :func:`dab_coefficients`, ``angle`` their ``(cos, sin)``; ``antialiased`` takes the
    sub-pixel path libmypaint uses below radius 3, ``concave`` says every dab's hardness
    is at least one half. This is where the twin spends its time: each full-size
    operation is one pass over every window."""
    c = [coef[:, i, None, None] for i in range(coef.shape[1])]
    x, y, a, b, cc, e, opaque, slope, outer_top, inv_r2, aa_start, ratio = c
    dx, dy = px - x, py - y
    if not antialiased:
        across = (dy + 0.5) * a - (dx + 0.5) * b
        along = (dy + 0.5) * cc + (dx + 0.5) * e
        rr = torch.addcmul(across * across, along, along)
    else:
        cs, sn = angle

        def squared(u, v):
            p, q = (v * cs - u * sn) * ratio, v * sn + u * cs
            return torch.addcmul(p * p, q, q)

        right, bottom = -dx, -dy  # the dab's centre relative to the pixel's corner
        cx, cy = right - 0.5, bottom - 0.5
        inside = ((right > 0) & (right < 1)) & ((bottom > 0) & (bottom < 1))
        along = cx * cs + cy * sn
        # the point of the pixel nearest the dab's line; the centre itself when inside
        nx = torch.where(inside, 0.0, torch.minimum(torch.maximum(cs * along, right - 1), right))
        ny = torch.where(inside, 0.0, torch.minimum(torch.maximum(sn * along, bottom - 1), bottom))
        near = squared(nx, ny) * inv_r2
        step = torch.where((cx - cs) * sn - cs * (cy + sn) < 0, -_AREA_ONE_RADIUS, _AREA_ONE_RADIUS)
        far_sq = squared(nx + sn * step, ny - cs * step)
        far = far_sq * inv_r2
        blocked = (1.0 - near) / (1.0 + far - near).clamp(min=1e-6)  # finite where unused
        rr = torch.where(far_sq < aa_start, (far + near) * 0.5, 1.0 - blocked)
        rr = torch.where(near > 1.0, near, rr)
    # two linear segments in rr meeting at rr = hardness: concave when hardness >= 1/2
    # (the lower of the two lines), convex below (the higher); zero past rr = 1
    inner = torch.addcmul(opaque, rr, slope)
    outer = outer_top * (1.0 - rr)
    opa = torch.minimum(inner, outer) if concave else torch.maximum(inner, outer)
    return opa.clamp(min=0.0)


def _bucket(shift: torch.Tensor) -> torch.Tensor:
    """``shift`` rounded up to the next of 1, 2, 3, 4, 6, 8, 12, 16, ...: fewer window
    sizes, so fewer batches, for a few zero pixels more."""
    power = torch.pow(2.0, torch.floor(torch.log2(shift.clamp(min=1).double())))
    bucket = torch.where(
        shift <= power, power, torch.where(shift <= 1.5 * power, 1.5 * power, 2 * power)
    )
    return torch.ceil(bucket).long()


def noisy_nodes(
    dabs: torch.Tensor, noise: torch.Tensor, draws: torch.Tensor | None = None
) -> torch.Tensor:
    """``(D, N, 7)`` dabs: each of ``dabs`` at ``N`` draws of ``radius_by_random``'s
    ``rand_gauss``, ``draws`` (``(N,)`` for every dab alike, or ``(D, N)``), by default
    :data:`RADIUS_NODES` equally likely ones (one draw if no dab has that noise). As in
    libmypaint, the noise is added to the log radius before anti-aliasing softens the
    dab, and a dab made larger keeps its ink by losing opacity as the square of its
    growth."""
    spread, radius, hardness, aa = noise[:, 1:].unbind(1)
    if draws is None:
        noisy_radius = bool((spread.detach() != 0).any())
        draws = torch.tensor(gauss_nodes(RADIUS_NODES) if noisy_radius else (0.0,))
    g = draws.to(dabs.dtype).to(dabs.device).expand(len(dabs), -1)
    noisy = (radius.log()[:, None] + spread[:, None] * g).exp().clamp(RADIUS_MIN, RADIUS_MAX)
    opacity = dabs[:, 3, None] * (radius[:, None] / noisy).square().clamp(max=1.0)
    noisy, soft = soften(noisy, hardness[:, None], aa[:, None])
    same = dabs[:, None, :].expand(-1, g.shape[1], -1)
    columns = [same[..., 0], same[..., 1], noisy, opacity, soft, same[..., 5], same[..., 6]]
    return torch.stack(columns, -1)


def expected_opacity(
    nodes: torch.Tensor,
    jitter: torch.Tensor,
    px: torch.Tensor,
    py: torch.Tensor,
    shift: int,
    phases: int = 1,
    fused: bool = False,
) -> torch.Tensor:
    """``(P, H + 2 shift, W + 2 shift)`` expected opacity of ``P`` random dabs whose
    own windows are ``px`` (``(P, 1, W)``) and ``py`` (``(P, H, 1)``): the mean over each
    dab's radius ``nodes`` (``(P, N, 7)``, from :func:`noisy_nodes`), blurred along
    each axis by the position noise of standard deviation ``jitter``
    (:func:`jitter_kernel`) onto the window grown by ``shift`` pixels, which holds it.
    The profile is sampled at ``phases`` offsets per pixel along each axis. ``fused``
    computes the same with the compiled kernel (:func:`dab_kernel.expected`)."""
    count, n = nodes.shape[:2]
    flat = nodes.reshape(count * n, 7)
    coef = dab_coefficients(flat)
    rad = torch.deg2rad(flat[:, 6].detach())
    cos, sin = torch.cos(rad)[:, None, None], torch.sin(rad)[:, None, None]
    small, concave = flat[:, 2].detach() < 3.0, flat[:, 4].detach() >= 0.5
    phases = phases if shift else 1
    height, width = py.shape[1], px.shape[2]
    if fused:
        taps = jitter_taps(jitter, shift, phases) if shift else None
        flags = torch.where(small, dab_kernel.FLAG_ANTIALIASED, 0)
        flags = flags + torch.where(concave, dab_kernel.FLAG_CONCAVE, 0)
        corner = torch.stack([px[:, 0, 0], py[:, 0, 0]], 1).long()
        angles = torch.stack([cos.flatten(), sin.flatten()], 1)
        shape = (n, width, height, shift, phases)
        return dab_kernel.expected(coef, angles, flags, corner, shape, taps)
    px, py = px.repeat_interleave(n, 0), py.repeat_interleave(n, 0)
    steps = [a / phases for a in range(phases)]
    fine = []  # the dab moved by (a, b) / phases: (P, H, phases, W, phases) samples
    for b in steps:
        for a in steps:
            out = flat.new_zeros(count * n, py.shape[1], px.shape[2])
            for antialiased in (False, True):
                for hard in (False, True):
                    idx = torch.nonzero((small == antialiased) & (concave == hard))[:, 0]
                    if len(idx):
                        opa = dab_opacity(
                            px[idx] - a,
                            py[idx] - b,
                            coef[idx],
                            (cos[idx], sin[idx]),
                            antialiased,
                            hard,
                        )
                        out = out.index_copy(0, idx, opa)
            fine.append(out.view(count, n, *out.shape[1:]).mean(1))
    mean = torch.stack(fine, -1).view(count, height, width, phases, phases)
    mean = mean.permute(0, 1, 3, 2, 4).reshape(count, height * phases, width * phases)
    if not shift:
        return mean
    down = jitter_kernel(jitter, height, shift, phases)
    across = down if width == height else jitter_kernel(jitter, width, shift, phases)
    return down @ mean @ across.transpose(1, 2)


def _boxes(
    dabs: torch.Tensor, reach: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The cosine and sine of the dabs' angles, and the corner x and y and the width and
    height of the windows that hold each dab's pixels out to ``reach`` (its radius, or
    its largest radius draw) and one pixel of fringe."""
    x, y, _, _, _, ratio, angle = dabs.detach().unbind(1)
    rad = torch.deg2rad(angle)
    cos, sin = torch.cos(rad), torch.sin(rad)
    half_x = reach * torch.sqrt(cos**2 + (sin / ratio) ** 2)
    half_y = reach * torch.sqrt(sin**2 + (cos / ratio) ** 2)
    side_x = torch.ceil(2 * half_x + 3).long()  # floor(x + h + 1) - floor(x - h - 1) + 1
    side_y = torch.ceil(2 * half_y + 3).long()
    corner_x = torch.floor(x - half_x - 1.0).long()
    corner_y = torch.floor(y - half_y - 1.0).long()
    return cos, sin, corner_x, corner_y, side_x, side_y


def _kernel_dabs(
    dabs: torch.Tensor, owner: torch.Tensor, antialias: bool
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Deterministic dabs as the compiled rasteriser reads them: their
    :func:`dab_coefficients`, the cosine and sine of their angles and their windows
    (corner, size, canvas ``owner``, flags), as :func:`render_dabs` draws them."""
    r, hardness = dabs[:, 2].detach(), dabs[:, 4].detach()
    cos, sin, *box = _boxes(dabs, r)
    flags = torch.where((r < 3.0) & antialias, dab_kernel.FLAG_ANTIALIASED, 0)
    flags = flags + torch.where(hardness >= 0.5, dab_kernel.FLAG_CONCAVE, 0)
    window = torch.stack([*box, owner.long(), flags], 1)
    return dab_coefficients(dabs), torch.stack([cos, sin], 1), window


def render_dabs(
    dabs: torch.Tensor,
    owner: torch.Tensor,
    batch: int,
    size: int,
    noise: torch.Tensor | None = None,
    fused: bool = True,
    antialias: bool = True,
    log_clear: bool = False,
) -> torch.Tensor:
    """Compose ``(D, 7)`` dabs onto ``batch`` white canvases (``owner`` says whose):
    ``(batch, 1, size, size)`` alpha masks, ``1 - prod(1 - opacity)`` per pixel.

    Each dab is evaluated on the pixels libmypaint could touch: its ellipse's bounding
    box and one pixel of fringe. Dabs are sorted by box size, so each size is one batch
    of equal windows; the windows land on a canvas padded by the largest, so no pixel
    needs a bounds check, and all of them are added in one ``index_add``.

    With ``noise`` (``(D, 5)``: the position noise's standard deviation in pixels,
    ``radius_by_random``, and the radius, hardness and anti-aliasing before softening,
    as :meth:`DabTwin.dabs` gives them) each dab is replaced by its expected opacity
    (:func:`expected_opacity`). The dabs' noises are independent, so
    ``E[1 - prod(1 - a)] = 1 - prod(1 - E[a])``: the canvas is MyPaint's expected
    stroke, the mean of infinitely many renders.

    Float32 dabs on the CPU take the compiled kernels
    (:mod:`~neuralpaint.painters.dab_kernel`) unless ``fused`` is false; they paint the
    same canvas with one pass per window. ``antialias=False`` draws every deterministic
    dab by the plain path, even below radius 3. ``log_clear`` (deterministic dabs only)
    returns ``log(1 - alpha)``, the sum of the dabs' ``log(1 - opacity)``, instead of
    ``alpha``, always through torch: it is :func:`render_dabs_fast`'s path without the
    kernels, whose compiled path (:func:`dab_kernel.fast_logs`) keeps its logs itself."""
    if log_clear and noise is not None:
        raise ValueError("log_clear is for deterministic dabs: pass noise=None")
    if noise is None and fused and not log_clear and dab_kernel.usable(dabs):
        return dab_kernel.raster(*_kernel_dabs(dabs, owner, antialias), batch, size)
    r, hardness = dabs[:, 2].detach(), dabs[:, 4].detach()
    small = (r < 3.0) & antialias
    reach, shift = r, torch.zeros_like(r, dtype=torch.long)
    if noise is not None:
        noise = noise.to(dabs.dtype)
        nodes = noisy_nodes(dabs, noise)
        reach = nodes[..., 2].detach().amax(1)
        jitter = noise[:, 0]
        shift = _bucket(torch.ceil(GAUSS_REACH * jitter.detach()).long() + 1)
        shift = torch.where(jitter.detach() > 0, shift, 0)
    cos, sin, corner_x, corner_y, side_x, side_y = _boxes(dabs, reach)
    margin = int(max(side_x.max(), side_y.max()) + 2 * shift.max()) if len(dabs) else 0
    padded = size + 2 * margin
    # groups: window size, and for plain dabs the anti-aliased path (below radius 3)
    # and concave profiles, for random ones the reach of the position noise
    key = side_x * 4096 + side_y
    if noise is None:
        key = (key * 2 + small.long()) * 2 + (hardness >= 0.5).long()
    else:
        key = key * 4096 + shift
    key, order = torch.sort(key)
    keys, counts = torch.unique_consecutive(key, return_counts=True)
    coef = dab_coefficients(dabs[order])
    cos, sin, owner = cos[order], sin[order], owner[order]
    corner_x, corner_y = corner_x[order], corner_y[order]
    indices, values, places = [], [], []
    fast = fused and dab_kernel.usable(dabs, noise)
    start = 0
    for k, n in zip(keys.tolist(), counts.tolist(), strict=True):
        part = slice(start, start + n)
        start += n
        grow = 0
        if noise is None:
            sy, sx, aa, concave = (k >> 2) % 4096, (k >> 2) // 4096, bool(k & 2), bool(k & 1)
        else:
            grow, sy, sx = k % 4096, (k // 4096) % 4096, k // 4096**2
        px = corner_x[part, None, None] + torch.arange(sx, device=dabs.device)[None, None, :]
        py = corner_y[part, None, None] + torch.arange(sy, device=dabs.device)[None, :, None]
        fx, fy = px.to(dabs.dtype), py.to(dabs.dtype)
        if noise is None:
            angle_part = (cos[part, None, None], sin[part, None, None])
            opa = dab_opacity(fx, fy, coef[part], angle_part, aa, concave)
        else:
            picked = order[part]
            small = bool(reach[picked].max() < SUBPIXEL_RADIUS)
            phases = SUBPIXEL_PHASES if small else 1
            opa = expected_opacity(nodes[picked], jitter[picked], fx, fy, grow, phases, fast)
            if fast:
                sides = torch.tensor([sx + 2 * grow, sy + 2 * grow]).expand(n, 2)
                corners = torch.stack([corner_x[part], corner_y[part]], 1) - grow
                places.append(torch.cat([corners, sides, owner[part, None]], 1))
                values.append(opa.reshape(-1))
                continue
            px = (
                corner_x[part, None, None]
                - grow
                + torch.arange(sx + 2 * grow, device=dabs.device)[None, None, :]
            )
            py = (
                corner_y[part, None, None]
                - grow
                + torch.arange(sy + 2 * grow, device=dabs.device)[None, :, None]
            )
        whose = owner[part, None, None]
        indices.append(((whose * padded + py + margin) * padded + (px + margin)).reshape(-1))
        values.append(torch.log1p(-opa.clamp(max=1 - 1e-6)).reshape(-1))
    if fast:
        place = torch.cat(places) if places else torch.zeros(0, 5, dtype=torch.long)
        flat = torch.cat(values) if values else dabs.new_zeros(0)
        return dab_kernel.compose(flat, place, batch, size)
    logs = dabs.new_zeros(batch * padded * padded)
    if indices:
        logs = logs.index_add(0, torch.cat(indices), torch.cat(values))
    canvas = logs.view(batch, 1, padded, padded)
    canvas = canvas[..., margin : padded - margin, margin : padded - margin]
    return canvas if log_clear else 1.0 - torch.exp(canvas)


def render_dabs_fast(
    dabs: torch.Tensor,
    owner: torch.Tensor,
    batch: int,
    size: int,
    noise: torch.Tensor,
    fused: bool = True,
    first_node: int = 0,
) -> torch.Tensor:
    """An approximation of :func:`render_dabs`' expected stroke of a random brush, with
    a cost close to one deterministic render: ``(batch, 1, size, size)`` alpha masks.

    The exact mean draws each dab over its radius draws and blurs it by its position
    noise onto a window grown by the noise's reach (for charcoal about ten times the
    dab's own), at two sub-pixel phases. Here instead:

    - **Radius noise** is sampled in turn: consecutive dabs of a stroke take the
      :data:`FAST_RADIUS_NODES` equally likely radii one after another. Dabs overlap
      several times over, so each pixel still sees every radius.
    - **Position noise** blurs the stroke once rather than each dab. The dabs, without
      their jitter, are painted onto two canvases per stroke (those nearer the stroke's
      smallest and its largest noise, which changes with pressure for charcoal); each
      canvas's ``log(1 - alpha)`` is blurred along both axes by ``rand_gauss``'s density
      at its dabs' mean deviation (banded Toeplitz matrices, differentiable in it; the
      compiled kernel :func:`dab_kernel.fast_logs` skips the zeros off the band), and the
      logs add up. Blurring the sum of the logs rather than each dab's opacity
      gives ``E[log(1 - a)]`` where the exact mean has ``log(1 - E[a])``: the two agree
      for faint dabs and differ where one dab alone is nearly opaque. Noise under
      :data:`FAST_BLUR_MIN` of the radius is ignored.
    - Every dab takes the plain distance, without the sub-pixel path below radius 3,
      whose detail the mean blurs away.

    ``owner`` must be sorted, as :meth:`DabTwin.dabs` gives it (dabs stroke by stroke).
    ``fused`` as in :func:`render_dabs`. ``first_node`` is the radius node each stroke's
    first dab takes (the next dabs take the following ones).
    """
    if len(owner) > 1 and not bool((owner[1:] >= owner[:-1]).all()):
        raise ValueError("owner must be sorted: the fast mean counts each stroke's dabs in turn")
    device = dabs.device
    noise = noise.to(dabs.dtype)
    count = len(dabs)
    rank = torch.arange(count, device=device) - torch.searchsorted(owner, owner)
    if bool((noise[:, 1].detach() != 0).any()):  # else the dabs are already softened
        draws = torch.tensor(gauss_nodes(FAST_RADIUS_NODES), device=device)
        node = (rank + first_node) % FAST_RADIUS_NODES
        dabs = noisy_nodes(dabs, noise, draws[node, None])[:, 0]
    sigma, radius = noise[:, 0], noise[:, 2].detach()
    fixed = sigma.detach()
    low = fixed.new_full((batch,), math.inf).scatter_reduce(0, owner, fixed, "amin")
    high = fixed.new_full((batch,), -math.inf).scatter_reduce(0, owner, fixed, "amax")
    canvas = owner * 2 + (fixed > 0.5 * (low + high)[owner]).long()
    dabs_on = fixed.new_zeros(2 * batch).index_add(0, canvas, torch.ones_like(fixed))
    used = torch.nonzero(dabs_on > 0)[:, 0]
    place = torch.full((2 * batch,), -1, dtype=torch.long, device=device)
    place[used] = torch.arange(len(used), device=device)
    dabs_on = dabs_on[used]
    deviation = sigma.new_zeros(2 * batch).index_add(0, canvas, sigma)[used] / dabs_on
    mean_radius = radius.new_zeros(2 * batch).index_add(0, canvas, radius)[used] / dabs_on
    side = size + 2 * FAST_PAD
    moved = torch.cat([dabs[:, :2] + FAST_PAD, dabs[:, 2:]], 1)
    blurred = deviation.detach() >= FAST_BLUR_MIN * mean_radius
    # canvases whose noise is ignored take a one-tap blur: the crop itself
    reach = torch.where(blurred, torch.ceil(GAUSS_REACH * deviation.detach()).long() + 1, 0)
    shift = int(reach.max()) if len(reach) else 0
    crop = torch.zeros(2 * shift + 1, dtype=dabs.dtype, device=device)
    crop[shift] = 1.0
    taps = torch.where(blurred[:, None], jitter_taps(deviation, shift), crop)
    slot = place[canvas]  # each dab's canvas among the used ones
    if fused and dab_kernel.usable(moved, taps):
        coef, angles, window = _kernel_dabs(moved, owner, antialias=False)
        order = torch.argsort(slot, stable=True)
        first = torch.cumsum(torch.bincount(slot, minlength=len(used)), 0)
        first = torch.cat([first.new_zeros(1), first])
        total = dab_kernel.fast_logs(
            coef[order],
            angles[order],
            window[order],
            first,
            used // 2,
            taps,
            reach,
            batch,
            size,
            FAST_PAD,
        )
        return (1.0 - torch.exp(total))[:, None]
    logs = render_dabs(moved, slot, len(used), side, fused=False, antialias=False, log_clear=True)[
        :, 0
    ]
    matrix = _blur_matrices(taps, side, size, FAST_PAD, shift)
    out = matrix @ logs @ matrix.transpose(1, 2)
    total = out.new_zeros(batch, size, size).index_add(0, used // 2, out)
    return (1.0 - torch.exp(total))[:, None]


def _blur_matrices(taps: torch.Tensor, side: int, size: int, pad: int, shift: int) -> torch.Tensor:
    """``(N, size, side)`` matrices ``W[i, j] = taps[i - j + pad + shift]`` (zero off the
    taps): :func:`jitter_kernel`'s rows for the canvas inside a window padded by
    ``pad``, built as strided views of the taps rather than gathered."""
    before = side - 1 - pad - shift
    row = nn.functional.pad(taps, (before, size - 1 + pad - shift))
    return row.flip(-1).unfold(-1, side, 1).flip(1)


class StraightThrough(nn.Module):
    """Paints with ``exact`` and differentiates through ``smooth``:
    ``exact(a) + smooth(a) - smooth(a).detach()``.

    A hard dab's opacity changes only across its one-pixel rim, so the exact engine's
    gradient feels a target only where a stroke's edge touches it; on calligraphy Adam
    plans better through the pairing than through either twin alone (TWINS.md steps 45
    and 51). The pairing keeps what MyPaint paints in the forward pass (no transfer gap)
    and the neural twin's smoother gradient in the backward pass. Without gradients only
    ``exact`` runs."""

    def __init__(self, exact: nn.Module, smooth: nn.Module):
        super().__init__()
        self.exact, self.smooth = exact, smooth
        self.size, self.discrete = exact.size, exact.discrete

    def forward(
        self, actions: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """``(B, 12)`` actions to ``(B, 1, size, size)`` masks."""
        with torch.no_grad():
            painted = self.exact(actions)
        if not (torch.is_grad_enabled() and actions.requires_grad):
            return painted
        soft = self.smooth(actions)
        return painted + soft - soft.detach()
