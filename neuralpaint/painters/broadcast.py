"""The spatial-broadcast decoder: the default neural painter architecture.

A stroke is a thin curve, so the network is told where the curve is instead of having
to discover it from 9 numbers. On a coarse grid (a quarter of the canvas side) each
cell gets the action, its own coordinates, its offsets and distances to the start,
control and end points, and its distance to the Bezier curve in brush radii. A few
convolutions and two PixelShuffle upsamplings follow; the distance to the curve is fed
again at full resolution for sharp edges. Inductive bias beats size on this CPU
(DESIGN.md: 124k parameters beat an 11M-parameter Learning-to-Paint-style decoder).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from neuralpaint import actions as A
from neuralpaint.painters.calibration import calibration_config, make_calibration, sigmoid_masks

CURVE_SAMPLES = 24
"""Points sampled on the curve for the distance feature."""
FEATURES = 8 + 2
"""Full-resolution channels the output head reads: upsampled hidden features, and the
distance to the curve with its exponential."""


def shape_inputs(actions: torch.Tensor, discrete: bool) -> torch.Tensor:
    """The fields a painter sees: the 9 shape fields, plus ``lift`` when discrete."""
    width = A.DISCRETE_ACTION_DIM if discrete else A.ACTION_DIM
    if actions.ndim != 2 or actions.shape[1] not in (A.ACTION_DIM, A.DISCRETE_ACTION_DIM):
        raise ValueError(f"painter takes actions of shape (B, {width}), got {tuple(actions.shape)}")
    if discrete and actions.shape[1] != A.DISCRETE_ACTION_DIM:
        raise ValueError(
            f"a discrete-variant painter takes (B, 13) actions, got {tuple(actions.shape)}"
        )
    shape = actions[:, : len(A.SHAPE_FIELDS)]
    if discrete:
        shape = torch.cat([shape, actions[:, A.LIFT_INDEX : A.LIFT_INDEX + 1]], dim=1)
    return shape


def curve_points(actions: torch.Tensor, samples: int = CURVE_SAMPLES) -> torch.Tensor:
    """``(B, samples, 2)`` points on each stroke's curve, in canvas fractions."""
    p0, c, p2 = actions[:, 0:2], actions[:, 2:4], actions[:, 4:6]
    p1 = 2.0 * c - 0.5 * (p0 + p2)
    t = torch.linspace(0, 1, samples, device=actions.device, dtype=actions.dtype)[None, :, None]
    return (1 - t) ** 2 * p0[:, None] + 2 * (1 - t) * t * p1[:, None] + t**2 * p2[:, None]


def brush_radius(actions: torch.Tensor) -> torch.Tensor:
    """``(B,)`` brush radius of each stroke in pixels of the reference canvas (the
    ``size`` field, log-spaced; as :func:`neuralpaint.actions.radius_px`)."""
    return A.RADIUS_MIN_PX * (A.RADIUS_MAX_PX / A.RADIUS_MIN_PX) ** actions[:, A.SIZE_INDEX]


def to_masks(logits: torch.Tensor, calibration: nn.Module | None) -> torch.Tensor:
    """A regression painter's masks from its logits, through its calibration if any."""
    return sigmoid_masks(logits) if calibration is None else calibration.masks(logits)


def grid(n: int, device, dtype) -> torch.Tensor:
    """``(n*n, 2)`` cell-centre coordinates (x, y) in canvas fractions."""
    coords = (torch.arange(n, device=device, dtype=dtype) + 0.5) / n
    ys, xs = torch.meshgrid(coords, coords, indexing="ij")
    return torch.stack([xs.reshape(-1), ys.reshape(-1)], dim=1)


def curve_distance(actions: torch.Tensor, n: int) -> torch.Tensor:
    """``(B, 1, n, n)`` distance from each cell to the curve, in brush radii."""
    pts = curve_points(actions)
    cells = grid(n, actions.device, actions.dtype)
    d = torch.cdist(cells[None].expand(len(actions), -1, -1), pts).min(dim=2).values
    d = d * A.REFERENCE_CANVAS_PX / brush_radius(actions)[:, None]
    return d.reshape(-1, 1, n, n)


class BroadcastPainter(nn.Module):
    """Action to stroke mask, differentiable.

    Args:
        size: canvas side in pixels; a multiple of 4.
        discrete: take the 13-field discrete-variant action (with ``lift``).
        width: channels of the coarse-grid convolutions.
        head_width: channels of the full-resolution head, where the stroke's edge is
            drawn. :meth:`widen` grows a trained painter's body and head without
            changing its output, so a warm start can add capacity.
        calibration_knots: with more than 0, the output passes through a
            :class:`~neuralpaint.painters.calibration.Calibration` of this many knots
            (identity until fitted by ``neuralpaint painter calibrate``).
        calibration_temperature: the output passes through a
            :class:`~neuralpaint.painters.calibration.LogitTemperature` instead
            (``painter calibrate --kind temperature``).

    Call ``painter(actions)`` with ``(B, 12)`` (or ``(B, 13)``) actions in [0, 1]; it
    returns ``(B, 1, size, size)`` masks in [0, 1]. Colour fields are ignored.
    """

    def __init__(
        self,
        size: int = 64,
        discrete: bool = False,
        width: int = 48,
        head_width: int = 8,
        calibration_knots: int = 0,
        calibration_temperature: bool = False,
    ):
        super().__init__()
        if size % 4:
            raise ValueError(f"size must be a multiple of 4, got {size}")
        if head_width < 1:
            raise ValueError(f"head_width must be at least 1, got {head_width}")
        self.size, self.discrete, self.width, self.head_width = size, discrete, width, head_width
        self.coarse = size // 4
        n_in = len(A.SHAPE_FIELDS) + int(discrete)
        self.code = nn.Sequential(nn.Linear(n_in, 64), nn.SiLU(), nn.Linear(64, 32))
        cell_features = n_in + 32 + 2 + 6 + 3 + 2  # action, code, xy, offsets, dists, curve
        self.body = nn.Sequential(
            nn.Conv2d(cell_features, width, 1),
            nn.SiLU(),
            nn.Conv2d(width, width, 3, padding=1),
            nn.SiLU(),
            nn.Conv2d(width, width, 3, padding=1),
            nn.SiLU(),
            nn.Conv2d(width, 4 * 16, 3, padding=1),
            nn.PixelShuffle(2),  # 16 channels at half resolution
            nn.SiLU(),
            nn.Conv2d(16, 4 * 8, 3, padding=1),
            nn.PixelShuffle(2),  # 8 channels at full resolution
            nn.SiLU(),
        )
        self.head = nn.Sequential(
            nn.Conv2d(FEATURES, head_width, 3, padding=1), nn.SiLU(), nn.Conv2d(head_width, 1, 1)
        )
        # Start near the data's mean ink (about 0.1) instead of 0.5: avoids the early
        # rush towards a blank mask that DESIGN.md reports.
        nn.init.constant_(self.head[-1].bias, math.log(0.1 / 0.9))
        self.calibration = make_calibration(calibration_knots, calibration_temperature)

    def forward(
        self, actions: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """``(B, 12)`` actions to ``(B, 1, size, size)`` masks. ``generator`` is accepted
        for the painter interface; this painter is deterministic."""
        return to_masks(self.logits_and_features(actions)[0], self.calibration)

    def logits_and_features(self, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The mask's logits ``(B, 1, size, size)`` and the full-resolution features the
        head reads ``(B, FEATURES, size, size)``: the GAN painter's texture head builds
        on both."""
        x = shape_inputs(actions, self.discrete)
        b, n = len(x), self.coarse
        cells = grid(n, x.device, x.dtype)[None].expand(b, -1, -1)  # (B, n*n, 2)
        points = x[:, :6].reshape(b, 1, 3, 2)
        offsets = cells[:, :, None, :] - points  # (B, n*n, 3, 2)
        dists = offsets.norm(dim=-1)
        curve = curve_distance(x, n).reshape(b, n * n, 1)
        per_cell = torch.cat(
            [
                x[:, None].expand(-1, n * n, -1),
                self.code(x)[:, None].expand(-1, n * n, -1),
                cells,
                offsets.reshape(b, n * n, 6),
                dists,
                curve,
                torch.exp(-curve),
            ],
            dim=2,
        )
        hidden = self.body(per_cell.transpose(1, 2).reshape(b, per_cell.shape[2], n, n))
        fine = curve_distance(x, self.size)
        features = torch.cat([hidden, fine, torch.exp(-fine)], dim=1)
        return self.head(features), features

    @torch.no_grad()
    def widen(
        self,
        width: int | None = None,
        head_width: int | None = None,
        seed: int = 0,
        hidden: int | None = None,
    ) -> BroadcastPainter:
        """A copy with more channels (``width`` in the coarse-grid body, ``head_width`` in
        the full-resolution head) that paints exactly what this one does.

        Each new channel gets small random input weights, and every layer that reads it
        gets zero weights for it (Net2Net-style), so training starts from this painter's
        fidelity instead of from scratch and the new channels only grow where the loss
        asks for them. The copy is uncalibrated: training changes the output, so a
        calibration is fitted again afterwards.
        """
        if hidden is not None:
            raise ValueError("the broadcast painter has no trunk MLP to widen (hidden)")
        width = self.width if width is None else width
        head_width = self.head_width if head_width is None else head_width
        for name, new, old in (
            ("width", width, self.width),
            ("head_width", head_width, self.head_width),
        ):
            if new < old:
                raise ValueError(
                    f"{name} {new} is narrower than this painter's {old}; widen only adds channels"
                )
        wide = BroadcastPainter(self.size, self.discrete, width, head_width)
        first = self.head[0].weight
        wide.to(first.device, first.dtype)
        rng = torch.Generator().manual_seed(seed)
        old_convs = [m for m in [*self.body, *self.head] if isinstance(m, nn.Conv2d)]
        new_convs = [m for m in [*wide.body, *wide.head] if isinstance(m, nn.Conv2d)]
        wide.code.load_state_dict(self.code.state_dict())
        for old, new in zip(old_convs, new_convs, strict=True):
            out_c, in_c = old.weight.shape[:2]
            if new.out_channels > out_c:  # only new outputs need random weights
                noise = torch.randn(new.weight.shape, generator=rng) * old.weight.std().item()
                new.weight.copy_(noise)
            new.weight[:, in_c:] = 0  # new inputs are read with zero weight ...
            new.weight[:out_c, :in_c] = old.weight  # ... and old outputs keep their weights
            new.bias.zero_()
            new.bias[:out_c] = old.bias
        return wide

    def config(self) -> dict:
        """Constructor arguments, for checkpoints."""
        return {
            "size": self.size,
            "discrete": self.discrete,
            "width": self.width,
            "head_width": self.head_width,
            **calibration_config(self.calibration),
        }
