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
