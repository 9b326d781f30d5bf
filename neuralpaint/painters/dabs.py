"""A differentiable twin that paints the way libmypaint does: dab by dab.

A neural twin learns a brush from examples and blurs what it cannot fit: thin nib
strokes and one-pixel edges. For a brush without randomness (``classic/pen``,
``classic/calligraphy``, ``classic/marker_fat``) there is nothing to learn: the stroke
is a deterministic function of the action, written in libmypaint 1.6's
``mypaint-brush.c`` and ``mypaint-tiled-surface.c``. :class:`DabTwin` computes it in
torch, for a batch, with gradients:

1. **Where the dabs go.** libmypaint low-pass filters the pointer per event
   (``slow_tracking``), places a dab each time the distance moved, measured in dab
   radii (elliptical for a flat nib), adds up to one, and low-pass filters each dab's
   position again (``slow_tracking_per_dab``). Both filters are linear, so they are
   matrix products; the dab count per segment becomes a cumulative sum, and each dab is
   found by ``searchsorted`` on it (the count is discrete; where a dab falls inside its
   segment is differentiable).
2. **What each dab looks like.** Radius, hardness, opacity, aspect ratio and angle come
   from the brush file's base values and input curves (pressure and the two speed
   filters), with libmypaint's opacity linearisation and its anti-aliasing, which trades
   hardness for radius below ``anti_aliasing`` pixels of fade.
3. **How dabs add up.** Each dab's opacity follows ``render_dab_mask`` (two linear
   segments in squared radius; the sub-pixel anti-aliased distance below radius 3), and
   normal blending of one colour composes as ``1 - prod(1 - opacity)``, computed as a
   sum of logarithms over a window around each dab.

What it does not reproduce: a stroke's first dab depends on the fraction of a dab left
over from the brush's previous stroke, which the twin takes as one half (the expected
value); speeds use each segment's own filter state, where libmypaint updates it a dab
later. Brushes whose settings read other inputs (random, direction, stroke, custom...)
or that jitter their dabs are refused with the inputs named.
"""

from __future__ import annotations

import functools
import json
import math
import os
from pathlib import Path

import torch
from torch import nn

from neuralpaint import actions as A
from neuralpaint.errors import UserValueError
from neuralpaint.painters import libmypaint as L
from neuralpaint.painters.broadcast import brush_radius, curve_points
from neuralpaint.painters.brushes import quiet_stderr
from neuralpaint.painters.mypaint import format_brush_names, installed_brushes, resolve_brush

PREFIX = "dabs:"
"""Painter names of the form ``dabs:<brush>`` load a :class:`DabTwin` of that brush."""
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
)
"""The settings the twin reads; every other one must be zero without input curves, or
:data:`NEUTRAL`."""
NEUTRAL = {
    "paint_mode",
    "smudge_length",
    "stroke_duration_logarithmic",
    "direction_filter",
    "offset_by_speed_slowness",
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
            f"jitter or smudge; installed, those are {format_brush_names(dab_brushes())}. "
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
    curves = {n: {i: p for i, p in s["inputs"].items() if p} for n, s in settings.items()}
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

    ``forward`` maps ``(B, 12)`` actions to ``(B, 1, size, size)`` alpha masks.
    """

    def __init__(self, brush: str | os.PathLike, size: int = 64, partial_dab: float = 0.5):
        super().__init__()
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
    def dabs(self, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The ``(D, 7)`` dabs ``(x, y, radius, opacity, hardness, ratio, angle)`` that
        libmypaint draws for a batch, in canvas pixels and degrees, in painting order,
        and the ``(D,)`` index of the stroke each belongs to."""
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
        at = torch.arange(count, dtype=actions.dtype)[None, :] + (1.0 - self.partial_dab)
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
        fade, aa = radius * (1 - hardness), b["anti_aliasing"]
        optical = radius - (1 - hardness) * radius / 2
        softer = (optical - aa / 2) / (optical + aa / 2)
        soften = fade < aa
        radius = torch.where(soften, aa / (1 - softer).clamp(min=1e-6), radius)
        hardness = torch.where(soften, softer, hardness).clamp(0.0, 1.0)
        ratio = self._setting("elliptical_dab_ratio", inputs).clamp(min=1.0)
        angle = (
            torch.remainder(self._setting("elliptical_dab_angle", inputs) + 180.0, 180.0) - 180.0
        )
        keep = ((hardness > 0) & (radius >= 0.1) & (opacity > 0)).detach()
        dabs = torch.stack([xy[:, 0], xy[:, 1], radius, opacity, hardness, ratio, angle], -1)
        return dabs[keep], owner[keep]

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
        dabs, owner = self.dabs(actions)
        return render_dabs(dabs, owner, len(actions), self.size)


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
        nx = torch.minimum(torch.maximum(cs * along, right - 1), right)
        ny = torch.minimum(torch.maximum(sn * along, bottom - 1), bottom)
        near = torch.where(inside, 0.0, squared(nx, ny) * inv_r2)
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


def render_dabs(dabs: torch.Tensor, owner: torch.Tensor, batch: int, size: int) -> torch.Tensor:
    """Compose ``(D, 7)`` dabs onto ``batch`` white canvases (``owner`` says whose):
    ``(batch, 1, size, size)`` alpha masks, ``1 - prod(1 - opacity)`` per pixel.

    Each dab is evaluated on the pixels libmypaint could touch: its ellipse's bounding
    box and one pixel of fringe. Dabs are sorted by box size, so each size is one batch
    of equal windows; the windows land on a canvas padded by the largest, so no pixel
    needs a bounds check, and all of them are added in one ``index_add``."""
    x, y, r, _, hardness, ratio, angle = dabs.detach().unbind(1)
    rad = torch.deg2rad(angle)
    cos, sin = torch.cos(rad), torch.sin(rad)
    half_x = r * torch.sqrt(cos**2 + (sin / ratio) ** 2)
    half_y = r * torch.sqrt(sin**2 + (cos / ratio) ** 2)
    side_x = torch.ceil(2 * half_x + 3).long()  # floor(x + h + 1) - floor(x - h - 1) + 1
    side_y = torch.ceil(2 * half_y + 3).long()
    margin = int(max(side_x.max(), side_y.max())) if len(dabs) else 0
    padded = size + 2 * margin
    # groups: window size, the anti-aliased path (below radius 3), concave profiles
    key = ((side_x * 4096 + side_y) * 2 + (r < 3.0).long()) * 2 + (hardness >= 0.5).long()
    key, order = torch.sort(key)
    keys, counts = torch.unique_consecutive(key, return_counts=True)
    coef = dab_coefficients(dabs[order])
    cos, sin, owner = cos[order], sin[order], owner[order]
    corner_x = torch.floor(x - half_x - 1.0).long()[order]
    corner_y = torch.floor(y - half_y - 1.0).long()[order]
    indices, values = [], []
    start = 0
    for k, n in zip(keys.tolist(), counts.tolist(), strict=True):
        part = slice(start, start + n)
        start += n
        sy, sx, aa, concave = (k >> 2) % 4096, (k >> 2) // 4096, bool(k & 2), bool(k & 1)
        px = corner_x[part, None, None] + torch.arange(sx, device=dabs.device)[None, None, :]
        py = corner_y[part, None, None] + torch.arange(sy, device=dabs.device)[None, :, None]
        angle_part = (cos[part, None, None], sin[part, None, None])
        opa = dab_opacity(px.to(dabs.dtype), py.to(dabs.dtype), coef[part], angle_part, aa, concave)
        whose = owner[part, None, None]
        indices.append(((whose * padded + py + margin) * padded + (px + margin)).reshape(-1))
        values.append(torch.log1p(-opa.clamp(max=1 - 1e-6)).reshape(-1))
    log_clear = dabs.new_zeros(batch * padded * padded)
    if indices:
        log_clear = log_clear.index_add(0, torch.cat(indices), torch.cat(values))
    canvas = log_clear.view(batch, 1, padded, padded)
    canvas = canvas[..., margin : padded - margin, margin : padded - margin]
    return 1.0 - torch.exp(canvas)
