"""Hyperparameter sweeps for one agent, run as benchmark cells.

Every trial trains the agent from scratch with its own constructor arguments for the
same budget of training seconds, then paints held-out targets with MyPaint; its score
is the final MyPaint L2 per pixel (lower is better), averaged over seeds. Trials are
convergence cells (:func:`neuralpaint.benchmarks.convergence.convergence_cell`), so they
are cached, resumed and spread over whatever executor runs them (``--executor ray``).

Two searches over ``space`` (a dict of constructor argument to values):

* ``grid``: each value is a list; every combination is a trial, all submitted at once.
* ``optuna``: each value is a list (categorical) or ``{"low": a, "high": b, "log":
  true}`` (integers when both bounds are). Optuna's seeded TPE sampler proposes
  ``parallel`` trials at a time (ask and tell), so that many run side by side. A rerun
  replays the same proposals from the cache and trains only what is missing.

The tuning budget of a sweep is ``trials x seeds x budget_seconds`` of training, which
makes equal-budget comparisons between agents a matter of equal arguments.

``neuralpaint bench sweep --agents ppo --space '{"learning_rate": [1e-4, 3e-4, 1e-3]}'`` writes
``results/sweep/sweep_<agent>_<env>.csv`` and ``.md``: one row per trial.
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
from pathlib import Path
from typing import Any

import pandas as pd

from neuralpaint.agents.registry import parse_agent_spec
from neuralpaint.benchmarks import provenance
from neuralpaint.benchmarks.aggregate import mean_ci
from neuralpaint.benchmarks.cells import DEFAULT_CACHE, CellsFailed, run_cells_partial
from neuralpaint.benchmarks.convergence import PRESETS, convergence_cell
from neuralpaint.errors import MissingExtraError
from neuralpaint.executors import Executor, Failure
from neuralpaint.io import write_text

SEARCHES = ("grid", "optuna")
SCORE = "final MyPaint L2"


def grid(space: dict[str, list]) -> list[dict[str, Any]]:
    """Every combination of the listed values, in order."""
    for key, values in space.items():
        if not isinstance(values, list) or not values:
            raise ValueError(f"a grid needs a non-empty list of values for {key!r}, got {values}")
    return [dict(zip(space, combo, strict=True)) for combo in itertools.product(*space.values())]


def suggest(trial, space: dict[str, Any]) -> dict[str, Any]:
    """One Optuna proposal for ``space`` (lists are categorical, dicts are ranges)."""
    params = {}
    for key, values in space.items():
        if isinstance(values, list):
            params[key] = trial.suggest_categorical(key, values)
        elif isinstance(values, dict) and {"low", "high"} <= set(values):
            low, high, log = values["low"], values["high"], bool(values.get("log", False))
            if isinstance(low, int) and isinstance(high, int):
                params[key] = trial.suggest_int(key, low, high, log=log)
            else:
                params[key] = trial.suggest_float(key, float(low), float(high), log=log)
        else:
            raise ValueError(
                f"space[{key!r}] must be a list of values or {{'low': a, 'high': b, 'log': "
                f"bool}}, got {values!r}"
            )
    return params


def _trial_row(params: dict, results: list[list[dict] | Failure]) -> dict[str, Any]:
    """One table row from a trial's cells (one per seed)."""
    failures = [r for r in results if isinstance(r, Failure)]
    finals = [
        max(rows, key=lambda r: r["evaluation"]) for rows in results if isinstance(rows, list)
    ]
    l2, ci = mean_ci([f["mypaint_l2"] for f in finals])
    return {
        **params,
        SCORE: l2,
        "± 95% CI": ci,
        "seconds trained": sum(f["seconds"] for f in finals) / max(len(finals), 1),
        "strokes rendered": sum(f["strokes_rendered"] for f in finals) / max(len(finals), 1),
        "seeds": len(finals),
        "status": "failed" if failures else "ok",
        "error": failures[0].error.splitlines()[0] if failures else "",
    }


def run_sweep(
    agent: str,
    space: dict[str, Any],
    env: str = "NeuralPaint-MNIST-v0",
    budget_seconds: float = 40.0,
    trials: int | None = None,
    executor: Executor | None = None,
    search: str = "grid",
    seeds: int = 1,
    targets: int = 16,
    base_kwargs: dict | None = None,
    parallel: int = 4,
    workers: int = 1,
    device: str = "cpu",
    cache: str | Path = DEFAULT_CACHE,
    fresh: bool = False,
    sampler_seed: int = 0,
) -> pd.DataFrame:
    """Tune ``agent``'s constructor arguments over ``space``; one table row per trial.

    Args:
        agent: ``name[@painter]`` as in the convergence suite.
        space: constructor argument to a list of values, or (optuna) to a range.
        budget_seconds: training seconds per trial and seed.
        trials: optuna: how many to run (required); grid: at most the grid's size.
        executor: where trials run; default :func:`neuralpaint.executors.current`.
        search: ``grid`` or ``optuna``.
        base_kwargs: constructor arguments every trial shares (space values win).
        parallel: optuna: proposals evaluated side by side before the sampler learns
            from them (more spreads further, less searches better).
        workers: local processes (see :func:`~neuralpaint.benchmarks.cells.run_cells`).

    Returns:
        Columns ``trial``, one per argument, ``final MyPaint L2``, ``± 95% CI``,
        ``seconds trained``, ``strokes rendered``, ``seeds``, ``status`` (``ok`` or
        ``failed``) and ``error``; failed trials keep their row.
    """
    if search not in SEARCHES:
        raise ValueError(f"search must be one of {SEARCHES}, got {search!r}")
    parse_agent_spec(agent)
    base = dict(base_kwargs or {})

    def evaluate(batch: list[dict]) -> list[dict[str, Any]]:
        """Run a batch of trials (all seeds) as cells; their table rows."""
        cells = [
            {
                "env": env,
                "agent": agent,
                "seed": seed,
                "seconds": budget_seconds,
                "evaluations": 1,
                "targets": targets,
                "agent_kwargs": base | params,
                "device": device,
            }
            for params in batch
            for seed in range(seeds)
        ]
        results, failures = run_cells_partial(
            "sweep", cells, convergence_cell, cache, workers, fresh, executor
        )
        outcomes = {**results, **failures}
        return [
            _trial_row(params, [outcomes[k * seeds + s] for s in range(seeds)])
            for k, params in enumerate(batch)
        ]

    if search == "grid":
        combos = grid(space)
        if trials is not None and trials < len(combos):
            raise ValueError(
                f"the grid has {len(combos)} trials but trials={trials}: shrink the grid or "
                "use --search optuna"
            )
        rows = evaluate(combos)
    else:
        if not trials:
            raise ValueError("an optuna search needs trials (how many settings to try)")
        rows = _optuna(space, trials, parallel, sampler_seed, evaluate)
    table = pd.DataFrame(rows)
    table.insert(0, "trial", range(len(table)))
    return table


def _optuna(space, trials: int, parallel: int, seed: int, evaluate) -> list[dict[str, Any]]:
    try:
        import optuna
    except ImportError as error:
        raise MissingExtraError(
            "--search optuna needs Optuna: pip install 'neuralpaint[sweep]'"
        ) from error
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="minimize", sampler=optuna.samplers.TPESampler(seed=seed))
    rows: list[dict[str, Any]] = []
    while len(rows) < trials:
        asked = [study.ask() for _ in range(min(parallel, trials - len(rows)))]
        batch = evaluate([suggest(t, space) for t in asked])
        for t, row in zip(asked, batch, strict=True):
            if row["status"] == "ok":
                study.tell(t, row[SCORE])
            else:
                study.tell(t, state=optuna.trial.TrialState.FAIL)
        rows += batch
    return rows


def raise_failures(table: pd.DataFrame) -> None:
    """Raise :class:`CellsFailed` naming the failed trials, when there are any."""
    failed = table[table["status"] == "failed"]
    if len(failed):
        names = {f"trial {r['trial']}": r["error"] for _, r in failed.iterrows()}
        raise CellsFailed("sweep", names, len(table) - len(failed))


def write_tables(table: pd.DataFrame, out_dir: str | Path, name: str, command: str) -> Path:
    """``name.csv`` (with the provenance header) and ``name.md``, best trial first in
    the Markdown."""
    out = Path(out_dir)
    write_text(out / f"{name}.csv", provenance.csv_header(command) + table.to_csv(index=False))
    ranked = table.sort_values(SCORE, na_position="last")
    write_text(
        out / f"{name}.md",
        f"# Sweep: {name}\n\n"
        + provenance.markdown_header(command)
        + "\nOne row per trial, best first; lower MyPaint L2 is better.\n\n"
        + ranked.to_markdown(index=False, floatfmt=".4g")
        + "\n",
    )
    return out / f"{name}.md"


def run(
    preset: str,
    out_dir: str | Path,
    agent: str,
    space: dict[str, Any],
    env: str = "NeuralPaint-MNIST-v0",
    search: str = "grid",
    trials: int | None = None,
    seeds: int | None = None,
    seconds: float | None = None,
    parallel: int = 4,
    workers: int | None = None,
    device: str = "cpu",
    cache: str | Path = DEFAULT_CACHE,
    fresh: bool = False,
) -> pd.DataFrame:
    """A sweep with a convergence preset's budget, targets and agent settings; writes
    ``sweep_<agent>_<env>.csv`` and ``.md`` into ``out_dir``."""
    config = PRESETS[preset]
    table = run_sweep(
        agent,
        space,
        env,
        budget_seconds=seconds or config.seconds,
        trials=trials,
        search=search,
        seeds=seeds or 1,
        targets=config.targets,
        base_kwargs=config.agent_kwargs.get(parse_agent_spec(agent)[0], {}),
        parallel=parallel,
        workers=workers or config.workers,
        device=device,
        cache=cache,
        fresh=fresh,
    )
    command = (
        f"neuralpaint bench sweep --preset {preset} --agents {agent} --env {env} "
        f"--space '{json.dumps(space)}' --search {search} --seeds {seeds or 1} --device {device}"
        + (f" --trials {trials}" if trials else "")
        + (f" --seconds {seconds:g}" if seconds else "")
    )
    name = re.sub(r"[^A-Za-z0-9._=-]+", "-", f"sweep_{agent}_{env}")
    write_tables(table, out_dir, name, command)
    return table


def run_from_args(args: argparse.Namespace, out_dir: str) -> pd.DataFrame:
    """``bench sweep`` with the command's flags."""
    if not args.agents or "," in args.agents or not args.space:
        raise SystemExit(
            "bench sweep needs one agent and a space, e.g. --agents ppo "
            "--space '{\"lr\": [1e-4, 3e-4, 1e-3]}'"
        )
    return run(
        args.preset,
        out_dir,
        args.agents,
        json.loads(args.space),
        args.env,
        args.search,
        args.trials,
        args.seeds,
        args.seconds,
        args.parallel,
        args.workers,
        args.device,
        args.cache,
        args.fresh,
    )
