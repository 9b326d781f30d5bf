"""How a gradient agent's discrete fields reach the painter: the remedies of section 3.1.

The discrete variant's lift flag is 0 or 1 and its size and pressures sit on
``DISCRETE_LEVELS`` levels, but a policy's sigmoid outputs anything in between. The
painter then interpolates where MyPaint rounds, and gradients through a fading lift
input can vanish. Each relaxation decides what the painter sees during training;
evaluation is the same for all (MyPaint rounds, :meth:`Task.finalize`):

``none``
    The raw outputs (the paper's set-up): the painter interpolates.
``straight-through``
    The painter sees the rounded action; gradients pass as if rounding were the identity.
``gumbel``
    Each discrete field is rounded stochastically (lift is 1 with probability ``lift``;
    a size between two levels goes up with probability equal to its fractional part),
    relaxed with the binary Gumbel-softmax (concrete) at ``temperature``. Outside
    training it rounds like MyPaint.
``opacity``
    In-between values made valid: the painter draws the stroke as if ``lift = 0`` and
    scales its mask by ``1 - lift``. Compositing is linear in the mask, so lift acts as
    exact opacity, with no dead zone where the stroke fades.
"""

from __future__ import annotations

import torch

from neuralpaint import actions as A

RELAXATIONS = ("none", "straight-through", "gumbel", "opacity")
LEVEL_INDICES = (A.SIZE_INDEX, *A.PRESSURE_INDICES)


def check_relaxation(name: str) -> str:
    if name not in RELAXATIONS:
        raise ValueError(f"relaxation must be one of {RELAXATIONS}, got {name!r}")
    return name


def round_discrete(action: torch.Tensor) -> torch.Tensor:
    """What MyPaint is driven with: lift to 0/1, size and pressures to their levels."""
    out = action.clone()
    steps = A.DISCRETE_LEVELS - 1
    for i in LEVEL_INDICES:
        out[:, i] = torch.round(action[:, i] * steps) / steps
    out[:, A.LIFT_INDEX] = (action[:, A.LIFT_INDEX] >= 0.5).to(action.dtype)
    return out


def _concrete(p: torch.Tensor, temperature: float) -> torch.Tensor:
    """A relaxed Bernoulli(p) sample (binary Gumbel-softmax)."""
    p = p.clamp(1e-6, 1 - 1e-6)
    u = torch.rand_like(p).clamp(1e-6, 1 - 1e-6)
    noise = torch.log(u) - torch.log1p(-u)
    return torch.sigmoid((torch.log(p) - torch.log1p(-p) + noise) / temperature)


def gumbel_round(action: torch.Tensor, temperature: float) -> torch.Tensor:
    """Stochastic rounding of the discrete fields, relaxed (see the module docstring)."""
    columns = list(action.unbind(dim=1))
    steps = A.DISCRETE_LEVELS - 1
    for i in LEVEL_INDICES:
        scaled = action[:, i] * steps
        low = torch.floor(scaled).detach().clamp(max=steps - 1)
        columns[i] = (low + _concrete(scaled - low, temperature)) / steps
    columns[A.LIFT_INDEX] = _concrete(action[:, A.LIFT_INDEX], temperature)
    return torch.stack(columns, dim=1)


def painter_view(
    action: torch.Tensor, relaxation: str, training: bool, temperature: float = 0.5
) -> torch.Tensor:
    """The ``(B, 13)`` action the painter is given under ``relaxation``."""
    if relaxation in ("none", "opacity") or action.shape[1] != A.DISCRETE_ACTION_DIM:
        return action
    if relaxation == "gumbel" and training:
        return gumbel_round(action, temperature)
    return action + (round_discrete(action) - action).detach()


def opacity_mask(painter: torch.nn.Module, action: torch.Tensor) -> torch.Tensor:
    """The stroke's mask drawn with ``lift = 0``, scaled by ``1 - lift``."""
    lift = action[:, A.LIFT_INDEX]
    down = torch.cat([action[:, : A.LIFT_INDEX], torch.zeros_like(lift)[:, None]], dim=1)
    return painter(down) * (1 - lift)[:, None, None, None]
