"""The network painters' widest pointwise chains as compiled passes (``pointwise.c``).

Two chains run over a full 64×64 map per stroke in every forward and backward pass of a
network painter:

- :func:`masks`: the calibrated sigmoid that turns logits into masks, with its logit
  floor (:func:`~neuralpaint.painters.calibration.sigmoid_masks`); through torch it is
  five passes forward and as many backward, 11 ms of ``regression-fast``'s 103 ms
  forward+backward of 256 strokes on one thread;
- :func:`distance_channels`: the fast painter's full-resolution distance to the curve
  in brush radii and its exponential.

Each is one pass forward and one backward here. The exponential is a vectorised
polynomial within two units in the last place of libm's, so results differ from
torch's in the last bits only, but for ``exp(-d)`` beyond 87 radii from the curve:
1.6e-38, the smallest normal value it returns, where torch's is a denormal or 0.
Without a C compiler, or for CUDA tensors, float64 or tensors that need no compiled
path, :func:`usable` is false and the callers keep their torch code, which computes
the same values.
"""

from __future__ import annotations

import ctypes
import functools
import math
from pathlib import Path

import torch
from torch.autograd.function import once_differentiable

from neuralpaint.painters import compiled

SOURCE = Path(__file__).with_name("pointwise.c")
SOURCE_TEXT = SOURCE.read_bytes()
"""The C source as this module was imported with (see :mod:`compiled`)."""
EXP_LOW = -87.0
"""Below this the compiled exponential returns exp(-87) (``pointwise.c`` says the same)."""
DISTANCE_FLOOR = 1e-8
"""Smallest squared distance whose square root is taken (``pointwise.c`` says the same)."""


@functools.cache
def load_kernel() -> ctypes.CDLL | None:
    """The compiled passes, built on first use; ``None`` (with a warning) without a C
    compiler."""
    path = compiled.library_path(SOURCE.name, SOURCE_TEXT)
    lib = compiled.build(
        SOURCE.name, SOURCE_TEXT, path, "the network painters keep their torch pointwise code"
    )
    if lib is None:
        return None
    pointer, count, real = ctypes.c_void_p, ctypes.c_int64, ctypes.c_float
    lib.pointwise_exp.argtypes = [count, pointer, pointer]
    lib.masks_forward.argtypes = [count, pointer, *[real] * 4, pointer]
    lib.masks_backward.argtypes = [count, *[pointer] * 3, *[real] * 4, pointer]
    lib.distance_forward.argtypes = [count, count, *[pointer] * 3]
    lib.distance_backward.argtypes = [count, count, *[pointer] * 6]
    for function in (
        lib.pointwise_exp,
        lib.masks_forward,
        lib.masks_backward,
        lib.distance_forward,
        lib.distance_backward,
    ):
        function.restype = None
    return lib


def usable(*tensors: torch.Tensor) -> bool:
    """Whether the compiled passes can take these tensors: float32 on the CPU."""
    native = all(t.device.type == "cpu" and t.dtype == torch.float32 for t in tensors)
    return native and load_kernel() is not None


def exp(x: torch.Tensor) -> torch.Tensor:
    """The kernels' exponential of a float32 CPU tensor (for tests against torch's)."""
    x = x.contiguous()
    out = torch.empty_like(x)
    load_kernel().pointwise_exp(x.numel(), x.data_ptr(), out.data_ptr())
    return out


class _Masks(torch.autograd.Function):
    @staticmethod
    def forward(ctx, logits, shift, below, above, floor):  # noqa: D102
        logits = logits.contiguous()
        out = torch.empty_like(logits)
        load_kernel().masks_forward(
            logits.numel(), logits.data_ptr(), shift, below, above, floor, out.data_ptr()
        )
        ctx.save_for_backward(logits, out)
        ctx.constants = (shift, below, above, floor)
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):  # noqa: D102
        logits, out = ctx.saved_tensors
        grad = grad.contiguous()
        result = torch.empty_like(logits)
        load_kernel().masks_backward(
            logits.numel(),
            logits.data_ptr(),
            out.data_ptr(),
            grad.data_ptr(),
            *ctx.constants,
            result.data_ptr(),
        )
        return result, None, None, None, None


def masks(
    logits: torch.Tensor, floor: float, shift: float = 0.0, below: float = 1.0, above: float = 1.0
) -> torch.Tensor:
    """``sigmoid(max((logits - shift) * s, floor))`` with ``s`` = ``below`` for logits
    below ``shift`` and ``above`` for the rest; the gradient flows to ``logits`` only."""
    if not usable(logits):
        raise ValueError("the compiled masks take float32 CPU logits: check usable() first")
    if not EXP_LOW <= floor <= 0:
        raise ValueError(f"floor must lie in [{EXP_LOW}, 0], where the exponential is exact")
    return _Masks.apply(logits, float(shift), float(below), float(above), float(floor))


class _DistanceChannels(torch.autograd.Function):
    @staticmethod
    def forward(ctx, squared, scale):  # noqa: D102
        squared, scale = squared.contiguous(), scale.contiguous()
        batch, channels = squared.shape[:2]
        out = squared.new_empty(batch, 2 * channels, *squared.shape[2:])
        per = math.prod(squared.shape[1:])
        load_kernel().distance_forward(
            batch, per, squared.data_ptr(), scale.data_ptr(), out.data_ptr()
        )
        ctx.save_for_backward(squared, scale, out)
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):  # noqa: D102
        squared, scale, out = ctx.saved_tensors
        grad = grad.contiguous()
        grad_squared = torch.empty_like(squared)
        grad_scale = torch.empty_like(scale)
        load_kernel().distance_backward(
            len(squared),
            math.prod(squared.shape[1:]),
            squared.data_ptr(),
            scale.data_ptr(),
            out.data_ptr(),
            grad.data_ptr(),
            grad_squared.data_ptr(),
            grad_scale.data_ptr(),
        )
        return grad_squared, grad_scale


def distance_channels(squared: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """``cat([d, exp(-d)], 1)`` with ``d = sqrt(max(squared, 1e-8)) * scale``, per stroke:
    ``squared`` is ``(B, C, H, W)`` squared distances, ``scale`` ``(B,)``; the result is
    ``(B, 2C, H, W)``."""
    if not usable(squared, scale):
        raise ValueError("the compiled distances take float32 CPU tensors: check usable()")
    if squared.ndim != 4 or scale.shape != (len(squared),):
        raise ValueError(
            f"distance_channels takes (B, C, H, W) squared distances and (B,) scales, got "
            f"{tuple(squared.shape)} and {tuple(scale.shape)}"
        )
    return _DistanceChannels.apply(squared, scale)
