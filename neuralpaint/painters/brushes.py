"""Which MyPaint brushes a neural painter can imitate, and the ones that ship with a twin.

A neural painter learns a stroke's alpha mask from black strokes on white and colours it
when compositing, ``canvas * (1 - a) + a * c``. That is exact only for a brush that lays
one colour with MyPaint's normal blending: every dab then moves the pixel towards the
same colour, so the result depends on the colour only through ``c``. A brush qualifies
unless one of the settings of :data:`NON_NORMAL` is on:

* smudge brushes (and the blend brushes built on smudge) mix colour read from the
  canvas into their dabs, erasers remove paint, ``lock_alpha`` paints only where paint
  already is, ``colorize`` recolours the canvas: all of them read the canvas, so no
  mask of their own can say what they paint;
* the ``change_color_*`` settings change the dab's colour as it paints, so the stroke
  is not one colour;
* ``posterize`` and ``paint_mode`` (pigment, spectral mixing) are MyPaint 2's blend
  modes. The ``mypaint_brush_stroke_to`` call this project paints with ignores both,
  so such a brush would not paint as it was designed to; they are left out too.

libmypaint is the judge: each brush file is loaded with ``mypaint_brush_from_string``,
and a setting counts as on when its base value is not 0
(``mypaint_brush_get_base_value``, which includes libmypaint's default for a setting
the file leaves out) or when an input drives it (``mypaint_brush_is_constant``). That
is the test libmypaint itself applies before it reads the canvas for smudging.

:data:`TWIN_BRUSHES` is the curated list of brushes with a shipped (or planned)
differentiable twin, of distinct character; :func:`require_twin_brush` is the check
every command that asks for a twin runs, with an error that names the brush and lists
the valid ones.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from neuralpaint.errors import UserValueError
from neuralpaint.painters import libmypaint as L
from neuralpaint.painters.mypaint import (
    DEFAULT_BRUSH,
    _quiet_libmypaint,
    format_brush_names,
    installed_brushes,
    resolve_brush,
)

NON_NORMAL: dict[str, str] = {
    "smudge": "smudges: mixes colour picked up from the canvas into its dabs",
    "eraser": "erases: removes paint instead of laying it",
    "lock_alpha": "locks alpha: paints only where the canvas already has paint",
    "colorize": "colorizes: recolours the canvas under it, keeping the canvas's lightness",
    "change_color_h": "changes its colour's hue as it paints",
    "change_color_l": "changes its colour's lightness (HSL) as it paints",
    "change_color_hsl_s": "changes its colour's saturation (HSL) as it paints",
    "change_color_v": "changes its colour's value (HSV) as it paints",
    "change_color_hsv_s": "changes its colour's saturation (HSV) as it paints",
    "posterize": "posterizes the canvas (a MyPaint 2 blend mode, which the stroke_to call "
    "used here ignores)",
    "paint_mode": "mixes as pigment (MyPaint 2's spectral blending, which the stroke_to "
    "call used here does not apply)",
}
"""libmypaint settings that make a brush's result more than normal blending of one
colour, with the reason a user reads when a brush is refused."""


@dataclass(frozen=True)
class TwinBrush:
    """A brush with a curated differentiable twin."""

    brush: str
    slug: str
    """Its part of painter names: ``regression-<slug>``."""
    character: str


TWIN_BRUSHES: tuple[TwinBrush, ...] = (
    TwinBrush(DEFAULT_BRUSH, "dry-brush", "dry, scattered dabs; random texture (the paper's)"),
    TwinBrush("classic/pen", "pen", "hard round nib, nearly deterministic; pressure widens it"),
    TwinBrush("classic/charcoal", "charcoal", "grainy, light at low pressure; random"),
    TwinBrush(
        "classic/calligraphy", "calligraphy", "flat nib: width depends on the stroke's angle"
    ),
    TwinBrush(
        "classic/marker_fat",
        "marker",
        "marker held upright: with no tilt its chisel curves give a small round hard dab,"
        " so thin hard lines",
    ),
    TwinBrush("classic/textured_ink", "ink", "ink with random blots along the stroke"),
    TwinBrush("classic/ink_blot", "ink-blot", "soft, blurred edges; random"),
)
"""Brushes with a twin, each of a distinct character, the default first. Candidates
left out on purpose: ``classic/pencil`` qualifies, but its strokes stay below the ink
threshold (alpha 0.75 at most; about 0.1% of pixels inked), so ink IoU against it would
be measured on almost nothing; ``classic/pointy_ink`` and ``classic/brush`` swell to
cover most of the canvas at high pressure; ``classic/kabura`` and ``classic/slow_ink``
paint much like ``classic/pen``."""


@dataclass(frozen=True)
class BrushInfo:
    """What libmypaint says about one brush file."""

    name: str
    path: Path
    non_normal: tuple[str, ...]
    """The settings of :data:`NON_NORMAL` that are on; empty for a qualifying brush."""

    @property
    def normal(self) -> bool:
        """Whether a mask composited in one colour paints exactly what MyPaint does."""
        return not self.non_normal

    @property
    def reasons(self) -> list[str]:
        return [NON_NORMAL[s] for s in self.non_normal]


def inspect_brush(brush: str | os.PathLike) -> BrushInfo:
    """Load a brush (name or ``.myb`` path) into libmypaint and read its blend settings.

    Raises:
        FileNotFoundError: for an unknown brush, listing the installed ones.
        ValueError: for a file libmypaint cannot parse.
    """
    path = resolve_brush(brush)
    return _inspect(str(brush), str(path.resolve()), path.stat().st_mtime_ns)


@functools.cache
def _inspect(name: str, path: str, mtime_ns: int) -> BrushInfo:
    ffi, lib = L.load()
    handle = lib.mypaint_brush_new()
    try:
        with _quiet_libmypaint(), quiet_stderr():  # warnings for inputs it does not know
            parsed = lib.mypaint_brush_from_string(handle, Path(path).read_bytes())
        if not parsed:
            raise ValueError(f"libmypaint could not parse brush file {path}")
        on = tuple(
            setting
            for setting in NON_NORMAL
            if lib.mypaint_brush_get_base_value(handle, L.setting_id(setting)) != 0.0
            or not lib.mypaint_brush_is_constant(handle, L.setting_id(setting))
        )
    finally:
        lib.mypaint_brush_unref(handle)
    return BrushInfo(name, Path(path), on)


@contextlib.contextmanager
def quiet_stderr() -> Iterator[None]:
    """File descriptor 2 points at ``/dev/null`` inside the block: libmypaint 1.6 warns
    on stderr about each brush input it does not know (MyPaint 2's ``surfacemap_x``...),
    which inspecting every installed brush would otherwise print."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no stderr to protect
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def catalogue() -> dict[str, BrushInfo]:
    """Every installed brush by name (as :func:`resolve_brush` finds it), inspected."""
    return {name: inspect_brush(name) for name in installed_brushes()}


def normal_brushes() -> list[str]:
    """Installed brushes that paint with normal blending of one colour: those a neural
    painter can imitate."""
    return [name for name, info in catalogue().items() if info.normal]


def excluded_brushes() -> dict[str, list[str]]:
    """Installed brushes a twin cannot imitate, with the reasons."""
    return {name: info.reasons for name, info in catalogue().items() if not info.normal}


def brush_slug(brush: str | os.PathLike) -> str:
    """A brush's part of painter names: the curated slug (``pen``), else its folder and
    file name (``deevad-pen``)."""
    for twin in TWIN_BRUSHES:
        if twin.brush == str(brush):
            return twin.slug
    path = Path(str(brush).removesuffix(".myb"))
    parts = [path.parent.name, path.name] if path.parent.name else [path.name]
    return "-".join(p.replace("_", "-").replace("#", "") for p in parts).lower()


def twin_name(brush: str | os.PathLike = DEFAULT_BRUSH, discrete: bool = False) -> str:
    """The shipped painter name of a brush's twin: ``regression`` (and
    ``regression-discrete``) for the default brush, ``regression-<slug>`` (and
    ``regression-discrete-<slug>``) for another."""
    base = "regression-discrete" if discrete else "regression"
    return base if str(brush) == DEFAULT_BRUSH else f"{base}-{brush_slug(brush)}"


def require_twin_brush(brush: str | os.PathLike) -> BrushInfo:
    """The brush's info when a twin can imitate it.

    Raises:
        UserValueError: for an unknown brush, or one that is not normal-blending, naming
            the brush, why, and the brushes that qualify.
    """
    try:
        info = inspect_brush(brush)
    except FileNotFoundError:
        raise UserValueError(
            f"unknown brush {str(brush)!r}: a twin needs a brush with normal blending, one of "
            f"{format_brush_names(normal_brushes())} (or a path to such a .myb file)"
        ) from None
    if not info.normal:
        raise UserValueError(
            f"brush {str(brush)!r} has no differentiable twin: it "
            + "; it ".join(info.reasons)
            + ". A twin learns one mask composited in one colour, exact only for normal "
            f"blending; brushes that qualify: {format_brush_names(normal_brushes())}"
        )
    return info


def require_twin_brushes(brushes: list[str]) -> list[str]:
    """:func:`require_twin_brush` for each brush of a list, refusing repeats."""
    if len(set(brushes)) != len(brushes):
        raise UserValueError(f"brushes repeat in {brushes}; name each brush once")
    for brush in brushes:
        require_twin_brush(brush)
    return list(brushes)


def describe_catalogue() -> str:
    """A Markdown summary: the curated twins (each brush's network, its dab twin and
    the default that gradient agents get), how many brushes qualify, and why the others
    are excluded (counted by reason)."""
    from neuralpaint.painters.dabs import PREFIX, dab_brushes  # dabs imports this module
    from neuralpaint.painters.neural import default_twin  # as does neural

    cat = catalogue()
    normal = [n for n, i in cat.items() if i.normal]
    exact = set(dab_brushes()) & set(normal)
    lines = [
        f"{len(cat)} installed brushes; {len(normal)} use normal blending of one colour and "
        f"can have a twin; the dab twin (`{PREFIX}<brush>`) paints {len(exact)} of them.",
        "",
        "| brush | network twin | dab twin | default (`brush=`) | character |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| `{t.brush}` | `{twin_name(t.brush)}` | "
        + (f"`{PREFIX}{t.brush}`" if t.brush in exact else "–")
        + f" | `{default_twin(t.brush)}` | {t.character} |"
        for t in TWIN_BRUSHES
    ]
    counts: dict[str, int] = {}
    for info in cat.values():
        for setting in info.non_normal:
            counts[setting] = counts.get(setting, 0) + 1
    lines += ["", "| excluded because it | brushes |", "|---|---|"]
    lines += [f"| {NON_NORMAL[s]} (`{s}`) | {n} |" for s, n in sorted(counts.items())]
    return "\n".join(lines) + "\n"
