"""Environment steps per second, against the bare renderer.

Rows for ``neuralpaint bench throughput``: one environment and a vector of two on the
real renderer, compared with painting the same strokes on a bare ``MyPaintCanvas``
(paint and read back, the least an environment step can cost), and the neural renderer
batched over many environments by :class:`~neuralpaint.envs.vector.PaintVectorEnv`.
Each row's rate counts strokes painted per second over all environments.
"""

from __future__ import annotations

import time

import gymnasium as gym
import numpy as np

from neuralpaint import actions as A
from neuralpaint.envs.paint import PaintEnv
from neuralpaint.painters.mypaint import MyPaintCanvas

ENV_ID = "NeuralPaint-MNIST-v0"


def _rate(count: int, start: float) -> float:
    return count / (time.perf_counter() - start)


def bare_rate(actions: np.ndarray, seed: int = 0) -> float:
    """Strokes per second on a bare MyPaint canvas, with one read-back per stroke."""
    canvas = MyPaintCanvas(64, seed=seed)
    start = time.perf_counter()
    for action in actions:
        canvas.paint(action)
        canvas.image()
    return _rate(len(actions), start)


def single_env_rate(actions: np.ndarray, seed: int = 0) -> float:
    """Steps per second of one environment painting the same strokes in colour."""
    env = PaintEnv(strokes=len(actions), color="rgb")
    env.reset(seed=seed)
    start = time.perf_counter()
    for action in actions:
        env.step(action)
    return _rate(len(actions), start)


def vector_rate(actions: np.ndarray, num_envs: int, seed: int = 0, **kwargs) -> float:
    """Steps per second (summed over environments) of ``gym.make_vec``."""
    envs = gym.make_vec(ENV_ID, num_envs=num_envs, strokes=len(actions), color="rgb", **kwargs)
    try:
        envs.reset(seed=seed)
        batch = np.repeat(actions[:, None], num_envs, axis=1)
        start = time.perf_counter()
        for step in batch[:-1]:  # the last step would only trigger an autoreset
            envs.step(step)
        return _rate((len(batch) - 1) * num_envs, start)
    finally:
        envs.close()


def measure(strokes: int = 256, neural_envs: int = 64, painter=None, seed: int = 0) -> list[dict]:
    """One row per configuration: ``setup``, ``strokes_per_s`` and ``ratio_to_bare``.

    Args:
        strokes: strokes per configuration (per environment for vectors).
        neural_envs: environments in the batched neural row.
        painter: the neural painter for that row: a shipped name, a checkpoint folder,
            or a module. ``None`` uses an untrained broadcast painter, which costs the
            same as the trained one.
    """
    if painter is None:
        from neuralpaint.painters.broadcast import BroadcastPainter

        painter = BroadcastPainter()
    actions = np.random.default_rng(seed).random((strokes, A.ACTION_DIM)).astype(np.float32)
    bare = bare_rate(actions, seed)
    rows = [
        ("MyPaintCanvas paint+image (bare renderer)", bare),
        (f"{ENV_ID}, 1 env, mypaint", single_env_rate(actions, seed)),
        (
            f"{ENV_ID}, AsyncVectorEnv of 2, mypaint",
            vector_rate(actions, 2, seed, vectorization_mode="async"),
        ),
        (
            f"{ENV_ID}, PaintVectorEnv of {neural_envs}, neural (one forward pass per step)",
            vector_rate(actions[: max(8, strokes // 8)], neural_envs, seed, renderer=painter),
        ),
    ]
    return [
        {"setup": name, "strokes_per_s": rate, "ratio_to_bare": rate / bare} for name, rate in rows
    ]
