"""The ``train-agent`` and ``paint`` commands.

``neuralpaint train-agent NAME --env ID --budget 10m`` trains any registered agent
with a progress bar, saves it every ``--checkpoint-seconds`` (atomically, file by
file), and continues a saved run with ``--resume``. ``neuralpaint paint --agent A
--target image.png`` writes MyPaint's painting, the neural canvas and an animated GIF
of the strokes in order.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm.auto import tqdm

from neuralpaint.agents.base import Agent, Budget, Progress
from neuralpaint.agents.registry import get_agent_class
from neuralpaint.agents.task import Task
from neuralpaint.io import save_gif, save_png, tile, write_text

SHIPPED_AGENTS = Path(__file__).with_name("weights")


def parse_budget(text: str) -> Budget:
    """``'90s'``, ``'10m'``, ``'1h'`` or ``'5000steps'`` (or ``'10m,5000steps'``)."""
    seconds = steps = None
    for part in text.split(","):
        m = re.fullmatch(r"\s*([\d.]+)\s*(s|m|h|steps?)\s*", part)
        if not m:
            raise ValueError(
                f"budget {text!r} not understood: use e.g. '90s', '10m', '1h', '5000steps'"
            )
        value, unit = float(m.group(1)), m.group(2)
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
            raise ValueError(f"agent argument {pair!r} must look like key=value")
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
    raise FileNotFoundError(
        f"no saved agent at {name_or_path!r}: give a folder written by "
        f"`neuralpaint train-agent` or a shipped agent {shipped_agents()}"
    )


def cmd_train_agent(args: argparse.Namespace) -> int:
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    out = Path(args.out or f"runs/agent-{args.name}")
    budget = parse_budget(args.budget)
    if args.resume and (out / "agent.json").is_file():
        agent = Agent.load(out)
        print(f"resuming {agent.name} from {out} ({agent.trained_steps} steps so far)")
    else:
        task = Task.from_env_id(args.env, painter=args.painter)
        kwargs = parse_agent_args(args.agent_arg)
        if args.device:
            kwargs.setdefault("device", args.device)
        agent = get_agent_class(args.name)(task, seed=args.seed, **kwargs)
        if args.precondition:
            from neuralpaint.agents.preconditioning import PreconditioningSchedule, precondition

            schedule = PreconditioningSchedule(**parse_agent_args(args.precondition_arg))
            precondition(agent, task.labels("train"), schedule)
    bar = tqdm(total=100, desc=f"train {agent.name}", unit="%")
    state = {"last_save": 0.0}
    log_path = out / "progress.csv"

    def on_progress(progress: Progress) -> None:
        bar.n = min(100, int(100 * budget.fraction(progress.elapsed_seconds, progress.steps)))
        bar.set_postfix(
            steps=progress.steps, **{k: f"{v:.4g}" for k, v in progress.metrics.items()}
        )
        out.mkdir(parents=True, exist_ok=True)
        new = not log_path.exists()
        with open(log_path, "a") as fh:
            if new:
                fh.write("seconds,steps,metric,value\n")
            for k, v in progress.metrics.items():
                fh.write(f"{progress.elapsed_seconds:.1f},{progress.steps},{k},{v}\n")
        if progress.elapsed_seconds - state["last_save"] >= args.checkpoint_seconds:
            state["last_save"] = progress.elapsed_seconds
            agent.save(out)

    agent.train(budget, on_progress)
    bar.close()
    agent.save(out)
    print(
        f"saved {agent.name} to {out} ({agent.trained_steps} steps, {agent.trained_seconds:.0f} s)"
    )
    return 0


def load_target(path: str | Path, size: int) -> np.ndarray:
    """An image file as a ``(size, size, 3)`` float target (centre-cropped, resized).

    Raises:
        ValueError: when the file cannot be read as an image.
    """
    try:
        image = Image.open(path).convert("RGB")
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read target image {path}: {exc}") from exc
    side = min(image.size)
    left, top = (image.width - side) // 2, (image.height - side) // 2
    image = image.crop((left, top, left + side, top + side)).resize((size, size), Image.LANCZOS)
    return np.asarray(image, dtype=np.float32) / 255.0


def stroke_frames(actions: np.ndarray, size: int, seed: int) -> list[np.ndarray]:
    """MyPaint's canvas after each stroke of one painting, in order."""
    from neuralpaint.painters.mypaint import MyPaintCanvas

    canvas, frames = MyPaintCanvas(size, seed=seed), []
    for action in actions:
        canvas.paint(action)
        frames.append(canvas.image())
    return frames


def paint_outputs(agent: Agent, targets: np.ndarray, out: Path, seed: int, stem: str) -> dict:
    """Paint targets; write side-by-side PNG (target | neural | MyPaint) and GIFs."""
    from neuralpaint.agents.evaluation import evaluate_on_mypaint

    result = evaluate_on_mypaint(agent, targets, seed=seed)
    rows = []
    for i, target in enumerate(targets):
        rows += [target, result.neural_images[i], result.mypaint_images[i]]
        frames = stroke_frames(result.actions[i], agent.task.size, seed=(seed, i))
        save_gif(frames, out / f"{stem}{i}_strokes.gif")
    columns = 3 * min(len(targets), 5)  # up to five (target, neural, MyPaint) triples a row
    save_png(tile(rows, columns=columns), out / f"{stem}side_by_side.png", scale=3)
    summary = result.summary()
    write_text(out / f"{stem}scores.json", json.dumps(summary, indent=2))
    return summary


def cmd_paint(args: argparse.Namespace) -> int:
    agent = Agent.load(resolve_agent_folder(args.agent))
    target = load_target(args.target, agent.task.size)
    out = Path(args.out)
    summary = paint_outputs(agent, target[None], out, args.seed, stem="")
    print(
        f"wrote {out}/side_by_side.png (target | neural | MyPaint) and {out}/0_strokes.gif; "
        f"L2 per pixel: MyPaint {summary['mypaint_l2']:.4f}, neural {summary['neural_l2']:.4f}"
    )
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register ``train-agent`` and ``paint`` on the ``neuralpaint`` parser."""
    tr = sub.add_parser("train-agent", help="train an agent (any registered name)")
    tr.add_argument(
        "name",
        help="agent name (random, stroke-optimizer, amortized, ppo, sac, plug-ins) or module:Class",
    )
    tr.add_argument("--env", default="NeuralPaint-MNIST-v0", help="environment id")
    tr.add_argument("--budget", default="10m", help="e.g. 90s, 10m, 5000steps, 10m,5000steps")
    tr.add_argument("--painter", default="regression", help="neural painter for gradient agents")
    tr.add_argument("--seed", type=int, default=0)
    tr.add_argument("--device", default=None, help="cpu, cuda or auto")
    tr.add_argument("--out", default=None, help="folder (default runs/agent-NAME)")
    tr.add_argument("--resume", action="store_true", help="continue the agent saved in --out")
    tr.add_argument("--checkpoint-seconds", type=float, default=60.0)
    tr.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    tr.add_argument(
        "--agent-arg", action="append", default=[], help="constructor argument key=value"
    )
    tr.add_argument("--precondition", action="store_true", help="human stroke order (MNIST)")
    tr.add_argument(
        "--precondition-arg", action="append", default=[], help="schedule field key=value"
    )
    tr.set_defaults(func=cmd_train_agent)

    paint = sub.add_parser("paint", help="paint an image with a trained agent")
    paint.add_argument("--agent", required=True, help="saved agent folder or shipped name")
    paint.add_argument("--target", required=True, help="image file")
    paint.add_argument("--out", default="results/paint", help="output folder")
    paint.add_argument("--seed", type=int, default=0, help="MyPaint texture seed")
    paint.set_defaults(func=cmd_paint)
