"""The ``agent train`` and ``agent paint`` commands.

``neuralpaint agent train NAME[@PAINTER] --env ID --budget 10m`` trains any registered
agent with a progress bar, saves it every ``--checkpoint-seconds`` (atomically, file by
file), and continues a saved run with ``--resume``. ``neuralpaint agent paint --agent A
--target image.png`` writes MyPaint's painting, the neural canvas and an animated GIF
of the strokes in order. ``--brush B`` paints with another MyPaint brush (the agent
learns through that brush's twin; see :func:`~neuralpaint.agents.registry.make_agent`).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from neuralpaint.agents.base import Agent, Budget, Progress
from neuralpaint.agents.registry import get_agent_class, make_agent, parse_agent_spec
from neuralpaint.cli_flags import add_compute_flags, folder, positive_float, set_threads
from neuralpaint.errors import (
    UserFileExistsError,
    UserFileNotFoundError,
    UserValueError,
    user_errors,
)
from neuralpaint.io import save_gif, save_png, tile, write_text
from neuralpaint.painters import DEFAULT_PAINTER
from neuralpaint.progress import progress_bar

SHIPPED_AGENTS = Path(__file__).with_name("weights")
PROGRESS_FILE = "progress.csv"


def parse_budget(text: str) -> Budget:
    """``'90s'``, ``'10m'``, ``'1h'`` or ``'5000steps'`` (or ``'10m,5000steps'``).

    Raises:
        UserValueError: naming ``--budget``, for text it cannot read or a budget of
            zero or less.
    """
    seconds = steps = None
    for part in text.split(","):
        m = re.fullmatch(r"\s*([-+]?[\d.]+)\s*(s|m|h|steps?)\s*", part)
        try:
            value = float(m.group(1)) if m else None
        except ValueError:
            value = None
        if value is None:
            raise UserValueError(
                f"--budget {text!r} not understood: use e.g. '90s', '10m', '1h', '5000steps'"
            )
        if not value > 0:
            raise UserValueError(f"--budget must be positive, got {text!r}")
        unit = m.group(2)
        if unit.startswith("step"):
            steps = int(value)
        else:
            seconds = value * {"s": 1, "m": 60, "h": 3600}[unit]
    return Budget(seconds=seconds, steps=steps)


def parse_agent_args(pairs: list[str]) -> dict:
    """``key=value`` pairs; values are read as JSON when they parse, else as strings."""
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise UserValueError(f"agent argument {pair!r} must look like key=value")
        try:
            out[key.replace("-", "_")] = json.loads(value)
        except json.JSONDecodeError:
            out[key.replace("-", "_")] = value
    return out


def shipped_agents() -> list[str]:
    """Names of the agents shipped with the package."""
    return sorted(p.name for p in SHIPPED_AGENTS.glob("*") if (p / "agent.json").is_file())


def resolve_agent_folder(name_or_path: str) -> Path:
    """A saved agent folder, or the folder of an agent shipped with the package."""
    path = Path(name_or_path)
    if (path / "agent.json").is_file():
        return path
    if (SHIPPED_AGENTS / name_or_path / "agent.json").is_file():
        return SHIPPED_AGENTS / name_or_path
    raise UserFileNotFoundError(
        f"no saved agent at {name_or_path!r}: give a folder written by "
        f"`neuralpaint agent train` or a shipped agent {shipped_agents()}"
    )


def default_out(spec: str) -> Path:
    """``runs/agent-ppo-regression`` for ``ppo@regression``."""
    return Path("runs") / ("agent-" + re.sub(r"[^A-Za-z0-9_.-]+", "-", spec).strip("-"))


def prepare_agent(args: argparse.Namespace, out: Path) -> Agent:
    """The agent to train: resumed from ``out`` or new, never silently replacing one.

    Raises:
        UserFileExistsError: when ``out`` holds a saved agent and neither ``--resume``
            nor ``--overwrite`` was given.
        UserFileNotFoundError: for ``--resume`` with nothing saved in ``out``.
        UserValueError: for ``--resume`` with another agent or with constructor
            arguments; for an agent, env, painter or argument that does not resolve.
    """
    saved = (out / "agent.json").is_file()
    if args.resume:
        if not saved:
            raise UserFileNotFoundError(f"--resume: there is no saved agent in {out} to resume")
        if args.agent_arg or args.precondition or args.brush:
            raise UserValueError(
                "--resume continues the saved agent as it is (its brush too); drop "
                "--agent-arg, --precondition and --brush"
            )
        with user_errors():  # a corrupt or incomplete saved agent
            agent = Agent.load(out)
            name = parse_agent_spec(args.name)[0]
        if name != agent.name:
            raise UserValueError(f"{out} holds a {agent.name!r} agent, not {name!r}")
        print(f"resuming {agent.name} from {out} ({agent.trained_steps} steps so far)")
        return agent
    if saved and not args.overwrite:
        raise UserFileExistsError(
            f"{out} already holds a saved agent; pass --resume to continue it, --overwrite "
            "to replace it, or choose another --out"
        )
    (out / PROGRESS_FILE).unlink(missing_ok=True)
    kwargs = parse_agent_args(args.agent_arg)
    with user_errors():  # an unknown agent, env id, painter or argument; a missing dataset
        agent = make_agent(args.name, args.env, args.seed, kwargs, args.device, args.brush)
    if args.precondition:
        from dataclasses import fields

        from neuralpaint.agents.preconditioning import PreconditioningSchedule, precondition

        schedule_args = parse_agent_args(args.precondition_arg)
        known = [f.name for f in fields(PreconditioningSchedule)]
        if unknown := sorted(set(schedule_args) - set(known)):
            raise UserValueError(
                f"--precondition-arg: no field {', '.join(map(repr, unknown))}; "
                f"the fields are {', '.join(known)}"
            )
        with user_errors():  # a task whose episodes do not fit the human strokes
            precondition(
                agent, agent.task.labels("train"), PreconditioningSchedule(**schedule_args)
            )
    return agent


def make_run_folder(out: Path) -> list[Path]:
    """Make ``out`` (and its parents); return the folders this made, deepest first."""
    made = [p for p in (out, *out.parents) if not p.exists()]
    out.mkdir(parents=True, exist_ok=True)
    return made


def remove_if_empty(made: list[Path]) -> None:
    """Remove the folders :func:`make_run_folder` made that are still empty."""
    for path in made:
        try:
            path.rmdir()  # only succeeds while empty
        except OSError:
            return


def cmd_train_agent(args: argparse.Namespace) -> int:
    if args.painter is not None:  # the deprecated flag, spelled the one way now
        if "@" in args.name:
            raise UserValueError("give the painter once: NAME@PAINTER, without --painter")
        print(f"note: --painter is deprecated; use {args.name}@{args.painter}", file=sys.stderr)
        args.name = f"{args.name}@{args.painter}"
    budget = parse_budget(args.budget)
    set_threads(args.threads)
    out = Path(args.out) if args.out else default_out(args.name)
    made = make_run_folder(out)  # fails now, not after training
    try:
        return train_into(args, out, budget)
    except BaseException:
        remove_if_empty(made)  # a run that failed before writing anything leaves nothing
        raise


def train_into(args: argparse.Namespace, out: Path, budget: Budget) -> int:
    """``agent train`` once its run folder ``out`` exists."""
    agent = prepare_agent(args, out)
    # A resumed run's log continues the clock and the step count of the saved agent.
    start_seconds, start_steps = agent.trained_seconds, agent.trained_steps
    bar = progress_bar(total=100, desc=f"train {agent.name}", unit="%")
    state = {"last_save": 0.0}
    log_path = out / PROGRESS_FILE

    def on_progress(progress: Progress) -> None:
        bar.set_postfix(
            steps=start_steps + progress.steps,
            **{k: f"{v:.4g}" for k, v in progress.metrics.items()},
            refresh=False,
        )
        bar.update(
            min(100, int(100 * budget.fraction(progress.elapsed_seconds, progress.steps))) - bar.n
        )
        new = not log_path.exists()
        with open(log_path, "a") as fh:
            if new:
                fh.write("seconds,steps,metric,value\n")
            seconds, steps = start_seconds + progress.elapsed_seconds, start_steps + progress.steps
            for k, v in progress.metrics.items():
                fh.write(f"{seconds:.1f},{steps},{k},{v}\n")
        if progress.elapsed_seconds - state["last_save"] >= args.checkpoint_seconds:
            state["last_save"] = progress.elapsed_seconds
            agent.save(out)

    agent.train(budget, on_progress)
    bar.update(100 - bar.n)  # train() returns when the budget is spent (or has nothing to learn)
    bar.close()
    agent.save(out)
    print(
        f"saved {agent.name} (trained on {agent.trains_on or 'nothing'}) to {out} "
        f"({agent.trained_steps} steps, {agent.trained_seconds:.0f} s)"
    )
    return 0


def load_target(path: str | Path, size: int) -> np.ndarray:
    """An image file as a ``(size, size, 3)`` float target (centre-cropped, resized).

    Raises:
        UserValueError: when the file cannot be read as an image.
    """
    try:
        image = Image.open(path).convert("RGB")
    except (OSError, ValueError) as exc:
        raise UserValueError(f"cannot read target image {path}: {exc}") from exc
    side = min(image.size)
    left, top = (image.width - side) // 2, (image.height - side) // 2
    image = image.crop((left, top, left + side, top + side)).resize((size, size), Image.LANCZOS)
    return np.asarray(image, dtype=np.float32) / 255.0


def stroke_frames(
    actions: np.ndarray, size: int, seed: int, brush: str | None = None
) -> list[np.ndarray]:
    """MyPaint's canvas after each stroke of one painting, in order."""
    from neuralpaint.painters.mypaint import DEFAULT_BRUSH, MyPaintCanvas

    canvas, frames = MyPaintCanvas(size, brush or DEFAULT_BRUSH, seed=seed), []
    for action in actions:
        canvas.paint(action)
        frames.append(canvas.image())
    return frames


def paint_outputs(agent: Agent, targets: np.ndarray, out: Path, seed: int, stem: str) -> dict:
    """Paint targets; write side-by-side PNG (target | neural | MyPaint) and GIFs. A
    task without a painter (a brush with no twin) leaves the neural column out."""
    from neuralpaint.agents.evaluation import evaluate_on_mypaint

    result = evaluate_on_mypaint(agent, targets, seed=seed)
    rows = []
    for i, target in enumerate(targets):
        neural = [] if result.neural_images is None else [result.neural_images[i]]
        rows += [target, *neural, result.mypaint_images[i]]
        frames = stroke_frames(result.actions[i], agent.task.size, (seed, i), agent.task.brush)
        save_gif(frames, out / f"{stem}{i}_strokes.gif")
    per_target = 2 if result.neural_images is None else 3
    columns = per_target * min(len(targets), 5)  # up to five triples (or pairs) a row
    save_png(tile(rows, columns=columns), out / f"{stem}side_by_side.png", scale=3)
    summary = result.summary()
    write_text(out / f"{stem}scores.json", json.dumps(summary, indent=2))
    return summary


def paint_agent(args: argparse.Namespace) -> Agent:
    """The agent ``agent paint`` uses: a saved or shipped agent, or a fresh agent of a
    kind that needs no training (the per-image search agents, ``greedy@mypaint``,
    ``hybrid@regression``...) made from its spec with ``--env`` and ``--agent-arg``."""
    with user_errors():  # a corrupt or incomplete saved agent, an unknown spec
        try:
            folder = resolve_agent_folder(args.agent)
        except FileNotFoundError:
            from neuralpaint.agents.search import PerImageSearch
            from neuralpaint.agents.stroke_optimizer import StrokeOptimizer

            name = parse_agent_spec(args.agent)[0]
            try:
                cls = get_agent_class(name)
            except ValueError:
                raise UserFileNotFoundError(
                    f"--agent {args.agent!r} is neither a saved agent folder, a shipped "
                    f"agent {shipped_agents()}, nor an agent that needs no training "
                    "(greedy@mypaint, cem@mypaint, hybrid@PAINTER, stroke-optimizer@PAINTER)"
                ) from None
            if not issubclass(cls, (PerImageSearch, StrokeOptimizer)):
                raise UserValueError(
                    f"agent {name!r} learns before it paints: train it first with "
                    f"`neuralpaint agent train {args.agent}` and paint with its folder"
                ) from None
            return make_agent(
                args.agent, args.env, args.seed, parse_agent_args(args.agent_arg), brush=args.brush
            )
        if args.agent_arg:
            raise UserValueError("--agent-arg makes a fresh agent; a saved agent keeps its own")
        agent = Agent.load(folder)
    if args.brush is not None and args.brush != agent.task.brush:
        raise UserValueError(
            f"--brush makes a fresh agent; the saved agent {args.agent!r} paints with its own "
            f"brush, {agent.task.brush!r} (train one with `neuralpaint agent train ... --brush "
            f"{args.brush}`)"
        )
    return agent


def cmd_paint(args: argparse.Namespace) -> int:
    agent = paint_agent(args)
    target = load_target(args.target, agent.task.size)
    out = Path(args.out)
    summary = paint_outputs(agent, target[None], out, args.seed, stem="")
    if "neural_l2" in summary:
        columns, neural = "target | neural | MyPaint", f", neural {summary['neural_l2']:.4f}"
    else:  # a brush without a twin: no painter to compare with
        columns, neural = "target | MyPaint", ""
    print(
        f"wrote {out}/side_by_side.png ({columns}) and {out}/0_strokes.gif; "
        f"L2 per pixel: MyPaint {summary['mypaint_l2']:.4f}{neural}"
    )
    return 0


def add_brush_flag(parser: argparse.ArgumentParser) -> None:
    """``--brush``: the MyPaint brush of a fresh agent's task."""
    parser.add_argument(
        "--brush",
        default=None,
        help="MyPaint brush to paint with (normal blending only; default classic/dry_brush). "
        "Agents that learn through a painter need the brush's shipped twin; greedy, cem and "
        "RL on mypaint take any such brush. Same as --agent-arg brush=B for search agents",
    )


def add_train_arguments(tr: argparse.ArgumentParser) -> None:
    """The flags of ``agent train``."""
    tr.add_argument(
        "name",
        metavar="NAME[@PAINTER]",
        help="agent (random, stroke-optimizer, amortized, fixed-sequence, ppo, sac, ddpg, "
        "ddpg-free, a plug-in or module:Class) "
        "and what it trains through: a neural painter name or folder, or 'mypaint' for RL "
        f"agents. Default: {DEFAULT_PAINTER} for gradient agents, mypaint for RL",
    )
    tr.add_argument(
        "--env", default="NeuralPaint-MNIST-v0", help="environment id (default %(default)s)"
    )
    tr.add_argument(
        "--budget",
        default="10m",
        help="e.g. 90s, 10m, 5000steps, 10m,5000steps (default %(default)s)",
    )
    tr.add_argument("--seed", type=int, default=0, help="(default 0)")
    tr.add_argument(
        "--out", type=folder, default=None, help="folder (default runs/agent-NAME-PAINTER)"
    )
    again = tr.add_mutually_exclusive_group()
    again.add_argument("--resume", action="store_true", help="continue the agent saved in --out")
    again.add_argument("--overwrite", action="store_true", help="replace an agent saved in --out")
    tr.add_argument(
        "--checkpoint-seconds",
        type=positive_float,
        default=60.0,
        help="save every this many seconds (default 60)",
    )
    add_compute_flags(tr)
    tr.add_argument(
        "--agent-arg", action="append", default=[], help="constructor argument key=value"
    )
    add_brush_flag(tr)
    tr.add_argument("--precondition", action="store_true", help="human stroke order (MNIST)")
    tr.add_argument(
        "--precondition-arg", action="append", default=[], help="schedule field key=value"
    )
    tr.add_argument("--painter", default=None, help=argparse.SUPPRESS)  # deprecated: NAME@PAINTER
    tr.set_defaults(func=cmd_train_agent)


def add_paint_arguments(paint: argparse.ArgumentParser) -> None:
    """The flags of ``agent paint``."""
    paint.add_argument(
        "--agent",
        required=True,
        help="saved agent folder or shipped name, or an agent that needs no training: "
        "greedy@mypaint, cem@mypaint, hybrid@PAINTER, stroke-optimizer@PAINTER",
    )
    paint.add_argument(
        "--env",
        default="NeuralPaint-MNIST-v0",
        help="the task of an agent made from its spec (default %(default)s)",
    )
    paint.add_argument(
        "--agent-arg",
        action="append",
        default=[],
        help="constructor argument key=value of an agent made from its spec, e.g. seconds=5",
    )
    add_brush_flag(paint)
    paint.add_argument("--target", required=True, help="image file")
    paint.add_argument(
        "--out", type=folder, default="results/paint", help="output folder (default %(default)s)"
    )
    paint.add_argument("--seed", type=int, default=0, help="MyPaint texture seed")
    paint.set_defaults(func=cmd_paint)


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register ``agent train`` and ``agent paint`` on the ``neuralpaint`` parser."""
    agent = sub.add_parser("agent", help="agents: train one, paint an image with one")
    agent_sub = agent.add_subparsers(dest="agent_command", required=True, metavar="COMMAND")
    add_train_arguments(
        agent_sub.add_parser(
            "train",
            help="train an agent (any registered name) within a budget",
            description="Train an agent and save it in --out, with a progress log "
            "(progress.csv) and periodic checkpoints.",
        )
    )
    add_paint_arguments(agent_sub.add_parser("paint", help="paint an image with a trained agent"))
