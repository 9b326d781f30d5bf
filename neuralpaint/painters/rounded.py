"""A discrete twin made from a continuous one: MyPaint's rounding in the forward pass.

The discrete variant drives the same brush as the continuous one. Size and both
pressures are rounded to :data:`~neuralpaint.actions.DISCRETE_LEVELS` levels, and a
stroke with ``lift >= 0.5`` paints nothing (:func:`~neuralpaint.actions.quantize_discrete`).
So a continuous twin of the brush, given the rounded fields and gated by the lift, is a
twin of the discrete program that needs no training. ``load_painter("discrete:<painter>")``
builds one from any continuous painter: ``discrete:regression-fast`` is a fast discrete
dry_brush twin, and ``discrete:dabs:classic/pen`` a discrete pen twin.

Unlike a painter trained on discrete strokes, it does not interpolate between levels or
fade a stroke as ``lift`` nears 1/2: it paints exactly what MyPaint would. Its gradients
pass through the rounding as if it were the identity, and through the lift as
``-mask`` (as if the stroke's opacity were ``1 - lift``). A gradient agent therefore
sees what the ``straight-through`` relaxation gives it
(:mod:`neuralpaint.agents.relaxations`). Studies of how a trained painter breaks on the
discrete fields (``bench discrete``) keep ``regression-discrete``.
"""

from __future__ import annotations

import torch
from torch import nn

from neuralpaint import actions as A

PREFIX = "discrete:"
"""Painter names ``discrete:<continuous painter>`` load a :class:`RoundedTwin`."""

LEVEL_INDICES = (A.SIZE_INDEX, *A.PRESSURE_INDICES)
"""The fields MyPaint is driven with on ``DISCRETE_LEVELS`` levels."""


class RoundedTwin(nn.Module):
    """Paints 13-field discrete actions with a continuous painter (see the module).

    Args:
        continuous: a painter of 12-field actions, ``(B, 12)`` to ``(B, 1, H, W)``.
    """

    def __init__(self, continuous: nn.Module):
        super().__init__()
        if continuous.discrete:
            raise ValueError(
                "RoundedTwin needs a continuous (12-field) painter; this one is already discrete"
            )
        self.continuous = continuous
        self.size, self.discrete = continuous.size, True

    def forward(
        self, actions: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """``(B, 13)`` actions to ``(B, 1, size, size)`` masks; lifted strokes are blank."""
        if actions.ndim != 2 or actions.shape[1] != A.DISCRETE_ACTION_DIM:
            raise ValueError(
                f"a discrete painter takes actions of shape (B, {A.DISCRETE_ACTION_DIM})"
                f" ({', '.join(A.DISCRETE_FIELDS)}), got {tuple(actions.shape)}"
            )
        fields = actions[:, : A.ACTION_DIM]
        steps = A.DISCRETE_LEVELS - 1
        rounded = fields.detach().clone()
        levels = list(LEVEL_INDICES)
        rounded[:, levels] = torch.round(rounded[:, levels].clamp(0, 1) * steps) / steps
        fields = fields + (rounded - fields).detach()
        up = actions[:, A.LIFT_INDEX]
        down = (up.detach() < 0.5).to(actions.dtype)
        gate = down + (up.detach() - up)
        return self.continuous(fields, generator=generator) * gate[:, None, None, None]
