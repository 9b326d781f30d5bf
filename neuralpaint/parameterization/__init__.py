"""The neural painter as a differentiable image parameterization (the paper's section 5).

``visualize.run(VisualizeConfig(target="violin"))`` paints an ImageNet class;
``stylize.run(StylizeConfig(photo="me.jpg"))`` paints a photo's content in the brush's
style. Both need the ``[parameterization]`` extra (EfficientNet weights, scikit-image).
Names load on first use, so importing this package does not import torch.
"""

from __future__ import annotations

from neuralpaint._lazy import lazy_exports

CLOSED_LOOP_CHUNKS = 4
"""Chunks in which MyPaint paints the stroke layers of class paintings and style
transfers by default (:mod:`neuralpaint.parameterization.closed_loop`); defined here so
that the CLI can show it without importing torch."""

_EXPORTS = {
    "VisualizeConfig": "visualize",
    "VisualizeResult": "visualize",
    "StylizeConfig": "stylize",
    "StylizeResult": "stylize",
    "ModelUnavailable": "classifiers",
    "class_index": "classifiers",
    "load_classifier": "classifiers",
}
__all__ = [*_EXPORTS, "CLOSED_LOOP_CHUNKS"]
__getattr__ = lazy_exports(__name__, _EXPORTS)
