"""The ``neuralpaint`` command.

One verb structure::

    neuralpaint demo
    neuralpaint painter {dataset,train,calibrate,evaluate}
    neuralpaint agent {train,paint}          # agent train ppo@regression --budget 10m
    neuralpaint bench SUITE                  # bench convergence --agents amortized,ppo
    neuralpaint bench convergence --executor ray --ray-address auto
    neuralpaint bench sweep --agents ppo --space '{"learning_rate": [1e-4, 1e-3]}'
    neuralpaint bench report                 # RESULTS/claims.md from the results files
    neuralpaint visualize --class violin
    neuralpaint stylize photo.jpg

SUITE is throughput, transfer, agents, discrete, convergence, sweep, parameterization,
all or report (:data:`SUITE_RUNNERS` runs most of them).

Flags are checked when they are parsed (argparse names the flag and exits with status
2). Errors in what was asked that show only later (an unknown agent or painter, a
missing file, a corrupt checkpoint...) raise a :class:`~neuralpaint.errors.UserError`:
they print ``error: <message>`` and exit with status 2. Any other exception is a bug:
its traceback is shown, with a request to report it, and the status is 1. ``--debug``
raises every error with its traceback. Nothing here imports torch, so ``neuralpaint
--help`` answers at once; each command imports what it needs when it runs.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from neuralpaint import __version__
from neuralpaint.cli_flags import (
    add_compute_flags,
    add_device_flag,
    folder,
    from_flags,
    json_object,
    non_negative_int,
    positive_float,
    positive_int,
)
from neuralpaint.errors import UserError, UserFileNotFoundError, UserValueError, user_errors
from neuralpaint.executors import add_executor_arguments

EXIT_USER_ERROR = 2
"""Exit status for errors in what was asked, as argparse uses for bad flags."""
EXIT_BUG = 1
"""Exit status when neuralpaint itself failed (the traceback is shown)."""
BUG_REPORT = (
    "This is a bug in neuralpaint, not in what you asked: please report it with the "
    "command and the traceback above."
)
DASH_VALUE_FLAGS = ("--budget",)
"""Flags whose value may start with '-' (``--budget -5s``), which argparse would take
for an option; :func:`main` refuses such values with a message of its own."""


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


# ------------------------------------------------------------------------- bench


def _split(text: str | None) -> list[str] | None:
    return [t for t in text.split(",") if t] if text else None


def _training(args: argparse.Namespace) -> dict:
    """The cached-training options of the suites that train agents."""
    option = vars(args).get
    return {k: option(k) for k in ("device", "cache", "fresh", "seconds", "workers")}


def _throughput(args: argparse.Namespace, out: str) -> None:
    from neuralpaint.benchmarks import throughput

    table = throughput.run(args.preset, out_dir=out)
    print(table.to_markdown(index=False, floatfmt=".3g"))


def _transfer(args: argparse.Namespace, out: str) -> None:
    from neuralpaint.benchmarks import transfer

    option = vars(args).get
    table = transfer.run(
        args.preset, out, _split(option("painters")), args.device, _split(option("agents"))
    )
    print(table.to_markdown(index=False, floatfmt=".3f"))


def _agents(args: argparse.Namespace, out: str) -> None:
    from neuralpaint.benchmarks import agents

    table = agents.run(_split(args.agents), args.env, args.preset, out)
    print(table.to_markdown(index=False, floatfmt=".4f"))


def _discrete(args: argparse.Namespace, out: str) -> None:
    from neuralpaint.benchmarks import discrete

    painter = vars(args).get("painter") or "regression-discrete"
    for table in discrete.run(args.preset, out, painter, args.seeds, **_training(args)):
        print(table.to_markdown(index=False, floatfmt=".4f"))


def _convergence(args: argparse.Namespace, out: str) -> None:
    from neuralpaint.benchmarks import convergence

    option = vars(args).get
    agents, envs = _split(option("agents")), _split(option("envs"))
    tables = convergence.run(args.preset, out, agents, envs, args.seeds, **_training(args))
    for env, table in tables.items():
        print(f"{env}\n{table.to_markdown(index=False, floatfmt='.4g')}")


def _frontier(args: argparse.Namespace, out: str) -> None:
    from neuralpaint.benchmarks import frontier

    option = vars(args).get
    table = frontier.run(
        args.preset,
        out,
        _split(option("envs")),
        _split(option("methods")),
        args.device,
        args.cache,
        args.fresh,
        option("workers"),
    )
    print(frontier.summary(table).to_markdown(index=False, floatfmt=".4g"))


def _pictures(args: argparse.Namespace, out: str) -> None:
    from neuralpaint.benchmarks import pictures

    option = vars(args).get
    table = pictures.run(
        args.preset, out, option("pictures"), args.cache, args.fresh, option("workers")
    )
    print(pictures.summary(table).to_markdown(index=False, floatfmt=".3f"))


def _adversarial(args: argparse.Namespace, out: str) -> None:
    from neuralpaint.benchmarks import adversarial

    option = vars(args).get
    table = adversarial.run(
        args.preset,
        out,
        args.device,
        args.cache,
        args.fresh,
        option("workers"),
        option("seconds"),
        option("seeds"),
        option("critic"),
    )
    means = adversarial.summary(table)
    for env, rows in means.groupby("env", sort=False):
        print(f"{env}\n{adversarial.display_table(rows).to_markdown(index=False)}")
    for sentence in adversarial.headlines(means):
        print(sentence)


def _twins(args: argparse.Namespace, out: str) -> None:
    from neuralpaint.benchmarks import twins

    option = vars(args).get
    table = twins.run_twins(
        args.preset,
        out,
        _split(option("painters")),
        option("reference") or "regression",
        _split(option("brushes")),
        bool(option("compile")),
        [] if option("designs") == "none" else _split(option("designs")),
        bool(option("speed_only")),
    )
    print(table.to_markdown(index=False, floatfmt=".3g"))


def _brushes(args: argparse.Namespace, out: str) -> None:
    from neuralpaint.benchmarks import twins

    option = vars(args).get
    pairs = [p.split("=", 1) for p in _split(option("twins")) or []]
    if any(len(p) != 2 for p in pairs):
        raise UserValueError("--twins takes BRUSH=PAINTER pairs, e.g. classic/pen=runs/x/painter")
    table = twins.run_brushes(args.preset, out, _split(option("brushes")), dict(pairs))
    print(table.to_markdown(index=False, floatfmt=".3f"))


def _paired(args: argparse.Namespace, out: str) -> None:
    from neuralpaint.benchmarks import paired

    table = paired.run_paired(_split(vars(args).get("runs")) or [], out)
    print(table.drop(columns=["base run", "run"]).to_markdown(index=False, floatfmt=".4f"))


def _sweep(args: argparse.Namespace, out: str) -> None:
    from neuralpaint.benchmarks import sweep

    table = sweep.run_from_args(args, out)
    print(table.to_markdown(index=False, floatfmt=".4g"))
    sweep.raise_failures(table)


SUITE_RUNNERS: dict[str, Callable[[argparse.Namespace, str], None]] = {
    "throughput": _throughput,
    "transfer": _transfer,
    "agents": _agents,
    "discrete": _discrete,
    "convergence": _convergence,
    "frontier": _frontier,
    "pictures": _pictures,
    "twins": _twins,
    "brushes": _brushes,
    "paired": _paired,
    "adversarial": _adversarial,
    "sweep": _sweep,
}
"""``bench SUITE`` runs ``SUITE_RUNNERS[SUITE](args, out)``, which writes its files into
``out`` and prints its tables. A new suite is one entry here and its parser in
:func:`add_bench_commands` (``bench parameterization`` has its own command)."""


def run_suite(suite: str, args: argparse.Namespace) -> None:
    """Run one benchmark suite with the command's options and print its tables.

    ``bench all`` passes its own namespace, which lacks the per-suite choices
    (``--agents``, ``--painters``...): those suites then run their defaults.
    """
    from neuralpaint.benchmarks import provenance

    provenance.mark_start()
    out = f"{args.results}/{suite}"
    with user_errors():
        SUITE_RUNNERS[suite](args, out)
    print(f"wrote {out}/")


def check_readme_flag(args: argparse.Namespace) -> None:
    """Refuse ``--readme`` with another results folder before any suite runs.

    Raises:
        UserValueError: the README and docs link to ``results/``, not to ``--results``.
    """
    from neuralpaint.benchmarks.report import RESULTS

    if vars(args).get("readme") and args.results.rstrip("/") != RESULTS:
        raise UserValueError(
            f"--readme refreshes README.md and docs/ from {RESULTS}/, the folder they link "
            f"to; it cannot take --results {args.results}"
        )


def check_results_folder(args: argparse.Namespace) -> None:
    """``bench report`` reads the results folder: refuse one that does not exist rather
    than write a page of "not measured" claims into a new folder.

    Raises:
        UserFileNotFoundError: naming ``--results``.
    """
    from pathlib import Path

    if args.suite == "report" and not Path(args.results).is_dir():
        raise UserFileNotFoundError(
            f"--results {args.results}: no such folder; give the folder that holds the "
            "suites' results (default results)"
        )


def refresh_docs(args: argparse.Namespace) -> None:
    """Write the claims page into the results folder; with ``--readme``, also refresh
    the generated blocks of README.md and docs/*.md."""
    from neuralpaint.benchmarks.claims import write_claims
    from neuralpaint.benchmarks.report import refresh_includes

    print(f"wrote {write_claims(args.results)}")
    if args.readme:
        for page, included in refresh_includes().items():
            print(f"{page} refreshed from {', '.join(included)}")


def cmd_bench(args: argparse.Namespace) -> int:
    """Run a suite on the chosen executor; cells that still fail after their retries
    are listed by name (the finished ones are kept) and the exit status is 1."""
    from neuralpaint import executors
    from neuralpaint.benchmarks.cells import CellsFailed

    check_readme_flag(args)
    check_results_folder(args)
    executor = executors.from_args(args) if "executor" in vars(args) else executors.LocalExecutor()
    with executors.using(executor):
        try:
            return _bench(args)
        except CellsFailed as failed:
            print(failed.table())
            return 1


def _bench(args: argparse.Namespace) -> int:
    from neuralpaint.benchmarks import provenance

    provenance.git_commit()  # read before any suite's output makes the checkout dirty
    if vars(args).get("device"):  # cells are cached by device: store the concrete one
        from neuralpaint.painters.neural import resolve_device

        with user_errors():  # cuda asked for on a machine without it
            args.device = str(resolve_device(args.device))
    if args.suite == "report":
        refresh_docs(args)
        return 0
    if args.suite != "all":
        run_suite(args.suite, args)
        return 0
    import time

    from neuralpaint.benchmarks import ALL_SUITES
    from neuralpaint.io import write_text

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
    refresh_docs(args)
    return 0


def _results_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--results",
        type=folder,
        default="results",
        help="results root folder; writes RESULTS/SUITE/ (default results)",
    )


def _preset_flag(parser: argparse.ArgumentParser, choices=("tiny", "quick", "full")) -> None:
    parser.add_argument("--preset", default="quick", choices=choices, help="(default quick)")


def _readme_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--readme",
        action="store_true",
        help="also refresh the generated tables of README.md and docs/*.md (from results/)",
    )


def _training_flags(parser: argparse.ArgumentParser) -> None:
    """Flags of the suites that train agents in cached runs."""
    parser.add_argument(
        "--seeds", type=positive_int, default=None, help="seeds (default: the preset's)"
    )
    parser.add_argument(
        "--workers",
        type=positive_int,
        default=None,
        help="training runs side by side (default: preset)",
    )
    parser.add_argument(
        "--seconds",
        type=positive_float,
        default=None,
        help="training seconds per run (default: the preset's)",
    )
    parser.add_argument(
        "--cache", type=folder, default="runs/bench", help="folder of finished runs"
    )
    parser.add_argument("--fresh", action="store_true", help="rerun cached training runs")
    add_executor_arguments(parser)


def add_sweep_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of ``bench sweep`` beside the training flags."""
    parser.add_argument(
        "--space",
        type=json_object,
        required=True,
        help="JSON of agent argument to a list of values (or, for optuna, "
        '{"low": a, "high": b, "log": true}), e.g. \'{"learning_rate": [1e-4, 1e-3]}\'',
    )
    parser.add_argument("--search", choices=["grid", "optuna"], default="grid")
    parser.add_argument("--trials", type=positive_int, default=None, help="settings to try")
    parser.add_argument(
        "--parallel",
        type=positive_int,
        default=4,
        help="optuna: proposals run side by side (default 4)",
    )


AGENTS_HELP = (
    "comma-separated agents: NAME[@PAINTER] (e.g. amortized@gan, ppo@mypaint), "
    "module:Class, saved folders or shipped agents"
)


def add_bench_commands(sub: argparse._SubParsersAction) -> None:
    """``bench SUITE``: each suite its own parser, so its ``--help`` lists only its flags
    and a flag it does not use is refused."""
    from neuralpaint.parameterization.commands import add_report_arguments

    bench = sub.add_parser(
        "bench",
        help="run a benchmark suite and write results/SUITE/",
        description="Benchmark suites. 'all' runs throughput, transfer, discrete and "
        "convergence. Finished training runs are cached in --cache and skipped on a rerun "
        "(--fresh reruns them).",
    )
    suites = bench.add_subparsers(dest="suite", required=True, metavar="SUITE")
    bench.set_defaults(func=cmd_bench)

    p = suites.add_parser("throughput", help="strokes per second of the renderers and envs")
    _preset_flag(p)
    _results_flag(p)

    p = suites.add_parser("transfer", help="painter fidelity against MyPaint")
    _preset_flag(p)
    _results_flag(p)
    p.add_argument("--painters", default=None, help="comma-separated painters (default: shipped)")
    p.add_argument("--agents", default=None, help=AGENTS_HELP)
    add_device_flag(p)

    p = suites.add_parser("agents", help="agents painting held-out targets on MyPaint")
    p.add_argument("--agents", required=True, help=AGENTS_HELP)
    p.add_argument(
        "--env", default="NeuralPaint-MNIST-v0", help="env id (default NeuralPaint-MNIST-v0)"
    )
    _preset_flag(p)
    _results_flag(p)

    p = suites.add_parser("discrete", help="lift flicker, size rounding, stuck training")
    _preset_flag(p)
    _results_flag(p)
    p.add_argument(
        "--painter", default="regression-discrete", help="discrete-variant painter to study"
    )
    add_device_flag(p)
    _training_flags(p)

    p = suites.add_parser("convergence", help="gradient agents against RL, by wall-clock")
    _preset_flag(p, ("tiny", "quick", "long", "full"))
    _results_flag(p)
    p.add_argument("--agents", default=None, help=AGENTS_HELP + " (default: the preset's)")
    p.add_argument("--envs", default=None, help="comma-separated env ids (default: preset)")
    add_device_flag(p)
    _training_flags(p)

    p = suites.add_parser(
        "frontier",
        help="per-image quality on MyPaint against seconds per image: search, gradient, hybrid",
    )
    _preset_flag(p)
    _results_flag(p)
    p.add_argument("--envs", default=None, help="comma-separated env ids (default: preset)")
    p.add_argument(
        "--methods",
        default=None,
        help="comma-separated methods: amortized, amortized+refine, stroke-optimizer, greedy, "
        "cem, hybrid (default: all)",
    )
    add_device_flag(p)
    p.add_argument(
        "--workers", type=positive_int, default=None, help="cells side by side (default: preset)"
    )
    p.add_argument("--cache", type=folder, default="runs/bench", help="folder of finished cells")
    p.add_argument("--fresh", action="store_true", help="rerun cached cells")

    p = suites.add_parser(
        "pictures", help="whole pictures on MyPaint: PSNR and SSIM per planner and stroke count"
    )
    _preset_flag(p)
    _results_flag(p)
    p.add_argument(
        "--pictures",
        type=folder,
        default=None,
        help="a folder of .png/.jpg pictures to paint besides the held-out photos",
    )
    p.add_argument(
        "--workers",
        type=positive_int,
        default=None,
        help="paintings side by side (default: preset)",
    )
    p.add_argument("--cache", type=folder, default="runs/bench", help="folder of finished cells")
    p.add_argument("--fresh", action="store_true", help="rerun cached cells")

    p = suites.add_parser(
        "adversarial",
        help="the paper's section 3: L2, adversarial and mixed agents, preconditioning and "
        "SPIRAL's discriminator reward, judged on MyPaint (recognisability, stroke use)",
    )
    _preset_flag(p)
    _results_flag(p)
    add_device_flag(p)
    _training_flags(p)
    p.add_argument(
        "--critic",
        default=None,
        help="critic of the discriminator reward: a saved adversarial agent folder or a "
        "critic file (default: the shipped amortized-adversarial-mnist's)",
    )

    p = suites.add_parser(
        "twins",
        help="painter designs' strokes/s against MyPaint on one thread, and trained twins'"
        " held-out fidelity",
    )
    _preset_flag(p)
    _results_flag(p)
    p.add_argument(
        "--painters", default=None, help="comma-separated trained painters (names or folders)"
    )
    p.add_argument(
        "--reference",
        default="regression",
        help="painter whose held-out fidelity a faster twin must keep (default regression)",
    )
    p.add_argument(
        "--brushes",
        default=None,
        help="comma-separated brushes MyPaint paints for the speed reference (first: the"
        " ratios' denominator; default classic/dry_brush)",
    )
    p.add_argument("--compile", action="store_true", help="also time torch.compile'd designs")
    p.add_argument(
        "--designs",
        default=None,
        help="comma-separated untrained designs to time, or 'none' (default: the preset's)",
    )
    p.add_argument(
        "--speed-only",
        action="store_true",
        help="time only: skip the held-out fidelity, which needs each painter's stroke"
        " dataset (the ratios to MyPaint differ between hosts, the fidelity does not)",
    )

    p = suites.add_parser(
        "paired",
        help="twins compared digit by digit: paired differences between bench brushes runs",
    )
    _results_flag(p)
    p.add_argument(
        "--runs",
        required=True,
        help="comma-separated bench brushes result folders (or their transfer_digits.csv);"
        " each after the first is compared with the first on the digits both planned",
    )

    p = suites.add_parser(
        "brushes", help="each brush's twin against that brush's noise ceiling; transfer gaps"
    )
    _preset_flag(p)
    _results_flag(p)
    p.add_argument(
        "--brushes", default=None, help="comma-separated brushes (default: the curated twins)"
    )
    p.add_argument(
        "--twins",
        default=None,
        help="comma-separated BRUSH=PAINTER pairs (default: each brush's shipped twin)",
    )

    p = suites.add_parser("sweep", help="a hyperparameter grid or Optuna search for one agent")
    _preset_flag(p)
    _results_flag(p)
    p.add_argument("--agents", required=True, help="the one agent to tune, NAME[@PAINTER]")
    p.add_argument(
        "--env", default="NeuralPaint-MNIST-v0", help="env id (default NeuralPaint-MNIST-v0)"
    )
    add_device_flag(p)
    _training_flags(p)
    add_sweep_arguments(p)

    p = suites.add_parser("parameterization", help="class paintings and style transfer")
    _results_flag(p)
    add_report_arguments(p)

    p = suites.add_parser("all", help="throughput, transfer, discrete and convergence")
    _preset_flag(p)
    _results_flag(p)
    add_device_flag(p)
    _training_flags(p)
    _readme_flag(p)

    p = suites.add_parser("report", help="write RESULTS/claims.md from the results files")
    _results_flag(p)
    _readme_flag(p)


# ----------------------------------------------------------------------- painter


def cmd_painter_dataset(args: argparse.Namespace) -> int:
    from neuralpaint import executors
    from neuralpaint.painters import dataset

    with user_errors():  # an unknown brush; --out holding another dataset
        spec = dataset.StrokeDatasetSpec(
            strokes=args.strokes,
            shard_size=args.shard_size,
            size=args.size,
            brush=args.brush,
            discrete=args.discrete,
            seed=args.seed,
            renders=args.renders,
        )
        path = dataset.generate(
            spec,
            args.out,
            workers=args.workers,
            executor=executors.from_args(args),
            shared=args.shared_out,
        )
        print(f"stroke dataset ready in {path}")
        if spec.renders > 1:  # training evaluates on single renders of the same actions
            single = spec.single_render()
            single_path = dataset.generate(
                single,
                path.parent / single.name,
                workers=args.workers,
                executor=executors.from_args(args),
                shared=args.shared_out,
            )
            print(f"its single-render sibling (held-out targets) ready in {single_path}")
    return 0


def default_run_folder(kind: str, discrete: bool, brush: str) -> str:
    """``runs/painter-KIND[-discrete][-BRUSH]``: the default brush adds nothing, several
    brushes add ``-brushes``."""
    from neuralpaint.painters.brushes import brush_slug
    from neuralpaint.painters.mypaint import DEFAULT_BRUSH

    brushes = [b for b in brush.split(",") if b]
    suffix = "" if brushes in ([], [DEFAULT_BRUSH]) else "-brushes"
    if len(brushes) == 1 and suffix:
        suffix = f"-{brush_slug(brushes[0])}"
    return f"runs/painter-{kind}{'-discrete' if discrete else ''}{suffix}"


def painter_train_config(args: argparse.Namespace):
    """The :class:`PainterTrainConfig` that ``painter train`` flags describe: each flag
    sets the field of its name; only the defaults that depend on other flags and
    ``--arch``, which is JSON on the command line, are worked out here."""
    from neuralpaint.painters.presets import arch_from_text
    from neuralpaint.painters.training import PainterTrainConfig

    try:
        arch = arch_from_text(args.arch)
    except ValueError as exc:
        raise UserValueError(str(exc)) from exc
    return from_flags(
        PainterTrainConfig,
        args,
        out=args.out or default_run_folder(args.kind, args.discrete, args.brush),
        lr=args.lr if args.lr is not None else (1e-4 if args.kind == "gan" else 1e-3),
        arch=arch,
    )


def cmd_painter_train(args: argparse.Namespace) -> int:
    from neuralpaint.painters.training import train

    config = painter_train_config(args)
    with user_errors():  # a missing dataset, flags that do not fit the kind or warm start
        path = train(config)
    print(f"painter written to {path}")
    return 0


def cmd_painter_calibrate(args: argparse.Namespace) -> int:
    import json

    from neuralpaint.painters import checkpoint as ckpt
    from neuralpaint.painters.training import calibrate

    with user_errors():  # not a regression painter, too few strokes, one shard
        path = calibrate(
            args.painter,
            args.out,
            args.data,
            args.strokes,
            args.knots,
            args.threads,
            args.kind,
            args.fit_threshold,
        )
    record = ckpt.read_config(path)["calibration"]
    if "threshold_shift" in record:
        print(f"ink threshold moved to logit {record['threshold_shift']:+.2f}")
    for when in ("before", "after"):
        shown = {k: round(v, 4) for k, v in record[f"held_out_{when}"].items()}
        print(f"held-out {when}: {json.dumps(shown)}")
    print(f"calibrated painter written to {path}")
    return 0


def cmd_painter_evaluate(args: argparse.Namespace) -> int:
    import pandas as pd
    import torch

    from neuralpaint.painters.training import evaluate_shards

    if args.threads:
        torch.set_num_threads(args.threads)
    with user_errors():  # an unknown painter or dataset, a shard out of range
        scores = evaluate_shards(args.painter, args.shards, args.data, args.strokes)
    table = pd.DataFrame(scores).T
    print(table.round(4).to_string())
    return 0


def add_painter_commands(sub: argparse._SubParsersAction) -> None:
    painter = sub.add_parser("painter", help="neural painters: stroke datasets, training")
    painter_sub = painter.add_subparsers(dest="painter_command", required=True, metavar="COMMAND")
    data = painter_sub.add_parser("dataset", help="render random strokes with MyPaint into shards")
    data.add_argument("--strokes", type=positive_int, default=100_000, help="number of strokes")
    data.add_argument(
        "--shard-size", type=positive_int, default=10_000, help="strokes per shard file"
    )
    data.add_argument("--size", type=positive_int, default=64, help="canvas side in pixels")
    data.add_argument("--brush", default="classic/dry_brush", help="brush name or .myb path")
    data.add_argument("--discrete", action="store_true", help="discrete variant: lift, 10 levels")
    data.add_argument("--seed", type=int, default=0, help="dataset seed")
    data.add_argument(
        "--renders",
        type=positive_int,
        default=1,
        help="MyPaint renders averaged into each mask: less noisy targets for a regression "
        "painter; above 1 the single-render dataset of the same actions, which training "
        "evaluates on, is made beside it too (default 1)",
    )
    data.add_argument(
        "--workers", type=non_negative_int, default=0, help="processes (0: all cores)"
    )
    data.add_argument(
        "--out", type=folder, default=None, help="folder (default: $NEURALPAINT_DATA/...)"
    )
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
    tr.add_argument(
        "--minutes", type=positive_float, default=10.0, help="wall-clock budget (default 10)"
    )
    tr.add_argument("--max-steps", type=positive_int, default=None, help="optional cap on steps")
    tr.add_argument("--discrete", action="store_true", help="discrete-variant painter (lift)")
    tr.add_argument(
        "--data",
        default=None,
        help="stroke dataset folder (default: the brush's standard one); with several "
        "brushes, one folder per brush, comma-separated",
    )
    tr.add_argument(
        "--brush",
        default="classic/dry_brush",
        help="MyPaint brush to imitate (normal blending only), or several comma-separated "
        "for one brush-conditioned painter (with --arch fast); default classic/dry_brush",
    )
    tr.add_argument(
        "--renders",
        type=positive_int,
        default=1,
        help="without --data: the standard dataset averaging this many renders per mask",
    )
    tr.add_argument(
        "--out", type=folder, default=None, help="run folder (default: runs/painter-KIND)"
    )
    tr.add_argument("--batch-size", type=positive_int, default=64, help="(default 64)")
    tr.add_argument("--lr", type=float, default=None, help="peak learning rate")
    tr.add_argument("--seed", type=int, default=0)
    add_compute_flags(tr)
    tr.add_argument(
        "--arch",
        default="{}",
        help="architecture: a preset (broadcast, broadcast-shipped, fast, fast-k1, fast-small,"
        ' fast-wide) or JSON, e.g. \'{"width": 32}\' or \'{"preset": "fast", "width": 24}\'',
    )
    tr.add_argument(
        "--init-from", default="regression", help="GAN: regression painter to start from"
    )
    tr.add_argument(
        "--warm-start",
        default=None,
        help="regression: start from this regression painter's weights (shipped name or"
        ' folder); with --arch \'{"width": N, "head_width": M}\' it is first widened to'
        " N body and M head channels, output unchanged (a fast painter: --arch"
        ' \'{"preset": "fast-small", "hidden": H}\' widens its trunk MLP to H units)',
    )
    tr.add_argument(
        "--ink-loss",
        type=float,
        default=0.0,
        help="regression: weight of a soft ink-IoU term added to the MSE (default 0)",
    )
    tr.add_argument(
        "--ema",
        type=float,
        default=0.0,
        help="regression: evaluate and export an exponential moving average of the weights"
        " with this decay per step, e.g. 0.999 (default 0: off)",
    )
    tr.add_argument(
        "--distill-from",
        default=None,
        help="regression: a teacher painter of the same brush(es) whose masks are a second "
        "target (shipped name or folder)",
    )
    tr.add_argument(
        "--distill-weight",
        type=float,
        default=0.5,
        help="with --distill-from: weight of the teacher's masks against MyPaint's (default 0.5)",
    )
    tr.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint")
    tr.add_argument("--tensorboard", action="store_true", help="also log to OUT/tb")
    tr.add_argument(
        "--select-by",
        choices=["spectral_db", "mse"],
        default=None,
        help="export the evaluation with the lowest held-out value of this metric "
        "(default: the last weights)",
    )
    tr.set_defaults(func=cmd_painter_train)
    cal = painter_sub.add_parser(
        "calibrate",
        help="fit a regression painter's output to its training strokes (ink masks unchanged"
        " unless --fit-threshold)",
    )
    cal.add_argument("painter", help="regression painter: shipped name or folder")
    cal.add_argument(
        "--out", type=folder, default=None, help="output folder (default: PAINTER-calibrated)"
    )
    cal.add_argument("--data", default=None, help="dataset (default: the painter's own)")
    cal.add_argument("--strokes", type=int, default=20_000, help="training strokes to fit on")
    cal.add_argument(
        "--knots", type=positive_int, default=32, help="knots each side of the threshold"
    )
    cal.add_argument(
        "--kind",
        choices=["knots", "temperature"],
        default="knots",
        help="piecewise-linear map (most faithful) or two logit temperatures (nearly free)",
    )
    cal.add_argument(
        "--fit-threshold",
        action="store_true",
        help="with --kind temperature: move the ink threshold to where the painter's ink best"
        " matches single MyPaint renders of its training strokes (needs the single-render"
        " dataset); without it every ink mask stays as it was",
    )
    cal.add_argument(
        "--threads", type=non_negative_int, default=0, help="torch CPU threads (0: default)"
    )
    cal.set_defaults(func=cmd_painter_calibrate)
    ev = painter_sub.add_parser(
        "evaluate", help="a painter's metrics on shards of its dataset (held out or trained on)"
    )
    ev.add_argument("painter", help="shipped name or folder")
    ev.add_argument(
        "--shards", type=int, nargs="+", default=[-1], help="shard indices (default: -1, held out)"
    )
    ev.add_argument(
        "--strokes", type=positive_int, default=None, help="strokes per shard (default: all)"
    )
    ev.add_argument("--data", default=None, help="single-render dataset (default: the painter's)")
    ev.add_argument(
        "--threads", type=non_negative_int, default=0, help="torch CPU threads (0: default)"
    )
    ev.set_defaults(func=cmd_painter_evaluate)


# ------------------------------------------------------------------------ parser


def build_parser() -> argparse.ArgumentParser:
    """The whole command line; imports no heavy module."""
    from neuralpaint.agents.commands import add_commands as add_agent_commands
    from neuralpaint.parameterization.commands import add_commands as add_parameterization
    from neuralpaint.pictures.commands import add_paint_command

    parser = argparse.ArgumentParser(
        prog="neuralpaint",
        description="Brushstroke painting benchmark: MyPaint and neural painters.",
    )
    parser.add_argument("--version", action="version", version=f"neuralpaint {__version__}")
    parser.add_argument("--debug", action="store_true", help="show the full traceback of an error")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = sub.add_parser("demo", help="paint MNIST digits and MyPaint strokes into results/demo/")
    demo.add_argument(
        "--out", type=folder, default="results/demo", help="output folder (default results/demo)"
    )
    demo.add_argument("--seed", type=int, default=0, help="random seed for strokes and texture")
    demo.set_defaults(func=cmd_demo)

    add_painter_commands(sub)
    add_agent_commands(sub)
    add_bench_commands(sub)
    add_parameterization(sub)
    add_paint_command(sub)
    return parser


def accept_dash_values(argv: list[str]) -> list[str]:
    """``--budget -5s`` as ``--budget=-5s``, so that argparse reads ``-5s`` as the
    flag's value (and the command refuses it by name) instead of as an unknown option."""
    out: list[str] = []
    args = iter(argv)
    for arg in args:
        if arg in DASH_VALUE_FLAGS:
            value = next(args, None)
            if value is not None and value.startswith("-") and not value.startswith("--"):
                out.append(f"{arg}={value}")
                continue
            out.append(arg)
            if value is not None:
                out.append(value)
            continue
        out.append(arg)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # --debug is accepted anywhere on the line, not only before the command.
    debug = "--debug" in argv
    args = build_parser().parse_args(accept_dash_values([a for a in argv if a != "--debug"]))
    try:
        return args.func(args)
    except UserError as exc:
        if debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except Exception:
        if debug:
            raise
        import traceback

        traceback.print_exc()
        print(BUG_REPORT, file=sys.stderr)
        return EXIT_BUG


if __name__ == "__main__":
    sys.exit(main())
