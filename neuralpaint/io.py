"""File output: atomic writes, and float images as PNG and GIF files.

Everything is written to a temp file in the same folder and then moved into place
with ``os.replace``, so an interrupted run never leaves a half-written file where a
finished one is expected. The image helpers live here, at the bottom of the import
graph, because envs, agents, benchmarks and the demo all write images.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; move it into place on success.

    Example:
        >>> with atomic_path("out.npz") as tmp:
        ...     np.savez(tmp, x=1)
    """
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.", suffix=final.suffix, dir=final.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; results are meant to be shared
        os.replace(tmp, final)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write text atomically and return the final path."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write bytes atomically and return the final path."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def to_uint8(image: np.ndarray) -> np.ndarray:
    """A float image in [0, 1] as uint8, clipped and rounded: the one conversion used
    for observations, PNGs and GIFs alike."""
    return (np.clip(image, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def enlarge(pixels: np.ndarray, scale: int) -> np.ndarray:
    """Repeat every pixel ``scale`` times along both axes (nearest-neighbour zoom)."""
    return pixels.repeat(scale, axis=0).repeat(scale, axis=1) if scale > 1 else pixels


def tile(images: list[np.ndarray], columns: int, pad: int = 2) -> np.ndarray:
    """Lay ``(H, W, 3)`` float images out in a grid with a grey border."""
    h, w = images[0].shape[:2]
    rows = -(-len(images) // columns)
    grid = np.full((rows * (h + pad) + pad, columns * (w + pad) + pad, 3), 0.6, np.float32)
    for i, img in enumerate(images):
        r, c = divmod(i, columns)
        y, x = pad + r * (h + pad), pad + c * (w + pad)
        grid[y : y + h, x : x + w] = img
    return grid


def save_png(image: np.ndarray, path: str | os.PathLike, scale: int = 1) -> Path:
    """Save a float RGB image in [0, 1] as a PNG, enlarged ``scale`` times, atomically.

    PIL writes no timestamp into a PNG, so equal pixels give equal bytes.
    """
    with atomic_path(path) as tmp:
        Image.fromarray(enlarge(to_uint8(image), scale)).save(tmp, format="PNG")
    return Path(path)


def save_gif(
    frames: list[np.ndarray], path: str | os.PathLike, scale: int = 4, ms: int = 250
) -> Path:
    """An animated GIF of float RGB frames, enlarged ``scale`` times, written atomically."""
    images = [Image.fromarray(enlarge(to_uint8(f), scale)) for f in frames]
    with atomic_path(path) as tmp:
        images[0].save(
            tmp, format="GIF", save_all=True, append_images=images[1:], duration=ms, loop=0
        )
    return Path(path)
