"""What an agent is asked to paint, independent of how it learns.

A :class:`Task` names the target dataset, the strokes per painting, the action variant,
the MyPaint brush that paints (and judges) the strokes and the neural painter, a twin of
that brush, that gradient agents learn through. Every agent of a
comparison gets the same task, and its paintings are judged on the same held-out
targets.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from neuralpaint.envs.registration import DEFAULTS, check_episode
from neuralpaint.painters import DEFAULT_PAINTER
from neuralpaint.painters.mypaint import DEFAULT_BRUSH


@dataclass
class Task:
    """A painting task.

    Args:
        env_id: the Gymnasium id this task mirrors (used by RL agents).
        strokes: strokes per painting (the episode length).
        dataset: the target dataset's name (see :mod:`neuralpaint.envs.datasets`).
        color: ``black`` (colour fields ignored), ``gray`` (the red field is the grey
            level) or ``rgb``, as the environment's table of defaults says.
        variant: ``continuous`` (12 fields), ``discrete`` (13 fields with a lift flag,
            size and pressure on 10 levels) or ``grid`` (SPIRAL's MultiDiscrete action,
            for RL agents; their strokes are reported in the 13-field form).
        painter: the neural painter gradient agents learn through (a shipped name or
            a checkpoint folder); empty for a task with no painter (a brush without a
            twin, for agents that paint on MyPaint only).
        brush: the MyPaint brush the strokes are painted and judged with. The painter
            must imitate it (:attr:`brush_choice`).
        train_targets, test_targets: ``(N, H, W, 3)`` float32 images in [0, 1]. When
            not given they are loaded from the environment's dataset.
    """

    env_id: str = "NeuralPaint-MNIST-v0"
    dataset: str = "mnist"
    strokes: int = 8
    color: str = "black"
    variant: str = "continuous"
    painter: str = DEFAULT_PAINTER
    size: int = 64
    brush: str = DEFAULT_BRUSH
    train_targets: np.ndarray | None = field(default=None, repr=False)
    test_targets: np.ndarray | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        check_episode(self.variant, self.color, self.strokes)

    @property
    def discrete(self) -> bool:
        """Whether actions carry the 13th ``lift`` field."""
        return self.variant != "continuous"

    @property
    def brush_choice(self) -> str | None:
        """The brush, or ``None`` for the default one. Painters are checked against a
        chosen brush only, so a task of the default brush loads its painter as before
        brushes could be chosen."""
        return None if self.brush == DEFAULT_BRUSH else self.brush

    @property
    def action_dim(self) -> int:
        return 13 if self.discrete else 12

    def targets(self, split: str) -> np.ndarray:
        """The ``train`` or ``test`` targets, loaded once from the environment's dataset."""
        if split not in ("train", "test"):
            raise ValueError(f"split must be 'train' or 'test', got {split!r}")
        attr = f"{split}_targets"
        if getattr(self, attr) is None:
            from neuralpaint.envs.datasets import load_dataset

            targets = load_dataset(self.dataset, split)
            images = targets.batch(range(len(targets)), self.size)
            setattr(self, attr, images.astype(np.float32) / 255.0)
        return getattr(self, attr)

    def labels(self, split: str) -> np.ndarray | None:
        """Class labels of the ``split`` targets, or ``None`` for unlabelled data."""
        from neuralpaint.envs.datasets import load_dataset

        return load_dataset(self.dataset, split).labels

    def finalize(self, actions: np.ndarray) -> np.ndarray:
        """Make actions valid for this task: clip, gray colours, quantize discrete."""
        from neuralpaint import actions as A

        out = np.clip(np.asarray(actions, dtype=np.float64), 0.0, 1.0)
        if self.color == "black":
            out[..., A.COLOR_SLICE] = 0.0
        elif self.color == "gray":
            out[..., A.COLOR_SLICE] = out[..., 9:10]
        if self.discrete:
            shape = out.shape
            out = A.quantize_discrete(out.reshape(-1, shape[-1])).reshape(shape)
        return out

    def describe(self) -> dict:
        """The task without its images, for saving next to an agent (the brush only when
        it is not the default, so older saved tasks read the same)."""
        d = asdict(self)
        d.pop("train_targets")
        d.pop("test_targets")
        if d["brush"] == DEFAULT_BRUSH:
            d.pop("brush")
        return d

    @classmethod
    def from_description(cls, description: dict) -> Task:
        return cls(**description)

    @classmethod
    def from_env_id(
        cls, env_id: str, painter: str = DEFAULT_PAINTER, brush: str | None = None
    ) -> Task:
        """The task an environment id defines (strokes, colour mode, variant), with the
        env's own defaults: a Grid id gets its longer episode. ``brush`` (default: the
        id's, else ``classic/dry_brush``) is the ``brush=`` of ``gym.make``.

        Raises:
            ValueError: for an id that is not a registered NeuralPaint id, listing them.
        """
        import gymnasium as gym

        import neuralpaint  # noqa: F401 - registers the ids
        from neuralpaint.envs.registration import env_ids

        try:
            kwargs = gym.spec(env_id).kwargs
        except gym.error.Error as exc:
            raise ValueError(
                f"unknown environment id {env_id!r}; the ids are {', '.join(env_ids())}"
            ) from exc
        if kwargs.get("dataset") not in DEFAULTS:
            raise ValueError(f"{env_id!r} is not a NeuralPaint environment id")
        defaults = DEFAULTS[kwargs["dataset"]]
        variant = kwargs.get("variant", "continuous")
        strokes = defaults.grid_strokes if variant == "grid" else defaults.strokes
        return cls(
            env_id=env_id,
            dataset=kwargs["dataset"],
            strokes=int(kwargs.get("strokes", strokes)),
            color=kwargs.get("color", defaults.color),
            variant=variant,
            painter=painter,
            size=int(kwargs.get("size", 64)),
            brush=str(brush or kwargs.get("brush") or DEFAULT_BRUSH),
        )
