"""Throughput of the real renderer against a plain C loop over the same library.

The C loop (``mypaint_loop.c``, compiled on the fly when a C compiler exists) paints
exactly the strokes the Python renderer paints: same paths, same brush, same seeded
warm-up, same read-back into float masks. Its rate is the physical limit. The two run
in alternating rounds in one command, and the ratio is taken per round, because
absolute timings on a shared machine are noisy.
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from neuralpaint import actions as A
from neuralpaint.benchmarks import provenance
from neuralpaint.benchmarks.figures import save_figure
from neuralpaint.io import write_text
from neuralpaint.painters import libmypaint as L
from neuralpaint.painters.mypaint import (
    DEFAULT_BRUSH,
    TEXTURE_CHUNK,
    MyPaintCanvas,
    MyPaintRenderer,
    stroke_paths,
    texture_warmup,
)

C_SOURCE = Path(__file__).with_name("mypaint_loop.c")


@dataclass(frozen=True)
class ThroughputConfig:
    """What to measure. ``quick`` takes well under a minute on 2 cores."""

    strokes: int = 1024
    """Strokes per round and renderer."""
    rounds: int = 5
    """Alternating Python/C rounds; the table reports medians."""
    size: int = 64
    brush: str = DEFAULT_BRUSH
    seed: int = 0
    env_strokes: int = 256
    """Steps per environment configuration in the env table."""
    neural_envs: int = 64
    """Environments in the batched neural-painter row."""


PRESETS = {
    "tiny": ThroughputConfig(strokes=64, rounds=1, env_strokes=16, neural_envs=4),
    "quick": ThroughputConfig(strokes=1024, rounds=5),
    "full": ThroughputConfig(strokes=4096, rounds=9, env_strokes=1024),
}


def loaded_library_path() -> str | None:
    """The file libmypaint was loaded from (Linux: read from /proc/self/maps)."""
    L.load()
    maps = Path("/proc/self/maps")
    if maps.exists():
        for line in maps.read_text().splitlines():
            if "libmypaint" in line and "/" in line:
                return line[line.index("/") :]
    return None


def compile_c_loop(workdir: Path) -> Path | None:
    """Compile the C loop; ``None`` when no compiler or library file is found."""
    cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    lib = loaded_library_path()
    if cc is None or lib is None:
        return None
    exe = workdir / "mypaint_loop"
    cmd = [cc, "-O2", "-o", str(exe), str(C_SOURCE), lib, "-lm", f"-Wl,-rpath,{Path(lib).parent}"]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"compiling the C loop failed: {' '.join(cmd)}\n{done.stderr}")
    return exe


def write_c_input(path: Path, actions: np.ndarray, config: ThroughputConfig) -> None:
    """Serialize the strokes exactly as ``render_masks`` will paint them."""
    n_chunks = -(-len(actions) // TEXTURE_CHUNK)
    warmups = [texture_warmup((config.seed, c)) for c in range(n_chunks)]
    header = np.array(
        [len(actions), A.STROKE_STEPS, TEXTURE_CHUNK, config.size, n_chunks, *warmups], np.int32
    )
    rows = []
    for xs, ys, ps, radius in stroke_paths(actions, config.size):
        pts = np.stack([xs, ys, ps], axis=1).ravel()
        rows.append(np.concatenate([[np.log(radius)], pts]).astype(np.float32))
    path.write_bytes(header.tobytes() + np.concatenate(rows).tobytes())


def python_mask_rate(renderer: MyPaintRenderer, actions: np.ndarray, seed: int) -> tuple:
    start = time.perf_counter()
    masks = renderer.render_masks(actions, seed=seed)
    return len(actions) / (time.perf_counter() - start), masks


def canvas_rate(actions: np.ndarray, config: ThroughputConfig) -> float:
    """Strokes per second on a persistent colour canvas, with one read-back per stroke
    (what an environment step costs)."""
    canvas = MyPaintCanvas(config.size, config.brush, seed=config.seed)
    start = time.perf_counter()
    for action in actions:
        canvas.paint(action)
        canvas.image()
    return len(actions) / (time.perf_counter() - start)


def measure(config: ThroughputConfig) -> pd.DataFrame:
    """Run the alternating rounds; one row per round and renderer, in strokes/s."""
    actions = np.random.default_rng(config.seed).random((config.strokes, A.ACTION_DIM))
    renderer = MyPaintRenderer(config.size, config.brush)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        exe = compile_c_loop(Path(tmp)) if config.size == L.TILE_SIZE else None
        c_input, c_output = Path(tmp) / "strokes.bin", Path(tmp) / "masks.bin"
        if exe is not None:
            write_c_input(c_input, actions, config)
        for r in range(config.rounds):
            py_rate, py_masks = python_mask_rate(renderer, actions, config.seed)
            rows.append({"round": r, "renderer": "python render_masks", "strokes_per_s": py_rate})
            if exe is not None:
                out = subprocess.run(
                    [exe, renderer.brush_path, c_input, c_output],
                    capture_output=True,
                    text=True,
                    check=True,
                )
                c_masks = np.fromfile(c_output, np.float32).reshape(py_masks.shape)
                rows.append(
                    {
                        "round": r,
                        "renderer": "C loop (limit)",
                        "strokes_per_s": float(out.stdout.strip()),
                        "max_abs_diff_to_python": float(np.abs(c_masks - py_masks).max()),
                    }
                )
            rows.append(
                {
                    "round": r,
                    "renderer": "python MyPaintCanvas paint+image",
                    "strokes_per_s": canvas_rate(actions[: max(64, config.strokes // 4)], config),
                }
            )
    return pd.DataFrame(rows)


def summarize(raw: pd.DataFrame) -> pd.DataFrame:
    """Median strokes/s per renderer, and each one's median per-round ratio to C."""
    table = raw.groupby("renderer", sort=False)["strokes_per_s"].median().to_frame()
    table.columns = ["median strokes/s (1 core)"]
    if (raw["renderer"] == "C loop (limit)").any():
        c = raw[raw["renderer"] == "C loop (limit)"].set_index("round")["strokes_per_s"]
        ratios = {
            name: statistics.median((grp.set_index("round")["strokes_per_s"] / c).dropna())
            for name, grp in raw.groupby("renderer", sort=False)
        }
        table["ratio to C loop (median of rounds)"] = pd.Series(ratios)
    return table.reset_index()


def env_table(config: ThroughputConfig) -> pd.DataFrame:
    """Environment steps per second against the bare canvas (see
    :mod:`neuralpaint.envs.throughput`); the neural row uses the shipped regression
    painter when present."""
    from neuralpaint.envs import throughput as env_throughput
    from neuralpaint.painters.neural import shipped_painters

    painter = "regression" if "regression" in shipped_painters() else None
    rows = env_throughput.measure(config.env_strokes, config.neural_envs, painter, config.seed)
    return pd.DataFrame(rows)


def plot(table: pd.DataFrame, envs: pd.DataFrame, path: Path) -> Path:
    """Strokes (or steps) per second of every renderer and environment row, as bars."""
    import matplotlib.pyplot as plt

    names = [*table["renderer"], *envs["setup"]]
    rates = [*table["median strokes/s (1 core)"], *envs["strokes_per_s"]]
    colors = ["tab:blue"] * len(table) + ["tab:orange"] * len(envs)
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(names) + 1))
    ax.barh(names[::-1], rates[::-1], color=colors[::-1])
    ax.set(xlabel="strokes (renderers) or env steps (environments) per second")
    ax.tick_params(axis="y", labelsize=7)
    return save_figure(fig, path)


def run(preset: str = "quick", out_dir: str | Path = "results/throughput") -> pd.DataFrame:
    """Measure, then write ``throughput.csv`` (raw rounds), ``env_throughput.csv``,
    ``throughput.md`` (both tables) and ``throughput.png``."""
    if preset not in PRESETS:
        raise ValueError(f"preset must be one of {sorted(PRESETS)}, got {preset!r}")
    config = PRESETS[preset]
    raw = measure(config)
    table = summarize(raw)
    envs = env_table(config)
    out = Path(out_dir)
    command = f"neuralpaint bench throughput --preset {preset}"
    write_text(out / "throughput.csv", provenance.csv_header(command) + raw.to_csv(index=False))
    write_text(
        out / "env_throughput.csv", provenance.csv_header(command) + envs.to_csv(index=False)
    )
    md = (
        "# Renderer throughput\n\n"
        + provenance.markdown_header(command)
        + f"- **config**: {config}\n\n"
        + table.to_markdown(index=False, floatfmt=".3g")
        + "\n\n## Environment steps\n\n"
        + envs.to_markdown(index=False, floatfmt=".3g")
        + f"\n\n![throughput]({plot(table, envs, out / 'throughput.png').name})\n"
    )
    write_text(out / "throughput.md", md)
    return table
