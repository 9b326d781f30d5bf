"""The ``neuralpaint`` command.

Examples::

    neuralpaint demo
    neuralpaint bench throughput --preset quick
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def cmd_demo(args: argparse.Namespace) -> int:
    from neuralpaint import demo

    path = demo.run(args.out, seed=args.seed)
    print(f"wrote {path}")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    if args.suite == "throughput":
        from neuralpaint.benchmarks import throughput

        table = throughput.run(args.preset, out_dir=f"{args.results}/throughput")
        print(table.to_markdown(index=False, floatfmt=".3g"))
        print(f"wrote {args.results}/throughput/throughput.csv and throughput.md")
        return 0
    raise SystemExit(f"unknown benchmark suite {args.suite!r}")


def cmd_painter_dataset(args: argparse.Namespace) -> int:
    from neuralpaint.painters import dataset

    spec = dataset.StrokeDatasetSpec(
        strokes=args.strokes,
        shard_size=args.shard_size,
        size=args.size,
        brush=args.brush,
        discrete=args.discrete,
        seed=args.seed,
    )
    folder = dataset.generate(spec, args.out, workers=args.workers)
    print(f"stroke dataset ready in {folder}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="neuralpaint",
        description="Brushstroke painting benchmark: MyPaint and neural painters.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="paint strokes with MyPaint into results/demo/")
    demo.add_argument("--out", default="results/demo", help="output folder")
    demo.add_argument("--seed", type=int, default=0, help="random seed for strokes and texture")
    demo.set_defaults(func=cmd_demo)

    bench = sub.add_parser("bench", help="run a benchmark suite and write results/SUITE/")
    bench.add_argument("suite", choices=["throughput"], help="which suite")
    bench.add_argument("--preset", default="quick", choices=["tiny", "quick", "full"])
    bench.add_argument("--results", default="results", help="results root folder")
    bench.set_defaults(func=cmd_bench)

    painter = sub.add_parser("painter", help="neural painters: datasets, training")
    painter_sub = painter.add_subparsers(dest="painter_command", required=True)
    data = painter_sub.add_parser("dataset", help="render random strokes with MyPaint into shards")
    data.add_argument("--strokes", type=int, default=100_000, help="number of strokes")
    data.add_argument("--shard-size", type=int, default=10_000, help="strokes per shard file")
    data.add_argument("--size", type=int, default=64, help="canvas side in pixels")
    data.add_argument("--brush", default="classic/dry_brush", help="brush name or .myb path")
    data.add_argument("--discrete", action="store_true", help="discrete variant: lift, 10 levels")
    data.add_argument("--seed", type=int, default=0, help="dataset seed")
    data.add_argument("--workers", type=int, default=0, help="processes (0: all cores)")
    data.add_argument("--out", default=None, help="folder (default: $NEURALPAINT_DATA/...)")
    data.set_defaults(func=cmd_painter_dataset)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
