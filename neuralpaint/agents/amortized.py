"""The paper's amortised agent: a recurrent policy trained through the neural painter.

A conv encoder reads the canvas and the target, an LSTM cell carries the plan, and a
head emits one stroke per step. The stroke is painted by the frozen neural painter
and composited, so the L2 distance between the final canvas and the target is
differentiable in the policy's weights. Optionally a WGAN-GP critic on
(canvas, target) pairs adds an adversarial loss, as the paper and SPIRAL do, and a
forcing loss preconditions the strokes on human examples (see :mod:`preconditioning`).
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from neuralpaint import actions as A
from neuralpaint.agents.base import Agent, Budget, Progress, ProgressCallback, Stopwatch
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
from neuralpaint.io import atomic_path
from neuralpaint.progress import progress_bar

WEIGHTS = "policy.safetensors"
TRAINING_STATE = "training-state.pt"
"""What a resumed run needs besides the weights: the optimisers' state (Adam's moments
and step counts, for the policy and, with the adversarial loss, the critic), the batch
sampler's random state and the step count they belong to."""


class StrokePolicy(nn.Module):
    """Canvas and target in, one stroke's logits out, one step at a time.

    Args:
        action_dim: 12, or 13 for the discrete variant.
        width: channels of the first conv stage (doubling once).
        hidden: size of the LSTM state.
    """

    def __init__(self, action_dim: int = 12, width: int = 32, hidden: int = 256):
        super().__init__()
        w = width
        self.encoder = nn.Sequential(
            nn.Conv2d(6, w, 5, stride=2, padding=2),
            nn.ReLU(),
            nn.Conv2d(w, w, 4, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(w, 2 * w, 4, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(2 * w, 2 * w, 4, stride=2, padding=1),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(4),
            nn.Flatten(),
        )
        self.fc = nn.Linear(2 * w * 16 + action_dim, hidden)
        self.lstm = nn.LSTMCell(hidden, hidden)
        self.head = nn.Linear(hidden, action_dim)
        self.hidden = hidden

    def forward(
        self,
        canvas: torch.Tensor,
        target: torch.Tensor,
        previous: torch.Tensor,
        state: tuple[torch.Tensor, torch.Tensor] | None,
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        features = self.encoder(torch.cat([canvas, target], dim=1) * 2 - 1)
        h = torch.relu(self.fc(torch.cat([features, previous], dim=1)))
        state = self.lstm(h, state)
        return self.head(state[0]), state


class Critic(nn.Module):
    """WGAN critic on (image, target) pairs, DCGAN-style and small for a CPU."""

    def __init__(self, width: int = 16):
        super().__init__()
        w = width
        layers, c = [nn.Conv2d(6, w, 4, 2, 1)], w
        for _ in range(3):
            layers += [nn.LeakyReLU(0.2), nn.Conv2d(c, 2 * c, 4, 2, 1)]
            c *= 2
        self.net = nn.Sequential(*layers, nn.LeakyReLU(0.2), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.out = nn.Linear(c, 1)

    def forward(self, image: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.out(self.net(torch.cat([image, target], dim=1))).squeeze(1)


@dataclass
class AmortizedConfig:
    """Hyperparameters of the amortised agent (all are constructor arguments)."""

    batch_size: int = 32
    lr: float = 3e-4
    l2_weight: float = 10.0
    adversarial_weight: float = 0.0
    """0 trains with L2 only; 1 adds the WGAN-GP loss as in the paper."""
    critic_steps: int = 2
    objective_start_step: int = 0
    """Step from which the L2 and adversarial losses count (preconditioning trains on
    the forcing loss alone before it)."""
    width: int = 32
    hidden: int = 256
    log_every_seconds: float = 10.0
    relaxation: str = "none"
    """How the discrete variant's lift and levels reach the painter in training (see
    :mod:`neuralpaint.agents.relaxations`)."""


@register_agent
class AmortizedAgent(Agent):
    """A recurrent stroke policy trained by backpropagating through the neural painter.

    Args:
        task: the painting task; its painter is loaded and frozen.
        seed: seeds initial weights and batch sampling.
        device: ``cpu``, ``cuda`` or ``auto``.
        progress: show this agent's own progress bar while training (the CLI shows one
            for every agent already).
        **config: fields of :class:`AmortizedConfig`.
    """

    name = "amortized"
    config_class = AmortizedConfig

    def __init__(
        self, task: Task, seed: int = 0, device: str = "auto", progress: bool = False, **config
    ):
        self.config = AmortizedConfig(**config)
        check_relaxation(self.config.relaxation)
        super().__init__(task, seed, device=device, **asdict(self.config))
        self.device = resolve_device(device)
        self.progress = progress
        torch.manual_seed(seed)
        self.painter = frozen_painter(task, self.device)
        self.policy = StrokePolicy(task.action_dim, self.config.width, self.config.hidden)
        self.policy.to(self.device)
        self.critic = Critic().to(self.device) if self.config.adversarial_weight > 0 else None
        self.rng = np.random.default_rng(seed)
        self.forcing = None
        """Optional ``(step) -> (weight, human_actions_for_batch)`` set by preconditioning."""
        self.optimizers: tuple[torch.optim.Optimizer, torch.optim.Optimizer | None] | None = None
        """Made by the first :meth:`train`, kept so that training in slices continues;
        saved with the agent and restored by :meth:`load_state`."""
        self._restored_at_step: int | None = None
        """The step of the :data:`TRAINING_STATE` restored by :meth:`load_state`, checked
        by the next :meth:`train` against ``trained_steps`` (set after loading)."""
        self.history: list[dict[str, float]] = []
        """Per optimizer step: training L2, the policy's gradient norm and, for the
        discrete variant, the fraction of strokes MyPaint would paint (``lift < 0.5``)."""

    @property
    def trains_on(self) -> str:
        return str(self.task.painter)

    @property
    def strokes_rendered(self) -> int:
        """Painter calls while training: one per stroke of each target in a batch."""
        return self.trained_steps * self.config.batch_size * self.task.strokes

    def rollout(
        self, targets: torch.Tensor, training: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Paint ``(B, 3, H, W)`` targets; returns ``(actions (B, T, D), final canvas)``.
        ``training`` turns on the relaxation's noise (Gumbel-softmax)."""
        b = len(targets)
        canvas = white(b, self.task.size, self.device)
        previous = torch.zeros(b, self.task.action_dim, device=self.device)
        state, actions = None, []
        for _ in range(self.task.strokes):
            logits, state = self.policy(canvas, targets, previous, state)
            action = torch.sigmoid(logits)
            canvas = paint_step(
                self.painter, canvas, action, self.task.color, self.config.relaxation, training
            )
            actions.append(action)
            previous = action
        return torch.stack(actions, dim=1), canvas

    def train(self, budget: Budget, callback: ProgressCallback | None = None) -> None:
        cfg = self.config
        train_targets = self.task.targets("train")
        if self._restored_at_step not in (None, self.trained_steps):
            warnings.warn(  # a save killed between the weights and this state
                f"the saved optimiser state is from step {self._restored_at_step}, the "
                f"agent from step {self.trained_steps}: the optimiser starts afresh",
                stacklevel=2,
            )
            self.optimizers = None
        self._restored_at_step = None
        if self.optimizers is None:
            self.optimizers = self._new_optimizers()
        opt, opt_c = self.optimizers
        clock, steps = Stopwatch(), 0
        bar = progress_bar(total=100, desc="amortized agent", unit="%", disable=not self.progress)
        last_log, losses = 0.0, []
        while not budget.exhausted(clock.elapsed, steps):
            idx = self.rng.integers(0, len(train_targets), cfg.batch_size)
            target = to_tensor(train_targets[idx], self.device)
            actions, canvas = self.rollout(target, training=True)
            l2 = ((canvas - target) ** 2).mean()
            loss = torch.zeros((), device=self.device)
            if self.trained_steps >= cfg.objective_start_step:
                loss = loss + cfg.l2_weight * l2
                if self.critic is not None:
                    self._critic_update(opt_c, canvas.detach(), target)
                    loss = loss - cfg.adversarial_weight * self.critic(canvas, target).mean()
            if self.forcing is not None:
                weight, human = self.forcing(self.trained_steps, idx)
                if weight > 0:
                    loss = loss + weight * ((actions - human.to(self.device)) ** 2).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            grad_norm = torch.nn.utils.get_total_norm(
                [p.grad for p in self.policy.parameters() if p.grad is not None]
            )
            opt.step()
            steps += 1
            self.trained_steps += 1
            losses.append(l2.item())
            record = {
                "step": self.trained_steps,
                "seconds": self.trained_seconds + clock.elapsed,
                "l2": losses[-1],
                "grad_norm": grad_norm.item(),
            }
            if self.task.discrete:
                record["visible"] = (actions[..., A.LIFT_INDEX] < 0.5).float().mean().item()
            self.history.append(record)
            bar.set_postfix(l2=f"{np.mean(losses[-20:]):.4f}", refresh=False)
            bar.update(min(100, int(100 * budget.fraction(clock.elapsed, steps))) - bar.n)
            if callback and clock.elapsed - last_log >= cfg.log_every_seconds:
                last_log = clock.elapsed
                metrics = {"train_l2_per_pixel": float(np.mean(losses[-20:]))}
                if callback(Progress(clock.elapsed, steps, metrics)) is False:
                    break
        bar.close()
        self.trained_seconds += clock.elapsed
        self.last_train_losses = losses

    def _new_optimizers(self) -> tuple[torch.optim.Optimizer, torch.optim.Optimizer | None]:
        lr = self.config.lr
        return (
            torch.optim.Adam(self.policy.parameters(), lr=lr, betas=(0.5, 0.9)),
            torch.optim.Adam(self.critic.parameters(), lr=lr, betas=(0.5, 0.9))
            if self.critic
            else None,
        )

    def _restore_training(self, saved: dict) -> None:
        """Load the optimisers' state and the batch sampler's from a saved run."""
        self.optimizers = self._new_optimizers()
        opt, opt_c = self.optimizers
        opt.load_state_dict(saved["policy_optimizer"])
        if opt_c is not None and saved.get("critic_optimizer") is not None:
            opt_c.load_state_dict(saved["critic_optimizer"])
        self.rng.bit_generator.state = saved["rng"]
        self._restored_at_step = saved["trained_steps"]

    def _critic_update(self, opt_c, fake: torch.Tensor, target: torch.Tensor) -> None:
        for _ in range(self.config.critic_steps):
            eps = torch.rand(len(fake), 1, 1, 1, device=fake.device)
            mixed = (eps * target + (1 - eps) * fake).requires_grad_(True)
            (grad,) = torch.autograd.grad(
                self.critic(mixed, target).sum(), mixed, create_graph=True
            )
            gp = ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()
            loss = self.critic(fake, target).mean() - self.critic(target, target).mean() + 10 * gp
            opt_c.zero_grad(set_to_none=True)
            loss.backward()
            opt_c.step()

    @torch.no_grad()
    def paint(self, targets: np.ndarray) -> np.ndarray:
        self.policy.eval()
        out = [
            self.rollout(to_tensor(targets[i : i + 256], self.device))[0].cpu().numpy()
            for i in range(0, len(targets), 256)
        ]
        self.policy.train()
        return self.task.finalize(np.concatenate(out))

    def state(self, folder: Path) -> None:
        tensors = {f"policy/{k}": v.cpu().contiguous() for k, v in self.policy.state_dict().items()}
        if self.critic is not None:
            tensors |= {
                f"critic/{k}": v.cpu().contiguous() for k, v in self.critic.state_dict().items()
            }
        with atomic_path(folder / WEIGHTS) as tmp:
            save_file(tensors, str(tmp))
        if self.optimizers is None:  # never trained: nothing to continue
            (folder / TRAINING_STATE).unlink(missing_ok=True)
            return
        opt, opt_c = self.optimizers
        training = {
            "trained_steps": self.trained_steps,
            "policy_optimizer": opt.state_dict(),
            "critic_optimizer": opt_c.state_dict() if opt_c is not None else None,
            "rng": self.rng.bit_generator.state,
        }
        with atomic_path(folder / TRAINING_STATE) as tmp:
            torch.save(training, tmp)

    def load_state(self, folder: Path) -> None:
        path = folder / WEIGHTS
        if not path.is_file():
            raise FileNotFoundError(f"{path} is missing; the saved agent is incomplete")
        try:
            tensors = load_file(str(path))
            self.policy.load_state_dict(
                {k[7:]: v for k, v in tensors.items() if k.startswith("policy/")}
            )
            if self.critic is not None:
                self.critic.load_state_dict(
                    {k[7:]: v for k, v in tensors.items() if k.startswith("critic/")}
                )
        except Exception as exc:
            raise ValueError(f"{path} is corrupt or does not fit this agent ({exc})") from exc
        # Saved by an agent that trained (older saves have weights only: Adam restarts).
        training = folder / TRAINING_STATE
        if training.is_file():
            try:
                self._restore_training(
                    torch.load(training, map_location=self.device, weights_only=True)
                )
            except Exception as exc:
                raise ValueError(
                    f"{training} is corrupt or does not fit this agent ({exc})"
                ) from exc
