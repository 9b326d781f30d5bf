"""Resumable benchmark cells: one training run (agent, environment, seed...) each.

A suite lists its cells as plain dicts. Each finished cell's rows are written
atomically to ``<cache>/<suite>/<name>.json``, keyed by everything that defines the
cell (including the preset's settings), so a rerun skips finished cells and an
interrupted suite resumes where it stopped. Cells run on an executor
(:mod:`neuralpaint.executors`: local worker processes or Ray tasks), each with an equal
share of the CPU's threads, so wall-clock times stay comparable. The driver writes each
cell as it arrives; a cell that still fails after its retries is reported by name
(:class:`CellsFailed`) once every other cell has finished and been kept.

A long cell can also resume mid-way: a cell with a true ``"checkpoint"`` key is given
``"checkpoint_dir"``, a folder of its own next to its result file
(:func:`partial_dir`) that survives an interruption; the work function saves its state
there as it goes and reads it back when run again. The driver removes the folder once
the cell's rows are written. (On a Ray cluster without a shared filesystem the folder
lives on the node that ran the cell, so only a rerun there resumes mid-way.)
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import re
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

from neuralpaint import executors
from neuralpaint.executors import Executor, Failure
from neuralpaint.io import write_text
from neuralpaint.progress import progress_bar

DEFAULT_CACHE = Path("runs/bench")
"""Where finished cells are kept (``--cache``)."""

Work = Callable[[dict], list[dict]]
CACHE_VERSION = 2
"""Part of every cell's hash. Raise it when what a cell computes changes for the same
settings (version 2: SB3 agents on a symmetric box with reward normalisation, and both
policies judged), so no stale cell is reused."""


def painter_digests(cell: dict) -> list[str]:
    """Hashes of the weights of the neural painters a cell works with: the one its agent
    trains or is judged through (``NAME@PAINTER``, else the default painter) and its
    ``painter`` setting. In the cache key, they make a retrained painter rerun the cells
    that used it instead of reusing results of the old weights."""
    from neuralpaint.agents.registry import neural_painter_of
    from neuralpaint.painters.checkpoint import CheckpointError
    from neuralpaint.painters.neural import weights_digest

    names = [neural_painter_of(str(cell["agent"]))] if "agent" in cell else []
    if cell.get("painter"):
        names.append(cell["painter"])
    digests = []
    for name in names:
        try:
            digests.append(weights_digest(name))
        except CheckpointError:  # the cell itself will report it, by name
            digests.append(f"unresolved:{name}")
    return digests


def agent_code_digest(cell: dict) -> str | None:
    """A hash of the source files that define the cell's agent class and its bases.

    An agent's defaults (learning rates, zoo hyperparameters, a config class or a value
    set in its constructor) live in its code, not in the cell's settings; in the cache
    key, this hash makes a changed agent rerun its cells instead of reusing results of
    the old code. Coarse on purpose: any edit to those files reruns them."""
    if "agent" not in cell:
        return None
    from neuralpaint.agents.registry import get_agent_class, parse_agent_spec

    name = parse_agent_spec(str(cell["agent"]))[0]
    try:
        cls = get_agent_class(name)
    except (ValueError, TypeError, ImportError):  # the cell itself will report it, by name
        return f"unresolved:{name}"
    return source_digest({sys.modules[k.__module__] for k in cls.__mro__ if k is not object})


def source_digest(modules) -> str:
    """SHA-1 (short) of the source files of ``modules``, in a fixed order: in a cache
    key, it makes edited code rerun the cells that depend on it."""
    digest = hashlib.sha1()
    for file in sorted({inspect.getsourcefile(m) for m in modules}):
        digest.update(Path(file).read_bytes())
    return digest.hexdigest()[:12]


def cell_path(cache: Path, suite: str, cell: dict) -> Path:
    """The file of one cell: a readable stem plus a hash of every setting, of the
    weights of the painters it uses and of its agent's code."""
    key = json.dumps(
        {
            **cell,
            "cache_version": CACHE_VERSION,
            "painter_weights": painter_digests(cell),
            "agent_code": agent_code_digest(cell),
        },
        sort_keys=True,
        default=str,
    )
    digest = hashlib.sha1(key.encode()).hexdigest()[:10]
    label = "_".join(str(cell[k]) for k in ("env", "agent", "seed") if k in cell)
    stem = re.sub(r"[^A-Za-z0-9@.=-]+", "-", label).strip("-") or "cell"
    return cache / suite / f"{stem}_{digest}.json"


def cell_label(path: Path) -> str:
    """The readable part of a cell's file name (``env_agent_seed``), for reports."""
    return path.stem.rsplit("_", 1)[0]


def threads_per_worker(workers: int) -> int:
    return max(1, (os.cpu_count() or 1) // workers)


def cell_gpus(cell: dict) -> float:
    """GPUs a cell asks its executor for: one when it trains on CUDA."""
    return 1.0 if str(cell.get("device", "cpu")).startswith("cuda") else 0.0


def partial_dir(path: Path) -> Path:
    """The mid-run state folder of the cell whose result file is ``path``."""
    return path.with_name(path.stem + ".partial")


def _run_one(work: Work, cell: dict, threads: int, partial: str) -> list[dict]:
    """Run one cell on ``threads`` threads: torch's and the BLAS numpy uses alike, so
    cells side by side do not oversubscribe the cores and their timings stay fair."""
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(threads)
    with threadpool_limits(threads):
        return work({**cell, "checkpoint_dir": partial} if cell.get("checkpoint") else cell)


class CellsFailed(RuntimeError):
    """Cells that still raised after their retries; the finished ones are in the cache.

    Attributes:
        failures: cell file stem (``env_agent_seed_hash``) to ``ExceptionType: message``.
    """

    def __init__(self, suite: str, failures: dict[str, str], finished: int):
        self.suite, self.failures, self.finished = suite, failures, finished
        super().__init__(
            f"{len(failures)} {suite} cell(s) failed ({finished} finished and kept in the "
            f"cache; a rerun retries only the failed ones): {', '.join(failures)}"
        )

    def table(self) -> str:
        """The failed cells and their errors, as Markdown."""
        rows = [f"| {name} | {error.splitlines()[0]} |" for name, error in self.failures.items()]
        return "\n".join([f"{self}\n", "| failed cell | error |", "|---|---|", *rows])


def run_cells_partial(
    suite: str,
    cells: list[dict],
    work: Work,
    cache: str | Path = DEFAULT_CACHE,
    workers: int = 1,
    fresh: bool = False,
    executor: Executor | None = None,
) -> tuple[dict[int, list[dict]], dict[int, Failure]]:
    """Like :func:`run_cells`, but returns ``(rows by cell index, failures by cell index)``
    instead of raising, for callers that report failed cells themselves (sweeps)."""
    executor = executor or executors.current()
    cache = Path(cache)
    paths = [cell_path(cache, suite, c) for c in cells]
    results: dict[int, list[dict]] = {}
    for i, path in enumerate(paths):
        if path.is_file() and not fresh:
            try:
                results[i] = json.loads(path.read_text())
            except json.JSONDecodeError:
                path.unlink()  # a damaged cell is run again
    todo = [i for i in range(len(cells)) if i not in results]
    if fresh:  # a fresh run does not resume a stale mid-run checkpoint either
        for i in todo:
            shutil.rmtree(partial_dir(paths[i]), ignore_errors=True)
    threads = threads_per_worker(workers)
    gpus = max((cell_gpus(cells[i]) for i in todo), default=0.0)
    failures: dict[int, Failure] = {}
    bar = progress_bar(total=len(cells), initial=len(results), desc=f"bench {suite}", unit="cell")
    outcomes = executor.imap(
        _run_one,
        [(work, cells[i], threads, str(partial_dir(paths[i]))) for i in todo],
        threads,
        gpus,
        workers,
    )
    for k, outcome in outcomes:
        i = todo[k]
        if isinstance(outcome, Failure):
            failures[i] = outcome
        else:
            write_text(paths[i], json.dumps(outcome))  # as it arrives: no shared filesystem
            shutil.rmtree(partial_dir(paths[i]), ignore_errors=True)
            results[i] = outcome
        bar.set_postfix_str(cell_label(paths[i]))
        bar.update()
    bar.close()
    return results, failures


def run_cells(
    suite: str,
    cells: list[dict],
    work: Work,
    cache: str | Path = DEFAULT_CACHE,
    workers: int = 1,
    fresh: bool = False,
    executor: Executor | None = None,
) -> list[dict]:
    """Run ``work(cell)`` for every unfinished cell; return all cells' rows in order.

    Args:
        suite: names the cache subfolder.
        cells: JSON-serialisable dicts; ``work`` must be a module-level function.
        cache: the folder of finished cells.
        workers: local processes running cells side by side (each gets
            ``cpu_count // workers`` torch threads; on Ray each cell asks for that many
            CPUs and the cluster decides how many run at once).
        fresh: rerun every cell, ignoring finished ones.
        executor: where cells run; default :func:`neuralpaint.executors.current`.

    Raises:
        CellsFailed: after every cell has run, when some still failed after their
            retries; the finished cells are written to the cache first.
    """
    results, failures = run_cells_partial(suite, cells, work, cache, workers, fresh, executor)
    if failures:
        names = {cell_path(Path(cache), suite, cells[i]).stem: f.error for i, f in failures.items()}
        raise CellsFailed(suite, names, len(results))
    return [row for i in range(len(cells)) for row in results[i]]
