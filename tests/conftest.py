"""Shared fixtures. Tests run against the real libmypaint; no mocks."""

import contextlib

import numpy as np
import pytest
import torch

from neuralpaint.painters import compiled
from neuralpaint.painters.mypaint import MyPaintRenderer

# One thread per test process: CI machines have 2 cores, and torch's default thread
# pool thrashes when anything else runs beside the tests.
torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def one_thread():
    """Every test starts on one thread, whatever an earlier test (a CLI ``--threads``)
    set: tiny tensors run fastest so, above all on a CPU shared with other jobs."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def without_compiler(monkeypatch, tmp_path):
    """``with without_compiler(kernel_module):`` runs its block where no C compiler is
    found and the module's build is not cached: its first use warns and it falls back."""

    @contextlib.contextmanager
    def context(kernel):
        monkeypatch.setattr(compiled, "default_data_root", lambda: tmp_path)
        monkeypatch.setattr(compiled.shutil, "which", lambda name: None)
        kernel.load_kernel.cache_clear()
        try:
            yield
        finally:
            kernel.load_kernel.cache_clear()

    return context


@pytest.fixture(scope="session")
def renderer() -> MyPaintRenderer:
    return MyPaintRenderer(64)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


def straight(x0, y0, x1, y1, size=0.5, pressure=0.8, rgb=(0.0, 0.0, 0.0)) -> np.ndarray:
    """A straight stroke (control point at the midpoint)."""
    return np.array([x0, y0, (x0 + x1) / 2, (y0 + y1) / 2, x1, y1, pressure, pressure, size, *rgb])
