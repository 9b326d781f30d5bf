"""The ``neuralpaint`` command.

Examples::

    neuralpaint demo
    neuralpaint bench throughput --preset quick
    neuralpaint bench convergence --agents amortized@regression,ppo --seeds 3
    neuralpaint bench all --preset quick
    neuralpaint bench convergence --preset quick --executor ray --ray-address auto
    neuralpaint bench sweep --agents ppo --space '{"lr": [1e-4, 1e-3]}' --seconds 60
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def cmd_demo(args: argparse.Namespace) -> int:
    from neuralpaint import demo

    scores = demo.paint_mnist(args.out, seed=args.seed)
    print(
        f"wrote {args.out}/mnist_side_by_side.png (target | neural | MyPaint) and stroke "
        f"GIFs; L2 per pixel: MyPaint {scores['mypaint_l2']:.4f}, "
        f"painter {scores['neural_l2']:.4f}"
    )
    path = demo.run(args.out, seed=args.seed)
    print(f"wrote {path}")
    return 0


def _split(text: str | None) -> list[str] | None:
    return [t for t in text.split(",") if t] if text else None


def run_suite(suite: str, args: argparse.Namespace) -> None:
    """Run one benchmark suite with the command's options and print its tables."""
    out = f"{args.results}/{suite}"
    common = {
        "device": args.device,
        "cache": args.cache,
        "fresh": args.fresh,
        "seconds": args.seconds,
        "workers": args.workers,
    }
    if suite == "throughput":
        from neuralpaint.benchmarks import throughput

        table = throughput.run(args.preset, out_dir=out)
        print(table.to_markdown(index=False, floatfmt=".3g"))
    elif suite == "transfer":
        from neuralpaint.benchmarks import transfer

        table = transfer.run(
            args.preset, out, _split(args.painters), args.device, _split(args.agents)
        )
        print(table.to_markdown(index=False, floatfmt=".3f"))
    elif suite == "agents":
        from neuralpaint.benchmarks import agents

        if not args.agents:
            raise SystemExit(
                "bench agents needs --agents, e.g. random,amortized-mnist,runs/agent-ppo"
            )
        table = agents.run(_split(args.agents), args.env, args.preset, out)
        print(table.to_markdown(index=False, floatfmt=".4f"))
    elif suite == "discrete":
        from neuralpaint.benchmarks import discrete

        painter = args.painters or "regression-discrete"
        tables = discrete.run(args.preset, out, painter, args.seeds, **common)
        for table in tables:
            print(table.to_markdown(index=False, floatfmt=".4f"))
    elif suite == "convergence":
        from neuralpaint.benchmarks import convergence

        tables = convergence.run(
            args.preset,
            out,
            _split(args.agents),
            _split(args.envs),
            args.seeds,
            **common,
        )
        for env, table in tables.items():
            print(f"{env}\n{table.to_markdown(index=False, floatfmt='.4g')}")
    elif suite == "sweep":
        from neuralpaint.benchmarks import sweep

        table = sweep.run_from_args(args, out)
        print(table.to_markdown(index=False, floatfmt=".4g"))
        sweep.raise_failures(table)
    else:
        raise SystemExit(f"unknown benchmark suite {suite!r}")
    print(f"wrote {out}/")


ALL_SUITES = ("throughput", "transfer", "discrete", "convergence")
"""What ``bench all`` runs, in order, before refreshing the README."""


def cmd_bench(args: argparse.Namespace) -> int:
    from neuralpaint import executors
    from neuralpaint.benchmarks.cells import CellsFailed

    with executors.using(executors.from_args(args)):
        try:
            return _bench(args)
        except CellsFailed as failed:
            print(failed.table())
            return 1


def _bench(args: argparse.Namespace) -> int:
    import time

    from neuralpaint.benchmarks.claims import write_claims
    from neuralpaint.benchmarks.report import update_readme

    if args.suite == "report":
        print(f"wrote {write_claims(args.results)}")
        included = update_readme("README.md")
        print(f"README.md refreshed from {', '.join(included) or 'nothing'}")
        return 0
    if args.suite != "all":
        run_suite(args.suite, args)
        return 0
    from neuralpaint.benchmarks import provenance
    from neuralpaint.io import write_text

    provenance.git_commit()  # read before any output makes the checkout dirty
    minutes = {}
    for suite in ALL_SUITES:
        start = time.perf_counter()
        run_suite(suite, args)
        minutes[suite] = (time.perf_counter() - start) / 60
    command = f"neuralpaint bench all --preset {args.preset} --device {args.device}"
    lines = [f"| {s} | {m:.1f} |" for s, m in minutes.items()]
    write_text(
        f"{args.results}/bench_all.md",
        "# Wall-clock of `bench all`\n\n"
        + provenance.markdown_header(command)
        + "\n| suite | minutes |\n|---|---|\n"
        + "\n".join(lines)
        + f"\n| **total** | {sum(minutes.values()):.1f} |\n",
    )
    print(f"wrote {write_claims(args.results)}")
    included = update_readme("README.md")
    print(f"README.md refreshed from {', '.join(included) or 'nothing'}")
    return 0


def cmd_painter_dataset(args: argparse.Namespace) -> int:
    from neuralpaint import executors
    from neuralpaint.painters import dataset

    spec = dataset.StrokeDatasetSpec(
        strokes=args.strokes,
        shard_size=args.shard_size,
        size=args.size,
        brush=args.brush,
        discrete=args.discrete,
        seed=args.seed,
    )
    folder = dataset.generate(
        spec,
        args.out,
        workers=args.workers,
        executor=executors.from_args(args),
        shared=args.shared_out,
    )
    print(f"stroke dataset ready in {folder}")
    return 0


def cmd_painter_train(args: argparse.Namespace) -> int:
    import json

    from neuralpaint.painters.training import PainterTrainConfig, train

    config = PainterTrainConfig(
        kind=args.kind,
        out=args.out or f"runs/painter-{args.kind}{'-discrete' if args.discrete else ''}",
        data=args.data,
        discrete=args.discrete,
        minutes=args.minutes,
        max_steps=args.max_steps,
        batch_size=args.batch_size,
        lr=args.lr if args.lr is not None else (1e-4 if args.kind == "gan" else 1e-3),
        seed=args.seed,
        device=args.device,
        threads=args.threads,
        arch=json.loads(args.arch),
        init_from=args.init_from,
        resume=args.resume,
        tensorboard=args.tensorboard,
    )
    folder = train(config)
    print(f"painter written to {folder}")
    return 0


def add_sweep_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of ``bench sweep`` (beside ``--agents``, ``--env``, ``--seeds``...)."""
    parser.add_argument(
        "--space",
        default=None,
        help="sweep: JSON of agent argument to a list of values (or, for optuna, "
        '{"low": a, "high": b, "log": true}), e.g. \'{"lr": [1e-4, 1e-3]}\'',
    )
    parser.add_argument("--search", choices=["grid", "optuna"], default="grid")
    parser.add_argument("--trials", type=int, default=None, help="sweep: settings to try")
    parser.add_argument(
        "--parallel", type=int, default=4, help="sweep (optuna): proposals run side by side"
    )


def build_parser() -> argparse.ArgumentParser:
    from neuralpaint.executors import add_executor_arguments

    parser = argparse.ArgumentParser(
        prog="neuralpaint",
        description="Brushstroke painting benchmark: MyPaint and neural painters.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="paint strokes with MyPaint into results/demo/")
    demo.add_argument("--out", default="results/demo", help="output folder")
    demo.add_argument("--seed", type=int, default=0, help="random seed for strokes and texture")
    demo.set_defaults(func=cmd_demo)

    bench = sub.add_parser(
        "bench",
        help="run a benchmark suite and write results/SUITE/",
        description="Benchmark suites. 'all' runs throughput, transfer, discrete and "
        "convergence, then refreshes the README. Finished training runs are cached in "
        "--cache and skipped on a rerun (--fresh reruns them).",
    )
    bench.add_argument(
        "suite",
        choices=[
            "throughput",
            "transfer",
            "agents",
            "discrete",
            "convergence",
            "sweep",
            "all",
            "report",
        ],
        help="which suite",
    )
    bench.add_argument("--preset", default="quick", choices=["tiny", "quick", "full"])
    bench.add_argument("--results", default="results", help="results root folder")
    bench.add_argument(
        "--painters", default=None, help="comma-separated painters (default: shipped)"
    )
    bench.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    bench.add_argument(
        "--agents",
        default=None,
        help="comma-separated agents: registered names (NAME@PAINTER in convergence), "
        "module:Class, saved folders or shipped agents",
    )
    bench.add_argument(
        "--env", default="NeuralPaint-MNIST-v0", help="env id (agents and sweep suites)"
    )
    bench.add_argument("--envs", default=None, help="comma-separated env ids (convergence)")
    bench.add_argument("--seeds", type=int, default=None, help="seeds (default: the preset's)")
    bench.add_argument(
        "--workers", type=int, default=None, help="training runs side by side (default: preset)"
    )
    bench.add_argument(
        "--seconds",
        type=float,
        default=None,
        help="training seconds per run in convergence, discrete and sweep (default: preset)",
    )
    bench.add_argument("--cache", default="runs/bench", help="folder of finished runs")
    bench.add_argument("--fresh", action="store_true", help="rerun cached training runs")
    add_executor_arguments(bench)
    add_sweep_arguments(bench)
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
    add_executor_arguments(data)
    data.add_argument(
        "--shared-out",
        action="store_true",
        help="with --executor ray: --out is on storage every node mounts, so workers write "
        "shards there themselves instead of returning them to the driver",
    )
    data.set_defaults(func=cmd_painter_dataset)

    tr = painter_sub.add_parser("train", help="train a neural painter on a stroke dataset")
    tr.add_argument("--kind", choices=["regression", "vae", "gan"], default="regression")
    tr.add_argument("--minutes", type=float, default=10.0, help="wall-clock budget")
    tr.add_argument("--max-steps", type=int, default=None, help="optional cap on steps")
    tr.add_argument("--discrete", action="store_true", help="discrete-variant painter (lift)")
    tr.add_argument("--data", default=None, help="stroke dataset folder (default: standard)")
    tr.add_argument("--out", default=None, help="run folder (default: runs/painter-KIND)")
    tr.add_argument("--batch-size", type=int, default=64)
    tr.add_argument("--lr", type=float, default=None, help="peak learning rate")
    tr.add_argument("--seed", type=int, default=0)
    tr.add_argument("--device", default="auto", help="cpu, cuda or auto")
    tr.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    tr.add_argument("--arch", default="{}", help="architecture JSON, e.g. '{\"width\": 32}'")
    tr.add_argument(
        "--init-from", default="regression", help="GAN: regression painter to start from"
    )
    tr.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint")
    tr.add_argument("--tensorboard", action="store_true", help="also log to OUT/tb")
    tr.set_defaults(func=cmd_painter_train)

    from neuralpaint.agents.commands import add_commands as add_agent_commands
    from neuralpaint.parameterization.commands import add_commands as add_parameterization

    add_agent_commands(sub)

    add_parameterization(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
