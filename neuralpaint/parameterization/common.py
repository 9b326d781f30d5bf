"""Pieces shared by class visualisation and style transfer.

Transformation robustness: an image that activates a classifier only at one exact pixel
alignment is an adversarial pattern, not a picture. Each optimisation step therefore
looks at the canvas through random small affine transforms (jitter, rotation, scale),
as Lucid-style feature visualisation does; the paper uses the same for both tasks.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw
from torch.nn import functional as F

from neuralpaint.io import atomic_path, enlarge, to_uint8, write_text
from neuralpaint.painters.neural import load_painter, resolve_device


def random_affine(
    batch: int,
    generator: torch.Generator,
    jitter: float,
    rotate_deg: float,
    scale: tuple[float, float],
    device: torch.device,
) -> torch.Tensor:
    """``(batch, 2, 3)`` random affine matrices for :func:`torch.nn.functional.affine_grid`.

    Args:
        jitter: largest shift, as a fraction of the image side.
        rotate_deg: largest rotation either way, degrees.
        scale: range of zoom factors (above 1 zooms in).
    """
    u = torch.rand(batch, 4, generator=generator).to(device)
    angle = (u[:, 0] * 2 - 1) * math.radians(rotate_deg)
    zoom = scale[0] + u[:, 1] * (scale[1] - scale[0])
    shift = (u[:, 2:] * 2 - 1) * jitter * 2  # normalised coordinates span 2
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    row0 = torch.stack([cos, -sin, shift[:, 0]], dim=1)
    row1 = torch.stack([sin, cos, shift[:, 1]], dim=1)
    return torch.stack([row0, row1], dim=1)


def transform(images: torch.Tensor, theta: torch.Tensor, out_px: int | None = None) -> torch.Tensor:
    """Warp ``(B, 3, H, W)`` images in [0, 1] by ``theta``; uncovered area is white.

    ``out_px`` resamples to a square of that side in the same step (bilinear), which is
    how a 64 px canvas reaches a classifier's 224 px input.
    """
    b, c, h, w = images.shape
    size = (b, c, out_px or h, out_px or w)
    grid = F.affine_grid(theta.to(images.dtype), size, align_corners=False)
    # Sampling (image - 1) with zero padding and adding 1 back pads with white.
    warped = F.grid_sample(images - 1.0, grid, mode="bilinear", align_corners=False)
    return warped + 1.0


def setup(seed: int, device: str) -> tuple[torch.device, torch.Generator]:
    """Seed torch and return the resolved device and a CPU generator for sampling."""
    torch.manual_seed(seed)
    return resolve_device(device), torch.Generator().manual_seed(seed)


def painter_module(painter: str | torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """A painter module: passed through, or loaded by shipped name or checkpoint folder."""
    if isinstance(painter, torch.nn.Module):
        return painter.to(device).eval()
    return load_painter(painter, device)


def to_numpy(image: torch.Tensor) -> np.ndarray:
    """``(3, H, W)`` tensor to ``(H, W, 3)`` float32 array in [0, 1]."""
    return image.detach().clamp(0, 1).permute(1, 2, 0).cpu().numpy().astype(np.float32)


def to_tensor(image: np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
    """``(H, W, 3)`` array in [0, 1] to a ``(1, 3, H, W)`` float32 tensor."""
    return torch.as_tensor(np.ascontiguousarray(image), dtype=torch.float32, device=device).permute(
        2, 0, 1
    )[None]


def display_scale(side: int, target: int = 256) -> int:
    """Integer enlargement that brings a small canvas to about ``target`` pixels."""
    return max(1, target // side)


def panel(images: list[np.ndarray], captions: list[str], scale: int = 1) -> Image.Image:
    """Images side by side, enlarged ``scale`` times (nearest), each with a caption below."""
    tiles = [enlarge(to_uint8(img), scale) for img in images]
    h = max(t.shape[0] for t in tiles)
    pad, text_h = 4, 14 * max(c.count("\n") + 1 for c in captions)
    width = sum(t.shape[1] for t in tiles) + pad * (len(tiles) + 1)
    out = Image.new("RGB", (width, h + text_h + 2 * pad), (255, 255, 255))
    draw = ImageDraw.Draw(out)
    x = pad
    for tile, caption in zip(tiles, captions, strict=True):
        out.paste(Image.fromarray(tile), (x, pad))
        draw.multiline_text((x, h + pad + 1), caption, fill=(0, 0, 0), spacing=2)
        x += tile.shape[1] + pad
    return out


def save_image(image: Image.Image, path: str | Path) -> Path:
    """Save a PIL image as PNG, atomically."""
    with atomic_path(path) as tmp:
        image.save(tmp, format="PNG")
    return Path(path)


def write_json(path: str | Path, data: dict) -> Path:
    """Write a results dictionary as indented JSON, atomically."""
    return write_text(path, json.dumps(data, indent=2) + "\n")
