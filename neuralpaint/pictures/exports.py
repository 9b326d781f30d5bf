"""What ``neuralpaint paint`` writes: the painting, the strokes, and files painting programs open.

* ``painting.png``: MyPaint's canvas; ``side_by_side.png``: the target beside it.
* ``process.mp4`` (or ``process.gif`` without ffmpeg): the painting as it grew.
* ``strokes.json``: every stroke (its action in its cell and the cell, plus the curve,
  radius and colour in canvas pixels), the brush, seed and canvas size;
  ``neuralpaint paint --replay strokes.json`` repaints it bit-identically.
* ``painting.ora``: OpenRaster (a zip of PNG layers and ``stack.xml``), which MyPaint,
  Krita and GIMP open.
* ``strokes.svg``: each stroke's centreline as a quadratic Bezier path with its width
  and colour.

Every file is written atomically (a temporary file, then a rename).
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

from neuralpaint.io import atomic_path, save_png, to_uint8, write_bytes, write_text
from neuralpaint.pictures.planner import Cell, Painting, Stroke

STROKES_FORMAT = 1
"""Version of the ``strokes.json`` layout."""


def strokes_document(painting: Painting) -> dict:
    """The ``strokes.json`` content."""
    cfg = painting.config
    height, width = painting.target.shape[:2]
    strokes = []
    for stroke in painting.strokes:
        path = stroke.path()
        a = np.asarray(stroke.action)
        strokes.append(
            {
                "action": stroke.action,
                "cell": [stroke.cell.x, stroke.cell.y, stroke.cell.side],
                "start": [float(path.xs[0]), float(path.ys[0])],
                "through": [  # the point at t = 0.5, as the action's control point
                    float(stroke.cell.x + a[2] * stroke.cell.side),
                    float(stroke.cell.y + a[3] * stroke.cell.side),
                ],
                "end": [float(path.xs[-1]), float(path.ys[-1])],
                "pressure": [float(path.pressures[0]), float(path.pressures[-1])],
                "radius": path.radius,
                "color": list(path.color),
            }
        )
    return {
        "format": STROKES_FORMAT,
        "width": width,
        "height": height,
        "brush": cfg.brush,
        "seed": cfg.seed,
        "method": cfg.method,
        "strokes": strokes,
    }


def read_strokes(path: str | Path) -> tuple[dict, list[Stroke]]:
    """``strokes.json`` back to its header and strokes.

    Raises:
        ValueError: for a file that is not a strokes document, naming what is wrong.
    """
    path = Path(path)
    try:
        doc = json.loads(path.read_text())
        if doc.get("format") != STROKES_FORMAT:
            raise ValueError(f"format {doc.get('format')!r}, expected {STROKES_FORMAT}")
        strokes = [
            Stroke(list(map(float, s["action"])), Cell(*map(int, s["cell"])))
            for s in doc["strokes"]
        ]
        int(doc["width"]), int(doc["height"]), str(doc["brush"]), int(doc["seed"])
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{path} is not a neuralpaint strokes.json ({exc})") from exc
    return doc, strokes


def svg(painting: Painting) -> str:
    """Each stroke as a quadratic Bezier centreline with its width and colour."""
    height, width = painting.target.shape[:2]
    lines = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
    ]
    for stroke in painting.strokes:
        a, c = np.asarray(stroke.action), stroke.cell
        p0 = c.x + a[0] * c.side, c.y + a[1] * c.side
        mid = c.x + a[2] * c.side, c.y + a[3] * c.side
        p2 = c.x + a[4] * c.side, c.y + a[5] * c.side
        ctrl = 2 * mid[0] - (p0[0] + p2[0]) / 2, 2 * mid[1] - (p0[1] + p2[1]) / 2
        path = stroke.path()
        rgb = "#" + "".join(f"{int(round(v * 255)):02x}" for v in path.color)
        lines.append(
            f'<path d="M{p0[0]:.2f} {p0[1]:.2f} Q{ctrl[0]:.2f} {ctrl[1]:.2f} '
            f'{p2[0]:.2f} {p2[1]:.2f}" fill="none" stroke="{rgb}" '
            f'stroke-width="{2 * path.radius:.2f}" stroke-linecap="round" stroke-opacity="0.85"/>'
        )
    lines.append("</svg>")
    return "\n".join(lines) + "\n"


def _png_bytes(image: np.ndarray, size: tuple[int, int] | None = None) -> bytes:
    pil = Image.fromarray(to_uint8(image))
    if size:
        pil.thumbnail(size)
    buf = io.BytesIO()
    pil.save(buf, format="PNG")
    return buf.getvalue()


def openraster(image: np.ndarray) -> bytes:
    """An OpenRaster file with one layer (the painting), its merged image and thumbnail.

    The ``mimetype`` entry comes first and uncompressed, as the format requires."""
    height, width = image.shape[:2]
    stack = (
        "<?xml version='1.0' encoding='UTF-8'?>\n"
        f'<image version="0.0.3" w="{width}" h="{height}">\n'
        '  <stack>\n    <layer name="neuralpaint" src="data/painting.png" x="0" y="0" '
        'opacity="1.0" visibility="visible"/>\n  </stack>\n</image>\n'
    )
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(zipfile.ZipInfo("mimetype"), "image/openraster", zipfile.ZIP_STORED)
        z.writestr("stack.xml", stack, zipfile.ZIP_DEFLATED)
        layer = _png_bytes(image)
        z.writestr("data/painting.png", layer, zipfile.ZIP_DEFLATED)
        z.writestr("mergedimage.png", layer, zipfile.ZIP_DEFLATED)
        z.writestr("Thumbnails/thumbnail.png", _png_bytes(image, (256, 256)), zipfile.ZIP_DEFLATED)
    return buf.getvalue()


def write_video(frames: list[np.ndarray], folder: Path, fps: int = 12) -> Path:
    """``process.mp4`` through imageio's ffmpeg, else ``process.gif``."""
    import imageio.v2 as imageio

    frames8 = [to_uint8(f) for f in frames]
    h, w = frames8[0].shape[:2]
    even = [f[: h - h % 2, : w - w % 2] for f in frames8]  # yuv420p needs even sides
    try:
        with atomic_path(folder / "process.mp4") as tmp:
            imageio.mimwrite(
                tmp, even, fps=fps, format="FFMPEG", codec="libx264", macro_block_size=1
            )
        return folder / "process.mp4"
    except (ImportError, RuntimeError, OSError, ValueError):
        from neuralpaint.io import save_gif

        return save_gif(frames, folder / "process.gif", scale=1, ms=1000 // fps)


def write_outputs(painting: Painting, folder: str | Path) -> dict[str, Path]:
    """Write every output of a painting into ``folder``; returns them by name."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    image = painting.image
    out = {
        "painting": save_png(image, folder / "painting.png"),
        "side_by_side": save_png(
            np.concatenate([painting.target, image], axis=1), folder / "side_by_side.png"
        ),
        "strokes": write_text(folder / "strokes.json", json.dumps(strokes_document(painting))),
        "ora": write_bytes(folder / "painting.ora", openraster(image)),
        "svg": write_text(folder / "strokes.svg", svg(painting)),
    }
    if len(painting.frames) > 1:
        out["process"] = write_video(painting.frames, folder)
    return out


__all__ = ["openraster", "read_strokes", "strokes_document", "svg", "write_outputs", "write_video"]
