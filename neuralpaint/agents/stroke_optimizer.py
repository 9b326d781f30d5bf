"""Per-image stroke optimisation: Adam on each target's strokes, through the painter.

This is the image-parameterisation view with no amortisation. Nothing is learned
across targets, so :meth:`train` has nothing to do; all the work happens in
:meth:`paint`, which pays an optimisation per batch of targets.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from neuralpaint.agents.base import Agent, Budget, ProgressCallback
from neuralpaint.agents.differentiable import (
    frozen_painter,
    paint_step,
    resolve_device,
    to_tensor,
    white,
)
from neuralpaint.agents.registry import register_agent
from neuralpaint.agents.relaxations import check_relaxation
from neuralpaint.agents.task import Task
from neuralpaint.progress import progress_bar


@register_agent
class StrokeOptimizer(Agent):
    """Optimise each target's strokes directly.

    Args:
        task: the painting task (its painter is used, frozen).
        seed: seeds the initial strokes.
        iterations: Adam steps per batch of targets.
        seconds: wall-clock seconds per target (a batch of B targets may take B times as
            long); with ``iterations``, whichever ends first. ``None``: no time limit.
        lr: Adam's learning rate on the strokes' logits.
        batch_size: targets optimised together.
        device: ``cpu``, ``cuda`` or ``auto``.
        progress: show a progress bar while painting.
        relaxation: how the discrete variant's lift and levels reach the painter (see
            :mod:`neuralpaint.agents.relaxations`).
    """

    name = "stroke-optimizer"

    def __init__(
        self,
        task: Task,
        seed: int = 0,
        iterations: int = 300,
        seconds: float | None = None,
        lr: float = 0.05,
        batch_size: int = 64,
        device: str = "auto",
        progress: bool = False,
        relaxation: str = "none",
    ):
        super().__init__(
            task,
            seed,
            iterations=iterations,
            seconds=seconds,
            lr=lr,
            batch_size=batch_size,
            device=device,
            relaxation=check_relaxation(relaxation),
        )
        self.relaxation = relaxation
        if int(iterations) < 1:
            raise ValueError(f"iterations must be at least 1, got {iterations}")
        if seconds is not None and not (np.isfinite(seconds) and seconds > 0):
            raise ValueError(f"seconds must be a positive finite number, got {seconds}")
        self.iterations, self.lr, self.batch_size = iterations, lr, batch_size
        self.seconds = seconds
        self.device = resolve_device(device)
        self.progress = progress
        self.painter = frozen_painter(task, self.device)
        self.last_losses: list[float] = []
        """Mean L2 per pixel at each iteration of the last batch painted."""

    @property
    def trains_on(self) -> str:
        return str(self.task.painter)

    def train(self, budget: Budget, callback: ProgressCallback | None = None) -> None:
        """Nothing is amortised: painting does the optimisation."""

    def paint(self, targets: np.ndarray) -> np.ndarray:
        out = []
        gen = torch.Generator().manual_seed(self.seed)
        for start in range(0, len(targets), self.batch_size):
            batch = to_tensor(targets[start : start + self.batch_size], self.device)
            out.append(self._optimise(batch, gen))
        return self.task.finalize(np.concatenate(out))

    def _optimise(self, target: torch.Tensor, gen: torch.Generator) -> np.ndarray:
        b, t, d = len(target), self.task.strokes, self.task.action_dim
        logits = (torch.randn(b, t, d, generator=gen) * 0.5).to(self.device).requires_grad_(True)
        opt = torch.optim.Adam([logits], lr=self.lr)
        self.last_losses = []
        deadline = None if self.seconds is None else time.perf_counter() + self.seconds * b
        for _ in progress_bar(
            range(self.iterations), desc="stroke optimisation", disable=not self.progress
        ):
            if deadline is not None and self.last_losses and time.perf_counter() >= deadline:
                break
            actions = torch.sigmoid(logits)
            canvas = white(b, self.task.size, self.device)
            for i in range(t):
                canvas = paint_step(
                    self.painter, canvas, actions[:, i], self.task.color, self.relaxation, True
                )
            loss = ((canvas - target) ** 2).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            self.last_losses.append(loss.item())
        return torch.sigmoid(logits).detach().cpu().numpy()
