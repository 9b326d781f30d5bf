"""Preconditioning on human stroke order (the paper's section 4, MNIST).

One hand-made sequence of 8 connected strokes per digit class ships in
``data/human_mnist_strokes.json``. A forcing loss pulls the amortised agent's strokes
towards the example of each target's class. The schedule follows the paper:

1. the forcing loss ``2000 * MSE(actions, human_actions)`` alone, for the first
   2,500 batches;
2. then the agent's own objective (L2, plus the adversarial loss when the agent has a
   critic) joins;
3. after 4,500 batches the forcing weight drops to 0.2.

The step counts are arguments, so short CPU runs can scale the schedule down.
:func:`stroke_order_agreement` measures whether the order survived.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import torch
from scipy.stats import kendalltau

from neuralpaint.agents.amortized import AmortizedAgent

HUMAN_STROKES = Path(__file__).parent / "data" / "human_mnist_strokes.json"


@cache
def human_strokes() -> np.ndarray:
    """``(10, 8, 12)``: the hand-made stroke sequence of each digit class."""
    digits = json.loads(HUMAN_STROKES.read_text())["digits"]
    return np.array([digits[str(d)] for d in range(10)], dtype=np.float32)


@dataclass(frozen=True)
class PreconditioningSchedule:
    """When the forcing loss applies, and how strongly."""

    forcing_weight: float = 2000.0
    forcing_only_steps: int = 2500
    """Batches trained on the forcing loss alone."""
    decay_step: int = 4500
    """Batch after which the forcing weight drops to ``final_weight``."""
    final_weight: float = 0.2

    def weight(self, step: int) -> float:
        return self.forcing_weight if step < self.decay_step else self.final_weight


def precondition(
    agent: AmortizedAgent,
    labels: np.ndarray,
    schedule: PreconditioningSchedule | None = None,
) -> None:
    """Make ``agent.train`` follow the preconditioning schedule.

    Args:
        agent: an amortised agent on an 8-stroke MNIST task.
        labels: the class of each training target (aligned with ``task.targets("train")``).
        schedule: the schedule; the paper's by default.

    Raises:
        ValueError: when the task does not have 8 strokes or labels are missing.
    """
    schedule = schedule or PreconditioningSchedule()
    human = human_strokes()
    if agent.task.strokes != human.shape[1]:
        raise ValueError(
            f"preconditioning needs {human.shape[1]} strokes per painting (the human "
            f"examples' length); the task has {agent.task.strokes}"
        )
    if labels is None or len(labels) != len(agent.task.targets("train")):
        raise ValueError("preconditioning needs one class label per training target")
    forced = torch.as_tensor(human[:, :, : agent.task.action_dim])
    if agent.task.discrete:  # the lift flag of the human strokes is 0: painting
        forced = torch.nn.functional.pad(forced, (0, 1))
    labels = np.asarray(labels)
    agent.config.objective_start_step = agent.trained_steps + schedule.forcing_only_steps

    def forcing(step: int, idx: np.ndarray) -> tuple[float, torch.Tensor]:
        return schedule.weight(step), forced[labels[idx]]

    agent.forcing = forcing


def stroke_order_agreement(actions: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """How well each painting keeps the human example's stroke order, in [-1, 1].

    Each of the agent's strokes is matched to the nearest human stroke of the target's
    class (by the points the strokes pass through at t = 0.5). The result is Kendall's
    tau between the agent's order and the matched strokes' order: 1 when the agent
    draws the example's strokes in the example's order, about 0 for an unrelated
    order. A painting whose strokes all match one human stroke scores 0.
    """
    human = human_strokes()
    out = np.zeros(len(actions))
    for i, (seq, label) in enumerate(zip(actions, labels, strict=True)):
        ref = human[int(label)]
        mids = seq[:, 2:4]
        dist = np.linalg.norm(mids[:, None] - ref[None, :, 2:4], axis=-1)
        matched = dist.argmin(axis=1)
        tau = kendalltau(np.arange(len(matched)), matched).statistic
        out[i] = 0.0 if np.isnan(tau) else tau
    return out
