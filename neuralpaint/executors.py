"""Where independent pieces of work run: this machine's processes, or a Ray cluster.

Benchmark cells and stroke-dataset shards are pure functions of their arguments, so
they can run anywhere. An executor runs ``fn(*args)`` for each argument tuple and
yields each outcome as it finishes, to the driver, which alone writes files. That is
why no shared filesystem is needed, and why cache and resume behave the same on both.

Both executors retry a failed piece ``retries`` times (Ray through its own
``max_retries``) and then yield a :class:`Failure` in its place instead of raising, so
one bad cell never costs the finished ones.

Ray is imported only when a :class:`RayExecutor` runs something: importing
neuralpaint, or using an environment, never imports it.
"""

from __future__ import annotations

import argparse
import contextlib
import contextvars
import logging
import os
import traceback
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from multiprocessing import get_context
from typing import Any, Protocol

from neuralpaint.errors import MissingExtraError


@dataclass(frozen=True)
class Failure:
    """A piece of work that still raised after its retries."""

    error: str
    """``ExceptionType: message`` of the last attempt."""


class Executor(Protocol):
    name: str
    retries: int

    def imap(
        self,
        fn: Callable[..., Any],
        args: Sequence[tuple],
        threads: int = 1,
        gpus: float = 0.0,
        workers: int = 1,
    ) -> Iterator[tuple[int, Any]]:
        """Yield ``(index into args, result or Failure)`` as pieces finish."""
        ...

    def describe(self) -> str:
        """The executor and its size, for the provenance header."""
        ...


def _failure(error: BaseException, detail: BaseException | None = None) -> Failure:
    """A :class:`Failure` for ``error``; the full traceback (of ``detail`` when given,
    e.g. Ray's error that carries the remote one) goes to the log, on stderr."""
    shown = detail or error
    logging.getLogger(__name__).warning(
        "gave up after retries:\n%s", "".join(traceback.format_exception(shown))
    )
    return Failure(f"{type(error).__name__}: {error}")


def _with_retries(fn: Callable[..., Any], retries: int, *args: Any) -> Any:
    """``fn(*args)``, rerun up to ``retries`` times while it raises."""
    for attempt in range(retries):
        try:
            return fn(*args)
        except Exception:
            logging.getLogger(__name__).warning(
                "attempt %d of %s failed, retrying:\n%s",
                attempt + 1,
                getattr(fn, "__name__", fn),
                traceback.format_exc(),
            )
    return fn(*args)


@dataclass(frozen=True)
class LocalExecutor:
    """This machine: in-process when ``workers`` is 1, else a pool of spawned processes."""

    retries: int = 1
    name: str = "local"

    def imap(
        self,
        fn: Callable[..., Any],
        args: Sequence[tuple],
        threads: int = 1,
        gpus: float = 0.0,
        workers: int = 1,
    ) -> Iterator[tuple[int, Any]]:
        if workers <= 1 or len(args) <= 1:
            for i, a in enumerate(args):
                try:
                    yield i, _with_retries(fn, self.retries, *a)
                except Exception as error:
                    yield i, _failure(error)
            return
        with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
            futures = {
                pool.submit(_with_retries, fn, self.retries, *a): i for i, a in enumerate(args)
            }
            try:
                for future in as_completed(futures):
                    error = future.exception()
                    yield (
                        futures[future],
                        _failure(error) if error else future.result(),
                    )
            finally:
                for future in futures:
                    future.cancel()

    def describe(self) -> str:
        return "local"


@dataclass(frozen=True)
class RayExecutor:
    """A Ray cluster: one task per piece, asking for ``threads`` CPUs (and ``gpus``).

    Args:
        address: a running cluster (``auto``, ``ray://head:10001``, ...); ``None`` starts
            a local Ray on this machine, or joins the one ``ray job submit`` runs under.
        retries: Ray's ``max_retries``, for crashed workers and raised exceptions alike.
    """

    address: str | None = None
    retries: int = 1
    name: str = "ray"

    def start(self, **options: Any) -> None:
        """Connect (or start a local Ray) unless already connected; ``options`` go to
        ``ray.init`` (``num_cpus=2`` in tests).

        Ray's logs, the workers' output and Ray's notices of each retry stay out of the
        driver's stdout, where the tables go; a cell that still fails is reported by
        :func:`~neuralpaint.benchmarks.cells.run_cells` instead."""
        try:
            import ray
        except ImportError as error:
            raise MissingExtraError(
                "--executor ray needs Ray: pip install 'neuralpaint[ray]'"
            ) from error
        if ray.is_initialized():
            return
        os.environ.setdefault("RAY_enable_output_error_log_if_still_retry", "0")
        defaults: dict[str, Any] = {"log_to_driver": False, "logging_level": logging.WARNING}
        if self.address is None:
            defaults["include_dashboard"] = False
        ray.init(address=self.address, **(defaults | options))

    def imap(
        self,
        fn: Callable[..., Any],
        args: Sequence[tuple],
        threads: int = 1,
        gpus: float = 0.0,
        workers: int = 1,
    ) -> Iterator[tuple[int, Any]]:
        """``workers`` is ignored: as many tasks run at once as the cluster has room for."""
        self.start()
        import ray

        task = ray.remote(fn).options(
            num_cpus=threads, num_gpus=gpus, max_retries=self.retries, retry_exceptions=True
        )
        refs = {task.remote(*a): i for i, a in enumerate(args)}
        pending = list(refs)
        try:
            while pending:
                ready, pending = ray.wait(pending, num_returns=1)
                for ref in ready:
                    try:
                        yield refs[ref], ray.get(ref)
                    except ray.exceptions.RayTaskError as error:
                        yield refs[ref], _failure(error.cause or error, error)
                    except ray.exceptions.RayError as error:  # lost worker or node
                        yield refs[ref], _failure(error)
        finally:
            for ref in pending:
                ray.cancel(ref)

    def describe(self) -> str:
        import sys

        ray = sys.modules.get("ray")
        where = self.address or "local"
        if ray is None or not ray.is_initialized():
            return f"ray at {where} (nothing ran on it)"
        nodes = sum(1 for node in ray.nodes() if node.get("Alive"))
        resources = ray.cluster_resources()
        return (
            f"ray at {where}: {nodes} node(s), {resources.get('CPU', 0):g} CPUs, "
            f"{resources.get('GPU', 0):g} GPUs"
        )


_CURRENT: contextvars.ContextVar[Executor | None] = contextvars.ContextVar(
    "neuralpaint_executor", default=None
)


def current() -> Executor:
    """The executor benchmark cells run on (set with :func:`using`; local by default)."""
    return _CURRENT.get() or LocalExecutor()


@contextlib.contextmanager
def using(executor: Executor) -> Iterator[Executor]:
    """Run the benchmark cells started inside the block on ``executor``."""
    token = _CURRENT.set(executor)
    try:
        yield executor
    finally:
        _CURRENT.reset(token)


def add_executor_arguments(parser: argparse.ArgumentParser) -> None:
    """``--executor``, ``--ray-address`` and ``--retries`` for a command."""
    parser.add_argument(
        "--executor",
        choices=["local", "ray"],
        default="local",
        help="run on this machine's processes or on a Ray cluster (pip install neuralpaint[ray])",
    )
    parser.add_argument(
        "--ray-address",
        default=None,
        help="Ray cluster to join (e.g. auto or ray://head:10001); default: start a local Ray",
    )
    parser.add_argument(
        "--retries", type=int, default=1, help="reruns of a failed cell or shard before it fails"
    )


def from_args(args: argparse.Namespace) -> Executor:
    """The executor chosen by :func:`add_executor_arguments`' flags."""
    if args.executor == "ray":
        return RayExecutor(address=args.ray_address, retries=args.retries)
    return LocalExecutor(retries=args.retries)
