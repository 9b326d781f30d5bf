"""cffi (ABI mode) binding to libmypaint 1.6: no compiler needed.

Only the few functions the renderer uses are declared. The library is looked up by
its soname (``libmypaint-1.5.so.1`` on Debian, whose package version is 1.6.0), by
``ctypes.util.find_library`` and in the usual prefixes of Homebrew and conda. When
``NEURALPAINT_LIBMYPAINT`` is set, its path is the only one tried.
"""

from __future__ import annotations

import ctypes.util
import functools
import os
import sys
from pathlib import Path

from cffi import FFI

from neuralpaint.errors import UserError

CDEF = """
typedef struct MyPaintBrush MyPaintBrush;
typedef struct MyPaintSurface MyPaintSurface;
typedef struct MyPaintTiledSurface MyPaintTiledSurface;
typedef struct MyPaintFixedTiledSurface MyPaintFixedTiledSurface;
typedef int gboolean;
typedef struct { int x; int y; int width; int height; } MyPaintRectangle;
typedef struct {
    int tx;
    int ty;
    gboolean readonly;
    uint16_t *buffer;
    void *context;
    int thread_id;
    int mipmap_level;
} MyPaintTileRequest;

MyPaintBrush *mypaint_brush_new(void);
void mypaint_brush_unref(MyPaintBrush *self);
void mypaint_brush_reset(MyPaintBrush *self);
void mypaint_brush_new_stroke(MyPaintBrush *self);
gboolean mypaint_brush_from_string(MyPaintBrush *self, const char *string);
void mypaint_brush_from_defaults(MyPaintBrush *self);
void mypaint_brush_set_base_value(MyPaintBrush *self, int id, float value);
float mypaint_brush_get_base_value(MyPaintBrush *self, int id);
void mypaint_brush_set_state(MyPaintBrush *self, int i, float value);
float mypaint_brush_get_state(MyPaintBrush *self, int i);
int mypaint_brush_setting_from_cname(const char *cname);
gboolean mypaint_brush_is_constant(MyPaintBrush *self, int id);
int mypaint_brush_stroke_to(MyPaintBrush *self, MyPaintSurface *surface, float x, float y,
                            float pressure, float xtilt, float ytilt, double dtime);

MyPaintFixedTiledSurface *mypaint_fixed_tiled_surface_new(int width, int height);
MyPaintSurface *mypaint_fixed_tiled_surface_interface(MyPaintFixedTiledSurface *self);
void mypaint_surface_begin_atomic(MyPaintSurface *self);
void mypaint_surface_end_atomic(MyPaintSurface *self, MyPaintRectangle *roi);
void mypaint_surface_unref(MyPaintSurface *self);

void mypaint_tile_request_init(MyPaintTileRequest *data, int level, int tx, int ty,
                               gboolean readonly);
void mypaint_tiled_surface_tile_request_start(MyPaintTiledSurface *self,
                                              MyPaintTileRequest *request);
void mypaint_tiled_surface_tile_request_end(MyPaintTiledSurface *self,
                                            MyPaintTileRequest *request);
"""

SONAMES = ("libmypaint-1.5.so.1", "libmypaint.so.0", "libmypaint-1.6.dylib", "libmypaint.dylib")
PREFIXES = (
    "/usr/lib/x86_64-linux-gnu",
    "/usr/lib/aarch64-linux-gnu",
    "/usr/lib",
    "/usr/local/lib",
    "/opt/homebrew/lib",
    os.path.join(sys.prefix, "lib"),
)

INSTALL_HINT = (
    "Install libmypaint 1.6 and the brushes: on Debian/Ubuntu "
    "`sudo apt-get install libmypaint-1.5-1 mypaint-brushes` (or just `make demo`), "
    "with Homebrew `brew install libmypaint mypaint-brushes`, with conda "
    "`conda install -c conda-forge libmypaint mypaint-brushes`. "
    "Set NEURALPAINT_LIBMYPAINT to the library's path if it lives elsewhere."
)

TILE_SIZE = 64
"""libmypaint's tile side, in pixels."""
ONE = 1 << 15
"""The value 1.0 in libmypaint's fixed-point uint16 pixels."""

# Indices into MyPaintBrushState (mypaint-brush-settings-gen.h, stable since 1.3). The
# library exports no name lookup for states, unlike settings.
STATE_X, STATE_Y, STATE_ACTUAL_X, STATE_ACTUAL_Y = 0, 1, 14, 15


class LibMyPaintNotFoundError(UserError, OSError):
    """libmypaint (or a brush file) is not installed where we can find it."""


def candidate_paths() -> list[str]:
    """Where to look for the shared library, most specific first.

    ``NEURALPAINT_LIBMYPAINT``, when set, is the only candidate: a user who names a
    library means that one, and silently using the system's instead would hide a typo.
    """
    if env := os.environ.get("NEURALPAINT_LIBMYPAINT"):
        return [env]
    paths = list(SONAMES)
    for name in ("mypaint-1.5", "mypaint-1.6", "mypaint"):
        if found := ctypes.util.find_library(name):
            paths.append(found)
    paths.extend(str(Path(p) / s) for p in PREFIXES for s in SONAMES)
    return paths


def open_library(paths: list[str]) -> tuple[FFI, object]:
    """Open the first of ``paths`` that loads as libmypaint; return ``(ffi, lib)``.

    Raises:
        LibMyPaintNotFoundError: with install instructions when none loads.
    """
    ffi = FFI()
    ffi.cdef(CDEF)
    errors = []
    for path in paths:
        try:
            return ffi, ffi.dlopen(path)
        except OSError as exc:
            errors.append(f"{path}: {exc}")
    if (env := os.environ.get("NEURALPAINT_LIBMYPAINT")) and paths == [env]:
        raise LibMyPaintNotFoundError(
            f"NEURALPAINT_LIBMYPAINT={env!r} could not be loaded as libmypaint ({errors[0]}); "
            "point it at libmypaint-1.5.so.1 or unset it to use the system's library"
        )
    raise LibMyPaintNotFoundError(
        "libmypaint could not be loaded. " + INSTALL_HINT + f" (tried {len(errors)} paths)"
    )


@functools.cache
def load() -> tuple[FFI, object]:
    """Open libmypaint once per process and return ``(ffi, lib)``."""
    return open_library(candidate_paths())


@functools.cache
def setting_id(cname: str) -> int:
    """The numeric id of a brush setting such as ``'radius_logarithmic'``."""
    ffi, lib = load()
    value = lib.mypaint_brush_setting_from_cname(cname.encode())
    if value < 0:
        raise ValueError(f"libmypaint has no brush setting named {cname!r}")
    return int(value)
