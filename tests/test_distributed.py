"""Data-parallel painter training: two CPU processes under torchrun (gloo)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch

from neuralpaint.painters import checkpoint as ckpt
from neuralpaint.painters.dataset import StrokeDatasetSpec, StrokeShards, generate
from neuralpaint.painters.neural import load_painter

# Imported first by every process the test starts (via PYTHONPATH): an audit hook that
# records, per torchrun rank, each file or folder it creates, opens for writing,
# renames or removes under WATCH.
AUDIT = """
import atexit, json, os, sys

if os.environ.get("RANK") is not None and os.environ.get("NEURALPAINT_AUDIT"):
    watch, writes = os.environ["NEURALPAINT_WATCH"], []
    WRITE = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND

    def hook(event, args):
        if event == "open" and isinstance(args[0], (str, os.PathLike)):
            mode, flags = args[1] or "", args[2] or 0
            if any(c in mode for c in "wax+") or flags & WRITE:
                writes.append(os.fspath(args[0]))
        elif event in ("os.mkdir", "os.rename", "os.remove", "os.rmdir", "os.unlink"):
            writes.append(os.fspath(args[0]))

    sys.addaudithook(hook)

    def dump():
        mine = [os.path.abspath(w) for w in writes if os.path.abspath(w).startswith(watch)]
        path = os.path.join(os.environ["NEURALPAINT_AUDIT"], f"rank{os.environ['RANK']}.json")
        with open(path, "w") as fh:
            json.dump(mine, fh)

    atexit.register(dump)
"""


def torchrun(tmp_path: Path, out: Path, *args: str) -> dict[int, list[str]]:
    """``torchrun --standalone --nproc_per_node 2 -m neuralpaint painter train ...``;
    the paths each rank wrote under ``out``."""
    audit = tmp_path / f"audit-{len(list(tmp_path.glob('audit-*')))}"
    audit.mkdir()
    (audit / "sitecustomize.py").write_text(AUDIT)
    env = os.environ | {
        "PYTHONPATH": os.pathsep.join([str(audit), os.environ.get("PYTHONPATH", "")]),
        "NEURALPAINT_AUDIT": str(audit),
        "NEURALPAINT_WATCH": str(out.resolve()),
        "OMP_NUM_THREADS": "1",
    }
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    command += ["--nproc_per_node", "2", "-m", "neuralpaint", "painter", "train", *args]
    subprocess.run(command, env=env, check=True, capture_output=True, timeout=600)
    return {r: json.loads((audit / f"rank{r}.json").read_text()) for r in (0, 1)}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    spec = StrokeDatasetSpec(strokes=120, shard_size=30, seed=7)  # 3 train shards + 1 held out
    return generate(spec, tmp_path_factory.mktemp("strokes"), workers=1, progress=False)


def test_ddp_training_with_two_processes_saves_a_painter_written_by_rank_0(data, tmp_path):
    out = tmp_path / "run"
    common = ["--data", str(data), "--out", str(out), "--device", "cpu", "--threads", "1"]
    common += ["--batch-size", "8", "--arch", '{"width": 8}', "--minutes", "60"]
    first = torchrun(tmp_path, out, *common, "--max-steps", "10")
    second = torchrun(tmp_path, out, *common, "--max-steps", "20", "--resume")
    for writes in (first, second):
        assert writes[1] == [], "only rank 0 writes"
        assert any(w.endswith("log.csv") for w in writes[0])
    log = pd.read_csv(out / "log.csv")
    assert log["step"].tolist()[-1] == 20 and (log["step"] == 0).sum() == 1  # resumed at 10
    config = json.loads((out / "painter" / ckpt.CONFIG).read_text())
    assert config["trained"]["replicas"] == 2 and config["trained"]["steps"] == 20
    painter = load_painter(out / "painter")
    assert painter(torch.rand(2, 12)).shape == (2, 1, 64, 64)


@pytest.mark.parametrize(
    "kind, extra",
    [("vae", ["--arch", '{"width": 8}']), ("gan", ["--init-from", "regression"])],
    ids=["vae", "gan"],
)
def test_vae_and_gan_average_gradients_across_two_processes(data, tmp_path, kind, extra):
    out = tmp_path / "run"
    writes = torchrun(
        tmp_path,
        out,
        "--kind",
        kind,
        "--data",
        str(data),
        "--out",
        str(out),
        "--device",
        "cpu",
        "--threads",
        "1",
        "--batch-size",
        "4",
        "--max-steps",
        "4",
        *extra,
    )  # the VAE's second stage starts at step 3 of 4
    assert writes[1] == [] and writes[0]
    assert load_painter(out / "painter")(torch.rand(2, 12)).shape == (2, 1, 64, 64)


def test_replicas_stream_different_shards(data):
    shards = StrokeShards(data)
    seen = []
    for rank in (0, 1):
        stream = shards.stream(10, seed=0, buffer_shards=1, skip_last=1, rank=rank, world=2)
        seen.append({tuple(a) for _ in range(12) for a in next(stream)[0]})
    assert seen[0] and seen[1] and not seen[0] & seen[1]
