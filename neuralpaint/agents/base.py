"""The Agent interface: every kind of agent is trained and judged the same way.

An agent trains within a :class:`Budget` of wall-clock seconds and/or steps and
reports :class:`Progress` to a callback. It paints a batch of targets into action
sequences, and it saves and loads itself. Evaluation never trusts an agent's own
renderer: its actions are painted by the real MyPaint program
(:func:`neuralpaint.agents.evaluation.evaluate_on_mypaint`).
"""

from __future__ import annotations

import inspect
import json
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import ClassVar

import numpy as np

from neuralpaint.agents.task import Task


@dataclass(frozen=True)
class Budget:
    """How long an agent may train: seconds, steps, or both (whichever ends first).

    What a step is depends on the agent: an environment step for RL, an optimizer step
    over a batch of targets for gradient agents. Wall-clock seconds are the common
    currency of the benchmarks.
    """

    seconds: float | None = None
    steps: int | None = None

    def __post_init__(self) -> None:
        if self.seconds is None and self.steps is None:
            raise ValueError("a budget needs seconds, steps or both")
        for name in ("seconds", "steps"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ValueError(f"budget {name} must be positive, got {value}")

    def fraction(self, elapsed: float, steps: int) -> float:
        """How much of the budget is used, in [0, 1+]."""
        parts = []
        if self.seconds is not None:
            parts.append(elapsed / self.seconds)
        if self.steps is not None:
            parts.append(steps / self.steps)
        return max(parts)

    def exhausted(self, elapsed: float, steps: int) -> bool:
        return self.fraction(elapsed, steps) >= 1.0


@dataclass
class Progress:
    """What an agent reports while training (units in the metric names).

    ``elapsed_seconds`` and ``steps`` count from the start of the current
    :meth:`Agent.train` call, the span its :class:`Budget` applies to; add
    ``trained_seconds`` and ``trained_steps`` from before the call for totals.
    """

    elapsed_seconds: float
    steps: int
    metrics: dict[str, float] = field(default_factory=dict)


ProgressCallback = Callable[[Progress], bool | None]
"""Called with progress; returning ``False`` stops training early."""


class Agent(ABC):
    """Base class of all agents.

    Subclasses set ``name`` and implement :meth:`train`, :meth:`paint`,
    :meth:`state` and :meth:`load_state`. Saving writes ``agent.json`` (the name,
    the task and the constructor arguments) and whatever :meth:`state` returns.

    Args:
        task: what to paint (targets, strokes per painting, painter, variant).
        seed: seeds every random choice of the agent.
    """

    name: ClassVar[str] = ""
    family: ClassVar[str | None] = None
    """``"model-free"`` or ``"model-based"`` for reinforcement-learning agents (the
    families of the convergence headline); ``None`` for the rest."""
    stochastic: ClassVar[bool] = False
    config_class: ClassVar[type | None] = None
    """The hyperparameter dataclass whose fields the constructor also takes as keyword
    arguments (listed by :meth:`arguments`), if any."""
    """Whether :meth:`paint` takes ``deterministic=`` (a stochastic policy, judged
    both as its mode and sampled)."""

    def __init__(self, task: Task, seed: int = 0, **kwargs):
        self.task = task
        self.seed = seed
        self.kwargs = kwargs
        self.trained_seconds = 0.0
        self.trained_steps = 0

    @classmethod
    def arguments(cls) -> list[str] | None:
        """The keyword arguments the constructor takes besides ``task`` and ``seed``, so
        that a misspelt one is reported with the valid ones; ``None`` when it takes any
        (a ``**kwargs`` that a subclass does not spell out)."""
        params = inspect.signature(cls.__init__).parameters
        overridden = cls.arguments.__func__ is not Agent.arguments.__func__
        own = [f.name for f in fields(cls.config_class)] if cls.config_class else []
        if not (overridden or own) and any(p.kind is p.VAR_KEYWORD for p in params.values()):
            return None
        named = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
        return [
            n for n, p in params.items() if p.kind in named and n not in ("self", "task", "seed")
        ] + own

    @property
    def trains_on(self) -> str | None:
        """The renderer training learns from: a neural painter, ``mypaint``, or ``None``
        for agents that learn nothing. Saved in ``agent.json``."""
        return None

    @property
    def strokes_rendered(self) -> int:
        """Strokes rendered while training (environment steps, or painter calls for
        gradient agents): the common unit of the convergence benchmark."""
        return self.trained_steps

    @abstractmethod
    def train(self, budget: Budget, callback: ProgressCallback | None = None) -> None:
        """Learn within ``budget``; may be called again to continue."""

    @abstractmethod
    def paint(self, targets: np.ndarray) -> np.ndarray:
        """``(N, H, W, 3)`` float targets in [0, 1] to ``(N, T, D)`` actions in [0, 1]
        (``D`` is 12, or 13 for the discrete variant)."""

    def state(self, folder: Path) -> None:  # noqa: B027 - stateless agents keep this
        """Write learned state into ``folder`` (weights); stateless agents write nothing."""

    def load_state(self, folder: Path) -> None:  # noqa: B027 - stateless agents keep this
        """Read what :meth:`state` wrote."""

    def save(self, folder: str | Path) -> Path:
        """Save to ``folder`` (``agent.json`` plus the agent's own files)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.state(folder)
        meta = {
            "agent": self.name,
            "seed": self.seed,
            "kwargs": self.kwargs,
            "task": self.task.describe(),
            "trains_on": self.trains_on,
            "trained_seconds": self.trained_seconds,
            "trained_steps": self.trained_steps,
        }
        from neuralpaint.io import write_text

        write_text(folder / "agent.json", json.dumps(meta, indent=2))
        return folder

    @classmethod
    def load(cls, folder: str | Path, task: Task | None = None) -> Agent:
        """Load an agent saved by :meth:`save` (the class comes from the registry).

        Raises:
            FileNotFoundError: when ``agent.json`` is missing.
            ValueError: when it is corrupt.
        """
        from neuralpaint.agents.registry import get_agent_class

        folder = Path(folder)
        path = folder / "agent.json"
        if not path.is_file():
            raise FileNotFoundError(f"{folder} is not a saved agent: agent.json is missing")
        try:
            meta = json.loads(path.read_text())
            agent_cls = get_agent_class(meta["agent"])
            task = task or Task.from_description(meta["task"])
            seed, kwargs = meta["seed"], meta["kwargs"]
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            why = f"no {exc} field" if isinstance(exc, KeyError) else str(exc)
            raise ValueError(f"{path} is corrupt ({why}); retrain or restore it") from exc
        agent = agent_cls(task, seed=seed, **kwargs)
        agent.load_state(folder)
        agent.trained_seconds = meta.get("trained_seconds", 0.0)
        agent.trained_steps = meta.get("trained_steps", 0)
        return agent


class Stopwatch:
    """Wall-clock time that survives train() being called several times."""

    def __init__(self, already: float = 0.0):
        self.start = time.monotonic() - already

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.start
