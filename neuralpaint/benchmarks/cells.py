"""Resumable benchmark cells: one training run (agent, environment, seed...) each.

A suite lists its cells as plain dicts. Each finished cell's rows are written
atomically to ``<cache>/<suite>/<name>.json``, keyed by everything that defines the
cell (including the preset's settings), so a rerun skips finished cells and an
interrupted suite resumes where it stopped. Cells run in worker processes, each with
an equal share of the CPU's threads, so wall-clock times stay comparable.

A long cell can also resume mid-way: a cell with a true ``"checkpoint"`` key is given
``"checkpoint_dir"``, a folder of its own next to its result file
(:func:`partial_dir`) that survives an interruption; the work function saves its state
there as it goes and reads it back when run again. The folder is removed once the
cell's rows are written.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from pathlib import Path

from tqdm.auto import tqdm

from neuralpaint.io import write_text

DEFAULT_CACHE = Path("runs/bench")
"""Where finished cells are kept (``--cache``)."""

Work = Callable[[dict], list[dict]]


def cell_path(cache: Path, suite: str, cell: dict) -> Path:
    """The file of one cell: a readable stem plus a hash of every setting."""
    key = json.dumps(cell, sort_keys=True, default=str)
    digest = hashlib.sha1(key.encode()).hexdigest()[:10]
    label = "_".join(str(cell[k]) for k in ("env", "agent", "seed") if k in cell)
    stem = re.sub(r"[^A-Za-z0-9@.=-]+", "-", label).strip("-") or "cell"
    return cache / suite / f"{stem}_{digest}.json"


def threads_per_worker(workers: int) -> int:
    return max(1, (os.cpu_count() or 1) // workers)


def partial_dir(path: Path) -> Path:
    """The mid-run state folder of the cell whose result file is ``path``."""
    return path.with_name(path.stem + ".partial")


def _run_one(work: Work, cell: dict, threads: int, path: Path) -> list[dict]:
    import torch

    torch.set_num_threads(threads)
    partial = partial_dir(path)
    rows = work({**cell, "checkpoint_dir": str(partial)} if cell.get("checkpoint") else cell)
    write_text(path, json.dumps(rows))
    shutil.rmtree(partial, ignore_errors=True)
    return rows


def run_cells(
    suite: str,
    cells: list[dict],
    work: Work,
    cache: str | Path = DEFAULT_CACHE,
    workers: int = 1,
    fresh: bool = False,
) -> list[dict]:
    """Run ``work(cell)`` for every unfinished cell; return all cells' rows in order.

    Args:
        suite: names the cache subfolder.
        cells: JSON-serialisable dicts; ``work`` must be a module-level function.
        cache: the folder of finished cells.
        workers: processes running cells side by side (each gets
            ``cpu_count // workers`` torch threads).
        fresh: rerun every cell, ignoring finished ones.
    """
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
    threads = threads_per_worker(workers)
    bar = tqdm(total=len(cells), initial=len(results), desc=f"bench {suite}", unit="cell")
    if workers <= 1 or len(todo) <= 1:
        for i in todo:
            bar.set_postfix_str(paths[i].stem.rsplit("_", 1)[0])
            results[i] = _run_one(work, cells[i], threads, paths[i])
            bar.update()
    else:
        with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
            futures = {pool.submit(_run_one, work, cells[i], threads, paths[i]): i for i in todo}
            for future in as_completed(futures):
                results[futures[future]] = future.result()
                bar.update()
    bar.close()
    return [row for i in range(len(cells)) for row in results[i]]
