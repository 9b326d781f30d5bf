"""A vector environment that paints all its environments' strokes in one batch.

Gymnasium's ``SyncVectorEnv`` and ``AsyncVectorEnv`` work with :class:`PaintEnv` as with
any environment. This class is the faster path for a neural renderer: one forward pass
of the painter paints a stroke on every canvas at once (``NeuralRenderer.paint_batch``),
which is what makes 64 environments cheap on a CPU and very cheap on a GPU. With the
MyPaint renderer it steps the canvases one after another in the same process.

It is each id's ``vector_entry_point``, so
``gym.make_vec("NeuralPaint-MNIST-v0", num_envs=64, renderer="gan")`` makes one.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space, concatenate, create_empty_array

from neuralpaint.envs.paint import PaintEnv, make_renderer


class PaintVectorEnv(VectorEnv):
    """``num_envs`` painting environments sharing one renderer, stepped in a batch.

    Args:
        num_envs: number of environments.
        renderer: as :class:`PaintEnv`'s; one renderer (one painter module) is shared.
        size, brush, device: as :class:`PaintEnv`'s, used to build the renderer.
        **kwargs: every other :class:`PaintEnv` argument (``dataset``, ``variant``,
            ``strokes``, ``reward``, ...), the same for all environments.

    Autoreset follows Gymnasium's default, ``NEXT_STEP``: the step after an episode
    ends resets that environment and returns its first observation with reward 0.
    ``reset(seed=s)`` seeds environment ``i`` with ``s + i``.
    """

    metadata = {"autoreset_mode": AutoresetMode.NEXT_STEP, "render_modes": ["rgb_array"]}

    def __init__(
        self,
        num_envs: int,
        renderer: Any = "mypaint",
        size: int | None = None,
        brush: str | None = None,
        device: str = "cpu",
        **kwargs: Any,
    ):
        if int(num_envs) < 1:
            raise ValueError(f"num_envs must be at least 1, got {num_envs}")
        extra = {} if brush is None else {"brush": brush}
        painter = make_renderer(renderer, size, device=device, **extra)
        # One target set for all: 64 copies of CelebA's file list would cost gigabytes.
        first = PaintEnv(renderer=painter, **kwargs)
        shared = {
            **kwargs,
            "dataset": first.targets,
            "strokes": first.strokes,
            "color": first.color,
        }
        rest = [PaintEnv(renderer=painter, **shared) for _ in range(int(num_envs) - 1)]
        self.envs = [first, *rest]
        self.num_envs = int(num_envs)
        self.batched = hasattr(painter, "paint_batch")
        self.render_mode = kwargs.get("render_mode")
        self.single_observation_space = first.observation_space
        self.single_action_space = first.action_space
        self.observation_space = batch_space(first.observation_space, self.num_envs)
        self.action_space = batch_space(first.action_space, self.num_envs)
        self._images = np.ones((self.num_envs, first.size, first.size, 3), np.float32)
        self._autoreset = np.zeros(self.num_envs, dtype=bool)
        self._generator = None
        if self.batched:
            import torch

            self._generator = torch.Generator(device=painter.device)
        self._obs = create_empty_array(self.single_observation_space, self.num_envs)

    def reset(
        self, *, seed: int | list[int | None] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        seeds = (
            seed
            if isinstance(seed, list)
            else [None if seed is None else seed + i for i in range(self.num_envs)]
        )
        if len(seeds) != self.num_envs:
            raise ValueError(f"reset got {len(seeds)} seeds for {self.num_envs} environments")
        if self._generator is not None:
            entropy = np.random.default_rng(seed if not isinstance(seed, list) else seeds[0])
            self._generator.manual_seed(int(entropy.integers(2**62)))
        observations, infos = [], {}
        for i, (env, s) in enumerate(zip(self.envs, seeds, strict=True)):
            obs, info = env.reset(seed=s, options=options)
            self._images[i] = 1.0
            observations.append(obs)
            infos = self._add_info(infos, info, i)
        self._autoreset[:] = False
        concatenate(self.single_observation_space, observations, self._obs)
        return self._obs.copy(), infos

    def step(
        self, actions: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        if np.shape(actions) != self.action_space.shape:
            raise ValueError(
                f"actions must have shape {self.action_space.shape}, one action of shape "
                f"{self.single_action_space.shape} for each of the {self.num_envs} "
                f"environments; got shape {np.shape(actions)}"
            )
        strokes: dict[int, np.ndarray] = {}
        for i, env in enumerate(self.envs):
            if not self._autoreset[i]:
                stroke = env.stroke(actions[i])
                if stroke is not None:
                    strokes[i] = stroke
        self._paint(strokes)

        observations, infos = [], {}
        rewards = np.zeros(self.num_envs, np.float64)
        terminations = np.zeros(self.num_envs, bool)
        truncations = np.zeros(self.num_envs, bool)
        for i, env in enumerate(self.envs):
            if self._autoreset[i]:
                obs, info = env.reset()
                self._images[i] = 1.0
            else:
                obs, rewards[i], terminations[i], truncations[i], info = env.observe(
                    self._images[i].copy()
                )
            observations.append(obs)
            infos = self._add_info(infos, info, i)
        self._autoreset = terminations | truncations
        concatenate(self.single_observation_space, observations, self._obs)
        return self._obs.copy(), rewards, terminations, truncations, infos

    def _paint(self, strokes: dict[int, np.ndarray]) -> None:
        """Paint the given strokes on their canvases: one forward pass when neural."""
        if not strokes:
            return
        idx = np.fromiter(strokes, dtype=np.int64)
        if self.batched:
            batch = np.stack([strokes[i] for i in idx])
            painter = self.envs[0].renderer
            self._images[idx] = painter.paint_batch(self._images[idx], batch, self._generator)
            return
        for i in idx:
            canvas = self.envs[i].canvas
            canvas.paint(strokes[i])
            self._images[i] = canvas.image()

    def call(self, name: str, *args: Any, **kwargs: Any) -> tuple[Any, ...]:
        """Call method ``name`` of every environment (or read it, if not callable), as
        Gymnasium's ``SyncVectorEnv.call`` does."""
        results = []
        for env in self.envs:
            attr = getattr(env, name)
            results.append(attr(*args, **kwargs) if callable(attr) else attr)
        return tuple(results)

    def get_attr(self, name: str) -> tuple[Any, ...]:
        """Attribute ``name`` of every environment."""
        return tuple(getattr(env, name) for env in self.envs)

    def set_attr(self, name: str, values: list[Any] | tuple[Any, ...] | Any) -> None:
        """Set attribute ``name`` of every environment: one value each, or one for all.

        Raises:
            ValueError: for a list or tuple whose length is not ``num_envs``.
        """
        if not isinstance(values, (list, tuple)):
            values = [values] * self.num_envs
        if len(values) != self.num_envs:
            raise ValueError(
                f"set_attr needs one value per environment ({self.num_envs}), got {len(values)}"
            )
        for env, value in zip(self.envs, values, strict=True):
            setattr(env, name, value)

    def render(self) -> tuple[np.ndarray, ...] | None:
        """Each environment's target and canvas side by side."""
        if self.render_mode is None:
            return None
        return tuple(env.render() for env in self.envs)
