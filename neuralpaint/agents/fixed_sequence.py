"""A target-independent reference: the one stroke sequence that is best for all targets.

It never looks at the target. Fitted through the neural painter to the training set,
it paints every target the same way, so it scores what an agent can reach by learning
the dataset's average picture and nothing about the target in front of it. The
convergence threshold is set below it: reaching the threshold means painting *this*
target.

The mean L2 over training targets of one canvas ``c`` is
``mean_i ||c - t_i||^2 = ||c - mean_i t_i||^2 + const``, so fitting against the mean
target image has exactly the same gradient as fitting against every target, at the
cost of one painting per step.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from neuralpaint.agents.base import Agent, Budget, Progress, ProgressCallback, Stopwatch
from neuralpaint.agents.differentiable import (
    frozen_painter,
    paint_step,
    resolve_device,
    to_tensor,
    white,
)
from neuralpaint.agents.registry import register_agent
from neuralpaint.agents.task import Task
from neuralpaint.io import atomic_path

WEIGHTS = "sequence.safetensors"


@dataclass
class FixedSequenceConfig:
    """Hyperparameters of the fixed-sequence fit (all are constructor arguments)."""

    lr: float = 0.05
    """Adam's learning rate on the strokes' logits (the stroke optimizer's)."""
    restarts: int = 8
    """Sequences fitted side by side from different random starts; the best is kept."""
    log_every_seconds: float = 5.0


@register_agent
class FixedSequenceAgent(Agent):
    """The best single stroke sequence for all targets, fitted through the painter.

    Args:
        task: the painting task; its painter is loaded and frozen, its training
            targets are the set the sequence is fitted to.
        seed: seeds the random starting strokes.
        device: ``cpu``, ``cuda`` or ``auto``.
        **config: fields of :class:`FixedSequenceConfig`.
    """

    name = "fixed-sequence"
    config_class = FixedSequenceConfig

    def __init__(self, task: Task, seed: int = 0, device: str = "auto", **config):
        self.config = FixedSequenceConfig(**config)
        super().__init__(task, seed, device=device, **asdict(self.config))
        self.device = resolve_device(device)
        self.painter = frozen_painter(task, self.device)
        gen = torch.Generator().manual_seed(seed)
        shape = (self.config.restarts, task.strokes, task.action_dim)
        self.logits = (torch.randn(shape, generator=gen) * 0.5).to(self.device)
        self.logits.requires_grad_(True)
        self.optimizer: torch.optim.Optimizer | None = None
        self.losses = np.full(self.config.restarts, np.inf)
        """Each restart's L2 against the mean training target at the last step."""

    @property
    def trains_on(self) -> str:
        return str(self.task.painter)

    @property
    def strokes_rendered(self) -> int:
        """Painter calls: every stroke of every restart, once per step."""
        return self.trained_steps * self.config.restarts * self.task.strokes

    def _paint(self, actions: torch.Tensor) -> torch.Tensor:
        canvas = white(len(actions), self.task.size, self.device)
        for t in range(self.task.strokes):
            canvas = paint_step(self.painter, canvas, actions[:, t], self.task.color)
        return canvas

    def train(self, budget: Budget, callback: ProgressCallback | None = None) -> None:
        mean_target = to_tensor(self.task.targets("train").mean(axis=0, keepdims=True), self.device)
        if self.optimizer is None:
            self.optimizer = torch.optim.Adam([self.logits], lr=self.config.lr)
        clock, steps, last_log = Stopwatch(), 0, 0.0
        while not budget.exhausted(clock.elapsed, steps):
            canvas = self._paint(torch.sigmoid(self.logits))
            per_restart = ((canvas - mean_target) ** 2).mean(dim=(1, 2, 3))
            self.optimizer.zero_grad(set_to_none=True)
            per_restart.sum().backward()
            self.optimizer.step()
            self.losses = per_restart.detach().cpu().numpy()
            steps += 1
            self.trained_steps += 1
            if callback and clock.elapsed - last_log >= self.config.log_every_seconds:
                last_log = clock.elapsed
                metrics = {"l2_to_mean_target": float(self.losses.min())}
                if callback(Progress(clock.elapsed, steps, metrics)) is False:
                    break
        self.trained_seconds += clock.elapsed

    def sequence(self) -> np.ndarray:
        """The best restart's ``(T, D)`` strokes."""
        best = int(np.argmin(self.losses)) if np.isfinite(self.losses).any() else 0
        return torch.sigmoid(self.logits[best]).detach().cpu().numpy()

    def paint(self, targets: np.ndarray) -> np.ndarray:
        """The same sequence for every target: it never looks at them."""
        return self.task.finalize(np.repeat(self.sequence()[None], len(targets), axis=0))

    def state(self, folder: Path) -> None:
        tensors = {
            "logits": self.logits.detach().cpu().contiguous(),
            "losses": torch.as_tensor(self.losses),
        }
        with atomic_path(folder / WEIGHTS) as tmp:
            save_file(tensors, str(tmp))

    def load_state(self, folder: Path) -> None:
        path = folder / WEIGHTS
        if not path.is_file():
            raise FileNotFoundError(f"{path} is missing; the saved agent is incomplete")
        tensors = load_file(str(path))
        with torch.no_grad():
            self.logits.copy_(tensors["logits"].to(self.device))
        self.losses = tensors["losses"].numpy()
