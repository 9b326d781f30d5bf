"""Benchmark suites, their tables and plots, and the pages generated from them.

Each suite is a module with ``run(preset, out_dir, ...)`` that writes CSV, Markdown and
PNG files under ``results/SUITE/``; ``neuralpaint bench SUITE`` runs one. The claims page
and the generated blocks of the README and ``docs/`` come from those files only
(``write_claims``, ``refresh_includes``). Names load on first use.
"""

from __future__ import annotations

from neuralpaint._lazy import lazy_exports

SUITES = (
    "throughput",
    "transfer",
    "agents",
    "discrete",
    "convergence",
    "frontier",
    "pictures",
    "twins",
    "brushes",
    "paired",
    "adversarial",
    "sweep",
    "parameterization",
)
"""Every suite ``neuralpaint bench`` runs: each has a runner in ``neuralpaint.cli``'s
``SUITE_RUNNERS`` but ``parameterization``, which has its own command."""
ALL_SUITES = ("throughput", "transfer", "discrete", "convergence")
"""What ``bench all`` runs, in order."""

_EXPORTS = {
    "write_claims": "claims",
    "refresh_includes": "report",
    "markdown_header": "provenance",
    "mean_ci": "aggregate",
    "time_to_threshold": "aggregate",
}
__all__ = ["ALL_SUITES", "SUITES", *_EXPORTS]
__getattr__ = lazy_exports(__name__, _EXPORTS)
