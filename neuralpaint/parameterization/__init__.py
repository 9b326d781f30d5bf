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

DEFAULT_PAINTER = "gan"
"""The paper paints its section-5 images with a GAN painter, and so do these tools: its
strokes keep their effect when MyPaint repaints them, and the ``regression`` painter's do
not, because it paints the mean of the dry brush's texture, a wash that no single MyPaint
render paints. ``neuralpaint bench parameterization`` measures both, on the same classes,
photos and seeds (``results/parameterization/`` and its ``regression/`` folder).
Defined here, like :data:`CLOSED_LOOP_CHUNKS`, so that the CLI shows it without
importing torch."""

_EXPORTS = {
    "VisualizeConfig": "visualize",
    "VisualizeResult": "visualize",
    "StylizeConfig": "stylize",
    "StylizeResult": "stylize",
    "ModelUnavailable": "classifiers",
    "class_index": "classifiers",
    "load_classifier": "classifiers",
}
__all__ = [*_EXPORTS, "CLOSED_LOOP_CHUNKS", "DEFAULT_PAINTER"]
__getattr__ = lazy_exports(__name__, _EXPORTS)
