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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
