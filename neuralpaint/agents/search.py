"""Search on the real program, per image: ``greedy@mypaint`` and ``cem@mypaint``.

Nothing is learned across targets, so :meth:`train` does nothing; :meth:`paint`
spends a per-image budget (seconds or MyPaint renders) on each target. Candidate
strokes are rendered by MyPaint in batches (:meth:`MyPaintRenderer.render_masks`)
and scored with closed-form colour (:func:`~neuralpaint.agents.search_common.best_colors`).
The chosen stroke is painted on a real MyPaint canvas, which the next stroke is
planned from: the loop is closed on the real program.
"""

from __future__ import annotations

import dataclasses
import inspect
from dataclasses import dataclass

import numpy as np

from neuralpaint.agents.base import Agent, Budget, ProgressCallback
from neuralpaint.agents.registry import register_agent
from neuralpaint.agents.search_common import (
    PerImageBudget,
    Spending,
    best_colors,
    check_target,
    per_pixel_error,
    propose,
    size_bounds,
    with_colors,
)
from neuralpaint.agents.task import Task
from neuralpaint.painters.mypaint import MyPaintCanvas, MyPaintRenderer
from neuralpaint.progress import progress_bar

RENDERS_PER_SECOND = 1000
"""A conservative estimate of MyPaint's 64 px renders per second on one core, for sizing
batches to small budgets."""


@dataclass
class Candidates:
    """Scored candidate strokes: shapes ``(K, 9)``, colours ``(K, 3)``, masks
    ``(K, H, W)`` and the squared error each leaves ``(K,)``."""

    shapes: np.ndarray
    colors: np.ndarray
    masks: np.ndarray
    errors: np.ndarray

    def best(self) -> int:
        return int(np.argmin(self.errors))


class PerImageSearch(Agent):
    """Base of agents that search per image on a renderer within a per-image budget.

    Args:
        task: the painting task (continuous variant).
        seed: seeds proposals and the real canvas's brush texture.
        renderer: ``mypaint``: search renders candidates with the real program.
        seconds: wall-clock seconds per image.
        renders: MyPaint renders per image (with ``seconds``, whichever ends first).
        batch: candidates rendered and scored together. Default: 64, or fewer when a
            seconds budget leaves less than about 64 renders' time per stroke, so
            small budgets are kept.
        brush: the MyPaint brush; default the task's. Another brush becomes the task's
            (the one its paintings are judged with).
        progress: a progress bar over images.

    After :meth:`paint`, ``last_stats`` holds per-image ``seconds``,
    ``mypaint_renders`` and ``painter_evals``.
    """

    def __init__(
        self,
        task: Task,
        seed: int = 0,
        renderer: str = "mypaint",
        seconds: float | None = None,
        renders: int | None = None,
        batch: int | None = None,
        brush: str | None = None,
        progress: bool = False,
        **kwargs,
    ):
        if brush is None:
            brush = task.brush
        elif str(brush) != task.brush:
            task = dataclasses.replace(task, brush=str(brush))
        if task.variant != "continuous":
            raise ValueError(
                f"{self.name} paints the continuous variant; the task is {task.variant!r}"
            )
        if batch is not None and int(batch) < 1:
            raise ValueError(f"batch must be at least 1, got {batch}")
        self.budget = self._budget(task, seconds, renders, **kwargs)
        super().__init__(
            task,
            seed,
            renderer=renderer,
            seconds=seconds,
            renders=renders,
            batch=batch,
            brush=brush,
            **kwargs,
        )
        self.check_renderer(renderer)
        self.batch = int(batch) if batch is not None else self._auto_batch()
        self.brush, self.progress = brush, progress
        self.mypaint = MyPaintRenderer(task.size, brush)
        self.last_stats: list[dict[str, float]] = []

    @classmethod
    def arguments(cls) -> list[str]:
        """This class's own keyword arguments and those of :class:`PerImageSearch`."""
        names: list[str] = []
        for klass in (cls, PerImageSearch):
            params = inspect.signature(klass.__init__).parameters
            names += [
                n
                for n, p in params.items()
                if p.kind is p.POSITIONAL_OR_KEYWORD and n not in ("self", "task", "seed", *names)
            ]
        return names

    def _auto_batch(self) -> int:
        """64, or what about a slice's time affords at ``RENDERS_PER_SECOND`` (at least 8)."""
        if self.budget.seconds is None:
            return 64
        per_slice = self.budget.seconds / self._spending().slices * RENDERS_PER_SECOND
        return int(np.clip(per_slice, 8, 64))

    def _budget(self, task: Task, seconds, renders, **kwargs) -> PerImageBudget:
        if seconds is None and renders is None:
            seconds = 2.0
        return PerImageBudget(seconds, renders)

    def check_renderer(self, renderer: str) -> None:
        if renderer != "mypaint":
            raise ValueError(
                f"{self.name} searches on the real program: use '{self.name}@mypaint', "
                f"not '{self.name}@{renderer}'"
            )

    @property
    def trains_on(self) -> None:
        return None

    def train(self, budget: Budget, callback: ProgressCallback | None = None) -> None:
        """Nothing is amortised: each image is searched when it is painted."""

    def paint(self, targets: np.ndarray) -> np.ndarray:
        arr = np.asarray(targets, dtype=np.float32)
        if arr.ndim != 4:
            raise ValueError(f"targets must have shape (N, H, W, 3), got {arr.shape}")
        out, self.last_stats = [], []
        for i, target in enumerate(progress_bar(arr, desc=self.name, disable=not self.progress)):
            target = check_target(target, self.task.size)
            rng = np.random.default_rng((self.seed, i))
            spending = self._spending()
            out.append(self.plan(target, rng, spending, canvas_seed=(self.seed, i)))
            self.last_stats.append(spending.stats())
        return self.task.finalize(np.stack(out))

    def _spending(self) -> Spending:
        return Spending(self.budget, self.task.strokes)

    def scratch_canvas(self, start: np.ndarray | None, seed) -> MyPaintCanvas:
        """A real MyPaint canvas to plan on: white, or a copy of ``start``."""
        canvas = MyPaintCanvas(self.task.size, self.brush, seed=seed)
        if start is not None:
            canvas.load_image(start)
        return canvas

    def plan(
        self,
        target: np.ndarray,
        rng: np.random.Generator,
        spending: Spending,
        canvas_seed: tuple[int, ...],
        start: np.ndarray | None = None,
    ) -> np.ndarray:
        """One target's strokes, each chosen on a real MyPaint canvas after painting the
        ones before it: ``(T, 12)`` actions.

        ``start`` is the ``(H, W, 3)`` canvas to paint over (white when ``None``), for
        callers that paint a picture a window at a time.
        """
        canvas = self.scratch_canvas(start, canvas_seed)
        image = canvas.image()
        strokes = []
        for t in range(self.task.strokes):
            spending.begin_slice()
            found = self.search_stroke(target, image, t, rng, spending)
            spending.end_slice()
            k = found.best()
            action = with_colors(found.shapes[k : k + 1], found.colors[k : k + 1])[0]
            canvas.paint(action)
            image = canvas.image()
            strokes.append(action)
        return np.stack(strokes)

    def search_stroke(
        self,
        target: np.ndarray,
        canvas: np.ndarray,
        stroke: int,
        rng: np.random.Generator,
        spending: Spending,
    ) -> Candidates:
        """The scored candidates for the next stroke on ``canvas`` (best first is not
        required; :meth:`Candidates.best` picks)."""
        raise NotImplementedError

    def score(
        self,
        shapes: np.ndarray,
        target: np.ndarray,
        canvas: np.ndarray,
        rng: np.random.Generator,
        spending: Spending,
    ) -> Candidates:
        """Render ``shapes`` with MyPaint and score each with its best colour."""
        actions = np.concatenate([shapes, np.zeros((len(shapes), 3))], axis=1)
        masks = self.mypaint.render_masks(actions, seed=int(rng.integers(2**31)))
        spending.renders += len(shapes)
        colors, errors = best_colors(masks, target, canvas, mode=self.task.color)
        return Candidates(shapes, colors, masks, errors)

    def batch_size(self, spending: Spending) -> int:
        """The next batch: ``batch``, or fewer when the render budget is nearly spent."""
        left = spending.renders_left_in_slice()
        return self.batch if left is None else min(self.batch, left)


def _merge(a: Candidates | None, b: Candidates, keep: int) -> Candidates:
    """The ``keep`` best of two candidate sets."""
    if a is None:
        merged = b
    else:
        merged = Candidates(
            *(
                np.concatenate([x, y])
                for x, y in zip(vars(a).values(), vars(b).values(), strict=True)
            )
        )
    order = np.argsort(merged.errors)[:keep]
    return Candidates(*(x[order] for x in vars(merged).values()))


@register_agent
class GreedySearch(PerImageSearch):
    """Greedy search on MyPaint: for each stroke, the best of K random proposals.

    Each proposal gets its best colour in closed form (MNIST's black strokes stay
    black). Proposals are uniform strokes, a ``guided`` share of which pass through a
    pixel drawn in proportion to the current error.

    Args:
        proposals: K, the proposals per stroke; shorthand for ``renders = K * strokes``.
        coarse_to_fine: large strokes first, any size by the last stroke.
        guided: the share of proposals placed by the current error (0 = all uniform).
        (and the arguments of :class:`PerImageSearch`)
    """

    name = "greedy"

    def __init__(
        self,
        task: Task,
        seed: int = 0,
        proposals: int | None = None,
        coarse_to_fine: bool = True,
        guided: float = 0.5,
        **kwargs,
    ):
        if proposals is not None and int(proposals) < 1:
            raise ValueError(f"proposals (K) must be at least 1, got {proposals}")
        if not 0.0 <= float(guided) <= 1.0:
            raise ValueError(f"guided must be in [0, 1], got {guided}")
        self.coarse_to_fine, self.guided = bool(coarse_to_fine), float(guided)
        super().__init__(
            task,
            seed,
            proposals=proposals,
            coarse_to_fine=coarse_to_fine,
            guided=guided,
            **kwargs,
        )

    def _budget(self, task, seconds, renders, proposals=None, **_) -> PerImageBudget:
        if proposals is not None:
            if renders is not None:
                raise ValueError("give proposals (K per stroke) or renders, not both")
            renders = int(proposals) * task.strokes
        return super()._budget(task, seconds, renders)

    def search_stroke(self, target, canvas, stroke, rng, spending) -> Candidates:
        best = None
        sizes = size_bounds(stroke, self.task.strokes, self.coarse_to_fine)
        error = per_pixel_error(canvas, target)
        while (n := self.batch_size(spending)) > 0:
            shapes = propose(rng, n, error, sizes, self.guided)
            best = _merge(best, self.score(shapes, target, canvas, rng, spending), 1)
            if spending.slice_fraction() >= 1.0:
                break
        return (
            best
            if best is not None
            else self.score(
                propose(rng, 1, error, sizes, self.guided), target, canvas, rng, spending
            )
        )


@register_agent
class CEMSearch(PerImageSearch):
    """The cross-entropy method on MyPaint, stroke by stroke, then revisiting strokes.

    For each stroke, a first batch of proposals (as :class:`GreedySearch`) seeds a
    Gaussian over the stroke's 9 shape fields; each round samples a batch from it,
    renders and scores it, and refits the Gaussian to the ``elite`` best strokes seen.
    After every stroke is placed, ``passes`` rounds revisit each stroke in turn with
    the others fixed (their MyPaint masks composited in order), which repairs what
    stroke-by-stroke choice gets wrong when strokes must work together.

    Args:
        elite: strokes the Gaussian is fitted to.
        min_std: the floor of the Gaussian's standard deviation per field.
        passes: revisits of every stroke after the first placement.
        coarse_to_fine, guided: as for :class:`GreedySearch`.
        (and the arguments of :class:`PerImageSearch`)
    """

    name = "cem"

    def __init__(
        self,
        task: Task,
        seed: int = 0,
        elite: int = 8,
        min_std: float = 0.01,
        passes: int = 1,
        coarse_to_fine: bool = True,
        guided: float = 0.5,
        **kwargs,
    ):
        if int(elite) < 1:
            raise ValueError(f"elite must be at least 1, got {elite}")
        if int(passes) < 0:
            raise ValueError(f"passes must be 0 or more, got {passes}")
        self.elite, self.min_std, self.passes = int(elite), float(min_std), int(passes)
        self.coarse_to_fine, self.guided = bool(coarse_to_fine), float(guided)
        super().__init__(
            task,
            seed,
            elite=elite,
            min_std=min_std,
            passes=passes,
            coarse_to_fine=coarse_to_fine,
            guided=guided,
            **kwargs,
        )

    def _spending(self) -> Spending:
        return Spending(self.budget, self.task.strokes * (1 + self.passes))

    def plan(self, target, rng, spending, canvas_seed, start=None) -> np.ndarray:
        actions = super().plan(target, rng, spending, canvas_seed, start)
        if self.passes:
            actions = self.revisit(actions, target, rng, spending, start)
        return actions

    def search_stroke(self, target, canvas, stroke, rng, spending) -> Candidates:
        sizes = size_bounds(stroke, self.task.strokes, self.coarse_to_fine)
        error = per_pixel_error(canvas, target)
        n = max(self.batch_size(spending), 1)
        found = _merge(
            None,
            self.score(propose(rng, n, error, sizes, self.guided), target, canvas, rng, spending),
            self.elite,
        )
        return self.refine(
            found, lambda s: self.score(s, target, canvas, rng, spending), rng, spending
        )

    def refine(self, elite: Candidates, score, rng, spending) -> Candidates:
        """Cross-entropy rounds from ``elite`` until the slice is spent."""
        while spending.slice_fraction() < 1.0 and (n := self.batch_size(spending)) > 0:
            mean = elite.shapes.mean(axis=0)
            std = np.maximum(elite.shapes.std(axis=0), self.min_std)
            shapes = np.clip(mean + std * rng.standard_normal((n, 9)), 0.0, 1.0)
            elite = _merge(elite, score(shapes), self.elite)
        return elite

    def revisit(self, actions, target, rng, spending, start=None) -> np.ndarray:
        """Re-search each stroke with the others fixed, composited from MyPaint masks."""
        t_count = len(actions)
        shapes, colors = actions[:, :9].copy(), actions[:, 9:12].copy()
        masks = self.mypaint.render_masks(np.asarray(actions), seed=int(rng.integers(2**31)))
        spending.renders += t_count
        for _ in range(self.passes):
            for i in range(t_count):
                spending.begin_slice()
                under, above, cover = _layers(masks, colors, i, start)

                def score(s, under=under, above=above, cover=cover):
                    return self.score_layered(s, target, under, above, cover, rng, spending)

                current = self.score_layered(
                    shapes[i : i + 1], target, under, above, cover, rng, spending
                )
                found = self.refine(_merge(None, current, self.elite), score, rng, spending)
                spending.end_slice()
                k = found.best()
                if found.errors[k] < current.errors[0]:
                    shapes[i], colors[i], masks[i] = (
                        found.shapes[k],
                        found.colors[k],
                        found.masks[k],
                    )
        return with_colors(shapes, colors)

    def score_layered(self, shapes, target, under, above, cover, rng, spending) -> Candidates:
        """Score strokes that lie over ``under`` and below later strokes, which let
        through ``cover`` of it and add ``above``."""
        actions = np.concatenate([shapes, np.zeros((len(shapes), 3))], axis=1)
        masks = self.mypaint.render_masks(actions, seed=int(rng.integers(2**31)))
        spending.renders += len(shapes)
        base = under * cover[..., None] + above  # the painting without the stroke
        colors, errors = best_colors(masks * cover[None], target, base, under, mode=self.task.color)
        return Candidates(shapes, colors, masks, errors)


def _layers(masks: np.ndarray, colors: np.ndarray, i: int, start: np.ndarray | None = None):
    """For stroke ``i`` of a sequence composited on ``start`` (white by default): the
    canvas under it, what the later strokes add on top, and how much of stroke ``i``'s
    layer they let through."""
    size = masks.shape[1:]
    under = np.ones((*size, 3), np.float32) if start is None else np.asarray(start, np.float32)
    for j in range(i):
        under = under * (1 - masks[j, ..., None]) + masks[j, ..., None] * colors[j]
    above = np.zeros((*size, 3), np.float32)
    cover = np.ones(size, np.float32)
    for j in range(i + 1, len(masks)):
        a = masks[j]
        above = above * (1 - a[..., None]) + a[..., None] * colors[j]
        cover = cover * (1 - a)
    return under, above, cover


__all__ = ["CEMSearch", "GreedySearch", "PerImageSearch"]
