"""Stroke datasets: random actions rendered by MyPaint, stored in shards.

A dataset is a folder of shards ``shard-00000.npz`` (``actions`` float32, ``masks``
uint8) plus ``meta.json``, which records the brush (only brushes with normal blending
qualify: :mod:`neuralpaint.painters.brushes`). Shard ``i`` is a pure function of
``(seed, i)``: its actions come from ``default_rng((seed, i))`` and MyPaint renders them
with texture seed ``(seed, i)``. So generation resumes after an interruption by skipping
finished shards, each written atomically, and any shard can be regenerated on its own.

With ``renders`` K above 1 every action is painted K times (texture seeds differ) and
the shard stores the mean mask: MSE's minimiser is the same expected stroke, but the
target noise a regression painter must average away is K times smaller. Such a dataset
shares its actions with the single-render one of the same seed, whose held-out shard
is where training evaluates (:meth:`StrokeDatasetSpec.single_render`).

Loading streams shard by shard through a shuffle buffer of a few shards, so millions of
strokes fit on disk without fitting in memory.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from neuralpaint import actions as A
from neuralpaint.executors import Executor, Failure, LocalExecutor
from neuralpaint.io import atomic_path, write_text
from neuralpaint.painters.brushes import require_twin_brush
from neuralpaint.painters.mypaint import DEFAULT_BRUSH, MyPaintRenderer
from neuralpaint.progress import progress_bar

FORMAT_VERSION = 1
RENDER_SEED_STRIDE = 1_000_003
"""Texture-seed step between the renders of one shard, past any shard index."""
LIFT_PROBABILITY = 0.3
"""Share of lifted (blank) strokes in the discrete variant's data."""


def default_data_root() -> Path:
    """``$NEURALPAINT_DATA``, else ``~/.cache/neuralpaint``."""
    return Path(os.environ.get("NEURALPAINT_DATA", Path.home() / ".cache" / "neuralpaint"))


@dataclass(frozen=True)
class StrokeDatasetSpec:
    """What a stroke dataset holds; stored as ``meta.json`` beside the shards."""

    strokes: int = 100_000
    shard_size: int = 10_000
    size: int = 64
    brush: str = DEFAULT_BRUSH
    discrete: bool = False
    seed: int = 0
    version: int = FORMAT_VERSION
    renders: int = 1
    """MyPaint renders averaged into each stored mask (1: a single textured render)."""

    def __post_init__(self):
        if self.renders < 1:
            raise ValueError(f"renders must be at least 1, got {self.renders}")

    def single_render(self) -> StrokeDatasetSpec:
        """The single-render dataset with the same actions (evaluation targets)."""
        return replace(self, renders=1)

    @property
    def shards(self) -> int:
        return -(-self.strokes // self.shard_size)

    @property
    def name(self) -> str:
        variant = "discrete" if self.discrete else "continuous"
        mean = f"-mean{self.renders}" if self.renders > 1 else ""
        return f"strokes-{variant}-{self.size}px-{brush_part(self.brush)}-seed{self.seed}{mean}"

    def shard_actions(self, index: int) -> np.ndarray:
        """The random actions of shard ``index`` (uniform; quantized when discrete)."""
        n = min(self.shard_size, self.strokes - index * self.shard_size)
        rng = np.random.default_rng((self.seed, index))
        if not self.discrete:
            return rng.random((n, A.ACTION_DIM)).astype(np.float32)
        raw = rng.random((n, A.DISCRETE_ACTION_DIM))
        raw[:, A.LIFT_INDEX] = rng.random(n) < LIFT_PROBABILITY
        return A.quantize_discrete(raw).astype(np.float32)


def judged_dataset(config: dict) -> str:
    """The name of the stroke dataset a painter is judged on, from its config: the one it
    trained on, or for an untrained twin (``dabs:``, ``discrete:``) its brush's default
    dataset of its variant, whose last shard training holds out.

    Raises:
        ValueError: for a painter conditioned on several brushes, which has no one dataset.
    """
    if config["kind"] in ("dabs", "rounded") and config.get("brush"):
        return StrokeDatasetSpec(brush=config["brush"], discrete=bool(config["discrete"])).name
    trained = config.get("trained", {})
    if "dataset" not in trained:
        raise ValueError(
            "a painter conditioned on several brushes has no one dataset: evaluate one of its"
            " per-brush exports (OUT/painter-<brush>), or give the dataset with one brush bound"
        )
    return str(trained["dataset"])


def brush_part(brush: str) -> str:
    """A brush's part of dataset names: its file name for the classic brushes and for
    paths (``dry_brush``), folder and file name for the others (``deevad-pen``), so that
    brushes of the same name in different folders get different datasets."""
    path = Path(brush)
    if path.suffix == ".myb" or path.parent.name in ("", "classic"):
        return path.stem
    return f"{path.parent.name}-{path.stem}"


def shard_path(folder: Path, index: int) -> Path:
    return folder / f"shard-{index:05d}.npz"


def render_shard(
    spec: StrokeDatasetSpec, index: int, workers: int = 1, folder: Path | None = None
) -> tuple[np.ndarray, np.ndarray] | None:
    """Shard ``index``: ``(actions float32, masks uint8)``, or written into ``folder``
    (by a worker that shares the driver's storage) and ``None`` returned."""
    actions = spec.shard_actions(index)
    renderer = MyPaintRenderer(spec.size, spec.brush)
    seed = spec.seed * 100_003 + index  # render 0 is the single-render dataset's mask
    masks = np.mean(
        [
            renderer.render_masks(actions, seed=seed + r * RENDER_SEED_STRIDE, workers=workers)
            for r in range(spec.renders)
        ],
        axis=0,
    )
    masks = np.round(masks * 255).astype(np.uint8)
    if folder is None:
        return actions, masks
    write_shard(folder, index, actions, masks)
    return None


def write_shard(folder: Path, index: int, actions: np.ndarray, masks: np.ndarray) -> None:
    with atomic_path(shard_path(folder, index)) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, actions=actions, masks=masks)


def generate(
    spec: StrokeDatasetSpec,
    folder: str | Path | None = None,
    workers: int = 0,
    progress: bool = True,
    executor: Executor | None = None,
    shared: bool = False,
) -> Path:
    """Render the dataset into ``folder`` (default: under :func:`default_data_root`).

    Finished shards are skipped, so an interrupted run resumes where it stopped.

    Args:
        workers: local processes rendering each shard (``0``: all cores).
        executor: where shards render; the default renders them one after another
            here. Any other executor runs one single-process task per shard.
        shared: the executor's workers write shards into ``folder`` themselves (it is
            on storage they all mount) instead of returning them to this process.

    Raises:
        UserValueError: for an unknown brush or one that is not normal-blending (its
            masks could not be composited in other colours), listing those that are.
        ValueError: when ``folder`` holds a dataset with a different spec.
        RuntimeError: naming the shards that still failed after their retries (the
            finished ones are kept).
    """
    require_twin_brush(spec.brush)
    folder = Path(folder) if folder else default_data_root() / spec.name
    folder.mkdir(parents=True, exist_ok=True)
    meta = folder / "meta.json"
    if meta.exists():
        existing = json.loads(meta.read_text())
        if StrokeDatasetSpec(**existing) != spec:
            raise ValueError(
                f"{folder} holds a different stroke dataset ({existing}); choose another "
                "--out folder or delete it"
            )
    write_text(meta, json.dumps(asdict(spec), indent=2))
    todo = [i for i in range(spec.shards) if not shard_path(folder, i).exists()]
    bar = progress_bar(
        total=spec.strokes, desc=f"strokes -> {folder.name}", unit="stroke", disable=not progress
    )
    bar.update(spec.strokes - sum(len(spec.shard_actions(i)) for i in todo))
    executor = executor or LocalExecutor(retries=0)
    if not isinstance(executor, LocalExecutor):
        workers = 1  # one task per shard, each asking for one CPU
    target = folder.resolve() if shared else None  # workers may run elsewhere
    tasks = [(spec, i, workers, target) for i in todo]
    failed = {}
    for k, shard in executor.imap(render_shard, tasks):
        if isinstance(shard, Failure):
            failed[todo[k]] = shard.error
            continue
        if shard is not None:
            write_shard(folder, todo[k], *shard)
        bar.update(len(spec.shard_actions(todo[k])))
    bar.close()
    if failed:
        raise RuntimeError(
            f"{len(failed)} shard(s) of {folder} failed (rerun to retry them): "
            + "; ".join(f"shard {i}: {error}" for i, error in sorted(failed.items()))
        )
    return folder


class StrokeShards:
    """Read access to a stroke dataset folder.

    Args:
        folder: a folder written by :func:`generate`.

    Raises:
        FileNotFoundError: when the folder has no ``meta.json`` or no shards, saying how
            to make them.
    """

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        meta = self.folder / "meta.json"
        if not meta.exists():
            raise FileNotFoundError(
                f"no stroke dataset in {self.folder}: make one with "
                f"`neuralpaint painter dataset --out {self.folder}`"
            )
        self.spec = StrokeDatasetSpec(**json.loads(meta.read_text()))
        self.paths = sorted(self.folder.glob("shard-*.npz"))
        if not self.paths:
            raise FileNotFoundError(
                f"{self.folder} has no shards yet: run `neuralpaint painter dataset --out "
                f"{self.folder}` (it resumes)"
            )

    def __len__(self) -> int:
        return sum(self._count(p) for p in self.paths)

    @staticmethod
    def _count(path: Path) -> int:
        with np.load(path) as data:
            return len(data["actions"])

    @staticmethod
    def load_shard(path: Path) -> tuple[np.ndarray, np.ndarray]:
        """``(actions float32, masks float32 in [0, 1])`` of one shard."""
        with np.load(path) as data:
            return data["actions"], data["masks"].astype(np.float32) / 255.0

    def arrays(self, limit: int | None = None, skip_last: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Load shards into memory, up to ``limit`` strokes, leaving out the last
        ``skip_last`` shards (held out for evaluation)."""
        paths = self.paths[: len(self.paths) - skip_last] if skip_last else self.paths
        acts, masks, total = [], [], 0
        for path in paths:
            a, m = self.load_shard(path)
            acts.append(a)
            masks.append(m)
            total += len(a)
            if limit is not None and total >= limit:
                break
        return np.concatenate(acts)[:limit], np.concatenate(masks)[:limit]

    def stream(
        self,
        batch_size: int,
        seed: int = 0,
        buffer_shards: int = 2,
        skip_last: int = 0,
        rank: int = 0,
        world: int = 1,
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Endless shuffled batches, holding at most ``buffer_shards`` shards in memory.

        With ``world`` data-parallel replicas, replica ``rank`` streams every
        ``world``-th shard; when there are fewer shards than replicas, each streams all
        of them in its own order."""
        rng = np.random.default_rng(seed if world == 1 else (seed, rank))
        paths = self.paths[: len(self.paths) - skip_last] if skip_last else self.paths
        if len(paths) >= world:
            paths = paths[rank::world]
        while True:
            order = rng.permutation(len(paths))
            for start in range(0, len(order), buffer_shards):
                parts = [self.load_shard(paths[i]) for i in order[start : start + buffer_shards]]
                acts = np.concatenate([p[0] for p in parts])
                masks = np.concatenate([p[1] for p in parts])
                perm = rng.permutation(len(acts))
                for b in range(0, len(perm) - batch_size + 1, batch_size):
                    idx = perm[b : b + batch_size]
                    yield acts[idx], masks[idx]
