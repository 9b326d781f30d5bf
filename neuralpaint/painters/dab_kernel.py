"""The dab twin's rasteriser as one compiled C pass (``dab_raster.c``), with gradients.

In torch, :func:`neuralpaint.painters.dabs.render_dabs` makes about twenty passes over
every dab window (each arithmetic step is one operation) and autograd keeps each
intermediate for the backward pass. Fused, a pixel's opacity and its gradient stay in
registers, so the raster stops being what the twin waits for (TWINS.md step 42). The C
source is compiled on first use with the system's C compiler and cached next to the
datasets (``$NEURALPAINT_DATA/kernels``); without a compiler, or for CUDA tensors and
float64, :func:`render_dabs` keeps its torch path, which computes the same canvas.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import platform
import shutil
import subprocess
import warnings
from pathlib import Path

import torch
from torch.autograd.function import once_differentiable

from neuralpaint.io import atomic_path
from neuralpaint.painters.dataset import default_data_root

SOURCE = Path(__file__).with_name("dab_raster.c")
FLAG_ANTIALIASED, FLAG_CONCAVE = 1, 2
"""Bits of a dab's flags: libmypaint's anti-aliased path (radius below 3), and a
concave profile (hardness of at least one half)."""
COMPILE_FLAGS = ("-O3", "-fPIC", "-shared", "-std=c99")


def library_path() -> Path:
    """Where the compiled kernel is cached: one file per source text and machine type."""
    digest = hashlib.sha256(SOURCE.read_bytes() + " ".join(COMPILE_FLAGS).encode()).hexdigest()
    return default_data_root() / "kernels" / f"dab_raster-{digest[:12]}-{platform.machine()}.so"


@functools.cache
def load_kernel() -> ctypes.CDLL | None:
    """The compiled kernel, built on first use; ``None`` (with a warning) when no C
    compiler is found or compiling fails, so callers fall back to torch."""
    path = library_path()
    if not path.exists():
        cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
        if cc is None:
            warnings.warn(
                "no C compiler (cc, gcc or clang) found: the dab twin paints with its "
                "slower torch rasteriser; install one (apt-get install gcc) for speed",
                stacklevel=2,
            )
            return None
        with atomic_path(path) as tmp:
            done = subprocess.run(
                [cc, *COMPILE_FLAGS, "-o", str(tmp), str(SOURCE), "-lm"],
                capture_output=True,
                text=True,
            )
            if done.returncode != 0:
                warnings.warn(
                    f"compiling {SOURCE.name} failed, the dab twin keeps its torch "
                    f"rasteriser:\n{done.stderr}",
                    stacklevel=2,
                )
                return None
    lib = ctypes.CDLL(str(path))
    pointer, count = ctypes.c_void_p, ctypes.c_int64
    lib.dab_raster_forward.argtypes = [count, pointer, pointer, pointer, count, pointer]
    lib.dab_raster_backward.argtypes = [count, pointer, pointer, pointer, count, pointer, pointer]
    lib.dab_raster_forward.restype = lib.dab_raster_backward.restype = None
    return lib


def usable(dabs: torch.Tensor) -> bool:
    """Whether :func:`raster` can paint these dabs: float32 on the CPU, kernel built."""
    return dabs.device.type == "cpu" and dabs.dtype == torch.float32 and load_kernel() is not None


def _address(tensor: torch.Tensor) -> ctypes.c_void_p:
    return ctypes.c_void_p(tensor.data_ptr())


class _FusedRaster(torch.autograd.Function):
    @staticmethod
    def forward(ctx, coef, angle, window, batch: int, size: int):  # noqa: D102
        lib = load_kernel()
        coef, angle, window = coef.contiguous(), angle.contiguous(), window.contiguous()
        clear = coef.new_ones(batch, size, size)
        lib.dab_raster_forward(
            len(coef), _address(coef), _address(angle), _address(window), size, _address(clear)
        )
        canvas = 1.0 - clear
        ctx.save_for_backward(coef, angle, window, canvas)
        return canvas[:, None]

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):  # noqa: D102
        coef, angle, window, canvas = ctx.saved_tensors
        weight = (grad[:, 0] * (1.0 - canvas)).contiguous()
        grad_coef = torch.zeros_like(coef)
        load_kernel().dab_raster_backward(
            len(coef),
            _address(coef),
            _address(angle),
            _address(window),
            canvas.shape[-1],
            _address(weight),
            _address(grad_coef),
        )
        return grad_coef, None, None, None, None


def raster(
    coef: torch.Tensor, angle: torch.Tensor, window: torch.Tensor, batch: int, size: int
) -> torch.Tensor:
    """``(batch, 1, size, size)`` canvases of dabs given by their ``(D, 12)``
    :func:`~neuralpaint.painters.dabs.dab_coefficients` (differentiable), ``(D, 2)``
    cosine and sine of their angles and ``(D, 6)`` int64 windows (corner x and y, width,
    height, the canvas each lands on, :data:`FLAG_ANTIALIASED` | :data:`FLAG_CONCAVE`)."""
    if window.dtype != torch.int64 or window.shape != (len(coef), 6):
        raise ValueError(f"window must be ({len(coef)}, 6) int64, got {tuple(window.shape)}")
    if len(window) and not 0 <= int(window[:, 4].min()) <= int(window[:, 4].max()) < batch:
        raise ValueError(f"window[:, 4] names canvases outside 0..{batch - 1}")
    return _FusedRaster.apply(coef, angle.to(coef.dtype), window, batch, size)
