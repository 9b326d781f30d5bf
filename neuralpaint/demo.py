"""The demo: MNIST test digits painted by the shipped gradient agent, and MyPaint strokes.

1. The shipped amortised agent (trained through the regression painter) paints held-out
   MNIST test digits. ``mnist_side_by_side.png`` shows each target, the neural canvas and
   the same strokes painted by MyPaint; ``mnist_<i>_strokes.gif`` animates MyPaint's
   canvas stroke by stroke.
2. ``mypaint_strokes.png``: single strokes on their own canvases in black (the masks
   neural painters learn), and colour strokes accumulated on one canvas as in an episode.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from neuralpaint import actions as A
from neuralpaint.io import save_png, tile
from neuralpaint.painters.mypaint import MyPaintCanvas, MyPaintRenderer

DEMO_AGENT = "amortized-mnist"


@contextlib.contextmanager
def reproducible_torch() -> Iterator[None]:
    """One thread and deterministic kernels for the duration, then the caller's settings.

    The demo's files are committed: with torch's default of one thread per core, the
    order of float sums changes with the machine and the load, and with it the last
    bits of every stroke, so each run rewrote every file.
    """
    import torch

    threads, deterministic = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(deterministic)


def paint_mnist(out_dir: str | Path = "results/demo", seed: int = 0, digits: int = 10) -> dict:
    """Paint the first test digit of the first ``digits`` classes with the shipped agent;
    returns the L2 scores (mean squared error per pixel against the targets). The same
    seed writes the same bytes on every run."""
    from neuralpaint.agents.base import Agent
    from neuralpaint.agents.commands import paint_outputs, resolve_agent_folder

    with reproducible_torch():
        agent = Agent.load(resolve_agent_folder(DEMO_AGENT))
        labels = agent.task.labels("test")
        classes = np.unique(labels)[:digits]
        first_of_class = [int(np.flatnonzero(labels == c)[0]) for c in classes]
        targets = agent.task.targets("test")[first_of_class]
        return paint_outputs(agent, targets, Path(out_dir), seed, stem="mnist_")


def run(out_dir: str | Path = "results/demo", seed: int = 0, size: int = 64) -> Path:
    """Paint the MyPaint stroke grid and return its path."""
    rng = np.random.default_rng(seed)
    strokes = rng.random((16, A.ACTION_DIM))
    masks = MyPaintRenderer(size).render_masks(strokes, seed=seed)
    singles = [np.repeat(1.0 - m[..., None], 3, axis=-1) for m in masks]

    paintings = []
    for k in range(4):
        canvas = MyPaintCanvas(size, seed=(seed, k))
        episode = rng.random((12, A.ACTION_DIM))
        episode[:, A.SIZE_INDEX] = 0.4 + 0.6 * episode[:, A.SIZE_INDEX]
        canvas.paint_many(episode)
        paintings.append(canvas.image())

    left = tile(singles, columns=4)
    right = tile(paintings, columns=2)
    right = np.pad(right, ((0, left.shape[0] - right.shape[0]), (0, 0), (0, 0)), constant_values=1)
    grid = np.concatenate([left, np.ones((left.shape[0], 8, 3), np.float32), right], axis=1)
    return save_png(grid, Path(out_dir) / "mypaint_strokes.png", scale=3)
