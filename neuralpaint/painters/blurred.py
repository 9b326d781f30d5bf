"""A twin whose gradient is blurred: it paints as its painter, and differentiates softly.

A nib's dab engine paints hard edges, so a stroke's mask moves only at its rim, and the
loss's gradient reaches a stroke only where the target meets that rim: Adam pulls a
stroke towards ink it already touches and cannot see ink two pixels away.
``load_painter("blur-grad:<painter>")`` paints exactly what ``<painter>`` paints; in the
backward pass it blurs the loss's gradient with respect to the masks by a Gaussian of
:data:`SIGMA` pixels (per 64 px of canvas) before the gradient reaches ``<painter>``. For
each stroke that is the gradient of the loss at the painted canvas, seen through the
blurred mask ``G * mask(a)`` instead of the mask itself, so ink within a few pixels of a
stroke pulls on it. Nothing painted changes, so a twin's fidelity and transfer gap stay
its painter's; only what Adam or an agent learns through it does
(``neuralpaint/painters/TWINS.md``, step 60).
"""

from __future__ import annotations

import math

import torch
from torch import nn

PREFIX = "blur-grad:"
"""Painter names ``blur-grad:<painter>`` load a :class:`GradientBlur` of ``<painter>``."""
SIGMA = 2.0
"""The gradient's blur, in pixels of a 64 px canvas (scaled with the canvas)."""


def blur_matrix(side: int, sigma: float) -> torch.Tensor:
    """``(side, side)`` matrix of a normalised Gaussian of ``sigma`` pixels out to three
    deviations, zero beyond the canvas: ``W @ image @ W.T`` blurs an image along both
    axes. Symmetric, so the blur is its own adjoint. Two matrix products cost a tenth of
    the same blur as two 1-D convolutions of one channel on a CPU."""
    if not sigma > 0:
        raise ValueError(f"sigma must be positive, got {sigma}")
    reach = max(1, math.ceil(3.0 * sigma))
    offset = torch.arange(side)[:, None] - torch.arange(side)[None, :]
    taps = torch.exp(-0.5 * (offset.float() / sigma) ** 2)
    taps = taps / math.fsum(math.exp(-0.5 * (k / sigma) ** 2) for k in range(-reach, reach + 1))
    return torch.where(offset.abs() <= reach, taps, torch.zeros(()))


def blur(images: torch.Tensor, matrix: torch.Tensor) -> torch.Tensor:
    """``(B, C, H, W)`` images blurred along both axes by a :func:`blur_matrix`."""
    matrix = matrix.to(images)
    return matrix @ images @ matrix.transpose(0, 1)


class _BlurredGradient(torch.autograd.Function):
    """The masks as they are; their gradient blurred on the way back."""

    @staticmethod
    def forward(ctx, masks, matrix):  # noqa: D102
        ctx.save_for_backward(matrix)
        return masks.view_as(masks)

    @staticmethod
    def backward(ctx, grad):  # noqa: D102
        (matrix,) = ctx.saved_tensors
        return blur(grad, matrix), None


class GradientBlur(nn.Module):
    """Paints with ``painter``; differentiates through a Gaussian blur of its masks.

    Args:
        painter: any painter module (``forward(actions, ...) -> (B, 1, H, W)`` masks).
        sigma: the blur in pixels of a 64 px canvas; scaled with ``painter.size``.
    """

    def __init__(self, painter: nn.Module, sigma: float = SIGMA):
        super().__init__()
        self.painter = painter
        self.size, self.discrete = painter.size, painter.discrete
        self.sigma = float(sigma)
        matrix = blur_matrix(self.size, self.sigma * self.size / 64.0)
        self.register_buffer("matrix", matrix, persistent=False)

    def forward(self, actions: torch.Tensor, *args, **kwargs) -> torch.Tensor:
        """The painter's masks, unchanged; with a gradient, it comes back blurred."""
        masks = self.painter(actions, *args, **kwargs)
        if not (torch.is_grad_enabled() and masks.requires_grad):
            return masks
        return _BlurredGradient.apply(masks, self.matrix)
