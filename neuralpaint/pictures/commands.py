"""``neuralpaint paint IMAGE``: paint a picture on a real MyPaint canvas.

::

    neuralpaint paint photo.jpg --size 256 --strokes 500 --out runs/paint/photo
    neuralpaint paint photo.jpg --method cem --budget 2m
    neuralpaint paint --replay runs/paint/photo/strokes.json --out runs/paint/again
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from neuralpaint.cli_flags import add_compute_flags, folder, positive_int, set_threads
from neuralpaint.errors import UserFileNotFoundError, UserValueError, user_errors
from neuralpaint.pictures import planner as P


def read_image(path: str | Path) -> np.ndarray:
    """An image file as ``(H, W, 3)`` float RGB in [0, 1] (alpha dropped, grey expanded).

    Raises:
        UserFileNotFoundError: for a missing file.
        UserValueError: for a file that is not a readable image.
    """
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise UserFileNotFoundError(f"IMAGE {path} does not exist or is not a file")
    try:
        with Image.open(path) as img:
            rgb = img.convert("RGB")
    except (UnidentifiedImageError, OSError) as exc:
        raise UserValueError(f"IMAGE {path} is not an image PIL can read ({exc})") from exc
    return np.asarray(rgb, np.float32) / 255.0


def parse_seconds(text: str) -> float:
    """``'90s'``, ``'2m'``, ``'1h'`` or a plain number of seconds."""
    units = {"s": 1, "m": 60, "h": 3600}
    text = text.strip()
    scale = units.get(text[-1:])
    try:
        value = float(text[:-1] if scale else text) * (scale or 1)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must look like 90s, 2m or 1h, got {text!r}") from None
    if not (np.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a positive time, got {text!r}")
    return value


def cmd_paint(args: argparse.Namespace) -> int:
    from neuralpaint.pictures import exports
    from neuralpaint.progress import progress_bar

    set_threads(args.threads)
    out = Path(args.out)
    if args.replay:
        return replay_command(args.replay, out)
    if not args.image:
        raise UserValueError("give an IMAGE to paint, or --replay strokes.json")
    image = read_image(args.image)
    with user_errors():  # a setting out of range, an unknown brush
        config = P.PaintingConfig(
            size=args.size,
            strokes=args.strokes,
            brush=args.brush,
            method=args.method,
            renders=args.renders,
            seconds=args.budget,
            steps=args.steps,
            seed=args.seed,
            painter=args.painter,
        )
    painter = P.PicturePainter(config, device=str(_device(args.device)))
    bar = progress_bar(total=config.strokes, desc=f"painting ({config.method})", unit="stroke")
    painting = painter.paint(image, progress=lambda n: bar.update(n - bar.n))
    bar.close()
    written = exports.write_outputs(painting, out)
    target, result = painting.target, painting.image
    mosaic = P.mosaic(target, len(painting.strokes))
    note = " (interrupted: the strokes painted so far)" if painting.interrupted else ""
    print(
        f"painted {len(painting.strokes)} strokes at {result.shape[1]}x{result.shape[0]} in "
        f"{painting.seconds:.1f} s{note}: PSNR {P.psnr(result, target):.2f} dB, SSIM "
        f"{P.ssim(result, target):.3f} (same-count mosaic: {P.psnr(mosaic, target):.2f} dB)"
    )
    print(f"wrote {', '.join(p.name for p in written.values())} to {out}/")
    return 130 if painting.interrupted else 0


def _device(name: str):
    from neuralpaint.painters.neural import resolve_device

    return resolve_device(name)


def replay_command(strokes_file: str, out: Path) -> int:
    """Repaint a ``strokes.json`` into ``out/painting.png``."""
    from neuralpaint.io import save_png
    from neuralpaint.pictures.exports import read_strokes

    try:
        doc, strokes = read_strokes(strokes_file)
    except FileNotFoundError as exc:
        raise UserFileNotFoundError(f"--replay: {exc}") from exc
    except ValueError as exc:
        raise UserValueError(f"--replay: {exc}") from exc
    canvas = P.replay(
        strokes, int(doc["width"]), int(doc["height"]), doc["brush"], int(doc["seed"])
    )
    path = save_png(canvas.image(), out / "painting.png")
    print(f"repainted {len(strokes)} strokes into {path}")
    return 0


def add_paint_command(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "paint",
        help="paint a picture on a real MyPaint canvas, coarse to fine",
        description="Paint IMAGE with hundreds of strokes on a real MyPaint canvas: large "
        "strokes over the whole canvas first, then smaller ones planned in local cells, "
        "each planned from the canvas as MyPaint really painted it. Writes painting.png, "
        "side_by_side.png, process.mp4, strokes.json, painting.ora and strokes.svg.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("image", nargs="?", help="the picture to paint (any format PIL reads)")
    p.add_argument(
        "--size",
        type=positive_int,
        default=256,
        help=f"pixels on the long side ({P.SIZE_RANGE[0]} to {P.SIZE_RANGE[1]})",
    )
    p.add_argument("--strokes", type=positive_int, default=500, help="strokes in the painting")
    p.add_argument("--brush", default=P.DEFAULT_BRUSH, help="a mypaint-brushes name or .myb path")
    p.add_argument("--method", default="hybrid", choices=P.METHODS, help="the per-cell planner")
    p.add_argument(
        "--renders",
        type=positive_int,
        default=P.PaintingConfig.renders,
        help="MyPaint renders per stroke for planning (the same seed gives the same painting)",
    )
    p.add_argument(
        "--budget",
        type=parse_seconds,
        default=None,
        help="a wall-clock budget for the whole painting instead of --renders, e.g. 60s or "
        "10m (then the painting depends on the machine's speed)",
    )
    p.add_argument(
        "--steps",
        type=positive_int,
        default=P.PaintingConfig.steps,
        help="hybrid: Adam steps per plan",
    )
    p.add_argument("--painter", default=P.PaintingConfig.painter, help="hybrid: the neural painter")
    p.add_argument("--seed", type=int, default=0, help="seeds planning and the brush texture")
    p.add_argument("--out", type=folder, default="runs/paint", help="output folder")
    p.add_argument("--replay", default=None, help="repaint a strokes.json instead of planning")
    add_compute_flags(p)
    p.set_defaults(func=cmd_paint)


__all__ = ["add_paint_command", "cmd_paint", "read_image"]
