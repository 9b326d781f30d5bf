"""CLI subcommands of the image-parameterization tools.

Examples::

    neuralpaint visualize --class violin
    neuralpaint visualize --class 953 --painter regression --steps 300 --size 128
    neuralpaint stylize                      # scikit-image's astronaut
    neuralpaint stylize photo.jpg --size 320x192 --grayscale
    neuralpaint bench parameterization       # results/parameterization/
"""

from __future__ import annotations

import argparse
from pathlib import Path

from neuralpaint.cli_flags import add_compute_flags, folder, positive_int, set_threads
from neuralpaint.errors import user_errors
from neuralpaint.parameterization import CLOSED_LOOP_CHUNKS, DEFAULT_PAINTER


def parse_size(text: str) -> tuple[int, int]:
    """``'256'`` or ``'320x192'`` (width x height) to ``(width, height)``."""
    parts = text.lower().split("x")
    try:
        sizes = [int(p) for p in parts]
    except ValueError:
        sizes = []
    if len(sizes) not in (1, 2) or min(sizes, default=0) <= 0:
        raise argparse.ArgumentTypeError(f"size must be N or WxH in pixels, got {text!r}")
    return (sizes[0], sizes[-1])


def cmd_visualize(args: argparse.Namespace) -> int:
    from neuralpaint.parameterization import visualize

    config = visualize.VisualizeConfig(
        target=args.target,
        painter=args.painter,
        classifiers=tuple(c for c in args.classifiers.split(",") if c),
        held_out=None if args.held_out.lower() == "none" else args.held_out,
        size=args.size,
        strokes=args.strokes,
        overlap=args.overlap,
        steps=args.steps,
        lr=args.lr,
        views=args.views,
        chunks=args.chunks,
        seed=args.seed,
        device=args.device,
    )
    set_threads(args.threads)
    with user_errors():  # an unknown class, classifier or painter; a missing extra
        result = visualize.run(config)
    out = args.out or f"results/visualize/{result.class_name.replace(' ', '_')}"
    paths = visualize.save(result, out)
    print(f"{result.class_name} (class {result.class_index}), {result.seconds:.0f} s")
    for name, probs in result.probabilities.items():
        tag = " (held out)" if name == result.held_out else ""
        print(
            f"  {name}{tag}: p(class) neural {probs['neural']:.3f}, "
            f"MyPaint {probs['mypaint']:.3f}, random strokes {probs['initial']:.3f}"
        )
    print(f"wrote {paths['summary']}, {paths['neural']}, {paths['mypaint']}, {paths['json']}")
    return 0


def cmd_stylize(args: argparse.Namespace) -> int:
    from neuralpaint.parameterization import stylize

    width, height = args.size
    config = stylize.StylizeConfig(
        photo=args.photo,
        sample=args.sample,
        painter=args.painter,
        classifier=args.classifier,
        layer=args.layer,
        width=width,
        height=height,
        strokes=args.strokes,
        overlap=args.overlap,
        grayscale=args.grayscale,
        steps=args.steps,
        lr=args.lr,
        chunks=args.chunks,
        seed=args.seed,
        device=args.device,
    )
    set_threads(args.threads)
    with user_errors():  # an unreadable photo, an unknown sample, painter or layer
        result = stylize.run(config)
    name = args.sample if args.photo is None else "photo"
    out = args.out or f"results/stylize/{name}{'-gray' if args.grayscale else ''}"
    paths = stylize.save(result, out)
    print(f"{result.strokes} strokes on {width}x{height} px, {result.seconds:.0f} s")
    for key in ("initial", "neural", "mypaint"):
        m = result.metrics[key]
        print(f"  {key}: content loss {m['content_loss']:.4f}, SSIM {m['ssim']:.3f}")
    if result.clipped_strokes:
        print(
            f"  note: {result.clipped_strokes} strokes were thinner than MyPaint can paint on "
            f"a canvas this size and were thickened"
        )
    print(f"wrote {paths['summary']}, {paths['neural']}, {paths['mypaint']}, {paths['json']}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    """``neuralpaint bench parameterization``: class paintings and style transfer."""
    from neuralpaint.parameterization import report

    set_threads(args.threads)
    out = getattr(args, "out", None) or report_folder(args.results, args.painter)
    with user_errors():  # an unknown painter; a missing extra
        table = report.run(args.preset, out, args.painter, args.device)
    print(table)
    print(f"wrote {out}/parameterization.md, .csv, classes.png and stylize.png")
    return 0


def report_folder(results: str, painter: str) -> str:
    """``RESULTS/parameterization`` for the default painter, and a subfolder named after
    any other, so that reports for two painters sit side by side instead of one
    overwriting the other."""
    base = f"{results}/parameterization"
    return base if painter == DEFAULT_PAINTER else f"{base}/{Path(painter).name}"


def add_report_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of ``bench parameterization``."""
    parser.add_argument(
        "--preset", choices=["tiny", "quick"], default="quick", help="(default quick)"
    )
    parser.add_argument(
        "--painter",
        default=DEFAULT_PAINTER,
        help=f"shipped painter or checkpoint folder (default {DEFAULT_PAINTER})",
    )
    add_compute_flags(parser)
    parser.set_defaults(func=cmd_report)


def _common_flags(parser: argparse.ArgumentParser, steps: int, strokes: int, lr: float) -> None:
    parser.add_argument(
        "--painter",
        default=DEFAULT_PAINTER,
        help=f"shipped painter or checkpoint folder (default {DEFAULT_PAINTER})",
    )
    parser.add_argument(
        "--steps", type=positive_int, default=steps, help=f"Adam steps (default {steps})"
    )
    parser.add_argument(
        "--strokes",
        type=positive_int,
        default=strokes,
        help=f"strokes per 64 px cell (default {strokes})",
    )
    parser.add_argument(
        "--overlap", type=int, default=32, help="pixels shared by stitched cells (default 32)"
    )
    parser.add_argument("--lr", type=float, default=lr, help=f"Adam learning rate (default {lr})")
    parser.add_argument(
        "--chunks",
        type=positive_int,
        default=None,
        help="MyPaint paints the strokes in N chunks and the rest are re-planned on its real "
        f"canvas after each; 1 is open loop (default {CLOSED_LOOP_CHUNKS}, or one chunk per "
        "stroke if fewer)",
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    add_compute_flags(parser)
    parser.add_argument("--out", type=folder, default=None, help="output folder")


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register ``visualize`` and ``stylize``."""
    vis = sub.add_parser(
        "visualize",
        help="paint an ImageNet class by optimising strokes against classifiers",
        description="Optimise brushstrokes through a neural painter to maximise an ImageNet "
        "class logit; write the neural painting, its MyPaint re-rendering and the classifiers' "
        "confidence (including a held-out classifier).",
    )
    vis.add_argument(
        "--class", dest="target", required=True, help="ImageNet class name or index (0-999)"
    )
    vis.add_argument(
        "--classifiers",
        default="efficientnet-lite0",
        help="comma-separated classifiers to optimise against: efficientnet-lite0..4 or "
        "MODULE:FACTORY@WEIGHTS (default efficientnet-lite0)",
    )
    vis.add_argument(
        "--held-out",
        default="efficientnet-lite1",
        help="classifier that only judges the result, or 'none' (default efficientnet-lite1)",
    )
    vis.add_argument(
        "--size",
        type=positive_int,
        default=64,
        help="canvas side in px; >64 is stitched (default 64)",
    )
    vis.add_argument(
        "--views", type=positive_int, default=2, help="random transforms per step (default 2)"
    )
    _common_flags(vis, steps=200, strokes=30, lr=0.05)
    vis.set_defaults(func=cmd_visualize)

    sty = sub.add_parser(
        "stylize",
        help="intrinsic style transfer: paint a photo's content with brushstrokes",
        description="Minimise only a content loss (feature distance at one layer of a "
        "pretrained network) between a stitched stroke canvas and a photo.",
    )
    sty.add_argument("photo", nargs="?", default=None, help="image file (default: --sample)")
    sty.add_argument(
        "--sample",
        default="astronaut",
        help="scikit-image sample photo when no file is given (default astronaut)",
    )
    sty.add_argument(
        "--size", type=parse_size, default=(192, 192), help="N or WxH pixels (default 192)"
    )
    sty.add_argument("--grayscale", action="store_true", help="paint with gray strokes only")
    sty.add_argument(
        "--classifier", default="efficientnet-lite0", help="feature network (default lite0)"
    )
    sty.add_argument(
        "--layer", default="_blocks.4", help="content layer, a submodule name (default _blocks.4)"
    )
    _common_flags(sty, steps=150, strokes=4, lr=0.1)
    sty.set_defaults(func=cmd_stylize)
