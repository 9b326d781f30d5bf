"""Neural painters behind the :class:`~neuralpaint.painters.base.Painter` interface.

``load_painter("gan")`` (or ``"vae"``, ``"regression"``, ``"regression-discrete"``)
returns a shipped, pre-trained ``torch.nn.Module`` that maps ``(B, 12)`` actions to
``(B, 1, 64, 64)`` masks, differentiably. It also accepts a checkpoint folder.

Every painter imitates one MyPaint brush, which its ``config.json`` records as
``brush`` (painters written before brushes were recorded imitate
``classic/dry_brush``). A brush-conditioned painter (``"brushes": [...]`` in its config)
paints any of several; ``load_painter(..., brush=NAME)`` binds one, and each shipped
twin of such a painter is a folder with the brush already bound. :func:`default_twin`
names the shipped painter to use for a brush.
:class:`NeuralRenderer` wraps such a module for environments. It renders under
``torch.no_grad``, keeps episode canvases, and paints many canvases in one forward pass.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from neuralpaint import actions as A
from neuralpaint.errors import UserValueError
from neuralpaint.painters import DEFAULT_PAINTER, dab_kernel, dabs
from neuralpaint.painters import checkpoint as ckpt
from neuralpaint.painters.blurred import PREFIX as BLUR_PREFIX
from neuralpaint.painters.blurred import SIGMA as BLUR_SIGMA
from neuralpaint.painters.blurred import GradientBlur
from neuralpaint.painters.broadcast import BroadcastPainter
from neuralpaint.painters.brushes import require_twin_brush, twin_name
from neuralpaint.painters.compositing import composite
from neuralpaint.painters.dabs import PREFIX as DAB_PREFIX
from neuralpaint.painters.fast import FastPainter
from neuralpaint.painters.gan import TexturePainter
from neuralpaint.painters.mypaint import DEFAULT_BRUSH, resolve_brush
from neuralpaint.painters.rounded import PREFIX as ROUNDED_PREFIX
from neuralpaint.painters.rounded import RoundedTwin
from neuralpaint.painters.vae import VAEPainter

WEIGHTS_DIR = Path(__file__).with_name("weights")
KINDS = ("regression", "vae", "gan")
NETS = ("broadcast", "fast")
"""Architectures of a regression painter (``arch["net"]``; broadcast when absent)."""


def shipped_painters() -> list[str]:
    """Names of the painters whose weights ship inside the package."""
    if not WEIGHTS_DIR.is_dir():
        return []
    return sorted(p.name for p in WEIGHTS_DIR.iterdir() if (p / ckpt.CONFIG).is_file())


def build_painter(config: dict) -> torch.nn.Module:
    """An untrained painter module from a checkpoint config (``kind``, ``size``, ...)."""
    kind, arch = config["kind"], dict(config.get("arch", {}))
    common = {"size": config["size"], "discrete": config["discrete"]}
    if kind == "regression":
        if arch.pop("noise", 0):  # 0.1.0 wrote "noise": 0 for every regression painter
            raise ckpt.CheckpointError("a regression painter with noise inputs is a 0.1.0 GAN")
        net = arch.pop("net", "broadcast")
        if net not in NETS:
            raise ckpt.CheckpointError(f"unknown painter net {net!r}; expected one of {NETS}")
        return (FastPainter if net == "fast" else BroadcastPainter)(**common, **arch)
    if kind == "gan":
        if "noise" in arch and "head_width" not in arch:
            raise ckpt.CheckpointError(
                "this GAN painter was written by neuralpaint 0.1.0 (a noisy broadcast decoder);"
                " retrain it with `neuralpaint painter train --kind gan`"
            )
        return TexturePainter(**common, **arch)
    if kind == "vae":
        return VAEPainter(**common, **arch)
    raise ckpt.CheckpointError(f"unknown painter kind {kind!r}; expected one of {KINDS}")


def is_dab_twin(name: str | Path) -> bool:
    """Whether a painter name is ``dabs:<brush>`` or ``dabs-fast:<brush>``, a
    :class:`~neuralpaint.painters.dabs.DabTwin`."""
    return isinstance(name, str) and name.startswith((DAB_PREFIX, dabs.FAST_PREFIX))


def _dab_prefix(name: str) -> str:
    """``dabs-fast:`` for a dab twin with the fast expectation, else ``dabs:``."""
    return dabs.FAST_PREFIX if name.startswith(dabs.FAST_PREFIX) else DAB_PREFIX


def dab_config(name: str) -> dict:
    """The config a ``dabs:<brush>`` painter would have if it were a checkpoint; for
    ``dabs:<brush>~<painter>`` (:class:`~neuralpaint.painters.dabs.StraightThrough`),
    ``gradient`` names the painter whose gradients it takes; ``dabs-fast:`` sets
    ``expectation`` to ``"fast"``."""
    prefix = _dab_prefix(name)
    brush, _, gradient = name[len(prefix) :].partition(dabs.GRADIENT_SEPARATOR)
    if not brush:
        raise ckpt.CheckpointError(
            f"{name!r} names no brush: write {prefix}<brush>, e.g. {prefix}classic/charcoal"
        )
    config = {"kind": "dabs", "size": 64, "discrete": False, "brush": brush}
    if prefix == dabs.FAST_PREFIX:
        config["expectation"] = "fast"
    if gradient:
        if is_dab_twin(gradient):
            raise ckpt.CheckpointError(
                f"{name!r}: the painter after {dabs.GRADIENT_SEPARATOR!r} gives the "
                "gradients, so it must be a neural twin, e.g. dabs:classic/pen~regression-pen"
            )
        config["gradient"] = gradient
    return config


def _wrapped(name: str | Path, prefix: str) -> str | None:
    """The painter named after ``prefix`` in ``name``, else ``None``."""
    if isinstance(name, str) and name.startswith(prefix):
        return name[len(prefix) :]
    return None


def rounded_inner(name: str | Path) -> str | None:
    """The continuous painter of a ``discrete:<painter>`` name
    (:class:`~neuralpaint.painters.rounded.RoundedTwin`), else ``None``."""
    return _wrapped(name, ROUNDED_PREFIX)


def _wrapped_config(name: str, prefix: str, example: str) -> tuple[str, dict, dict]:
    """The painter a ``<prefix><painter>`` name wraps, its config, and the brush fields
    the wrapper takes from it.

    Raises:
        ckpt.CheckpointError: when the name wraps no painter.
    """
    inner = _wrapped(name, prefix)
    if not inner:
        raise ckpt.CheckpointError(
            f"{name!r} names no painter: write {prefix}<painter>, e.g. {prefix}{example}"
        )
    config = read_painter_config(inner)
    own = {k: config[k] for k in ("brush", "brushes") if k in config}
    if not own:
        own["brush"] = painter_brush(config)
    return inner, config, own


def rounded_config(name: str) -> dict:
    """The config a ``discrete:<painter>`` painter would have if it were a checkpoint:
    its continuous painter's brush and size, ``discrete`` true, ``continuous`` naming it.

    Raises:
        ckpt.CheckpointError: when the inner painter is missing or already discrete.
    """
    inner, config, own = _wrapped_config(name, ROUNDED_PREFIX, DEFAULT_PAINTER)
    if config["discrete"]:
        raise ckpt.CheckpointError(
            f"{name!r}: {inner!r} is already a discrete painter; {ROUNDED_PREFIX} makes one"
            f" from a continuous painter, e.g. {ROUNDED_PREFIX}{DEFAULT_PAINTER}"
        )
    return {"kind": "rounded", "size": config["size"], "discrete": True, **own, "continuous": inner}


def blurred_inner(name: str | Path) -> str | None:
    """The painter of a ``blur-grad:<painter>`` name
    (:class:`~neuralpaint.painters.blurred.GradientBlur`), else ``None``."""
    return _wrapped(name, BLUR_PREFIX)


def blurred_config(name: str) -> dict:
    """The config a ``blur-grad:<painter>`` painter would have if it were a checkpoint:
    its painter's size, variant and brush, ``inner`` naming the painter and
    ``gradient_blur`` the blur in pixels of a 64 px canvas.

    Raises:
        ckpt.CheckpointError: when the inner painter is missing.
    """
    inner, config, own = _wrapped_config(name, BLUR_PREFIX, "dabs:classic/calligraphy")
    return {
        "kind": "blurred",
        "size": config["size"],
        "discrete": config["discrete"],
        **own,
        "inner": inner,
        "gradient_blur": BLUR_SIGMA,
    }


def read_painter_config(name_or_path: str | Path) -> dict:
    """A painter's config: its checkpoint's ``config.json``, :func:`dab_config`,
    :func:`rounded_config` or :func:`blurred_config`."""
    if blurred_inner(name_or_path) is not None:
        return blurred_config(str(name_or_path))
    if rounded_inner(name_or_path) is not None:
        return rounded_config(str(name_or_path))
    if is_dab_twin(name_or_path):
        return dab_config(str(name_or_path))
    return ckpt.read_config(resolve(name_or_path))


def resolve(name_or_path: str | Path) -> Path:
    """A shipped painter's folder, or the given checkpoint folder.

    Raises:
        ckpt.CheckpointError: naming the shipped painters when nothing matches.
    """
    path = Path(name_or_path)
    if path.is_dir():
        return path
    if (WEIGHTS_DIR / str(name_or_path)).is_dir():
        return WEIGHTS_DIR / str(name_or_path)
    raise ckpt.CheckpointError(
        f"no painter {str(name_or_path)!r}: give a checkpoint folder or one of the shipped "
        f"painters {shipped_painters()}"
    )


def weights_digest(name_or_path: str | Path) -> str:
    """A short hash of a painter's weights file, so that results computed through a
    painter can tell when it was retrained (benchmark cells put it in their cache key).

    Raises:
        ckpt.CheckpointError: when nothing matches or the folder has no weights.
    """
    if (inner := rounded_inner(name_or_path)) is not None:
        return weights_digest(inner)
    if (inner := blurred_inner(name_or_path)) is not None:  # the same weights, blurred
        tag = f"{weights_digest(inner)}{BLUR_PREFIX}{BLUR_SIGMA}"
        return hashlib.sha1(tag.encode()).hexdigest()[:12]
    if is_dab_twin(name_or_path):  # its "weights" are the brush file and the engine's code
        config = dab_config(str(name_or_path))
        engine = [Path(dabs.__file__), Path(dab_kernel.__file__), dab_kernel.SOURCE]
        files = [resolve_brush(config["brush"]), *engine]
        parts = [
            _file_digest(str(f.resolve()), f.stat().st_mtime_ns, f.stat().st_size) for f in files
        ]
        if "gradient" in config:
            parts.append(weights_digest(config["gradient"]))
        return hashlib.sha1("".join(parts).encode()).hexdigest()[:12]
    weights = resolve(name_or_path) / ckpt.WEIGHTS
    if not weights.is_file():
        raise ckpt.CheckpointError(f"{weights} is missing: the painter has no weights")
    stat = weights.stat()
    return _file_digest(str(weights.resolve()), stat.st_mtime_ns, stat.st_size)


@functools.cache
def _file_digest(path: str, mtime_ns: int, size: int) -> str:
    """SHA-1 of a file, cached by path, modification time and size."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha1").hexdigest()[:12]


def painter_brush(config: dict) -> str | None:
    """The brush a painter's config says it paints: ``None`` for a brush-conditioned
    painter with none bound; ``classic/dry_brush`` for painters from before brushes were
    recorded."""
    if "brush" in config:
        return str(config["brush"])
    return None if config.get("brushes") else DEFAULT_BRUSH


def bind_brush(module: torch.nn.Module, config: dict, brush: str | None, where: str) -> None:
    """Make ``module`` paint ``brush`` (or the brush its config binds), checking that it
    can: a one-brush painter paints only its own brush.

    Raises:
        ckpt.CheckpointError: naming the brushes the painter can paint.
    """
    brushes = config.get("brushes")
    if brush is None:
        brush = config.get("brush")
    if brushes:
        if brush is None:
            module.brush = None
            return
        if brush not in brushes:
            raise ckpt.CheckpointError(
                f"{where} paints the brushes {brushes}, not {brush!r}; pick one of them"
            )
        module.brush_index = brushes.index(brush)
        module.brush = brush
        return
    own = painter_brush(config)
    if brush is not None and brush != own:
        raise ckpt.CheckpointError(
            f"{where} imitates the brush {own!r}, not {brush!r}; load that brush's twin"
            f" (neuralpaint.painters.neural.default_twin({brush!r}))"
        )
    module.brush = own


def load_painter(
    name_or_path: str | Path,
    device: str | torch.device = "cpu",
    expect_discrete: bool | None = None,
    brush: str | None = None,
) -> torch.nn.Module:
    """Load a painter module in eval mode.

    Args:
        name_or_path: a shipped painter name, a checkpoint folder, ``dabs:<brush>``
            (libmypaint's dab engine; ``dabs-fast:<brush>`` for a random brush's
            faster approximate mean) or ``dabs:<brush>~<painter>`` (that
            engine's strokes with ``<painter>``'s gradients), ``discrete:<painter>``
            (a continuous painter driven as the discrete variant drives MyPaint) or
            ``blur-grad:<painter>`` (``<painter>`` with its gradient blurred,
            :mod:`~neuralpaint.painters.blurred`).
        device: where to put it.
        expect_discrete: when given, check the painter's action variant matches.
        brush: for a brush-conditioned painter, the brush to paint (its ``forward`` then
            takes plain actions); for any other, a check that it imitates this brush.
            The module's ``brush`` attribute says which it paints (``None``: a
            conditioned painter with no brush bound, which needs brush indices).

    Raises:
        ckpt.CheckpointError: for a missing, corrupt or mismatched checkpoint, or a
            brush it does not paint.
    """
    dab_twin = is_dab_twin(name_or_path)
    inner = rounded_inner(name_or_path)
    blurred = blurred_inner(name_or_path)
    named = dab_twin or inner is not None or blurred is not None
    folder = str(name_or_path) if named else resolve(name_or_path)
    config = read_painter_config(name_or_path)
    if expect_discrete is not None and bool(config["discrete"]) != expect_discrete:
        want = "discrete (13-field)" if expect_discrete else "continuous (12-field)"
        hint = ""
        if expect_discrete:
            hint = (
                f"; {ROUNDED_PREFIX}{name_or_path} drives it as the discrete variant drives MyPaint"
            )
        raise ckpt.CheckpointError(
            f"{folder} holds a {'discrete' if config['discrete'] else 'continuous'} painter, "
            f"but a {want} one is needed{hint}"
        )
    if inner is not None:
        module = RoundedTwin(load_painter(inner, expect_discrete=False, brush=brush))
        module.painter_name, module.painter_config = str(name_or_path), config
        module.brush = module.continuous.brush
        return module.to(device).eval()
    if blurred is not None:
        module = GradientBlur(load_painter(blurred, brush=brush), config["gradient_blur"])
        module.painter_name, module.painter_config = str(name_or_path), config
        module.brush = module.painter.brush
        return module.to(device).eval()
    if dab_twin:
        module = dabs.DabTwin(
            config["brush"], config["size"], expectation=config.get("expectation", "exact")
        )
        if "gradient" in config:
            smooth = load_painter(config["gradient"], expect_discrete=False, brush=config["brush"])
            module = dabs.StraightThrough(module, smooth)
    else:
        module = build_painter(config)
        ckpt.load_state(module, ckpt.split(ckpt.load_tensors(folder), "painter"), str(folder))
    module.painter_name = str(name_or_path)
    module.painter_config = config
    bind_brush(module, config, brush, str(folder))
    return module.to(device).eval()


def shipped_twins(discrete: bool = False) -> dict[str, list[str]]:
    """The shipped regression painters of each brush: ``{brush: [names]}``."""
    twins: dict[str, list[str]] = {}
    for name in shipped_painters():
        config = ckpt.read_config(WEIGHTS_DIR / name)
        brush = painter_brush(config)
        if config["kind"] == "regression" and bool(config["discrete"]) == discrete and brush:
            twins.setdefault(brush, []).append(name)
    return twins


PROMOTED_TWINS: dict[tuple[str, bool], str] = {
    (DEFAULT_BRUSH, False): DEFAULT_PAINTER,
    ("classic/pen", False): "dabs:classic/pen",
    ("classic/marker_fat", False): BLUR_PREFIX + "dabs:classic/marker_fat",
    ("classic/charcoal", False): "dabs-fast:classic/charcoal",
    ("classic/ink_blot", False): "dabs-fast:classic/ink_blot",
    ("classic/calligraphy", False): BLUR_PREFIX + "dabs:classic/calligraphy",
}
"""Fast twins that replace a brush's canonical twin as its default, by ``(brush,
discrete)``, each on committed measurements. ``regression-fast`` keeps ``regression``'s
held-out fidelity (R² and ink IoU within 0.005, ``neuralpaint bench twins``).
The pen's and marker_fat's dab twins and charcoal's and ink_blot's fast means
(``dabs-fast:``) reach 0.97 of their brush's noise ceiling where the neural twins do
not, paint at least 2× MyPaint's rate forward and 1× forward+backward (also where
MyPaint paints twice as fast as on the host of their first runs, since the kernels run
one pass per canvas: ``results/kernels-final``), and Adam plans no worse through them
(``bench brushes``, 64
digits, paired by ``bench paired``) since they carry the gradient of the dab count
(:func:`~neuralpaint.painters.dabs.count_gradient`).
Calligraphy's and marker_fat's dab twins take their gradient blurred (``blur-grad:``,
:mod:`~neuralpaint.painters.blurred`): through calligraphy's hard edges Adam planned worse
than through ``regression-calligraphy`` until then, and through both it now plans better
than through their networks (``results/blur-grad-defaults``).
``regression-discrete-fast`` does not keep ``regression-discrete``'s fidelity, so
``regression-discrete`` stays the discrete default."""


def default_twin(brush: str = DEFAULT_BRUSH, discrete: bool = False) -> str:
    """The shipped painter that gradient agents use for ``brush``: its promoted fast
    twin (:data:`PROMOTED_TWINS`: ``regression-fast`` for ``classic/dry_brush``,
    ``dabs:classic/pen`` for the pen) when one ships, else the one named
    :func:`~neuralpaint.painters.brushes.twin_name` (``regression-discrete`` for the
    discrete dry_brush), else any shipped regression painter of that brush. A discrete
    brush without a shipped discrete twin gets its continuous default driven as the
    discrete variant drives MyPaint (``discrete:<twin>``,
    :class:`~neuralpaint.painters.rounded.RoundedTwin`).

    Raises:
        UserValueError: for an unknown brush, one that is not normal-blending (naming the
            brushes that qualify), or one without a shipped twin (naming those that have
            one, and how to train one).
    """
    require_twin_brush(brush)
    twins = shipped_twins(discrete)
    names = twins.get(str(brush), [])
    if not names and discrete and str(brush) in shipped_twins():
        return ROUNDED_PREFIX + default_twin(brush)
    if not names:
        variant = " --discrete" if discrete else ""
        have = ", ".join(f"{b} ({', '.join(n)})" for b, n in sorted(twins.items()))
        raise UserValueError(
            f"no shipped {'discrete ' if discrete else ''}twin of brush {str(brush)!r}; brushes"
            f" with one: {have or 'none'}. Train one: `neuralpaint painter dataset --brush"
            f" {brush}{variant}`, then `neuralpaint painter train --brush {brush}{variant}`"
        )

    def ships(name: str | None) -> bool:  # a dab twin needs no weights
        if (inner := blurred_inner(name)) is not None:
            return ships(inner)
        return name in names or is_dab_twin(name)

    for preferred in (PROMOTED_TWINS.get((str(brush), discrete)), twin_name(brush, discrete)):
        if ships(preferred):
            return preferred
    return names[0]


def _paints_a_mean(brush: str) -> bool:
    """Whether the dab twin of ``brush`` paints an expectation; a brush it cannot paint
    counts as one, so that loading reports why."""
    try:
        return dabs.jitters(brush)
    except (UserValueError, FileNotFoundError):
        return True


def painter_for_brush(name_or_path: str | Path, brush: str | None) -> str:
    """The painter to load when ``name_or_path`` is asked for on ``brush``.

    ``name_or_path`` itself when it paints the brush (or ``brush`` is ``None``). A
    shipped regression painter of another brush (``regression`` names the dry_brush
    twin) stands for the regression twin of the brush: :func:`default_twin`, whose
    error names the brush, the brushes with a shipped twin and how to train one. Any
    other painter is returned as it is, and ``load_painter(..., brush=brush)`` refuses
    it by name.

    Raises:
        UserValueError: for a brush a twin cannot imitate, or one without a shipped twin
            when a shipped regression painter is asked for.
    """
    if brush is None:
        return str(name_or_path)
    try:
        config = read_painter_config(name_or_path)
    except ckpt.CheckpointError:  # loading it reports that, by name
        return str(name_or_path)
    if str(brush) == painter_brush(config) or str(brush) in (config.get("brushes") or []):
        return str(name_or_path)
    if (inner := rounded_inner(name_or_path)) is not None:  # the same rounding of that twin
        return ROUNDED_PREFIX + painter_for_brush(inner, brush)
    if (inner := blurred_inner(name_or_path)) is not None:  # the same blur of that twin
        return BLUR_PREFIX + painter_for_brush(inner, brush)
    if is_dab_twin(name_or_path):  # the same engine (and gradients), on the brush asked for
        gradient, prefix = config.get("gradient"), _dab_prefix(str(name_or_path))
        if prefix == dabs.FAST_PREFIX and not _paints_a_mean(brush):
            prefix = DAB_PREFIX  # a brush without jitter: its exact twin is as fast
        if gradient is None:
            return prefix + str(brush)
        smooth = painter_for_brush(gradient, brush)
        if is_dab_twin(smooth) or blurred_inner(smooth) is not None:
            smooth = twin_name(brush)  # the gradients come from the brush's network
        return f"{prefix}{brush}{dabs.GRADIENT_SEPARATOR}{smooth}"
    if resolve(name_or_path).parent == WEIGHTS_DIR and config["kind"] == "regression":
        return default_twin(str(brush), bool(config["discrete"]))
    require_twin_brush(brush)
    return str(name_or_path)


def resolve_device(device: str | torch.device | None) -> torch.device:
    """``'auto'``/``None`` picks CUDA when available; a clear error for absent CUDA."""
    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' was asked for but torch sees no CUDA GPU; use --device cpu")
    return device


class NeuralRenderer:
    """A neural painter as a :class:`~neuralpaint.painters.base.Painter`.

    Args:
        painter: a painter module, a shipped name (``"gan"``, ...) or a checkpoint folder.
        device: ``"cpu"``, ``"cuda"`` or ``"auto"``.

    Attributes:
        module: the differentiable ``torch.nn.Module``, for gradient agents.
    """

    differentiable = True

    def __init__(self, painter: torch.nn.Module | str | Path, device: str | None = "cpu"):
        self.device = resolve_device(device)
        if isinstance(painter, torch.nn.Module):
            self.module = painter.to(self.device).eval()
        else:
            self.module = load_painter(painter, self.device)
        self.brush = getattr(self.module, "brush", DEFAULT_BRUSH)
        """The MyPaint brush this painter imitates."""
        self.size = int(self.module.size)
        self.discrete = bool(self.module.discrete)
        self.name = str(getattr(self.module, "painter_name", type(self.module).__name__))

    def prepare(self, actions: np.ndarray) -> tuple[torch.Tensor, np.ndarray]:
        """Validate actions as the real program would take them.

        Returns the painter's input tensor and which strokes are lifted (paint nothing).
        """
        arr = np.asarray(actions, dtype=np.float64)
        if arr.ndim == 2 and arr.shape[1] == A.DISCRETE_ACTION_DIM:
            arr = A.quantize_discrete(arr)
            lifted = A.is_lifted(arr)
            if not self.discrete:
                arr = arr[:, : A.ACTION_DIM]
        else:
            arr = A.validate(arr)
            if arr.ndim != 2:
                raise ValueError(f"expected a batch of shape (N, 12), got {arr.shape}")
            lifted = np.zeros(len(arr), dtype=bool)
            if self.discrete:
                arr = np.concatenate([arr, np.zeros((len(arr), 1))], axis=1)
        return torch.as_tensor(arr, dtype=torch.float32, device=self.device), lifted

    @torch.no_grad()
    def masks(self, actions: np.ndarray, generator: torch.Generator | None = None) -> torch.Tensor:
        """``(N, 1, H, W)`` masks on the device; lifted strokes are blank."""
        x, lifted = self.prepare(actions)
        out = self.module(x, generator=generator)
        if lifted.any():
            out[torch.as_tensor(lifted, device=out.device)] = 0.0
        return out

    def render_masks(self, actions: np.ndarray, seed: int = 0) -> np.ndarray:
        """``(N, H, W)`` float32 masks; ``seed`` fixes a noisy painter's texture."""
        gen = torch.Generator(device=self.device).manual_seed(int(seed))
        return self.masks(actions, gen)[:, 0].cpu().numpy()

    @torch.no_grad()
    def paint_batch(
        self, canvases: np.ndarray, actions: np.ndarray, generator: torch.Generator | None = None
    ) -> np.ndarray:
        """Paint one stroke on each of many ``(N, H, W, 3)`` canvases in one pass."""
        canvas = torch.as_tensor(canvases, dtype=torch.float32, device=self.device)
        canvas = canvas.permute(0, 3, 1, 2)
        color = torch.as_tensor(
            np.asarray(actions, dtype=np.float32)[:, A.COLOR_SLICE], device=self.device
        ).clamp(0, 1)
        out = composite(canvas, self.masks(actions, generator), color)
        return out.permute(0, 2, 3, 1).cpu().numpy()

    def new_canvas(self, seed: int | Sequence[int] | None = None) -> NeuralCanvas:
        return NeuralCanvas(self, seed)


class NeuralCanvas:
    """A persistent canvas painted by a neural painter, composited stroke by stroke."""

    def __init__(self, renderer: NeuralRenderer, seed: int | Sequence[int] | None = None):
        self.renderer = renderer
        self.size = renderer.size
        self.generator = torch.Generator(device=renderer.device)
        self.strokes = 0
        self.reset(seed)

    def reset(self, seed: int | Sequence[int] | None = None) -> None:
        """Clear to white; ``seed`` fixes a noisy painter's texture sequence."""
        entropy = np.random.default_rng(seed).integers(2**62)
        self.generator.manual_seed(int(entropy))
        self.clear()

    def clear(self) -> None:
        self._image = np.ones((self.size, self.size, 3), dtype=np.float32)
        self.strokes = 0

    def paint(self, action: np.ndarray) -> None:
        arr = np.asarray(action, dtype=np.float64)
        if arr.ndim != 1:
            raise ValueError(f"paint takes one action of shape (12,) or (13,), got {arr.shape}")
        self._image = self.renderer.paint_batch(self._image[None], arr[None], self.generator)[0]
        self.strokes += 1

    def paint_many(self, actions: np.ndarray) -> None:
        for action in np.asarray(actions):
            self.paint(action)

    def image(self) -> np.ndarray:
        return self._image.copy()
