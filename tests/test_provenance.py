"""The provenance header every results file starts with."""

import os
import platform
from pathlib import Path

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


def test_the_config_is_written_into_the_csv_header_as_data(tmp_path):
    config = {"preset": "long", "seconds": 180.0, "agents": ["a@b", "c"], "kwargs": {"a": 1}}
    path = tmp_path / "x.csv"
    path.write_text(provenance.csv_header("neuralpaint bench x", config=config) + "a\n1\n")
    assert provenance.read_csv_config(path) == config
    assert provenance.read_csv_header(path)["command"] == "neuralpaint bench x"
    path.write_text(provenance.csv_header("neuralpaint bench x") + "a\n1\n")
    assert provenance.read_csv_config(path) is None  # older files: no config


def test_convergence_reads_its_config_back_from_the_header(tmp_path):
    from dataclasses import asdict, replace

    import pandas as pd

    from neuralpaint.benchmarks import convergence

    config = replace(convergence.PRESETS["long"], seconds=20.0, agent_seconds={"ppo": 30.0})
    path = tmp_path / "convergence.csv"
    # the command says nothing of the budget: it is read from the config
    header = provenance.csv_header(
        "neuralpaint bench convergence --preset long", config={"preset": "long"} | asdict(config)
    )
    path.write_text(header + pd.DataFrame({"a": [1]}).to_csv(index=False))
    assert convergence.read_config(path) == ("long", config)
    # a file from before: the preset and --seconds from the command
    old = "neuralpaint bench convergence --preset quick --seconds 25"
    path.write_text(provenance.csv_header(old) + "a\n1\n")
    preset, read = convergence.read_config(path)
    assert preset == "quick" and read.seconds == 25.0 and read.agent_seconds == {}
    assert read.threshold == convergence.PRESETS["quick"].threshold


def test_the_machine_names_the_cpu_and_its_widest_vector_instructions(tmp_path):
    def info(flags: str) -> Path:
        path = tmp_path / f"cpuinfo-{len(flags)}"
        block = f"processor\t: 0\nmodel name\t: Some  CPU @ 2GHz\nflags\t\t: {flags}\n\n"
        path.write_text(block + block.replace("processor\t: 0", "processor\t: 1"))
        return path

    assert provenance.cpu_name(info("fpu sse2 avx2 avx512f amx_tile")) == "Some CPU @ 2GHz (AMX)"
    assert provenance.cpu_name(info("fpu sse2 avx2 avx512f")) == "Some CPU @ 2GHz (AVX-512)"
    assert provenance.cpu_name(info("fpu sse2 avx2")) == "Some CPU @ 2GHz (AVX2)"
    assert provenance.cpu_name(info("fpu sse2")) == "Some CPU @ 2GHz"
    no_proc = platform.processor() or platform.machine() or "unknown CPU"  # never an error
    assert provenance.cpu_name(tmp_path / "absent") == no_proc
