"""The shipped painters as a table, generated from their own ``config.json`` files.

Each shipped painter records how it was trained (the full training config, steps,
seconds, steps/s, the load average at start and end, held-out metrics). This module
turns those records into the table of ``neuralpaint/painters/weights/README.md``, so
the table cannot drift from the weights.
"""

from __future__ import annotations

import json

from neuralpaint.painters.mypaint import DEFAULT_BRUSH
from neuralpaint.painters.neural import WEIGHTS_DIR, shipped_painters

METRICS = ("r2", "ink_iou", "texture_ratio", "spectral_db")


def train_command(config: dict) -> str:
    """The ``neuralpaint painter train`` command line that reproduces a run's config."""
    parts = ["neuralpaint painter train", f"--kind {config['kind']}"]
    if config.get("discrete"):
        parts.append("--discrete")
    if config.get("brush", DEFAULT_BRUSH) != DEFAULT_BRUSH:
        parts.append(f"--brush {config['brush']}")
    if config.get("renders", 1) != 1:
        parts.append(f"--renders {config['renders']}")
    parts += [f"--minutes {config['minutes']:g}", f"--threads {config['threads']}"]
    parts.append(f"--lr {config['lr']:g}")
    if config.get("batch_size", 64) != 64:
        parts.append(f"--batch-size {config['batch_size']}")
    if config["kind"] == "gan":
        parts.append(f"--init-from {config['init_from']}")
    if config.get("warm_start"):
        parts.append(f"--warm-start {config['warm_start']}")
    if config.get("ink_loss"):
        parts.append(f"--ink-loss {config['ink_loss']:g}")
    if config.get("ema"):
        parts.append(f"--ema {config['ema']:g}")
    if config.get("distill_from"):
        parts.append(f"--distill-from {config['distill_from']}")
        parts.append(f"--distill-weight {config.get('distill_weight', 0.5):g}")
    if config.get("arch"):
        parts.append(f"--arch '{json.dumps(config['arch'])}'")
    parts.append(f"--out {config['out']}")
    if config.get("select_by"):
        parts.append(f"--select-by {config['select_by']}")
    if config.get("resume"):
        parts.append("--resume")
    return " ".join(parts)


def calibrate_command(config: dict) -> str:
    """The ``neuralpaint painter calibrate`` command a calibrated painter records."""
    return config["calibration"]["command"]


def _lineage(name: str, earlier: dict) -> list[str]:
    """One line per warm start in a painter's ancestry, newest first, so every run that
    shaped its weights is on record with its own command."""
    lines, subject = [], f"`{name}`"
    while earlier:
        lines.append(
            f"- {subject} started from the painter of `{train_command(earlier['config'])}`"
            f" ({earlier['seconds'] / 60:.0f} min, {earlier['steps']:,} steps,"
            f" {_number(earlier.get('steps_per_second'), '.2f')} steps/s, held-out r2"
            f" {earlier['held_out_metrics']['r2']:.3f}, ink_iou"
            f" {earlier['held_out_metrics']['ink_iou']:.3f})."
        )
        subject, earlier = "which", earlier.get("warm_start_from")
    return lines


def _number(value: float | None, fmt: str) -> str:
    return "not recorded" if value is None else format(value, fmt)


def painter_table() -> str:
    """A Markdown table of every shipped painter: command, budget, speed, contention
    and held-out metrics (on the last shard of its training dataset)."""
    lines = [
        "| painter | command (last run) | minutes | steps | steps/s | load average "
        "(start → end) | " + " | ".join(METRICS) + " |",
        "|" + "---|" * (6 + len(METRICS)),
    ]
    lineage: list[str] = []
    for name in shipped_painters():
        config = json.loads((WEIGHTS_DIR / name / "config.json").read_text())
        trained = config["trained"]
        held_out = trained["held_out_metrics"]
        if calibration := config.get("calibration"):  # what ships is the calibrated output
            held_out = calibration["held_out_after"]
            lineage.append(
                f"- `{name}` is the painter of its command, then calibrated:"
                f" `{calibrate_command(config)}` (held-out r2"
                f" {calibration['held_out_before']['r2']:.3f} →"
                f" {calibration['held_out_after']['r2']:.3f}, ink_iou"
                f" {calibration['held_out_before']['ink_iou']:.3f} →"
                f" {calibration['held_out_after']['ink_iou']:.3f}; "
                + (
                    f"ink threshold moved to logit {calibration['threshold_shift']:+.2f})."
                    if calibration.get("threshold_shift")
                    else "ink masks unchanged)."
                )
            )
        load = (
            f"{trained['load_average_start']:.2f} → {trained['load_average_end']:.2f}"
            if "load_average_start" in trained
            else "not recorded"
        )
        metrics = " | ".join(_number(held_out.get(m), ".3f") for m in METRICS)
        steps = f"{trained['steps']:,}"
        if selected := trained.get("selected"):  # --select-by exported an earlier step
            steps += f" (exported: step {selected['step']:,}, lowest {selected['by']})"
        if earlier := trained.get("warm_start_from"):
            steps += f" after {earlier['steps']:,} in the run it started from"
            lineage += _lineage(name, earlier)
        lines.append(
            f"| `{name}` | `{train_command(trained['config'])}` | {trained['seconds'] / 60:.0f} "
            f"| {steps} | {_number(trained.get('steps_per_second'), '.2f')} "
            f"| {load} | {metrics} |"
        )
    if lineage:
        lines += ["", *lineage]
    return "\n".join(lines) + "\n"
