"""Reinforcement-learning baselines through stable-baselines3, on the same environments.

PPO and SAC see only observations and rewards. They train on the real MyPaint
renderer (``renderer="mypaint"``) or on a neural painter. Like every agent, their
strokes are finally judged on MyPaint. They use a small CNN sized for 64x64
canvas-and-target observations (6 channels) and SB3's vector envs and callbacks.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3 import PPO, SAC
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv
from torch import nn

from neuralpaint import actions as A
from neuralpaint.agents.base import Agent, Budget, Progress, ProgressCallback, Stopwatch
from neuralpaint.agents.registry import register_agent
from neuralpaint.agents.task import Task
from neuralpaint.envs.datasets import ArrayTargets
from neuralpaint.envs.paint import PaintEnv
from neuralpaint.io import to_uint8

MODEL_FILE = "model.zip"


class PaintCNN(BaseFeaturesExtractor):
    """A small conv encoder for ``(6, 64, 64)`` canvas-and-target observations.

    SB3's NatureCNN fails below about 36 px and is larger than this task needs.
    """

    def __init__(self, observation_space: gym.spaces.Box, features_dim: int = 256):
        super().__init__(observation_space, features_dim)
        channels = observation_space.shape[0]
        self.cnn = nn.Sequential(
            nn.Conv2d(channels, 32, 5, stride=2, padding=2),
            nn.ReLU(),
            nn.Conv2d(32, 64, 4, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(64, 64, 4, stride=2, padding=1),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(4),
            nn.Flatten(),
        )
        self.linear = nn.Sequential(nn.Linear(64 * 16, features_dim), nn.ReLU())

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        return self.linear(self.cnn(observations))


class BudgetCallback(BaseCallback):
    """Stops SB3's ``learn`` when the budget is spent; reports progress meanwhile."""

    def __init__(
        self,
        budget: Budget,
        clock: Stopwatch,
        callback: ProgressCallback | None,
        start_steps: int,
        every_seconds: float = 2.0,
    ):
        super().__init__()
        self.budget, self.clock, self.user = budget, clock, callback
        self.start_steps, self.every, self.last = start_steps, every_seconds, 0.0

    def _on_step(self) -> bool:
        # A step budget is SB3's own total_timesteps, so the last rollout still trains;
        # only the wall-clock budget stops learning from here.
        steps = self.model.num_timesteps - self.start_steps
        if self.budget.seconds is not None and self.clock.elapsed >= self.budget.seconds:
            return False
        if self.user and self.clock.elapsed - self.last >= self.every:
            self.last = self.clock.elapsed
            returns = [ep["r"] for ep in self.model.ep_info_buffer]
            metrics = {"episode_return": float(np.mean(returns))} if returns else {}
            if self.user(Progress(self.clock.elapsed, steps, metrics)) is False:
                return False
        return True


class SB3Agent(Agent):
    """Base of the stable-baselines3 agents.

    Args:
        task: the painting task (dataset, strokes, variant, colour mode).
        seed: seeds the algorithm and the environments.
        renderer: what the agent trains on: ``"mypaint"`` (the real program) or a
            neural painter name or checkpoint folder.
        n_envs: parallel environments.
        subprocess: run them in worker processes (``SubprocVecEnv``) instead of in
            this one (``DummyVecEnv``).
        device: ``cpu``, ``cuda`` or ``auto``.
        features_dim: output size of :class:`PaintCNN`.
        **algo_kwargs: passed to the SB3 algorithm (``n_steps``, ``learning_rate``...).
    """

    algorithm: ClassVar[type[BaseAlgorithm]]
    variants: ClassVar[tuple[str, ...]]
    defaults: ClassVar[dict[str, Any]] = {}

    def __init__(
        self,
        task: Task,
        seed: int = 0,
        renderer: str = "mypaint",
        n_envs: int = 4,
        subprocess: bool = False,
        device: str = "auto",
        features_dim: int = 256,
        **algo_kwargs,
    ):
        super().__init__(
            task,
            seed,
            renderer=renderer,
            n_envs=n_envs,
            subprocess=subprocess,
            device=device,
            features_dim=features_dim,
            **algo_kwargs,
        )
        if task.variant not in self.variants:
            raise ValueError(
                f"{self.name} supports the {', '.join(self.variants)} variant(s), not "
                f"{task.variant!r}"
            )
        self.renderer = renderer
        self.env = make_vec_env(
            self._make_env,
            n_envs=n_envs,
            seed=seed,
            vec_env_cls=SubprocVecEnv if subprocess and n_envs > 1 else DummyVecEnv,
        )
        policy_kwargs = {
            "features_extractor_class": PaintCNN,
            "features_extractor_kwargs": {"features_dim": features_dim},
        }
        self.model = self.algorithm(
            "CnnPolicy",
            self.env,
            policy_kwargs=policy_kwargs,
            seed=seed,
            device="cuda" if device == "cuda" else ("auto" if device == "auto" else "cpu"),
            verbose=0,
            **{**self.defaults, **algo_kwargs},
        )

    @classmethod
    def arguments(cls) -> list[str]:
        skip = {"self", "policy", "env", "seed", "device", "policy_kwargs", "verbose"}
        skip.add("_init_setup_model")
        algo = inspect.signature(cls.algorithm.__init__).parameters
        return [*super().arguments(), *(n for n in algo if n not in skip)]

    @property
    def trains_on(self) -> str:
        return str(self.renderer)

    def _make_env(self, targets: ArrayTargets | None = None) -> PaintEnv:
        return PaintEnv(
            dataset=targets if targets is not None else self.task.dataset,
            variant=self.task.variant,
            renderer=self.renderer,
            strokes=self.task.strokes,
            color=self.task.color,
        )

    def train(self, budget: Budget, callback: ProgressCallback | None = None) -> None:
        clock = Stopwatch()
        start = self.model.num_timesteps
        total = budget.steps if budget.steps is not None else 10**12
        self.model.learn(
            total_timesteps=total,
            callback=BudgetCallback(budget, clock, callback, start),
            reset_num_timesteps=False,
        )
        self.trained_seconds += clock.elapsed
        self.trained_steps += self.model.num_timesteps - start

    def paint(self, targets: np.ndarray) -> np.ndarray:
        """Roll the deterministic policy out on each target, on the training renderer,
        and return the strokes it painted (13 fields with ``lift`` for the discrete and
        grid variants, where a grid pen move is a lifted stroke)."""
        images = to_uint8(np.asarray(targets, dtype=np.float32))
        env = self._make_env(ArrayTargets("targets", images, None, "agent.paint"))
        out = np.zeros((len(images), self.task.strokes, self.task.action_dim))
        for i in range(len(images)):
            obs, _ = env.reset(seed=self.seed + i, options={"target_index": i})
            for t in range(self.task.strokes):
                action, _ = self.model.predict(obs, deterministic=True)
                stroke = env.stroke(action)
                if stroke is None:
                    out[i, t, A.LIFT_INDEX] = 1.0
                else:
                    out[i, t, : A.ACTION_DIM] = stroke
                    env.canvas.paint(stroke)
                obs, *_ = env.observe(env.canvas.image())
        return self.task.finalize(out)

    def state(self, folder: Path) -> None:
        self.model.save(folder / MODEL_FILE)

    def load_state(self, folder: Path) -> None:
        path = folder / MODEL_FILE
        if not path.is_file():
            raise FileNotFoundError(f"{path} is missing; the saved agent is incomplete")
        self.model = self.algorithm.load(path, env=self.env, device=self.model.device)


@register_agent
class PPOAgent(SB3Agent):
    """PPO (stable-baselines3) on the continuous, discrete or grid variant."""

    name = "ppo"
    algorithm = PPO
    variants = ("continuous", "discrete", "grid")
    defaults = {"n_steps": 128, "batch_size": 64, "n_epochs": 4, "learning_rate": 3e-4}


@register_agent
class SACAgent(SB3Agent):
    """SAC (stable-baselines3) on the continuous variant; a small replay buffer, since
    each transition holds two 64x64x6 images."""

    name = "sac"
    algorithm = SAC
    variants = ("continuous",)
    defaults = {"buffer_size": 10_000, "learning_starts": 256, "batch_size": 64}
