"""The provenance header every results file starts with."""

import os

from neuralpaint.benchmarks import provenance


def test_each_suite_restarts_the_load_average_clock(monkeypatch):
    monkeypatch.setattr(provenance, "LOAD_AT_START", provenance.LOAD_AT_START)
    monkeypatch.setattr(os, "getloadavg", lambda: (3.25, 0.0, 0.0))
    provenance.mark_start()
    monkeypatch.setattr(os, "getloadavg", lambda: (0.5, 0.0, 0.0))
    load = provenance.header("neuralpaint bench throughput")["load average"]
    assert load.startswith("3.25 at start, 0.50 at the end")


def test_every_bench_suite_reads_the_commit_before_it_writes(monkeypatch):
    """A suite's first output file must not make its own later headers say +dirty."""
    from neuralpaint import cli
    from neuralpaint.benchmarks import provenance

    provenance.git_commit.cache_clear()
    cached_when_run = []
    monkeypatch.setattr(
        cli,
        "run_suite",
        lambda suite, args: cached_when_run.append(provenance.git_commit.cache_info().currsize),
    )
    args = cli.build_parser().parse_args(["bench", "parameterization", "--preset", "quick"])
    assert cli._bench(args) == 0
    assert cached_when_run == [1]
