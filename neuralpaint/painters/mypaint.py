"""The real renderer: libmypaint painting strokes on a fixed tiled surface.

Two ways to paint:

* :class:`MyPaintCanvas` keeps one surface and paints stroke after stroke on it with
  the brush's own blending. This is what an episode uses.
* :meth:`MyPaintRenderer.render_masks` paints each stroke in black on its own blank
  canvas and returns alpha masks, ``a = 1 - pixel``. This is what neural painters
  learn from. Large batches run over worker processes with a progress bar.

Randomness. Brushes such as ``classic/dry_brush`` jitter every dab with the brush
object's own random generator, which libmypaint seeds with a constant when the brush
is created and offers no way to reseed. A reused brush therefore varies its texture
from stroke to stroke, while a fresh brush always draws the same texture. We get both
reproducibility and natural variation through the public API only: a seed picks a
number of zero-pressure ``stroke_to`` calls that advance a *fresh* brush's generator
before it paints ("warm-up"). The same seed then gives identical pixels, different
seeds give different textures, and successive strokes on one brush still differ.
"""

from __future__ import annotations

import colorsys
import contextlib
import os
import sys
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from functools import cached_property
from pathlib import Path

import numpy as np

from neuralpaint import actions as A
from neuralpaint.painters import libmypaint as L
from neuralpaint.progress import progress_bar

DEFAULT_BRUSH = "classic/dry_brush"
BRUSH_DIRS = (
    "/usr/share/mypaint-data/2.0/brushes",
    "/usr/share/mypaint-data/1.0/brushes",
    "/usr/local/share/mypaint-data/2.0/brushes",
    "/usr/local/share/mypaint-data/1.0/brushes",
    "/opt/homebrew/share/mypaint-data/2.0/brushes",
    "/opt/homebrew/share/mypaint-data/1.0/brushes",
)
WARMUP_RANGE = 256
"""A seed picks one of this many warm-up lengths, i.e. one of this many textures."""
TEXTURE_CHUNK = 256
"""``render_masks`` gives each run of this many strokes a fresh, seeded brush, so that
results do not depend on how a batch is split over worker processes."""


def brush_dirs() -> list[Path]:
    """Folders searched for brush names, ``NEURALPAINT_BRUSHES`` first."""
    dirs = [Path(p) for p in os.environ.get("NEURALPAINT_BRUSHES", "").split(os.pathsep) if p]
    dirs += [Path(sys.prefix) / "share/mypaint-data" / v / "brushes" for v in ("2.0", "1.0")]
    return dirs + [Path(p) for p in BRUSH_DIRS]


def installed_brushes() -> dict[str, Path]:
    """Every brush name found in :func:`brush_dirs` (``'classic/pen'``...), with the
    file that name resolves to: the first folder that has it wins, as in
    :func:`resolve_brush`."""
    found: dict[str, Path] = {}
    for folder in brush_dirs():
        if folder.is_dir():
            for path in sorted(folder.glob("**/*.myb")):
                found.setdefault(path.relative_to(folder).with_suffix("").as_posix(), path)
    return dict(sorted(found.items()))


def format_brush_names(names: Sequence[str]) -> str:
    """Brush names grouped by folder, compactly: ``classic/{pen, pencil}; deevad/{...}``."""
    groups: dict[str, list[str]] = {}
    for name in names:
        folder, _, stem = str(name).rpartition("/")
        groups.setdefault(folder, []).append(stem)
    parts = [
        f"{folder}/{{{', '.join(stems)}}}" if folder else ", ".join(stems)
        for folder, stems in groups.items()
    ]
    return "; ".join(parts)


def resolve_brush(brush: str | os.PathLike) -> Path:
    """Find a brush by name (``'classic/dry_brush'``) or as a path to a ``.myb`` file.

    Raises:
        FileNotFoundError: naming the folders searched and how to install the brushes,
            or, when brushes are installed, listing them.
    """
    path = Path(brush)
    if path.suffix == ".myb" and path.is_file():
        return path
    name = str(brush).removesuffix(".myb") + ".myb"
    for folder in brush_dirs():
        if (folder / name).is_file():
            return folder / name
    if installed := installed_brushes():
        raise FileNotFoundError(
            f"brush {str(brush)!r} not found: give a path to a .myb file or one of the "
            f"{len(installed)} installed brushes: {format_brush_names(list(installed))}"
        )
    searched = ", ".join(str(d) for d in brush_dirs())
    raise FileNotFoundError(
        f"brush {str(brush)!r} not found: give a path to a .myb file or a name such as "
        f"'{DEFAULT_BRUSH}' from the mypaint-brushes package (searched {searched}). "
        + L.INSTALL_HINT
    )


def texture_warmup(seed: int | Sequence[int] | None) -> int:
    """Number of warm-up calls for a seed; ``None`` draws fresh entropy."""
    return int(np.random.default_rng(seed).integers(0, WARMUP_RANGE))


class _Surface:
    """A fixed tiled surface with pixel access through libmypaint's tile requests."""

    def __init__(self, width: int, height: int):
        self.ffi, self.lib = L.load()
        self.width, self.height = width, height
        self.handle = self.lib.mypaint_fixed_tiled_surface_new(width, height)
        if self.handle == self.ffi.NULL:
            raise MemoryError(f"libmypaint could not allocate a {width}x{height} surface")
        self.surface = self.lib.mypaint_fixed_tiled_surface_interface(self.handle)
        self.tiled = self.ffi.cast("MyPaintTiledSurface *", self.handle)
        self.tiles = [
            (tx, ty)
            for ty in range(-(-height // L.TILE_SIZE))
            for tx in range(-(-width // L.TILE_SIZE))
        ]
        self.request = self.ffi.new("MyPaintTileRequest *")
        self.tile_bytes = L.TILE_SIZE * L.TILE_SIZE * 4 * 2
        self.white = np.full(L.TILE_SIZE * L.TILE_SIZE * 4, L.ONE, dtype=np.uint16).tobytes()
        self.clear()

    def __del__(self) -> None:
        if getattr(self, "surface", None) is not None:
            self.lib.mypaint_surface_unref(self.surface)
            self.surface = None

    def _tile(self, tx: int, ty: int, readonly: bool) -> np.ndarray:
        lib, req = self.lib, self.request
        lib.mypaint_tile_request_init(req, 0, tx, ty, int(readonly))
        lib.mypaint_tiled_surface_tile_request_start(self.tiled, req)
        return np.frombuffer(self.ffi.buffer(req.buffer, self.tile_bytes), dtype=np.uint16)

    def clear(self) -> None:
        """Fill with opaque white (libmypaint's own fill, 0xFFFF, is above 1.0)."""
        for tx, ty in self.tiles:
            self._tile(tx, ty, readonly=False)
            self.ffi.memmove(self.request.buffer, self.white, self.tile_bytes)
            self.lib.mypaint_tiled_surface_tile_request_end(self.tiled, self.request)

    def rgba(self) -> np.ndarray:
        """The surface as ``(H, W, 4)`` uint16, premultiplied, 1.0 = ``1 << 15``."""
        if len(self.tiles) == 1:
            tile = self._tile(0, 0, readonly=True).reshape(L.TILE_SIZE, L.TILE_SIZE, 4)
            out = tile[: self.height, : self.width].copy()
            self.lib.mypaint_tiled_surface_tile_request_end(self.tiled, self.request)
            return out
        ts = L.TILE_SIZE
        full = np.empty((-(-self.height // ts) * ts, -(-self.width // ts) * ts, 4), np.uint16)
        for tx, ty in self.tiles:
            tile = self._tile(tx, ty, readonly=True).reshape(ts, ts, 4)
            full[ty * ts : (ty + 1) * ts, tx * ts : (tx + 1) * ts] = tile
            self.lib.mypaint_tiled_surface_tile_request_end(self.tiled, self.request)
        return full[: self.height, : self.width]

    def red_into(self, out: np.ndarray) -> None:
        """Copy the red channel into a ``(H, W)`` uint16 array (the fast path for masks)."""
        for tx, ty in self.tiles:
            ts = L.TILE_SIZE
            tile = self._tile(tx, ty, readonly=True).reshape(ts, ts, 4)
            region = out[ty * ts : (ty + 1) * ts, tx * ts : (tx + 1) * ts]
            np.copyto(region, tile[: region.shape[0], : region.shape[1], 0])
            self.lib.mypaint_tiled_surface_tile_request_end(self.tiled, self.request)

    def rgb(self) -> np.ndarray:
        """The surface as ``(H, W, 3)`` float32 RGB in [0, 1], un-premultiplied."""
        return _unpremultiply(self.rgba())

    def rgb_region(self, x0: int, y0: int, width: int, height: int) -> np.ndarray:
        """``(height, width, 3)`` float32 RGB of a window, reading only its tiles (a
        picture-sized canvas is read a cell at a time)."""
        ts = L.TILE_SIZE
        x1, y1 = min(x0 + width, self.width), min(y0 + height, self.height)
        if not (0 <= x0 < x1 and 0 <= y0 < y1):
            raise ValueError(f"window ({x0}, {y0}, {width}, {height}) is off the canvas")
        tx0, ty0, tx1, ty1 = x0 // ts, y0 // ts, -(-x1 // ts), -(-y1 // ts)
        block = np.empty(((ty1 - ty0) * ts, (tx1 - tx0) * ts, 4), np.uint16)
        for ty in range(ty0, ty1):
            for tx in range(tx0, tx1):
                tile = self._tile(tx, ty, readonly=True).reshape(ts, ts, 4)
                block[
                    (ty - ty0) * ts : (ty - ty0 + 1) * ts, (tx - tx0) * ts : (tx - tx0 + 1) * ts
                ] = tile
                self.lib.mypaint_tiled_surface_tile_request_end(self.tiled, self.request)
        ox, oy = x0 - tx0 * ts, y0 - ty0 * ts
        return _unpremultiply(block[oy : oy + y1 - y0, ox : ox + x1 - x0])

    def set_rgb(self, image: np.ndarray) -> None:
        """Overwrite the surface with an opaque ``(H, W, 3)`` RGB image in [0, 1]."""
        ts = L.TILE_SIZE
        px = np.clip(np.asarray(image, np.float32), 0.0, 1.0) * L.ONE
        full = np.full((-(-self.height // ts) * ts, -(-self.width // ts) * ts, 4), L.ONE, np.uint16)
        full[: self.height, : self.width, :3] = np.round(px).astype(np.uint16)
        for tx, ty in self.tiles:
            self._tile(tx, ty, readonly=False)
            data = np.ascontiguousarray(full[ty * ts : (ty + 1) * ts, tx * ts : (tx + 1) * ts])
            self.ffi.memmove(self.request.buffer, data.tobytes(), self.tile_bytes)
            self.lib.mypaint_tiled_surface_tile_request_end(self.tiled, self.request)


def _unpremultiply(rgba: np.ndarray) -> np.ndarray:
    px = rgba.astype(np.float32)
    alpha = np.maximum(px[..., 3:], 1.0)
    return np.clip(px[..., :3] / alpha, 0.0, 1.0)


@contextlib.contextmanager
def _quiet_libmypaint() -> Iterator[None]:
    """Keep the messages libmypaint prints inside the block off the user's terminal.

    libmypaint prints "Time is running backwards!" to stdout when one of its dab steps
    gets a negative time, then uses 1 ms for that step. Every ``dtime`` we pass is
    0.1 s, so the negative step comes from libmypaint's own interpolation, most likely
    its single precision: when a step takes all the time left, ``(float) dtime_left``
    can exceed the double it came from and leave the last step a nanosecond below
    zero. That needs a dab count to land on a whole number, so only long runs over
    many seeds meet it. Changing our ``dtime`` would change pixels, so the message is
    dropped instead: file descriptor 1 points at ``/dev/null`` inside the block, and C's
    stdout is flushed there before it is restored. Python's output is flushed first.
    """
    libc = _libc()
    if libc is None:
        yield
        return
    try:
        sys.stdout.flush()
        saved = os.dup(1)
    except (OSError, ValueError, AttributeError):  # no stdout to protect
        yield
        return
    try:
        os.dup2(libc.devnull, 1)
        yield
    finally:
        libc.fflush(libc.NULL_STREAM)
        os.dup2(saved, 1)
        os.close(saved)


class _Libc:
    """``fflush`` of the C library, through cffi (ABI mode)."""

    NULL_STREAM = None

    def __init__(self) -> None:
        from cffi import FFI

        ffi = FFI()
        ffi.cdef("int fflush(void *stream);")
        self._lib = ffi.dlopen(None)
        self.NULL_STREAM = ffi.NULL
        self.devnull = os.open(os.devnull, os.O_WRONLY)  # kept open: one per process

    def fflush(self, stream) -> None:
        self._lib.fflush(stream)


_LIBC: list[_Libc | None] = []


def _libc() -> _Libc | None:
    """The C library of this process, or ``None`` where cffi cannot open it."""
    if not _LIBC:
        try:
            _LIBC.append(_Libc() if os.name == "posix" else None)
        except (OSError, AttributeError):
            _LIBC.append(None)
    return _LIBC[0]


class _Brush:
    """A libmypaint brush loaded from a ``.myb`` file, with a seeded texture."""

    def __init__(self, source: bytes, path: Path, seed: int | Sequence[int] | None):
        self.ffi, self.lib = L.load()
        self.handle = self.lib.mypaint_brush_new()
        if not self.lib.mypaint_brush_from_string(self.handle, source):
            self.lib.mypaint_brush_unref(self.handle)
            self.handle = None
            raise ValueError(f"libmypaint could not parse brush file {path}")
        self.color: tuple[float, float, float] | None = None
        self.radius: float | None = None
        self.warm_up(texture_warmup(seed))

    def __del__(self) -> None:
        if getattr(self, "handle", None) is not None:
            self.lib.mypaint_brush_unref(self.handle)
            self.handle = None

    def warm_up(self, calls: int) -> None:
        """Advance the brush's generator by painting ``calls`` tiny dabs off-canvas.

        Only dabs that are drawn consume random numbers, so the warm-up paints at full
        pressure with the smallest radius, outside the surface, moving a fraction of a
        pixel per call (about one dab each; about 4 microseconds per call).
        """
        scratch = _scratch_surface()
        lib, brush = self.lib, self.handle
        lib.mypaint_brush_set_base_value(brush, L.setting_id("radius_logarithmic"), -1.5)
        lib.mypaint_surface_begin_atomic(scratch)
        with _quiet_libmypaint():
            for i in range(calls + 1):  # the first call after creation only positions
                lib.mypaint_brush_stroke_to(brush, scratch, -50.0 - 0.03 * i, -50.0, 1.0, 0, 0, 0.1)
        lib.mypaint_surface_end_atomic(scratch, self.ffi.NULL)
        self.radius = None

    def set_color(self, rgb: tuple[float, float, float]) -> None:
        if rgb != self.color:
            h, s, v = colorsys.rgb_to_hsv(*rgb)
            for name, value in (("color_h", h), ("color_s", s), ("color_v", v)):
                self.lib.mypaint_brush_set_base_value(self.handle, L.setting_id(name), value)
            self.color = rgb

    def set_radius(self, radius: float) -> None:
        if radius != self.radius:
            log_r = float(np.log(radius))
            self.lib.mypaint_brush_set_base_value(
                self.handle, L.setting_id("radius_logarithmic"), log_r
            )
            self.radius = radius

    def paint(self, surface: _Surface, xs: list, ys: list, ps: list, dtime: float) -> None:
        """Paint one stroke through the given points; drawn at ``end_atomic``.

        The brush state is moved to the start point first, so a brush with slow
        tracking does not drag the new stroke from where the last one ended.
        """
        lib, brush, surf = self.lib, self.handle, surface.surface
        x0, y0 = xs[0], ys[0]
        lib.mypaint_surface_begin_atomic(surf)
        for state, value in (
            (L.STATE_X, x0),
            (L.STATE_Y, y0),
            (L.STATE_ACTUAL_X, x0),
            (L.STATE_ACTUAL_Y, y0),
        ):
            lib.mypaint_brush_set_state(brush, state, value)
        lib.mypaint_brush_stroke_to(brush, surf, x0, y0, 0.0, 0.0, 0.0, dtime)
        stroke_to = lib.mypaint_brush_stroke_to
        for x, y, p in zip(xs, ys, ps, strict=True):
            stroke_to(brush, surf, x, y, p, 0.0, 0.0, dtime)
        lib.mypaint_surface_end_atomic(surf, self.ffi.NULL)


_SCRATCH: list[_Surface] = []


def _scratch_surface():
    """One tiny surface per process for warm-up calls that paint nothing."""
    if not _SCRATCH:
        _SCRATCH.append(_Surface(L.TILE_SIZE, L.TILE_SIZE))
    return _SCRATCH[0].surface


def stroke_paths(actions: np.ndarray, size: int) -> Iterator[tuple[list, list, list, float]]:
    """Vectorised action-to-path mapping: ``(xs, ys, pressures, radius)`` per stroke."""
    n = len(actions)
    t = np.linspace(0.0, 1.0, A.STROKE_STEPS)
    p0, c, p2 = actions[:, 0:2], actions[:, 2:4], actions[:, 4:6]
    p1 = 2.0 * c - 0.5 * (p0 + p2)
    tt = t[None, :, None]
    pts = (1 - tt) ** 2 * p0[:, None] + 2 * (1 - tt) * tt * p1[:, None] + tt**2 * p2[:, None]
    pts = pts * size
    ps = A.pressure(actions[:, 6:7] * (1 - t) + actions[:, 7:8] * t)
    radii = A.radius_px(actions[:, A.SIZE_INDEX], size)
    xs, ys, pl = pts[..., 0].tolist(), pts[..., 1].tolist(), ps.tolist()
    for i in range(n):
        yield xs[i], ys[i], pl[i], float(radii[i])


class MyPaintCanvas:
    """A persistent MyPaint canvas: strokes accumulate with the brush's own blending.

    Args:
        size: canvas side in pixels (the width). Brush radii of actions scale with it.
        brush: a brush name from mypaint-brushes, such as ``'classic/dry_brush'``, or a
            path to a ``.myb`` file.
        seed: seeds the brush texture; ``None`` draws fresh entropy. See :meth:`reset`.
        height: the canvas height for a non-square canvas (default: ``size``).

    Example:
        >>> canvas = MyPaintCanvas(64, seed=0)
        >>> canvas.paint([0.1, 0.1, 0.5, 0.2, 0.9, 0.9, 0.8, 0.8, 0.5, 1, 0, 0])
        >>> canvas.image().shape
        (64, 64, 3)
    """

    def __init__(
        self,
        size: int = 64,
        brush: str | os.PathLike = DEFAULT_BRUSH,
        seed=None,
        height: int | None = None,
    ):
        height = size if height is None else height
        for name, value in (("size", size), ("height", height)):
            if int(value) < 8:
                raise ValueError(f"{name} must be at least 8 pixels, got {value}")
        self.size, self.height = int(size), int(height)
        self.brush_path = resolve_brush(brush)
        self._brush_source = self.brush_path.read_bytes()
        self._surface = _Surface(self.size, self.height)
        self.strokes = 0
        self.reset(seed)

    def reset(self, seed: int | Sequence[int] | None = None) -> None:
        """Clear to white and start a fresh brush whose texture is fixed by ``seed``."""
        self._brush = _Brush(self._brush_source, self.brush_path, seed)
        self.clear()

    def clear(self) -> None:
        """Clear to white, keeping the brush (its texture keeps evolving)."""
        self._surface.clear()
        self.strokes = 0

    def paint(self, action: Sequence[float] | np.ndarray) -> None:
        """Paint one stroke: 12 fields, or 13 for the discrete variant.

        A discrete-variant action is quantized first (:func:`actions.quantize_discrete`)
        and paints nothing when its brush is lifted.
        """
        arr = np.asarray(action, dtype=np.float64)
        if arr.shape == (A.DISCRETE_ACTION_DIM,):
            arr = A.quantize_discrete(arr)
            self.strokes += 1
            if A.is_lifted(arr):
                return
            arr = arr[: A.ACTION_DIM]
        else:
            arr = A.validate(arr)
            if arr.ndim != 1:
                raise ValueError(f"paint takes one action of shape (12,), got {arr.shape}")
            self.strokes += 1
        xs, ys, ps, radius = next(stroke_paths(arr[None], self.size))
        self._brush.set_radius(radius)
        self._brush.set_color(tuple(float(v) for v in arr[A.COLOR_SLICE]))
        with _quiet_libmypaint():
            self._brush.paint(self._surface, xs, ys, ps, A.STROKE_DTIME)

    def paint_many(self, actions: np.ndarray) -> None:
        """Paint a sequence of strokes in order."""
        for action in np.asarray(actions):
            self.paint(action)

    def paint_path(self, path: A.BrushPath) -> None:
        """Paint one stroke given in pixels (:class:`~neuralpaint.actions.BrushPath`), for
        strokes planned in a window of a larger canvas."""
        self.strokes += 1
        self._brush.set_radius(float(path.radius))
        self._brush.set_color(tuple(float(v) for v in path.color))
        xs, ys, ps = (
            np.asarray(v, np.float64).tolist() for v in (path.xs, path.ys, path.pressures)
        )
        with _quiet_libmypaint():
            self._brush.paint(self._surface, xs, ys, ps, A.STROKE_DTIME)

    def image(self) -> np.ndarray:
        """The canvas as ``(H, W, 3)`` float32 RGB in [0, 1]."""
        return self._surface.rgb()

    def region(self, x0: int, y0: int, width: int, height: int) -> np.ndarray:
        """A window of the canvas as ``(height, width, 3)`` float32 RGB (clipped to the
        canvas), read tile by tile."""
        return self._surface.rgb_region(x0, y0, width, height)

    def load_image(self, image: np.ndarray) -> None:
        """Replace the canvas with an opaque RGB image of its size (a scratch copy of
        another canvas to plan on). The brush keeps its state."""
        arr = np.asarray(image)
        if arr.shape != (self.height, self.size, 3):
            raise ValueError(
                f"image must have shape ({self.height}, {self.size}, 3), got {arr.shape}"
            )
        self._surface.set_rgb(arr)


class MyPaintRenderer:
    """Renders stroke masks with the real MyPaint brush engine.

    Args:
        size: canvas side in pixels (square).
        brush: a brush name from mypaint-brushes or a path to a ``.myb`` file.

    Example:
        >>> renderer = MyPaintRenderer(64)
        >>> masks = renderer.render_masks(np.random.rand(8, 12), seed=0)
        >>> masks.shape, masks.dtype
        ((8, 64, 64), dtype('float32'))
    """

    differentiable = False

    def __init__(self, size: int = 64, brush: str | os.PathLike = DEFAULT_BRUSH):
        if int(size) < 8:
            raise ValueError(f"size must be at least 8 pixels, got {size}")
        self.size = int(size)
        self.brush = brush
        self.name = "mypaint"
        self.brush_path = resolve_brush(brush)
        self._brush_source = self.brush_path.read_bytes()

    @cached_property
    def _surface(self) -> _Surface:
        return _Surface(self.size, self.size)

    def new_canvas(self, seed: int | Sequence[int] | None = None) -> MyPaintCanvas:
        """A persistent canvas with this renderer's size and brush."""
        return MyPaintCanvas(self.size, self.brush_path, seed)

    def render_masks(
        self,
        actions: np.ndarray,
        seed: int = 0,
        workers: int = 1,
        progress: bool = False,
    ) -> np.ndarray:
        """Paint each stroke in black on its own white canvas; return alpha masks.

        Args:
            actions: ``(N, 12)`` actions (colour fields are ignored) or ``(N, 13)``
                discrete-variant actions (quantized; lifted strokes give blank masks).
            seed: fixes the brush texture. Every run of ``TEXTURE_CHUNK`` strokes starts
                a fresh brush seeded by ``(seed, run index)``, so results are identical
                for any ``workers``.
            workers: processes to use; ``0`` means all cores.
            progress: show a progress bar.

        Returns:
            ``(N, H, W)`` float32 masks in [0, 1].
        """
        arr = np.asarray(actions, dtype=np.float64)
        discrete = arr.ndim == 2 and arr.shape[1] == A.DISCRETE_ACTION_DIM
        arr = A.quantize_discrete(arr) if discrete else A.validate(arr)
        if arr.ndim != 2:
            raise ValueError(f"render_masks takes a batch of shape (N, 12), got {arr.shape}")
        lifted = A.is_lifted(arr) if discrete else np.zeros(len(arr), dtype=bool)
        arr = arr[:, : A.ACTION_DIM]
        chunks = [
            (seed, c, arr[c * TEXTURE_CHUNK : (c + 1) * TEXTURE_CHUNK], lifted[c * TEXTURE_CHUNK :])
            for c in range(-(-len(arr) // TEXTURE_CHUNK))
        ]
        if workers == 0:
            workers = os.cpu_count() or 1
        bar = progress_bar(
            total=len(arr), desc="MyPaint strokes", unit="stroke", disable=not progress
        )
        out = np.empty((len(arr), self.size, self.size), dtype=np.float32)
        if workers <= 1 or len(chunks) <= 1:
            results = map(self._render_chunk, chunks)
        else:
            import multiprocessing as mp

            pool = ProcessPoolExecutor(
                workers,
                mp_context=mp.get_context("spawn"),
                initializer=_init_worker,
                initargs=(self.size, str(self.brush_path)),
            )
            results = pool.map(_worker_render_chunk, chunks)
        try:
            for (_, c, chunk, _), masks in zip(chunks, results, strict=True):
                out[c * TEXTURE_CHUNK : c * TEXTURE_CHUNK + len(chunk)] = masks
                bar.update(len(chunk))
        finally:
            bar.close()
            if workers > 1 and len(chunks) > 1:
                pool.shutdown(cancel_futures=True)
        return out

    def _render_chunk(self, task: tuple[int, int, np.ndarray, np.ndarray]) -> np.ndarray:
        seed, index, chunk, lifted = task
        brush = _Brush(self._brush_source, self.brush_path, (seed, index))
        brush.set_color((0.0, 0.0, 0.0))
        surface = self._surface
        # Keep the raw red channel (black ink on white: R = G = B) and convert the
        # whole chunk at once; per-stroke float conversion costs more than painting.
        red = np.full((len(chunk), self.size, self.size), L.ONE, dtype=np.uint16)
        with _quiet_libmypaint():
            for i, (xs, ys, ps, radius) in enumerate(stroke_paths(chunk, self.size)):
                if lifted[i]:
                    continue
                surface.clear()
                brush.set_radius(radius)
                brush.paint(surface, xs, ys, ps, A.STROKE_DTIME)
                surface.red_into(red[i])
        masks = 1.0 - red.astype(np.float32) * np.float32(1.0 / L.ONE)
        return np.clip(masks, 0.0, 1.0, out=masks)


_WORKER: list[MyPaintRenderer] = []


def _init_worker(size: int, brush: str) -> None:
    _WORKER[:] = [MyPaintRenderer(size, brush)]


def _worker_render_chunk(task: tuple[int, int, np.ndarray, np.ndarray]) -> np.ndarray:
    return _WORKER[0]._render_chunk(task)
