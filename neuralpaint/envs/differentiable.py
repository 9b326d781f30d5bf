"""What gradient agents get from an environment: a differentiable version of its step.

The environment itself paints under ``torch.no_grad`` (and MyPaint has no gradients at
all). A gradient agent instead needs the neural painter module, the compositing
function, and the targets as tensors, so it can paint whole episodes in torch and
backpropagate a loss to the actions. :class:`DifferentiableAccess` bundles them, with
the environment's colour mode and lift rule applied the same way the environment does.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from neuralpaint import actions as A
from neuralpaint.envs.datasets import TargetSet
from neuralpaint.painters.compositing import composite, paint_sequence

if TYPE_CHECKING:
    from neuralpaint.envs.paint import PaintEnv


@dataclass
class DifferentiableAccess:
    """A differentiable twin of one environment.

    Attributes:
        painter: the neural painter, ``(B, 12)`` (or ``(B, 13)``) actions in [0, 1] to
            ``(B, 1, H, W)`` masks, with gradients.
        composite: ``composite(canvas (B,3,H,W), mask (B,1,H,W), color (B,3))``, the
            compositing rule ``canvas * (1 - mask) + mask * color``.
        paint_sequence: ``paint_sequence(painter, actions (B,T,12))`` paints whole
            episodes from white, with the colours as given.
        targets: the environment's target images (all of the split).
        target: the current episode's target, ``(1, 3, H, W)`` float32 in [0, 1].
        size: canvas side in pixels.
        strokes: strokes per episode.
        color: the colour mode, ``"black"``, ``"gray"`` or ``"rgb"``.
        variant: the environment's action variant.
        device: where tensors are made.
    """

    painter: torch.nn.Module
    composite: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]
    paint_sequence: Callable[..., torch.Tensor]
    targets: TargetSet
    target: torch.Tensor
    size: int
    strokes: int
    color: str
    variant: str
    device: torch.device

    @classmethod
    def from_env(cls, env: PaintEnv, painter: str | Path | Any = None) -> DifferentiableAccess:
        """Build the access object for ``env`` (see :meth:`PaintEnv.differentiable`)."""
        from neuralpaint.envs.paint import make_renderer

        if painter is None:
            module = getattr(env.renderer, "module", None)
            if module is None:
                raise ValueError(
                    f"this environment paints with {env.renderer.name!r}, which has no "
                    "gradients; pass a neural painter, e.g. env.unwrapped.differentiable("
                    "painter='gan') (a shipped name, a checkpoint folder or a torch module), "
                    "to train through it and evaluate on this environment"
                )
        else:
            module = make_renderer(painter, env.size, getattr(env, "brush", None)).module
        device = next(itertools.chain(module.parameters(), module.buffers())).device
        target = torch.as_tensor(env._target_f, device=device).permute(2, 0, 1)[None]
        return cls(
            painter=module,
            composite=composite,
            paint_sequence=paint_sequence,
            targets=env.targets,
            target=target.contiguous(),
            size=env.size,
            strokes=env.strokes,
            color=env.color,
            variant=env.variant,
            device=device,
        )

    def target_batch(self, indices: Sequence[int]) -> torch.Tensor:
        """Targets ``indices`` as ``(B, 3, H, W)`` float32 in [0, 1] on :attr:`device`."""
        images = self.targets.batch(indices, self.size)
        return torch.as_tensor(images, device=self.device).permute(0, 3, 1, 2).float() / 255.0

    def sample_targets(
        self, batch_size: int, rng: np.random.Generator
    ) -> tuple[torch.Tensor, np.ndarray]:
        """A uniform random batch of targets and their indices."""
        indices = rng.integers(len(self.targets), size=batch_size)
        return self.target_batch(indices), indices

    def colors(self, actions: torch.Tensor) -> torch.Tensor:
        """The ``(..., 3)`` colours the environment paints with for these actions."""
        rgb = actions[..., A.COLOR_SLICE]
        if self.color == "black":
            return torch.zeros_like(rgb)
        if self.color == "gray":
            return rgb[..., :1].expand_as(rgb)
        return rgb

    def paint(self, actions: torch.Tensor, canvas: torch.Tensor | None = None) -> torch.Tensor:
        """Paint episodes differentiably, as the environment would.

        Args:
            actions: ``(B, T, 12)`` in [0, 1], or ``(B, T, 13)`` with the ``lift``
                field. A painter trained on the discrete variant takes ``lift`` as an
                input; for any other painter each mask is scaled by ``1 - lift``, the
                plain relaxation whose in-between values give the "flicker" the paper
                describes. Grid-variant agents relax their grid to 12 fields
                themselves.
            canvas: ``(B, 3, H, W)`` start canvas; white when ``None``.

        Returns:
            The final ``(B, 3, H, W)`` canvas; gradients flow to ``actions``.
        """
        if actions.ndim != 3 or actions.shape[-1] not in (A.ACTION_DIM, A.DISCRETE_ACTION_DIM):
            raise ValueError(
                f"actions must have shape (B, T, 12) or (B, T, 13), got {tuple(actions.shape)}"
            )
        b, t, d = actions.shape
        flat = actions.reshape(b * t, d)
        if d == A.ACTION_DIM and getattr(self.painter, "discrete", False):
            flat = torch.cat([flat, torch.zeros_like(flat[:, :1])], dim=1)
        masks = self.painter(flat).reshape(b, t, 1, self.size, self.size)
        if d == A.DISCRETE_ACTION_DIM and not getattr(self.painter, "discrete", False):
            masks = masks * (1.0 - actions[..., A.LIFT_INDEX]).reshape(b, t, 1, 1, 1)
        colors = self.colors(actions)
        if canvas is None:
            canvas = torch.ones(b, 3, self.size, self.size, device=actions.device)
        for i in range(t):
            canvas = self.composite(canvas, masks[:, i], colors[:, i])
        return canvas

    def l2(self, canvas: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Per-image L2 (mean squared difference), the environment's distance, ``(B,)``."""
        return (canvas - targets).pow(2).flatten(1).mean(1)
