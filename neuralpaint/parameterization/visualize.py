"""ImageNet class paintings: strokes optimised to maximise a class logit (paper 5.1).

The strokes are the only free parameters. Raw numbers pass through a sigmoid into
actions, the neural painter turns them into a canvas (one 64 px cell by default, or a
stitched canvas for ``size > 64``), and the canvas is shown to one or more pretrained
classifiers through random jitter, rotation and scale. The loss is the negative target
logit averaged over classifiers and views; averaging over several networks is what the
paper found makes paintings generalise instead of fooling one network.

The result is judged by a **held-out** classifier that took no part in the
optimisation (EfficientNet-Lite1 when optimising with Lite0): a high probability there
means the painting carries the class, not just one network's blind spots. The same
strokes are then repainted by the real MyPaint program and judged again.
"""

from __future__ import annotations

import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from neuralpaint.io import save_png
from neuralpaint.painters.canvas import StitchedCanvas
from neuralpaint.parameterization import DEFAULT_PAINTER, closed_loop, common
from neuralpaint.parameterization.classifiers import (
    ImageClassifier,
    ModelUnavailable,
    class_index,
    class_name,
    load_classifier,
)


@dataclass
class VisualizeConfig:
    """Hyperparameters of one class visualisation (CLI flags in brackets)."""

    target: str = "pineapple"
    """ImageNet class name or index [--class]."""
    painter: str = DEFAULT_PAINTER
    """Shipped painter name or checkpoint folder [--painter]."""
    classifiers: tuple[str, ...] = ("efficientnet-lite0",)
    """Classifiers whose target logit is maximised, averaged [--classifiers]."""
    held_out: str | None = "efficientnet-lite1"
    """Classifier used only to judge the result; None to skip [--held-out]."""
    size: int = 64
    """Canvas side in pixels; above one cell (64) the canvas is stitched [--size]."""
    strokes: int = 30
    """Strokes per 64 px cell [--strokes]."""
    overlap: int = 32
    """Overlap of stitched cells, pixels [--overlap]."""
    steps: int = 200
    """Adam steps [--steps]."""
    lr: float = 0.05
    """Adam learning rate on the raw (pre-sigmoid) stroke parameters (the paper's 0.05)."""
    views: int = 2
    """Randomly transformed views of the canvas per step [--views]."""
    jitter: float = 0.06
    """Largest shift, fraction of the canvas."""
    rotate_deg: float = 15.0
    """Largest rotation, degrees (the paper: 20)."""
    scale: tuple[float, float] = (0.9, 1.1)
    """Zoom range."""
    seed: int = 0
    """Seeds the initial strokes, the views and the MyPaint texture [--seed]."""
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
class VisualizeResult:
    """What one visualisation produced and how the classifiers judge it."""

    config: VisualizeConfig
    class_index: int
    class_name: str
    neural: np.ndarray = field(repr=False)
    """``(size, size, 3)`` the painting as the optimiser last saw it: the neural painting
    (open loop), or MyPaint's painting of the earlier chunks under the last chunk's
    neural strokes (closed loop)."""
    mypaint: np.ndarray = field(repr=False)
    """``(size, size, 3)`` the same strokes repainted by MyPaint."""
    initial: np.ndarray = field(repr=False)
    """``(size, size, 3)`` the random strokes before optimisation."""
    actions: np.ndarray = field(repr=False)
    """``(rows, cols, strokes, 12)`` the final cell-local stroke actions."""
    probabilities: dict[str, dict[str, float]]
    """``{classifier: {"initial"|"neural"|"mypaint": target probability}}``."""
    held_out: str | None
    losses: list[float]
    seconds: float
    strokes: int
    clipped_strokes: int

    def summary(self) -> dict:
        """JSON-ready summary (images left out)."""
        cfg = asdict(self.config)
        return {
            "class": self.class_name,
            "class_index": self.class_index,
            "held_out": self.held_out,
            "probabilities": self.probabilities,
            "final_loss": self.losses[-1] if self.losses else None,
            "seconds": round(self.seconds, 1),
            "strokes": self.strokes,
            "mypaint_clipped_strokes": self.clipped_strokes,
            "config": cfg,
        }


def load_classifiers(
    config: VisualizeConfig, device: torch.device
) -> tuple[list[ImageClassifier], ImageClassifier | None]:
    """The optimisation classifiers and the held-out judge.

    A missing optimisation classifier is an error; a missing held-out one is reported
    on stderr and skipped, since the painting can still be made.
    """
    used = [load_classifier(name, device) for name in config.classifiers]
    judge = None
    if config.held_out:
        if config.held_out in config.classifiers:
            raise ValueError(
                f"held-out classifier {config.held_out!r} is also optimised; pick another"
            )
        try:
            judge = load_classifier(config.held_out, device)
        except ModelUnavailable as err:
            print(f"note: no held-out judgement: {err}", file=sys.stderr)
    return used, judge


def run(
    config: VisualizeConfig,
    painter: torch.nn.Module | None = None,
    classifiers: list[ImageClassifier] | None = None,
    held_out: ImageClassifier | None = None,
    progress: bool = True,
) -> VisualizeResult:
    """Optimise strokes for ``config.target`` and judge the neural and MyPaint paintings.

    ``painter``, ``classifiers`` and ``held_out`` may be given as modules (tests use
    small ones); otherwise they are loaded from ``config``.
    """
    start = time.perf_counter()
    target = class_index(config.target)
    device, gen = common.setup(config.seed, config.device)
    module = common.painter_module(painter if painter is not None else config.painter, device)
    if classifiers is None:
        classifiers, held_out = load_classifiers(config, device)
    else:
        classifiers = [c.to(device) for c in classifiers]
        held_out = held_out.to(device) if held_out is not None else None
    canvas = StitchedCanvas(
        module,
        config.size,
        strokes_per_cell=config.strokes,
        overlap=config.overlap,
        generator=gen,
    ).to(device)
    with torch.no_grad():
        initial = canvas()

    def loss_fn(image: torch.Tensor) -> torch.Tensor:
        views = image.expand(config.views, -1, -1, -1)
        loss = image.new_zeros(())
        for clf in classifiers:
            theta = common.random_affine(
                config.views, gen, config.jitter, config.rotate_deg, config.scale, device
            )
            logits = clf.model(clf.prepare(common.transform(views, theta, clf.input_px)))
            loss = loss - logits[:, target].mean() / len(classifiers)
        return loss

    loop = closed_loop.optimise(
        canvas,
        loss_fn,
        config.steps,
        config.lr,
        closed_loop.default_chunks(config.chunks, config.strokes),
        config.brush,
        config.seed,
        progress,
        desc=f"painting {class_name(target)}",
    )
    neural, mypaint, report = loop.neural, loop.mypaint, loop.report
    judged = {"initial": initial, "neural": neural, "mypaint": common.to_tensor(mypaint, device)}
    probs: dict[str, dict[str, float]] = {}
    for clf in [*classifiers, *([held_out] if held_out is not None else [])]:
        probs[clf.name] = {k: float(clf.probabilities(v)[0, target]) for k, v in judged.items()}
    return VisualizeResult(
        config=config,
        class_index=target,
        class_name=class_name(target),
        neural=common.to_numpy(neural[0]),
        mypaint=mypaint,
        initial=common.to_numpy(initial[0]),
        actions=canvas.actions()[0].detach().cpu().numpy(),
        probabilities=probs,
        held_out=held_out.name if held_out is not None else None,
        losses=loop.losses,
        seconds=time.perf_counter() - start,
        strokes=report.strokes,
        clipped_strokes=report.clipped,
    )


def captions(result: VisualizeResult) -> tuple[str, str]:
    """Captions for the neural and MyPaint images: target probability per classifier."""
    out = []
    closed = closed_loop.default_chunks(result.config.chunks, result.config.strokes) > 1
    labels = ("last plan", "MyPaint, closed loop") if closed else ("neural painter", "MyPaint")
    for key, label in zip(("neural", "mypaint"), labels, strict=True):
        lines = [f"{label}: {result.class_name}"]
        for name, p in result.probabilities.items():
            tag = " (held out)" if name == result.held_out else ""
            lines.append(f"{name.removeprefix('efficientnet-')}{tag}: p={p[key]:.3f}")
        out.append("\n".join(lines))
    return out[0], out[1]


def save(result: VisualizeResult, out_dir: str | Path) -> dict[str, Path]:
    """Write ``neural.png``, ``mypaint.png``, ``summary.png`` (captioned) and ``result.json``."""
    out = Path(out_dir)
    scale = common.display_scale(result.neural.shape[0])
    paths = {
        "neural": save_png(result.neural, out / "neural.png", scale),
        "mypaint": save_png(result.mypaint, out / "mypaint.png", scale),
        "summary": out / "summary.png",
        "json": out / "result.json",
    }
    common.save_image(
        common.panel([result.neural, result.mypaint], list(captions(result)), scale),
        paths["summary"],
    )
    common.write_json(paths["json"], result.summary())
    return paths
