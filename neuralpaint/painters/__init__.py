"""Renderers that paint a stroke: the real MyPaint program and neural painters.

``MyPaintRenderer`` drives libmypaint; ``NeuralRenderer`` runs a trained painter network
(``load_painter`` gives the bare ``torch.nn.Module``; ``default_twin(brush)`` names the
shipped painter of a brush, and ``normal_brushes()`` lists the brushes a painter can
imitate). ``StrokeDatasetSpec`` and
``PainterTrainConfig`` describe the data and the training of a new painter. Names load
on first use, so ``import neuralpaint.painters`` does not import torch.
"""

from __future__ import annotations

from neuralpaint._lazy import lazy_exports

DEFAULT_PAINTER = "regression-fast"
"""The shipped neural painter used when none is named: the fast twin of the default
brush, which keeps the broadcast ``regression`` painter's held-out fidelity (within
0.005 R² and ink IoU) at several times its speed. Gradient agents and the hybrid
planner default to it (``default_twin()`` names the same painter); the benchmark
suites name theirs, ``regression`` where their committed results were measured with it."""

_EXPORTS = {
    "Canvas": "base",
    "Painter": "base",
    "DEFAULT_BRUSH": "mypaint",
    "MyPaintCanvas": "mypaint",
    "MyPaintRenderer": "mypaint",
    "NeuralRenderer": "neural",
    "load_painter": "neural",
    "shipped_painters": "neural",
    "default_twin": "neural",
    "TWIN_BRUSHES": "brushes",
    "normal_brushes": "brushes",
    "require_twin_brush": "brushes",
    "FastPainter": "fast",
    "CheckpointError": "checkpoint",
    "StrokeDatasetSpec": "dataset",
    "PainterTrainConfig": "training",
    "train": "training",
}
__all__ = ["DEFAULT_PAINTER", *_EXPORTS]
__getattr__ = lazy_exports(__name__, _EXPORTS)
