"""The paper's claims, checked against the committed results.

``neuralpaint bench report`` writes ``results/claims.md`` from the suites' CSV files,
so each verdict and number in it comes from a results file, never from a hand:

1. Learning through a neural painter converges faster than RL (convergence), stated per
   RL family (model-free; model-based DDPG through the painter).
2. The GAN painter is sharper than the VAE painter (transfer: texture ratio, SSIM).
3. Discrete actions are harmful to gradient training (discrete: lift flicker, size
   rounding, stuck training).
4. Which remedy helps (discrete: remedies).

A claim whose results file is missing is reported as not measured.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pandas as pd

from neuralpaint.benchmarks import convergence, remedies
from neuralpaint.benchmarks.provenance import read_csv_header
from neuralpaint.io import write_text


def _read(path: Path) -> pd.DataFrame | None:
    return pd.read_csv(path, comment="#") if path.is_file() else None


def convergence_claim(results: Path) -> str:
    path = results / "convergence" / "convergence.csv"
    raw = _read(path)
    if raw is None:
        return "not measured (run `neuralpaint bench convergence`)."
    command = read_csv_header(path).get("command", "")
    preset = re.search(r"--preset (\w+)", command)
    config = convergence.PRESETS[preset.group(1) if preset else "quick"]
    seconds = re.search(r"--seconds ([0-9.]+)", command)
    if seconds:  # the budget that censors never-reached seeds
        config = replace(config, seconds=float(seconds.group(1)), agent_seconds={})
    lines = []
    for env, a in convergence.analyse(raw, config).items():
        table = a["table"]
        rows = table.set_index("agent")
        line = f"- {env}: {a['headline']}"
        grad = (
            rows.loc[convergence.GRADIENT_AGENT]
            if convergence.GRADIENT_AGENT in rows.index
            else None
        )
        rl = rows[[convergence.is_rl_agent(agent) for agent in rows.index]]
        refs = "; ".join(f"{name} {l2:.4f}" for name, l2 in a["references"].items())
        if grad is not None and len(rl):
            best = rl["final MyPaint L2"].idxmin()
            lines.append(
                line + f" Final MyPaint L2: {grad['final MyPaint L2']:.4f} "
                f"± {grad['± 95% CI']:.4f} against {best}'s "
                f"{rl.loc[best, 'final MyPaint L2']:.4f} ± {rl.loc[best, '± 95% CI']:.4f}; "
                f"without the target: {refs}."
            )
        else:
            lines.append(line)
    return "\n".join(lines)


def sharpness_claim(results: Path) -> str:
    table = _read(results / "transfer" / "painter_fidelity.csv")
    if table is None or not {"gan", "vae"} <= set(table["painter"]):
        return "not measured (run `neuralpaint bench transfer` with the gan and vae painters)."
    rows = table[table["variant"] == "continuous"].set_index("painter")
    gan, vae = rows.loc["gan"], rows.loc["vae"]
    holds = gan["texture_ratio"] > vae["texture_ratio"] and gan["ssim"] > vae["ssim"]
    text = (
        f"**{'holds' if holds else 'does not hold'}**: texture ratio (MyPaint = 1) GAN "
        f"{gan['texture_ratio']:.3f} vs VAE {vae['texture_ratio']:.3f}; SSIM "
        f"{gan['ssim']:.3f} vs {vae['ssim']:.3f}; ink IoU {gan['ink_iou']:.3f} vs "
        f"{vae['ink_iou']:.3f}"
    )
    if "spectral_db" in rows.columns and "mypaint (one other render)" in rows.index:
        other = rows.loc["mypaint (one other render)"]
        text += (
            f"; spectral distance to MyPaint GAN {gan['spectral_db']:.2f} dB vs VAE "
            f"{vae['spectral_db']:.2f} dB (another MyPaint render: {other['spectral_db']:.2f})"
        )
    if "trained_minutes" in rows.columns:  # recorded with the measurement itself
        text += (
            f". Training budgets: GAN {gan['trained_minutes']:.0f} min, VAE "
            f"{vae['trained_minutes']:.0f} min"
        )
    return text + "."


def discrete_claim(results: Path) -> str:
    raw = _read(results / "discrete" / "discrete.csv")
    runs = _read(results / "discrete" / "remedies.csv")
    if raw is None:
        return "not measured (run `neuralpaint bench discrete`)."
    lift = raw[raw["test"] == "lift"].groupby("setting")[["painter_ink", "mypaint_ink"]].mean()
    zero, full = lift.iloc[0]["painter_ink"], lift.loc[lift.index < 0.5, "mypaint_ink"].mean()
    below = lift[(lift.index > 0) & (lift.index < 0.5)]["painter_ink"].mean()
    above = lift[(lift.index >= 0.5) & (lift.index < 1.0)]["painter_ink"].mean()
    size = raw[raw["test"] == "size"].groupby("setting")["transfer_gap"].mean()
    text = (
        f"- Lift flicker: MyPaint paints {full:.0f} px of ink per stroke below lift 0.5 and "
        f"none from 0.5; the painter paints {zero:.0f} px at lift 0, {below:.0f} px on "
        f"average strictly between 0 and 0.5 and {above:.0f} px between 0.5 and 1: it fades "
        "where the program switches, so gradients see ink the program never paints.\n"
        f"- Size rounding: transfer gap {size.iloc[0]:.4f} at a level, {size.iloc[-1]:.4f} "
        f"at {size.index[-1]:g} of the way to the next ({size.iloc[-1] / size.iloc[0]:.2f}×)."
    )
    if runs is not None:
        table = remedies.summarize(runs).set_index("remedy")
        if "none" in table.index:
            none = table.loc["none"]
            blank = (
                f" (a blank canvas scores {runs['blank_l2'].dropna().iloc[0]:.4f})"
                if "blank_l2" in runs and runs["blank_l2"].notna().any()
                else ""
            )
            text += (
                f"\n- Gradient training through the discrete painter without a remedy: "
                f"{none['stuck seeds']} seeds stuck with (almost) no stroke down; visible "
                f"strokes {none['visible strokes']:.2f}; MyPaint L2 {none['MyPaint L2']:.4f}"
                f"{blank}; plan gap {none['plan gap (MSE)']:.4f} (the painter's canvas the "
                "agent optimised against MyPaint's painting of the same, rounded strokes)."
            )
    return text


def remedy_claim(results: Path) -> str:
    runs = _read(results / "discrete" / "remedies.csv")
    if runs is None:
        return "not measured (run `neuralpaint bench discrete`)."
    table = remedies.summarize(runs)
    lines = [
        f"- {r['remedy']}: stuck {r['stuck seeds']}, visible strokes {r['visible strokes']:.2f}, "
        f"MyPaint L2 {r['MyPaint L2']:.4f} ± {r['± L2']:.4f}, plan gap "
        f"{r['plan gap (MSE)']:.4f} ± {r['± gap']:.4f}"
        for _, r in table.iterrows()
    ]
    return "\n".join([*lines, "", remedies.verdict(table)])


LONGER_RUNS = "long"
"""Subfolder of ``results/`` with the same suites run longer (``--seconds``)."""


def _with_longer_runs(claim, results: Path, csv: str) -> str:
    """A claim on the quick results, then on the longer runs when they exist, each
    labelled with the command that produced it."""
    parts = []
    for folder in (results, results / LONGER_RUNS):
        path = folder / csv
        if path.is_file():
            command = read_csv_header(path).get("command", "?")
            parts.append(f"From `{command}`:\n\n{claim(folder)}")
    return "\n\n".join(parts) or claim(results)


def write_claims(results: str | Path = "results") -> Path:
    """Write ``RESULTS/claims.md`` from the suites' CSV files (and those of the longer
    runs in ``results/long/``, when present)."""
    results = Path(results)
    convergence_text = _with_longer_runs(convergence_claim, results, "convergence/convergence.csv")
    discrete_text = _with_longer_runs(discrete_claim, results, "discrete/remedies.csv")
    remedy_text = _with_longer_runs(remedy_claim, results, "discrete/remedies.csv")
    md = (
        "# The paper's claims, checked\n\n"
        "Generated by `neuralpaint bench report` from the CSV files in "
        f"`{results.as_posix()}/`; the commits and machine are in each suite's header.\n\n"
        f"## 1. Faster convergence through the painter\n\n{convergence_text}\n\n"
        f"## 2. The GAN painter is sharper than the VAE painter\n\n{sharpness_claim(results)}\n\n"
        f"## 3. Discrete actions are harmful\n\n{discrete_text}\n\n"
        f"## 4. Which remedy helps\n\n{remedy_text}\n"
    )
    path = results / "claims.md"
    write_text(path, md)
    return path
