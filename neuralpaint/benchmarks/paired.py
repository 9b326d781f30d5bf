"""Twins compared digit by digit: paired differences between ``bench brushes`` runs.

``neuralpaint bench brushes`` plans the same held-out digits from the same starting
strokes through whichever twin it is given, and writes each digit's MyPaint L2 to
``transfer_digits.csv``. One run's mean is a poor guide to which twin plans better:
planning is chaotic, and a change in the twelfth digit of a gradient gave every digit
another plan, moving a brush's mean by up to 0.0009 (TWINS.md step 56). What holds is
the paired difference over the digits both runs planned: its mean, the 95% t-interval
of that mean, and the share of digits the second run painted closer. This suite reads
runs already made; it paints nothing.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pandas as pd

from neuralpaint.benchmarks import provenance
from neuralpaint.benchmarks.aggregate import mean_ci
from neuralpaint.benchmarks.figures import plt, save_figure
from neuralpaint.errors import UserValueError
from neuralpaint.io import write_text

DIGITS_FILE = "transfer_digits.csv"
"""What ``bench brushes`` writes per digit, and this suite reads."""
LABEL_WIDTH = 115
"""Characters per line of a row's name in the plot, which fits the figure's width."""
KEYS = ["brush", "test index"]
"""A digit of one brush: both runs must have planned it."""


def read_digits(run: str | Path) -> pd.DataFrame:
    """A ``bench brushes`` run's per-digit rows, from its folder or its CSV.

    Raises:
        UserValueError: when the file is missing or lacks the columns, saying how to
            make it.
    """
    path = Path(run)
    path = path / DIGITS_FILE if path.is_dir() else path
    if not path.is_file():
        raise UserValueError(
            f"--runs: no {DIGITS_FILE} at {path}; give folders written by `neuralpaint bench"
            " brushes` (e.g. results/defaults/brushes)"
        )
    try:
        table = pd.read_csv(path, comment="#")
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise UserValueError(f"--runs: {path} is not a readable CSV ({exc})") from exc
    missing = {*KEYS, "twin", "MyPaint L2"} - set(table.columns)
    if missing:
        raise UserValueError(f"--runs: {path} lacks the columns {sorted(missing)}")
    if table.duplicated(KEYS).any():
        raise UserValueError(
            f"--runs: {path} holds a digit of a brush twice; a bench brushes run plans each"
            " digit once"
        )
    return table


def paired_table(runs: list[str | Path]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Each run after the first against the first, on each brush both planned (the
    same digits, as the same preset plans them); a brush only one run planned is left
    out.

    Returns:
        One row per (run, brush) with both twins, both mean MyPaint L2s, the mean
        difference (second minus first) with its 95% t-interval half-width (NaN for a
        single digit), and the share of digits the second run painted closer; and the
        per-digit differences.

    Raises:
        UserValueError: for fewer than two runs, a run that shares no brush with the
            first, or a brush the two planned on different digits (another preset).
    """
    if len(runs) < 2:
        raise UserValueError(
            "--runs takes at least two bench brushes runs: a baseline, then others"
        )
    base = read_digits(runs[0])
    base_brushes = set(base["brush"])
    rows, digits = [], []
    for run in runs[1:]:
        other = read_digits(run)
        shared = [b for b in other["brush"].unique() if b in base_brushes]
        if not shared:
            raise UserValueError(
                f"--runs: {run} shares no brush with {runs[0]}: pair runs of the same"
                " `bench brushes` preset and brush"
            )
        for brush in shared:
            planned = [set(t.loc[t["brush"] == brush, "test index"]) for t in (base, other)]
            if planned[0] != planned[1]:
                raise UserValueError(
                    f"--runs: {run} and {runs[0]} planned different digits of {brush}"
                    f" ({len(planned[1])} and {len(planned[0])} digits): pair runs of the same"
                    " `bench brushes` preset"
                )
        both = base.merge(other, on=KEYS, suffixes=(" (base)", ""), validate="one_to_one")
        for brush, group in both.groupby("brush", sort=False):
            diff = (group["MyPaint L2"] - group["MyPaint L2 (base)"]).to_numpy()
            mean, half = mean_ci(diff) if len(diff) > 1 else (float(diff.mean()), np.nan)
            rows.append(
                {
                    "brush": brush,
                    "base twin": group["twin (base)"].iloc[0],
                    "twin": group["twin"].iloc[0],
                    "base run": str(runs[0]),
                    "run": str(run),
                    "digits": len(group),
                    "base MyPaint L2": group["MyPaint L2 (base)"].mean(),
                    "MyPaint L2": group["MyPaint L2"].mean(),
                    "difference": mean,
                    "± difference": half,
                    "share closer": float(np.mean(diff < 0)),
                }
            )
            digits.append(
                pd.DataFrame(
                    {"brush": brush, "run": str(run), "test index": group["test index"]}
                ).assign(difference=diff)
            )
    return pd.DataFrame(rows), pd.concat(digits, ignore_index=True)


def _short(run: str) -> str:
    """A run's folder without the parts every run shares."""
    path = Path(run)
    if path.is_absolute() and path.is_relative_to(Path.cwd()):
        path = path.relative_to(Path.cwd())
    parts = [p for p in path.parts if p not in ("/", "results", "brushes", DIGITS_FILE)]
    return "/".join(parts) or run


def plot_differences(table: pd.DataFrame, digits: pd.DataFrame, path: Path) -> None:
    """Each comparison's per-digit differences as dots, its mean and 95% interval as a
    bar, named above its row: a row per (run, brush), zero marked."""
    fig, ax = plt.subplots(figsize=(8, 0.8 + 1.0 * len(table)))
    rng = np.random.default_rng(0)
    for y, (_, row) in enumerate(table.iterrows()):
        found = digits[(digits["run"] == row["run"]) & (digits["brush"] == row["brush"])]
        jitter = rng.uniform(-0.15, 0.15, len(found))
        ax.scatter(found["difference"], y + jitter, s=8, alpha=0.4, color="tab:blue")
        ax.errorbar(
            row["difference"], y, xerr=row["± difference"], fmt="o", color="black", capsize=4
        )
        label = (
            f"{row['brush']}: {row['twin']} ({_short(row['run'])}) against"
            f" {row['base twin']} ({_short(row['base run'])})"
        )
        text = ax.text(
            0.01,
            y - 0.22,
            textwrap.fill(label, LABEL_WIDTH),
            transform=ax.get_yaxis_transform(),
            fontsize=7,
            va="bottom",
        )
        text.set_in_layout(False)  # a long name must not squeeze the axes
    ax.axvline(0.0, color="grey", lw=1)
    ax.set_yticks([])
    ax.set_ylim(len(table) - 0.5, -0.75)
    ax.set_xlabel("MyPaint L2 per digit, run minus baseline (below 0: the run painted closer)")
    fig.tight_layout()
    save_figure(fig, path)


def run_paired(runs: list[str | Path], out_dir: str | Path) -> pd.DataFrame:
    """Write ``paired.csv``, ``paired.md``, ``paired_digits.csv`` and ``paired.png`` for
    ``runs`` (``bench brushes`` folders, the first the baseline); returns the table."""
    table, digits = paired_table(runs)
    out = Path(out_dir)
    command = "neuralpaint bench paired --runs " + ",".join(str(r) for r in runs)
    header = provenance.csv_header(command)
    write_text(out / "paired.csv", header + table.to_csv(index=False))
    write_text(out / "paired_digits.csv", header + digits.to_csv(index=False))
    plot_differences(table, digits, out / "paired.png")
    shown = table.drop(columns=["base run", "run"])
    write_text(
        out / "paired.md",
        "# Twins compared digit by digit\n\n"
        + provenance.markdown_header(command)
        + "\n"
        + shown.to_markdown(index=False, floatfmt=".4f")
        + "\n\n*difference*: the run's MyPaint L2 minus the baseline's, on each digit both"
        " planned, averaged; *±*: half-width of its 95% t-interval over the digits; *share"
        " closer*: the digits the run painted closer to the target. Runs:"
        + "".join(f"\n- `{r}`" for r in runs)
        + "\n\n![Per-digit differences](paired.png)\n",
    )
    return table
