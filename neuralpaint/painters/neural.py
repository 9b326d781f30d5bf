"""Neural painters behind the :class:`~neuralpaint.painters.base.Painter` interface.

``load_painter("gan")`` (or ``"vae"``, ``"regression"``, ``"regression-discrete"``)
returns a shipped, pre-trained ``torch.nn.Module`` that maps ``(B, 12)`` actions to
``(B, 1, 64, 64)`` masks, differentiably. It also accepts a checkpoint folder.
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
from neuralpaint.painters import checkpoint as ckpt
from neuralpaint.painters.broadcast import BroadcastPainter
from neuralpaint.painters.compositing import composite
from neuralpaint.painters.gan import TexturePainter
from neuralpaint.painters.vae import VAEPainter

WEIGHTS_DIR = Path(__file__).with_name("weights")
KINDS = ("regression", "vae", "gan")


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
        return BroadcastPainter(**common, **arch)
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


def load_painter(
    name_or_path: str | Path,
    device: str | torch.device = "cpu",
    expect_discrete: bool | None = None,
) -> torch.nn.Module:
    """Load a painter module in eval mode.

    Args:
        name_or_path: a shipped painter name or a checkpoint folder.
        device: where to put it.
        expect_discrete: when given, check the painter's action variant matches.

    Raises:
        ckpt.CheckpointError: for a missing, corrupt or mismatched checkpoint.
    """
    folder = resolve(name_or_path)
    config = ckpt.read_config(folder)
    if expect_discrete is not None and bool(config["discrete"]) != expect_discrete:
        want = "discrete (13-field)" if expect_discrete else "continuous (12-field)"
        raise ckpt.CheckpointError(
            f"{folder} holds a {'discrete' if config['discrete'] else 'continuous'} painter, "
            f"but a {want} one is needed"
        )
    module = build_painter(config)
    ckpt.load_state(module, ckpt.split(ckpt.load_tensors(folder), "painter"), str(folder))
    module.painter_name = str(name_or_path)
    module.painter_config = config
    return module.to(device).eval()


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
