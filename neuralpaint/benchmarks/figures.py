"""Saving benchmark plots: headless, atomic, one size of text for every figure."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # benchmarks run on machines without a screen
import matplotlib.pyplot as plt  # noqa: E402

from neuralpaint.io import atomic_path  # noqa: E402

DPI = 120


def save_figure(fig: plt.Figure, path: str | Path) -> Path:
    """Write ``fig`` as a PNG atomically, then close it."""
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=DPI)
    plt.close(fig)
    return Path(path)
