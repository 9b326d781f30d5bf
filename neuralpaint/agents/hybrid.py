"""``hybrid@PAINTER``: plan through the differentiable painter, check on the real program.

Gradient planning through a neural painter is fast but plans for the painter's canvas;
search on MyPaint is exact but blind. The hybrid does both, in a closed loop:

1. From the **real MyPaint canvas**, plan the next strokes with batched Adam through
   the frozen painter, from several starts at once. Starts come from MyPaint
   proposals scored with closed-form colour (as ``greedy``), from an amortised
   agent's strokes (``init=``), or from the previous chunk's plan.
2. **Check** each start's next chunk of strokes on MyPaint: render them, composite them
   on the real canvas, add the rest of that start's plan as the painter draws it, and
   keep the best. A refined plan that MyPaint paints worse than its start loses.
3. Paint the chosen chunk with MyPaint, read the real canvas back, and plan the next
   chunk from it.

``horizon="next"`` plans one chunk at a time (colour photos: strokes are laid in
order, each over the last). ``horizon="all"`` plans every remaining stroke jointly and
paints only the next chunk (thin black strokes, where a stroke's worth depends on the
others: stroke-by-stroke choice ruins a joint plan there).
"""

from __future__ import annotations

import numpy as np
import torch

from neuralpaint import actions as A
from neuralpaint.agents.differentiable import frozen_painter, resolve_device, stroke_colors
from neuralpaint.agents.registry import register_agent
from neuralpaint.agents.search import CEMSearch, GreedySearch, PerImageSearch
from neuralpaint.agents.search_common import (
    PerImageBudget,
    Spending,
    best_colors,
    per_pixel_error,
    propose,
    size_bounds,
    with_colors,
)
from neuralpaint.agents.task import Task
from neuralpaint.painters import DEFAULT_PAINTER
from neuralpaint.painters.compositing import composite

HORIZONS = ("next", "all")
SEARCH_INITS = {"greedy": GreedySearch, "cem": CEMSearch}
"""``init=`` names that start the plan with search on MyPaint."""
PROPOSE_SHARE = 0.3
"""Share of a chunk's time spent on MyPaint proposals when it needs fresh starts."""
REFINE_UNTIL = 0.85
"""Adam runs until this share of a chunk's time is spent; checking takes the rest."""


def _logit(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 1e-3, 1 - 1e-3)
    return np.log(x / (1 - x))


@register_agent
class HybridPlanner(PerImageSearch):
    """Closed-loop planning through a neural painter, checked on MyPaint.

    Args:
        renderer: the neural painter to plan through (the ``PAINTER`` of
            ``hybrid@PAINTER``).
        init: where the first plan comes from: an amortised agent (a shipped name such
            as ``amortized-mnist`` or a saved folder), ``greedy`` or ``cem`` (search on
            MyPaint, for ``init_share`` of the budget), or ``None`` (MyPaint proposals
            for each stroke as it comes).
        init_share: the share of a seconds budget that ``init="greedy"``/``"cem"`` spends.
        horizon: ``next`` plans one chunk at a time; ``all`` plans every remaining
            stroke jointly. Default: ``all`` with ``init``, else ``next``.
        chunk: strokes painted on MyPaint between two plans. Default: 1 for ``next``;
            half the strokes for ``all`` (plan all, paint half, re-plan the rest from
            the real canvas).
        starts: plans refined side by side (the best is kept after checking). Default:
            8 for ``next``; 1 for ``all``, whose plan is good already and whose every
            extra start costs a whole plan's painter evaluations.
        proposals: MyPaint proposals per fresh start slot at most (the best ``starts``
            of them start Adam); the time share :data:`PROPOSE_SHARE` also bounds them.
        steps: Adam steps per chunk; ``None`` runs until the chunk's time is spent.
        lr: Adam's learning rate on the strokes' logits.
        jitter: the spread (in logits) of the extra starts made from ``init``'s plan.
        verify: check the starts on MyPaint and keep the best (else trust the painter).
        device: ``cpu``, ``cuda`` or ``auto``.
        coarse_to_fine, guided: how proposals are drawn (see ``greedy``).
        (and ``seconds``, ``renders``, ``batch``, ``brush``, ``progress``)
    """

    name = "hybrid"

    def __init__(
        self,
        task: Task,
        seed: int = 0,
        renderer: str = DEFAULT_PAINTER,
        init: str | None = None,
        init_share: float = 0.5,
        horizon: str | None = None,
        chunk: int | None = None,
        starts: int | None = None,
        proposals: int = 256,
        steps: int | None = None,
        lr: float = 0.05,
        jitter: float = 0.3,
        verify: bool = True,
        device: str = "cpu",
        coarse_to_fine: bool = True,
        guided: float = 0.5,
        **kwargs,
    ):
        horizon = horizon or ("all" if init else "next")
        chunk = chunk or (-(-task.strokes // 2) if horizon == "all" else 1)
        starts = starts or (1 if horizon == "all" else 8)
        if not 0.0 < float(init_share) < 1.0:
            raise ValueError(f"init_share must be in (0, 1), got {init_share}")
        if horizon not in HORIZONS:
            raise ValueError(f"horizon must be one of {HORIZONS}, got {horizon!r}")
        for name, value in (("chunk", chunk), ("starts", starts), ("proposals", proposals)):
            if int(value) < 1:
                raise ValueError(f"{name} must be at least 1, got {value}")
        if steps is not None and int(steps) < 0:
            raise ValueError(f"steps must be 0 or more, got {steps}")
        if not (np.isfinite(lr) and lr > 0):
            raise ValueError(f"lr must be a positive number, got {lr}")
        self.init, self.horizon, self.chunk = init, horizon, int(chunk)
        self.init_share = float(init_share)
        self.starts, self.proposals, self.steps = int(starts), int(proposals), steps
        self.lr, self.jitter, self.verify = float(lr), float(jitter), bool(verify)
        self.coarse_to_fine, self.guided = bool(coarse_to_fine), float(guided)
        super().__init__(
            task,
            seed,
            renderer=renderer,
            init=init,
            init_share=init_share,
            horizon=horizon,
            chunk=chunk,
            starts=starts,
            proposals=proposals,
            steps=steps,
            lr=lr,
            jitter=jitter,
            verify=verify,
            device=device,
            coarse_to_fine=coarse_to_fine,
            guided=guided,
            **kwargs,
        )
        self.device = resolve_device(device)
        task = self.task  # with the brush of brush=, when one was given
        self.painter = frozen_painter(Task(**{**task.describe(), "painter": renderer}), self.device)
        self.init_agent = self._load_init(init) if init else None

    def check_renderer(self, renderer: str) -> None:
        if renderer == "mypaint":
            raise ValueError(
                "hybrid plans through a neural painter and checks on MyPaint: name the "
                "painter, e.g. 'hybrid@regression'"
            )

    @property
    def trains_on(self) -> str:
        return str(self.kwargs["renderer"])

    def _load_init(self, init: str):
        from neuralpaint.agents.base import Agent
        from neuralpaint.agents.commands import resolve_agent_folder

        if init in SEARCH_INITS:
            budget = self._init_budget()
            return SEARCH_INITS[init](
                self.task,
                self.seed,
                seconds=budget.seconds,
                renders=budget.renders,
                brush=self.brush,
            )

        agent = Agent.load(resolve_agent_folder(init))
        if agent.task.size != self.task.size or agent.task.action_dim != self.task.action_dim:
            raise ValueError(
                f"init agent {init!r} paints {agent.task.size} px, {agent.task.action_dim}-field "
                f"strokes; this task needs {self.task.size} px, {self.task.action_dim} fields"
            )
        if hasattr(agent, "device"):
            agent.device = self.device
        return agent

    def _init_budget(self) -> PerImageBudget:
        """The search init's share of this planner's budget."""
        b, share = self.budget, self.init_share
        return PerImageBudget(
            None if b.seconds is None else b.seconds * share,
            None if b.renders is None else max(1, int(b.renders * share)),
        )

    def _spending(self) -> Spending:
        """One slice per chunk, weighted by the strokes each plan holds (with
        ``horizon="all"`` the first plan holds them all), so every plan gets about as
        many Adam steps."""
        t, c = self.task.strokes, self.chunk
        firsts = range(0, t, c)
        weights = [t - k if self.horizon == "all" else min(c, t - k) for k in firsts]
        return Spending(self.budget, len(weights), weights)

    # ------------------------------------------------------------------ planning

    def plan(self, target, rng, spending, canvas_seed, start=None) -> np.ndarray:
        t_total = self.task.strokes
        canvas = self.scratch_canvas(start, canvas_seed)
        image = canvas.image()
        target_t = torch.as_tensor(target, device=self.device).permute(2, 0, 1)[None]
        plan = None  # (P, 12) strokes still planned after the painted ones
        if isinstance(self.init_agent, PerImageSearch):
            self.init_agent.budget = self._init_budget()  # the budget may change per call
            inner = self.init_agent._spending()
            plan = self.init_agent.plan(target, rng, inner, canvas_seed, start)
            spending.renders += inner.renders
        elif self.init_agent is not None:
            if start is not None:
                raise ValueError(
                    f"init={self.init!r} is an amortised agent, which paints from a white "
                    "canvas only; use init='cem' or 'greedy' to paint over a canvas"
                )
            plan = self.init_agent.paint(target[None])[0][:, : A.ACTION_DIM]
            spending.painter_evals += t_total
        painted: list[np.ndarray] = []
        while len(painted) < t_total:
            spending.begin_slice()
            left = t_total - len(painted)
            length = left if self.horizon == "all" else min(self.chunk, left)
            starts = self.make_starts(plan, length, len(painted), target, image, rng, spending)
            refined = self.refine(starts, target_t, image, spending)
            candidates = np.concatenate([starts, refined]) if self.verify else refined
            best = self.choose(candidates, target, target_t, image, rng, spending)
            spending.end_slice()
            n = min(self.chunk, left)
            for action in best[:n]:
                canvas.paint(action)
                painted.append(action)
            image = canvas.image()
            plan = best[n:] if len(best) > n else None
        return np.stack(painted)

    def make_starts(self, plan, length, done, target, image, rng, spending) -> np.ndarray:
        """``(S, length, 12)`` starting plans: the carried plan and its jittered copies
        when there is one, else MyPaint proposals for the first stroke (the best
        ``starts`` of them) followed by guided random strokes."""
        s = self.starts
        out = np.empty((s, length, A.ACTION_DIM))
        have = 0 if plan is None else min(len(plan), length)
        if have:
            base = np.repeat(plan[None, :have], s, axis=0)
            noise = rng.standard_normal(base.shape) * self.jitter
            noise[0] = 0.0
            out[:, :have] = 1 / (1 + np.exp(-(_logit(base) + noise)))
        if have < length:
            first = self.propose_starts(target, image, done + have, rng, spending)
            out[:, have] = first
            error = per_pixel_error(image, target)
            for k in range(have + 1, length):
                sizes = size_bounds(done + k, self.task.strokes, self.coarse_to_fine)
                shapes = propose(rng, s, error, sizes, self.guided)
                out[:, k] = with_colors(shapes, np.zeros((s, 3)))
                out[:, k, A.COLOR_SLICE] = target.reshape(-1, 3).mean(axis=0)
        return out

    def propose_starts(self, target, image, stroke, rng, spending) -> np.ndarray:
        """The ``starts`` best MyPaint proposals for the next stroke, with their colour."""
        sizes = size_bounds(stroke, self.task.strokes, self.coarse_to_fine)
        error = per_pixel_error(image, target)
        shapes, colors, errors = [], [], []
        limit = self.proposals * self.starts
        made = 0
        while made < limit:
            n = min(self.batch_size(spending), limit - made)
            if n <= 0:
                break
            found = self.score(
                propose(rng, n, error, sizes, self.guided), target, image, rng, spending
            )
            shapes.append(found.shapes)
            colors.append(found.colors)
            errors.append(found.errors)
            made += n
            if made >= self.starts and spending.slice_fraction() >= PROPOSE_SHARE:
                break
        if not shapes:  # a render budget already spent: random starts
            shapes = [propose(rng, self.starts, error, sizes, self.guided)]
            colors = [np.tile(target.reshape(-1, 3).mean(axis=0), (self.starts, 1))]
            errors = [np.zeros(self.starts)]
        shapes, colors, errors = map(np.concatenate, (shapes, colors, errors))
        order = np.argsort(errors)[: self.starts]
        order = np.resize(order, self.starts)  # fewer proposals than starts: repeat
        return with_colors(shapes[order], colors[order])

    def painter_canvas(self, plans: torch.Tensor, images: np.ndarray) -> torch.Tensor:
        """``(S, 3, H, W)``: each plan ``(S, P, 12)`` composited by the painter on
        ``images``, one ``(H, W, 3)`` image for all plans or ``(S, H, W, 3)``."""
        s, p, _ = plans.shape
        canvas = torch.as_tensor(np.asarray(images, np.float32), device=self.device)
        canvas = canvas.reshape(-1, *canvas.shape[-3:]).permute(0, 3, 1, 2)
        canvas = canvas.expand(s, -1, -1, -1)
        masks = self.painter(plans.reshape(s * p, -1)).reshape(s, p, 1, *canvas.shape[-2:])
        colors = stroke_colors(plans, self.task.color)
        for k in range(p):
            canvas = composite(canvas, masks[:, k], colors[:, k])
        return canvas

    def refine(self, starts: np.ndarray, target_t, image, spending) -> np.ndarray:
        """Adam on the starts' logits through the painter, from the real canvas."""
        logits = torch.as_tensor(_logit(starts), dtype=torch.float32, device=self.device)
        logits.requires_grad_(True)
        opt = torch.optim.Adam([logits], lr=self.lr)
        step = 0
        while True:
            if self.steps is not None:
                if step >= self.steps:
                    break
            elif step > 0 and spending.slice_fraction() >= REFINE_UNTIL:
                break
            canvas = self.painter_canvas(torch.sigmoid(logits), image)
            loss = ((canvas - target_t) ** 2).mean(dim=(1, 2, 3)).sum()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            spending.painter_evals += logits.shape[0] * logits.shape[1]
            step += 1
        return torch.sigmoid(logits).detach().cpu().double().numpy()

    @torch.no_grad()
    def choose(self, plans, target, target_t, image, rng, spending) -> np.ndarray:
        """The plan whose next chunk, painted by MyPaint on the real canvas and followed
        by the rest of the plan as the painter draws it, is closest to the target."""
        s, p, _ = plans.shape
        n = min(self.chunk, p)
        if not self.verify:
            canvas = self.painter_canvas(torch.as_tensor(plans, dtype=torch.float32), image)
            return plans[int(((canvas - target_t) ** 2).mean(dim=(1, 2, 3)).argmin())]
        chunk = plans[:, :n].reshape(s * n, -1)
        masks = self.mypaint.render_masks(chunk, seed=int(rng.integers(2**31)))
        spending.renders += s * n
        masks = masks.reshape(s, n, *masks.shape[1:])
        if self.horizon == "next" and n == 1:  # recolour the stroke for MyPaint's mask
            colors, _ = best_colors(masks[:, 0], target, image, mode=self.task.color)
            plans = plans.copy()
            plans[:, 0, A.COLOR_SLICE] = colors
        canvases = np.repeat(image[None], s, axis=0)
        for k in range(n):
            a = masks[:, k, ..., None]
            color = _colors_np(plans[:, k], self.task.color)[:, None, None, :]
            canvases = canvases * (1 - a) + a * color
        if p > n:
            rest = torch.as_tensor(plans[:, n:], dtype=torch.float32, device=self.device)
            finals = self.painter_canvas(rest, canvases)
            spending.painter_evals += s * (p - n)
            canvases = finals.cpu().permute(0, 2, 3, 1).numpy()
        errors = ((canvases - target[None]) ** 2).sum(axis=(1, 2, 3))
        return plans[int(np.argmin(errors))]


def _colors_np(actions: np.ndarray, mode: str) -> np.ndarray:
    rgb = actions[:, A.COLOR_SLICE]
    if mode == "black":
        return np.zeros_like(rgb)
    return np.repeat(rgb[:, :1], 3, axis=1) if mode == "gray" else rgb


__all__ = ["HybridPlanner"]
