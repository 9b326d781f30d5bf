"""The floor: uniformly random strokes."""

from __future__ import annotations

import numpy as np

from neuralpaint.agents.base import Agent, Budget, ProgressCallback
from neuralpaint.agents.registry import register_agent


@register_agent
class RandomAgent(Agent):
    """Paints every target with uniformly random strokes; learns nothing.

    Args:
        task: the painting task.
        seed: seeds the strokes.
    """

    name = "random"

    def __init__(self, task, seed: int = 0):
        super().__init__(task, seed)
        self.rng = np.random.default_rng(seed)

    def train(self, budget: Budget, callback: ProgressCallback | None = None) -> None:
        """Nothing to learn."""

    def paint(self, targets: np.ndarray) -> np.ndarray:
        shape = (len(targets), self.task.strokes, self.task.action_dim)
        return self.task.finalize(self.rng.random(shape))
