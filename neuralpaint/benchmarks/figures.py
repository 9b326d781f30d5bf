"""Saving benchmark plots: headless, atomic, one size of text for every figure."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # benchmarks run on machines without a screen
import matplotlib.pyplot as plt  # noqa: E402

from neuralpaint.io import atomic_path  # noqa: E402

DPI = 120


def save_figure(fig: plt.Figure, path: str | Path) -> Path:
    """Write ``fig`` as a PNG atomically, then close it. The PNG's text chunks carry
    the provenance header (command, commit, machine, versions), like the tables."""
    from neuralpaint.benchmarks.provenance import header

    fig.tight_layout()
    metadata = {"Software": "neuralpaint"} | {k.capitalize(): v for k, v in header().items()}
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=DPI, metadata=metadata)
    plt.close(fig)
    return Path(path)
