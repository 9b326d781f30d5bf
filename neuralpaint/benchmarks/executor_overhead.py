"""What Ray costs on one machine: the local and Ray executors side by side, in one run.

    python -m neuralpaint.benchmarks.executor_overhead [--strokes 40000] [--out results/executors]

Runs two workloads twice each, local first and then on a Ray started here with every
core, in fresh temporary caches so that nothing is skipped: the ``tiny`` convergence
preset, and a stroke dataset of ``--strokes`` strokes (local: each shard rendered by a
pool of all cores; Ray: one single-CPU task per shard). Ray's start-up is timed on its
own row. The two datasets are compared shard by shard, and must be bit-identical.
Writes ``overhead.csv`` and ``overhead.md`` with the provenance header. Run it on an
idle machine: the numbers are wall-clock.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from neuralpaint import executors
from neuralpaint.benchmarks import convergence, provenance
from neuralpaint.executors import Executor, LocalExecutor, RayExecutor
from neuralpaint.io import write_text
from neuralpaint.painters.dataset import StrokeDatasetSpec, generate, shard_path


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def identical(a: Path, b: Path, shards: int) -> bool:
    for i in range(shards):
        with np.load(shard_path(a, i)) as x, np.load(shard_path(b, i)) as y:
            if any(x[k].tobytes() != y[k].tobytes() for k in ("actions", "masks")):
                return False
    return True


def measure(strokes: int, scratch: Path) -> tuple[pd.DataFrame, bool]:
    """Rows of (workload, executor, seconds); and whether the datasets match."""
    spec = StrokeDatasetSpec(strokes=strokes, seed=2024)
    ray = RayExecutor()
    rows = [{"workload": "Ray start-up (ray.init)", "executor": "ray", "seconds": timed(ray.start)}]
    for executor in (LocalExecutor(), ray):
        name = executor.name

        def suite(executor: Executor = executor, name: str = name) -> None:
            with executors.using(executor):
                convergence.run("tiny", scratch / f"results-{name}", cache=scratch / name)

        rows.append(
            {
                "workload": "bench convergence --preset tiny",
                "executor": name,
                "seconds": timed(suite),
            }
        )
        rows.append(
            {
                "workload": f"painter dataset, {strokes} strokes",
                "executor": name,
                "seconds": timed(
                    lambda executor=executor, name=name: generate(
                        spec, scratch / f"data-{name}", workers=0, executor=executor
                    )
                ),
            }
        )
    same = identical(scratch / "data-local", scratch / "data-ray", spec.shards)
    return pd.DataFrame(rows), same


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--strokes", type=int, default=40_000, help="stroke dataset size")
    parser.add_argument("--out", default="results/executors", help="results folder")
    args = parser.parse_args(argv)
    provenance.git_commit()  # read before any output makes the checkout dirty
    with tempfile.TemporaryDirectory(prefix="executor-overhead-") as scratch:
        table, same = measure(args.strokes, Path(scratch))
    ray_cluster = RayExecutor().describe()
    command = f"python -m neuralpaint.benchmarks.executor_overhead --strokes {args.strokes}"
    wide = table[table["workload"] != "Ray start-up (ray.init)"].pivot(
        index="workload", columns="executor", values="seconds"
    )
    wide["ray / local"] = wide["ray"] / wide["local"]
    header = f"local, and {ray_cluster}"
    out = Path(args.out)
    write_text(
        out / "overhead.csv",
        provenance.csv_header(command, executor=header) + table.to_csv(index=False),
    )
    startup = table.loc[table["executor"].eq("ray") & table["workload"].str.startswith("Ray")]
    write_text(
        out / "overhead.md",
        "# Local against Ray executors on one machine\n\n"
        + provenance.markdown_header(command, executor=header)
        + f"\nWall-clock seconds; Ray's start-up ({startup['seconds'].iloc[0]:.1f} s) is not "
        "included in its rows. Dataset shards from Ray are "
        + ("bit-identical to local ones.\n\n" if same else "**not** identical to local ones.\n\n")
        + wide.reset_index().to_markdown(index=False, floatfmt=".3g")
        + "\n",
    )
    print((out / "overhead.md").read_text())
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
