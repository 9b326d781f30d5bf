"""The fast painter's pixel shuffles as compiled copies (``shuffle.c``).

:class:`~neuralpaint.painters.fast.ShufflePack` packs a convolution's output, pixel
shuffled, beside the features of the next scale. Through torch that is a copy between
strided views with one to four channels innermost, which cost 15 ms of a 118 ms
forward+backward of ``regression-fast`` (256 strokes, one thread); the same copies in C
run at memory speed and give the same bits. Without a C compiler, or for CUDA tensors
and other dtypes, :func:`usable` is false and the painter keeps its torch path.
"""

from __future__ import annotations

import ctypes
import functools
from pathlib import Path

import torch

from neuralpaint.painters import compiled

SOURCE = Path(__file__).with_name("shuffle.c")
SOURCE_TEXT = SOURCE.read_bytes()
"""The C source as this module was imported with (see :mod:`compiled`)."""


@functools.cache
def load_kernel() -> ctypes.CDLL | None:
    """The compiled shuffles, built on first use; ``None`` (with a warning) without a
    C compiler."""
    path = compiled.library_path(SOURCE.name, SOURCE_TEXT)
    lib = compiled.build(
        SOURCE.name, SOURCE_TEXT, path, "the fast painter shuffles pixels through torch"
    )
    if lib is not None:
        sizes = [ctypes.c_int64] * 4
        for function in (lib.shuffle_pack, lib.shuffle_unpack):
            function.argtypes = [*sizes, ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64]
            function.argtypes += [ctypes.c_void_p]
            function.restype = None
    return lib


def usable(*tensors: torch.Tensor) -> bool:
    """Whether the compiled shuffles can copy these tensors: float32 on the CPU."""
    native = all(t.device.type == "cpu" and t.dtype == torch.float32 for t in tensors)
    return native and load_kernel() is not None


def _check(src: torch.Tensor, packed: torch.Tensor, at: int) -> tuple[int, int, int, int]:
    """The C code reads raw buffers: shapes that do not match are refused here."""
    if src.ndim != 4 or packed.ndim != 4 or not (src.is_contiguous() and packed.is_contiguous()):
        raise ValueError("the shuffles take contiguous (N, H, W, C) tensors")
    count, h, w, c4 = src.shape
    if c4 % 4 or packed.shape[:3] != (count, 2 * h, 2 * w):
        raise ValueError(
            f"cannot shuffle {tuple(src.shape)} into {tuple(packed.shape)}: the source's "
            "channels must be a multiple of 4 and the packed tensor twice its side"
        )
    if not 0 <= at <= packed.shape[3] - c4 // 4:
        raise ValueError(f"channels {at}..{at + c4 // 4 - 1} lie outside {packed.shape[3]}")
    return count, h, w, c4 // 4


def pack(src: torch.Tensor, packed: torch.Tensor, at: int) -> None:
    """Write ``pixel_shuffle(src, 2)`` of ``src`` (``(N, H, W, 4C)``, channels-last
    order) into channels ``at`` to ``at + C - 1`` of ``packed`` (``(N, 2H, 2W, K)``)."""
    count, h, w, c = _check(src, packed, at)
    load_kernel().shuffle_pack(
        count, h, w, c, src.data_ptr(), packed.shape[3], at, packed.data_ptr()
    )


def unpack(packed: torch.Tensor, at: int, channels: int) -> torch.Tensor:
    """The inverse of :func:`pack`: ``(N, H, W, 4C)`` from channels ``at`` to
    ``at + channels - 1`` of ``packed``; the gradient of :func:`pack`."""
    count, height, width = packed.shape[:3]
    src = packed.new_empty(count, height // 2, width // 2, 4 * channels)
    count, h, w, c = _check(src, packed, at)
    load_kernel().shuffle_unpack(
        count, h, w, c, packed.data_ptr(), packed.shape[3], at, src.data_ptr()
    )
    return src
