"""Intrinsic style transfer: strokes that keep only a photo's content (paper 5.2).

Only the *content* loss of neural style transfer is minimised: the mean absolute
difference between a pretrained network's features of the stroke canvas and of the
photo, at one mid layer (default: the end of EfficientNet-Lite0's stride-8 stage,
``_blocks.4``, close in depth to the paper's InceptionV1 ``mixed3b``). There is no style
image and no pixel loss: the brushstrokes, i.e. the painter, decide how the content is
drawn. The canvas is stitched from overlapping 64 px cells, so it can be any size.

Both images go through the same random jitter, rotation and zoom at each step, so they
stay aligned while the strokes cannot overfit one exact sampling of the network. The
result is judged by the content loss (untransformed) and by SSIM against the photo, for
the neural canvas and for the same strokes repainted by MyPaint.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from pytorch_msssim import ssim

from neuralpaint.errors import require
from neuralpaint.io import save_png
from neuralpaint.painters.canvas import StitchedCanvas
from neuralpaint.parameterization import DEFAULT_PAINTER, closed_loop, common
from neuralpaint.parameterization.classifiers import (
    FeatureExtractor,
    ImageClassifier,
    load_classifier,
)

SAMPLES = ("astronaut", "chelsea", "coffee", "rocket", "camera", "hubble_deep_field")
"""scikit-image sample photos that ship inside the package (no download)."""


def load_photo(path: str | Path | None, sample: str, width: int, height: int) -> np.ndarray:
    """The target photo as ``(height, width, 3)`` float32 in [0, 1].

    A file when ``path`` is given, else the scikit-image sample ``sample``. The photo is
    centre-cropped to the canvas's aspect ratio and resized (Lanczos).

    Raises:
        ValueError: for a file that is missing or not an image, or an unknown sample.
    """
    if path is not None:
        try:
            with Image.open(path) as img:
                photo = img.convert("RGB")
        except (OSError, UnidentifiedImageError) as err:
            raise ValueError(f"cannot read image {str(path)!r}: {err}") from err
    else:
        if sample not in SAMPLES:
            raise ValueError(f"unknown sample photo {sample!r}; choose one of {SAMPLES}")
        data = require("skimage.data", "a sample photo (scikit-image's)")
        pixels = getattr(data, sample)()
        if pixels.ndim == 2:
            pixels = np.repeat(pixels[..., None], 3, axis=2)
        photo = Image.fromarray(pixels[..., :3])
    w, h = photo.size
    aspect = width / height
    if w / h > aspect:
        cw, ch = round(h * aspect), h
    else:
        cw, ch = w, round(w / aspect)
    left, top = (w - cw) // 2, (h - ch) // 2
    photo = photo.crop((left, top, left + cw, top + ch)).resize((width, height), Image.LANCZOS)
    return np.asarray(photo, dtype=np.float32) / 255.0


@dataclass
class StylizeConfig:
    """Hyperparameters of one intrinsic style transfer (CLI flags in brackets)."""

    photo: str | None = None
    """Image file; None uses the scikit-image sample [positional]."""
    sample: str = "astronaut"
    """scikit-image sample photo when no file is given [--sample]."""
    painter: str = DEFAULT_PAINTER
    """Shipped painter name or checkpoint folder [--painter]."""
    classifier: str = "efficientnet-lite0"
    """Network whose features define content [--classifier]."""
    layer: str = "_blocks.4"
    """Submodule whose output is compared [--layer]."""
    width: int = 192
    height: int = 192
    """Output size in pixels [--size 192 or --size 320x192]."""
    strokes: int = 4
    """Strokes per 64 px cell (the paper: 4) [--strokes]."""
    overlap: int = 32
    """Pixels shared by neighbouring cells (the paper: 32) [--overlap]."""
    grayscale: bool = False
    """Gray strokes only [--grayscale]."""
    steps: int = 150
    """Adam steps [--steps]."""
    lr: float = 0.1
    """Adam learning rate on raw stroke parameters (the paper's 0.1)."""
    jitter: float = 0.02
    rotate_deg: float = 3.0
    scale: tuple[float, float] = (0.95, 1.05)
    """Shared random transform of canvas and photo: shift (fraction), degrees, zoom."""
    seed: int = 0
    """Seeds strokes, transforms and the MyPaint texture [--seed]."""
    device: str = "auto"
    """cpu, cuda or auto [--device]."""
    brush: str = "classic/dry_brush"
    """MyPaint brush for the re-rendering."""
    chunks: int | None = None
    """MyPaint paints the stroke layers in this many chunks, re-planning the rest on its
    real canvas after each; 1 plans every stroke on the neural canvas (open loop);
    ``None``: ``CLOSED_LOOP_CHUNKS`` or one per stroke layer if fewer [--chunks]. See
    :mod:`neuralpaint.parameterization.closed_loop`."""


@dataclass
class StylizeResult:
    """The painting, its MyPaint re-rendering and how close both stay to the photo."""

    config: StylizeConfig
    photo: np.ndarray = field(repr=False)
    neural: np.ndarray = field(repr=False)
    mypaint: np.ndarray = field(repr=False)
    actions: np.ndarray = field(repr=False)
    """``(rows, cols, strokes, 12)`` the final cell-local stroke actions."""
    metrics: dict[str, dict[str, float]]
    """``{"initial"|"neural"|"mypaint": {"content_loss": ..., "ssim": ...}}``."""
    losses: list[float]
    seconds: float
    strokes: int
    clipped_strokes: int

    def summary(self) -> dict:
        """JSON-ready summary (images left out)."""
        return {
            "metrics": self.metrics,
            "seconds": round(self.seconds, 1),
            "strokes": self.strokes,
            "mypaint_clipped_strokes": self.clipped_strokes,
            "config": asdict(self.config),
        }


def content_loss(features: FeatureExtractor, image: torch.Tensor, target: torch.Tensor) -> float:
    """Mean absolute feature difference between an image and the photo's features."""
    with torch.no_grad():
        return float((features(image) - target).abs().mean())


def judge(features: FeatureExtractor, photo: torch.Tensor, image: torch.Tensor) -> dict[str, float]:
    """Content loss and SSIM (against the colour photo) of one ``(1, 3, H, W)`` image."""
    with torch.no_grad():
        target = features(photo)
        score = ssim(image.float(), photo.float(), data_range=1.0, size_average=True)
    return {"content_loss": content_loss(features, image, target), "ssim": float(score)}


def run(
    config: StylizeConfig,
    painter: torch.nn.Module | None = None,
    classifier: ImageClassifier | None = None,
    progress: bool = True,
) -> StylizeResult:
    """Paint the photo's content with strokes, then repaint them with MyPaint.

    ``painter`` and ``classifier`` may be given as modules (tests use small ones).
    """
    start = time.perf_counter()
    photo_np = load_photo(config.photo, config.sample, config.width, config.height)
    device, gen = common.setup(config.seed, config.device)
    photo = common.to_tensor(photo_np, device)
    module = common.painter_module(painter if painter is not None else config.painter, device)
    net = classifier if classifier is not None else load_classifier(config.classifier, device)
    features = FeatureExtractor(net.to(device), config.layer)
    canvas = StitchedCanvas(
        module,
        config.height,
        config.width,
        strokes_per_cell=config.strokes,
        overlap=config.overlap,
        grayscale=config.grayscale,
        generator=gen,
    ).to(device)
    with torch.no_grad():
        initial = canvas()

    def loss_fn(image: torch.Tensor) -> torch.Tensor:
        theta = common.random_affine(1, gen, config.jitter, config.rotate_deg, config.scale, device)
        with torch.no_grad():
            target = features(common.transform(photo, theta))
        return (features(common.transform(image, theta)) - target).abs().mean()

    loop = closed_loop.optimise(
        canvas,
        loss_fn,
        config.steps,
        config.lr,
        closed_loop.default_chunks(config.chunks, config.strokes),
        config.brush,
        config.seed,
        progress,
        desc="painting content",
    )
    neural, mypaint, report = loop.neural, loop.mypaint, loop.report
    metrics = {
        "initial": judge(features, photo, initial),
        "neural": judge(features, photo, neural),
        "mypaint": judge(features, photo, common.to_tensor(mypaint, device)),
    }
    return StylizeResult(
        config=config,
        photo=photo_np,
        neural=common.to_numpy(neural[0]),
        mypaint=mypaint,
        actions=canvas.actions()[0].detach().cpu().numpy(),
        metrics=metrics,
        losses=loop.losses,
        seconds=time.perf_counter() - start,
        strokes=report.strokes,
        clipped_strokes=report.clipped,
    )


def captions(result: StylizeResult) -> list[str]:
    """Captions for photo, neural and MyPaint images."""
    out = ["photo\n(target content)"]
    gray = " (gray)" if result.config.grayscale else ""
    closed = closed_loop.default_chunks(result.config.chunks, result.config.strokes) > 1
    labels = ("last plan", "MyPaint, closed loop") if closed else ("neural painter", "MyPaint")
    for key, label in zip(("neural", "mypaint"), labels, strict=True):
        m = result.metrics[key]
        out.append(f"{label}{gray}\ncontent {m['content_loss']:.3f}, SSIM {m['ssim']:.3f}")
    return out


def save(result: StylizeResult, out_dir: str | Path) -> dict[str, Path]:
    """Write ``neural.png``, ``mypaint.png``, ``summary.png`` (with the photo) and
    ``result.json``."""
    out = Path(out_dir)
    scale = common.display_scale(max(result.neural.shape[:2]))
    images = [result.photo, result.neural, result.mypaint]
    paths = {
        "neural": save_png(result.neural, out / "neural.png"),
        "mypaint": save_png(result.mypaint, out / "mypaint.png"),
        "summary": common.save_image(
            common.panel(images, captions(result), scale), out / "summary.png"
        ),
        "json": common.write_json(out / "result.json", result.summary()),
    }
    return paths
