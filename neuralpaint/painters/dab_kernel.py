"""The dab twin's rasteriser as compiled C passes (``dab_raster.c``), with gradients.

In torch, :func:`neuralpaint.painters.dabs.render_dabs` makes about twenty passes over
every dab window (each arithmetic step is one operation) and autograd keeps each
intermediate for the backward pass. Fused, a pixel's opacity and its gradient stay in
registers (TWINS.md step 42). Four kernels, each an autograd function with a
hand-written backward:

- :func:`raster`: deterministic dabs straight onto the canvases;
- :func:`expected`: random dabs' expected opacity on their grown windows (the radius
  draws' mean, sampled at sub-pixel phases, blurred by the position noise, whose
  Toeplitz matrices it reads as one banded row of taps per dab);
- :func:`compose`: such windows onto the canvases;
- :func:`fast_logs`: the fast expected stroke, dabs to blurred log canvases summed by
  stroke, one canvas at a time.

:func:`raster`, :func:`expected` and :func:`fast_logs` split their dabs over torch's
threads (``torch.set_num_threads``, ``--threads``) in ranges that never share a canvas
or a window, so two threads paint the same bits as one.

The C source is compiled on first use with the system's C compiler and cached next to
the datasets (:mod:`~neuralpaint.painters.compiled`); without a compiler, or for CUDA tensors
and float64, :func:`render_dabs` keeps its torch path, which computes the same canvas.
"""

from __future__ import annotations

import ctypes
import functools
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch
from torch.autograd.function import once_differentiable

from neuralpaint.painters import compiled

SOURCE = Path(__file__).with_name("dab_raster.c")
SOURCE_TEXT = SOURCE.read_bytes()
"""The C source as this module was imported with: what it compiles, so an edit or an
upgrade while a process runs can never pair this wrapper with another kernel."""
FLAG_ANTIALIASED, FLAG_CONCAVE = 1, 2
"""Bits of a dab's flags: libmypaint's anti-aliased path (radius below 3), and a
concave profile (hardness of at least one half)."""


def library_path() -> Path:
    """Where the compiled kernel is cached: one file per source text and machine type."""
    return compiled.library_path(SOURCE.name, SOURCE_TEXT)


@functools.cache
def load_kernel() -> ctypes.CDLL | None:
    """The compiled kernel, built on first use; ``None`` (with a warning) when no C
    compiler is found or compiling fails, so callers fall back to torch."""
    lib = compiled.build(
        SOURCE.name, SOURCE_TEXT, library_path(), "the dab twin keeps its torch rasteriser"
    )
    if lib is None:
        return None
    pointer, count = ctypes.c_void_p, ctypes.c_int64
    lib.dab_raster_forward.argtypes = [count, pointer, pointer, pointer, count, pointer]
    lib.dab_raster_backward.argtypes = [count, pointer, pointer, pointer, count, pointer, pointer]
    group = [count, count, *[pointer] * 4, *[count] * 4, pointer]  # up to the taps
    lib.dab_expected_forward.argtypes = [*group, pointer]
    lib.dab_expected_backward.argtypes = [*group, pointer, pointer, pointer]
    lib.dab_compose_forward.argtypes = [count, pointer, pointer, count, pointer]
    lib.dab_compose_backward.argtypes = [count, pointer, pointer, count, pointer, pointer]
    # canvases, first, target, side, size, pad, shift, reach, taps, coef, angle, window
    fast = [count, pointer, pointer, *[count] * 4, *[pointer] * 5]
    lib.dab_fast_forward.argtypes = [*fast, *[pointer] * 4]  # logs, tmp, boxes, total
    lib.dab_fast_backward.argtypes = [*fast, *[pointer] * 6]  # saved, grads
    for function in (
        lib.dab_expected_forward,
        lib.dab_expected_backward,
        lib.dab_fast_forward,
        lib.dab_fast_backward,
    ):
        function.restype = ctypes.c_int
    for function in (
        lib.dab_raster_forward,
        lib.dab_raster_backward,
        lib.dab_compose_forward,
        lib.dab_compose_backward,
    ):
        function.restype = None
    return lib


def usable(*tensors: torch.Tensor | None) -> bool:
    """Whether the kernels can paint dabs given by these tensors (``None`` is skipped):
    all float32 on the CPU, and the kernel built."""
    given = [t for t in tensors if t is not None]
    native = all(t.device.type == "cpu" and t.dtype == torch.float32 for t in given)
    return native and load_kernel() is not None


def _require(name: str, tensor: torch.Tensor | None, shape: tuple, dtype: torch.dtype) -> None:
    """The C code reads raw buffers: a wrong dtype, device or shape would be read as
    garbage, so each is refused here with the field named."""
    if tensor is None:
        return
    if tensor.device.type != "cpu" or tensor.dtype != dtype or tuple(tensor.shape) != shape:
        raise ValueError(
            f"{name} must be a {shape} {dtype} CPU tensor, got {tuple(tensor.shape)} "
            f"{tensor.dtype} on {tensor.device}"
        )


def _address(tensor: torch.Tensor | None, offset: int = 0) -> ctypes.c_void_p:
    """``tensor``'s buffer from element ``offset`` on, for the C code (``None``: NULL)."""
    if tensor is None:
        return ctypes.c_void_p(None)
    return ctypes.c_void_p(tensor.data_ptr() + offset * tensor.element_size())


PARALLEL_MIN_DABS = 512
"""Fewest dabs a call splits over threads: below it a thread's start costs more than
its share of the work."""
PARALLEL_MIN_PIXELS = 32_768
"""Fewest sampled pixels an expected-opacity call splits over threads (each dab's
radius draws at every sub-pixel phase of its window, then its grown window)."""


def _pool(workers: int) -> ThreadPoolExecutor:
    """A pool of ``workers`` threads (torch's thread count, one pool per count) of this
    process: a process forked from one that used a pool gets its own, since the
    parent's threads do not survive the fork."""
    return _process_pool(max(workers, 1), os.getpid())


@functools.cache
def _process_pool(workers: int, pid: int) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(workers, thread_name_prefix=f"neuralpaint-dabs-{pid}")


def _parts(
    weight: torch.Tensor, keys: torch.Tensor | None = None, minimum: int = PARALLEL_MIN_DABS
) -> list[tuple[int, int]]:
    """Contiguous ranges of ``range(len(weight))``, one per torch thread, of about equal
    total ``weight`` (dabs, or pixels), or one range for a total under ``minimum``. With
    ``keys`` (nondecreasing: the canvas each item writes) no key falls in two ranges, so
    no two threads write one canvas; unsorted keys give one range. The kernels are
    single-threaded C, and ctypes releases the GIL while one runs, so the ranges run side
    by side on torch's threads' cores."""
    n, workers = len(weight), torch.get_num_threads()
    if workers < 2 or n < 2 or int(weight.sum()) < minimum:
        return [(0, n)]
    if keys is not None and bool((keys.diff() < 0).any()):
        return [(0, n)]
    ends = torch.cumsum(weight.double(), 0)
    shares = ends[-1] * torch.arange(1, workers, dtype=torch.float64) / workers
    cuts = (torch.searchsorted(ends, shares) + 1).clamp(max=n)
    if keys is not None:  # each cut moves to the start of the next key's run
        keys = keys.contiguous()
        cuts = torch.searchsorted(keys, keys[cuts - 1], right=True)
    bounds = [0]
    for cut in cuts.tolist():
        if bounds[-1] < cut < n:
            bounds.append(cut)
    return list(zip(bounds, [*bounds[1:], n], strict=True))


def _run(parts: list[tuple[int, int]], call: Callable[[int, int], int | None]) -> bool:
    """``call(start, stop)`` for each range, side by side when there are several;
    whether any returned a nonzero status."""
    if len(parts) == 1:
        return bool(call(*parts[0]))
    statuses = _pool(torch.get_num_threads()).map(lambda p: call(*p), parts)
    return any([bool(status) for status in statuses])  # every range done before returning


class _FusedRaster(torch.autograd.Function):
    @staticmethod
    def forward(ctx, coef, angle, window, batch: int, size: int):  # noqa: D102
        coef, angle, window = coef.contiguous(), angle.contiguous(), window.contiguous()
        clear = coef.new_ones(batch, size, size)

        def draw(start: int, stop: int) -> None:
            load_kernel().dab_raster_forward(
                stop - start,
                _address(coef, 12 * start),
                _address(angle, 2 * start),
                _address(window, 6 * start),
                size,
                _address(clear),
            )

        _run(_parts(torch.ones(len(coef)), window[:, 4]), draw)
        canvas = 1.0 - clear
        ctx.save_for_backward(coef, angle, window, canvas)
        return canvas[:, None]

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):  # noqa: D102
        coef, angle, window, canvas = ctx.saved_tensors
        # dL/dopacity = weight / (1 - opacity)
        weight = (grad[:, 0] * (1.0 - canvas)).contiguous()
        grad_coef = torch.zeros_like(coef)

        def differentiate(start: int, stop: int) -> None:
            load_kernel().dab_raster_backward(
                stop - start,
                _address(coef, 12 * start),
                _address(angle, 2 * start),
                _address(window, 6 * start),
                weight.shape[-1],
                _address(weight),
                _address(grad_coef, 12 * start),
            )

        _run(_parts(torch.ones(len(coef))), differentiate)
        return grad_coef, None, None, None, None


def raster(
    coef: torch.Tensor, angle: torch.Tensor, window: torch.Tensor, batch: int, size: int
) -> torch.Tensor:
    """``(batch, 1, size, size)`` canvases of dabs given by their ``(D, 12)``
    :func:`~neuralpaint.painters.dabs.dab_coefficients` (differentiable), ``(D, 2)``
    cosine and sine of their angles and ``(D, 6)`` int64 windows (corner x and y, width,
    height, the canvas each lands on, :data:`FLAG_ANTIALIASED` | :data:`FLAG_CONCAVE`)."""
    _check_dabs(coef, angle, window)
    if len(window) and not 0 <= int(window[:, 4].min()) <= int(window[:, 4].max()) < batch:
        raise ValueError(f"window[:, 4] names canvases outside 0..{batch - 1}")
    return _FusedRaster.apply(coef, angle, window, batch, size)


def _check_dabs(coef: torch.Tensor, angle: torch.Tensor, window: torch.Tensor) -> None:
    if window.dtype != torch.int64 or window.shape != (len(coef), 6):
        raise ValueError(f"window must be ({len(coef)}, 6) int64, got {tuple(window.shape)}")
    _require("coef", coef, (len(coef), 12), torch.float32)
    _require("angle", angle, (len(coef), 2), torch.float32)


class _FusedExpected(torch.autograd.Function):
    @staticmethod
    def forward(ctx, coef, angle, flags, corner, shape, taps):  # noqa: D102
        nodes, width, height, shift, phases = shape
        count = len(corner)
        tensors = [t.contiguous() for t in (coef, angle, flags, corner)]
        taps = None if taps is None else taps.contiguous()
        expected = coef.new_empty(count, height + 2 * shift, width + 2 * shift)
        ntaps, window = 2 * shift * phases + 1, expected[0].numel() if count else 0

        def inputs(start: int, stop: int) -> list:
            """The arguments up to the outputs for dabs start .. stop - 1."""
            coef, angle, flags, corner = tensors
            head = [stop - start, nodes, _address(coef, 12 * nodes * start)]
            head += [_address(angle, 2 * nodes * start), _address(flags, nodes * start)]
            head += [_address(corner, 2 * start), width, height, shift, phases]
            return [*head, _address(taps, ntaps * start)]

        def paint(start: int, stop: int) -> int:
            out = _address(expected, window * start)
            return load_kernel().dab_expected_forward(*inputs(start, stop), out)

        work = nodes * width * height * phases**2 + window  # sampled, then grown
        parts = _parts(torch.full((count,), work), minimum=PARALLEL_MIN_PIXELS)
        if _run(parts, paint):  # each dab's windows are its own: any cut will do
            raise MemoryError("the dab kernel could not allocate its scratch rows")
        ctx.save_for_backward(*tensors, taps)
        ctx.inputs, ctx.sizes, ctx.parts = inputs, (nodes, ntaps, window), parts
        return expected

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):  # noqa: D102
        coef, *_, taps = ctx.saved_tensors
        grad_coef = torch.zeros_like(coef)
        grad_taps = None if taps is None else torch.zeros_like(taps)
        grad = grad.contiguous()  # kept alive through the call
        nodes, ntaps, window = ctx.sizes

        def differentiate(start: int, stop: int) -> int:
            outputs = [_address(grad, window * start), _address(grad_coef, 12 * nodes * start)]
            outputs.append(_address(grad_taps, ntaps * start))
            return load_kernel().dab_expected_backward(*ctx.inputs(start, stop), *outputs)

        if _run(ctx.parts, differentiate):
            raise MemoryError("the dab kernel could not allocate its scratch rows")
        return grad_coef, None, None, None, None, grad_taps


def expected(
    coef: torch.Tensor,
    angle: torch.Tensor,
    flags: torch.Tensor,
    corner: torch.Tensor,
    shape: tuple[int, int, int, int, int],
    taps: torch.Tensor | None,
) -> torch.Tensor:
    """``(P, H + 2 shift, W + 2 shift)`` expected opacity of ``P`` random dabs with
    equal windows, as :func:`~neuralpaint.painters.dabs.expected_opacity` computes it.
    ``coef`` (``(P * nodes, 12)``, differentiable), ``angle`` (cosine, sine) and ``flags``
    hold each dab's radius draws; ``corner`` (``(P, 2)`` int64) the own windows' corners;
    ``shape`` is (nodes, W, H, shift, phases); ``taps`` (differentiable) the position
    noise's :func:`~neuralpaint.painters.dabs.jitter_taps`, or ``None`` when there is
    no noise."""
    nodes, width, height, shift, phases = shape
    count = len(corner)
    if min(shape) < 0 or min(nodes, width, height, phases) < 1:
        raise ValueError(f"shape must be positive (nodes, W, H, shift, phases), got {shape}")
    if (taps is None) != (shift == 0) or (shift == 0 and phases != 1):
        raise ValueError("taps go with a shift > 0; without them shift is 0 and phases 1")
    _require("coef", coef, (count * nodes, 12), torch.float32)
    _require("angle", angle, (count * nodes, 2), torch.float32)
    _require("flags", flags, (count * nodes,), torch.int64)
    _require("corner", corner, (count, 2), torch.int64)
    _require("taps", taps, (count, 2 * shift * phases + 1), torch.float32)
    return _FusedExpected.apply(coef, angle, flags, corner, shape, taps)


class _FusedCompose(torch.autograd.Function):
    @staticmethod
    def forward(ctx, values, place, batch: int, size: int):  # noqa: D102
        values, place = values.contiguous(), place.contiguous()
        clear = values.new_ones(batch, size, size)
        load_kernel().dab_compose_forward(
            len(place), _address(values), _address(place), size, _address(clear)
        )
        canvas = 1.0 - clear
        ctx.save_for_backward(values, place, canvas)
        return canvas[:, None]

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):  # noqa: D102
        values, place, canvas = ctx.saved_tensors
        weight = (grad[:, 0] * (1.0 - canvas)).contiguous()
        grad_values = torch.zeros_like(values)
        load_kernel().dab_compose_backward(
            len(place),
            _address(values),
            _address(place),
            canvas.shape[-1],
            _address(weight),
            _address(grad_values),
        )
        return grad_values, None, None, None


def compose(values: torch.Tensor, place: torch.Tensor, batch: int, size: int) -> torch.Tensor:
    """``(batch, 1, size, size)`` canvases, ``1 - prod(1 - value)`` per pixel, of windows
    of opacity: ``values`` holds each window's rows one after another (differentiable),
    ``place`` (``(D, 5)`` int64) each window's corner x and y, width, height and canvas."""
    if place.dtype != torch.int64 or place.ndim != 2 or place.shape[1] != 5:
        raise ValueError(f"place must be (D, 5) int64, got {tuple(place.shape)}")
    _require("values", values, (len(values),), torch.float32)
    if int((place[:, 2] * place[:, 3]).sum()) != len(values):
        raise ValueError("values must hold width * height numbers for each window")
    if len(place) and not 0 <= int(place[:, 4].min()) <= int(place[:, 4].max()) < batch:
        raise ValueError(f"place[:, 4] names canvases outside 0..{batch - 1}")
    return _FusedCompose.apply(values, place, batch, size)


class _FusedFast(torch.autograd.Function):
    @staticmethod
    def forward(ctx, coef, angle, window, first, target, taps, reach, batch, sizes, keep):  # noqa: D102
        side, size, pad, shift = sizes
        canvases = len(first) - 1
        inputs = [t.contiguous() for t in (first, target, reach, taps, coef, angle, window)]
        first, target, reach, taps, coef, angle, window = inputs
        logs = coef.new_empty(canvases, side, side) if keep else None
        tmp = coef.new_empty(canvases, size, side) if keep else None
        boxes = first.new_empty(canvases, 8) if keep else None
        total = coef.new_zeros(batch, size, size)
        width, area = 2 * shift + 1, side * side

        def canvases_of(start: int, stop: int) -> list:
            """The arguments up to the saved buffers for canvases start .. stop - 1."""
            head = [stop - start, _address(first, start), _address(target, start)]
            head += [side, size, pad, shift, _address(reach, start), _address(taps, width * start)]
            return head + [_address(t) for t in (coef, angle, window)]

        def paint(start: int, stop: int) -> int:
            kept = [_address(logs, area * start), _address(tmp, size * side * start)]
            kept += [_address(boxes, 8 * start), _address(total)]
            return load_kernel().dab_fast_forward(*canvases_of(start, stop), *kept)

        parts = _parts(first.diff(), target)  # a stroke's canvases in one thread
        if _run(parts, paint):
            raise MemoryError("the dab kernel could not allocate its scratch rows")
        if keep:
            ctx.save_for_backward(*inputs, logs, tmp, boxes)
            ctx.canvases_of, ctx.sizes = canvases_of, (width, area, size * side)
        return total

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):  # noqa: D102
        first, *_, taps, coef, _, _, logs, tmp, boxes = ctx.saved_tensors
        grad = grad.contiguous()  # kept alive through the call
        grad_coef, grad_taps = torch.zeros_like(coef), torch.zeros_like(taps)
        width, area, plane = ctx.sizes

        def differentiate(start: int, stop: int) -> int:
            saved = [_address(logs, area * start), _address(tmp, plane * start)]
            saved += [_address(boxes, 8 * start), _address(grad), _address(grad_coef)]
            saved.append(_address(grad_taps, width * start))
            return load_kernel().dab_fast_backward(*ctx.canvases_of(start, stop), *saved)

        if _run(_parts(first.diff()), differentiate):
            raise MemoryError("the dab kernel could not allocate its scratch rows")
        return grad_coef, None, None, None, None, grad_taps, None, None, None, None


def fast_logs(
    coef: torch.Tensor,
    angle: torch.Tensor,
    window: torch.Tensor,
    first: torch.Tensor,
    target: torch.Tensor,
    taps: torch.Tensor,
    reach: torch.Tensor,
    batch: int,
    size: int,
    pad: int,
) -> torch.Tensor:
    """``(batch, size, size)`` sums of blurred log canvases, the fast expected stroke's
    ``log(1 - alpha)`` (:func:`~neuralpaint.painters.dabs.render_dabs_fast`).

    Dabs as :func:`raster` gives them (the canvas column of ``window`` is ignored), in
    canvas order: canvas ``n`` (side ``size + 2 pad``) holds dabs ``first[n]`` to
    ``first[n + 1]`` (``(N + 1,)`` int64). Its ``log(1 - alpha)`` is blurred as
    ``W L W.T``, with ``W[i, j] = taps[n, i - j + pad + shift]`` (``(N, 2 shift + 1)``
    taps, differentiable like ``coef``, zero beyond ``reach[n]`` of the middle one, which
    the kernel skips), and added to stroke ``target[n]``. One pass per canvas keeps it in
    the cache from the dabs to the sum; the gradient on a canvas is only inside its inked
    box (where its log is nonzero)."""
    count, side = len(first) - 1, size + 2 * pad
    _check_dabs(coef, angle, window)
    shift = (taps.shape[-1] - 1) // 2 if taps.ndim == 2 else -1
    _require("taps", taps, (count, 2 * shift + 1), torch.float32)
    for name, tensor, length in (("first", first, count + 1), ("target", target, count)):
        _require(name, tensor, (length,), torch.int64)
    _require("reach", reach, (count,), torch.int64)
    if int(first[0]) != 0 or int(first[-1]) != len(coef) or bool((first.diff() < 0).any()):
        raise ValueError(f"first must rise from 0 to the {len(coef)} dabs")
    if count and not 0 <= int(reach.min()) <= int(reach.max()) <= shift:
        raise ValueError(f"reach must lie in 0..{shift}")
    if count and not 0 <= int(target.min()) <= int(target.max()) < batch:
        raise ValueError(f"target names strokes outside 0..{batch - 1}")
    sizes = (side, size, pad, shift)
    keep = torch.is_grad_enabled() and (coef.requires_grad or taps.requires_grad)
    return _FusedFast.apply(coef, angle, window, first, target, taps, reach, batch, sizes, keep)
