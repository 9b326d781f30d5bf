"""Training neural painters on MyPaint stroke datasets.

One loop per kind, readable top to bottom in the manner of CleanRL, with the
hyperparameters in :class:`PainterTrainConfig`:

* ``regression``: MSE from action to mask. Linear warm-up, then exponential decay
  over the time budget (DESIGN.md: this recipe avoids the collapse to blank masks).
* ``vae``: the paper's two stages. A VAE over masks with free-bits KL and ink
  up-weighting early on, then an MLP from action to the VAE's latent mean.
* ``gan``: a texture head on a frozen regression painter, trained against a conditional
  WGAN-GP patch critic, with a reconstruction term on pooled masks that decays over the
  run (:mod:`neuralpaint.painters.gan` says why).

A regression painter imitates one brush (``brush``), or, with the fast net and several
brushes (``brush="classic/dry_brush,classic/pen"``), all of them at once: each batch
mixes strokes of every brush's dataset and the painter is told each stroke's brush.
Such a run exports the conditioned painter in ``OUT/painter`` and one painter per brush,
with the brush bound, in ``OUT/painter-<slug>``. ``distill_from`` adds a teacher
painter's masks as a second target (a student distilled from a slower twin).

Every run writes ``log.csv`` (units in the column names), an atomic checkpoint with
its training state every ``checkpoint_seconds`` (``--resume`` continues from it), and
the shippable painter (weights only) in ``OUT/painter``. Under ``torchrun`` the loops
train data-parallel (:mod:`neuralpaint.painters.distributed`) and only rank 0 writes.
"""

from __future__ import annotations

import csv
import math
import os
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from neuralpaint.painters import checkpoint as ckpt
from neuralpaint.painters import metrics
from neuralpaint.painters.brushes import brush_slug, require_twin_brushes
from neuralpaint.painters.calibration import (
    fit_calibration,
    fit_ink_shift,
    fit_temperature,
    sigmoid_masks,
)
from neuralpaint.painters.dataset import (
    StrokeDatasetSpec,
    StrokeShards,
    default_data_root,
    judged_dataset,
)
from neuralpaint.painters.distributed import Replicas
from neuralpaint.painters.gan import Critic, gradient_penalty, pooled_mse
from neuralpaint.painters.mypaint import DEFAULT_BRUSH
from neuralpaint.painters.neural import (
    KINDS,
    build_painter,
    load_painter,
    painter_brush,
    resolve,
    resolve_device,
)
from neuralpaint.progress import progress_bar

EVAL_STROKES = 1000
SELECTABLE = ("spectral_db", "mse")
"""Held-out metrics ``select_by`` can choose the exported weights by."""
LOAD_WARNING = 1.0
"""1-minute load average above which ``painter train`` warns that the CPU is shared."""


@dataclass
class PainterTrainConfig:
    """Hyperparameters of a painter training run (the CLI flags mirror these)."""

    kind: str = "regression"
    """``regression``, ``vae`` or ``gan``."""
    out: str = "runs/painter"
    """Folder for the log, the resumable checkpoint and the final painter."""
    data: str | None = None
    """Stroke dataset folder; default: the standard one of ``brush`` under
    $NEURALPAINT_DATA. Several brushes: one folder per brush, separated by commas."""
    brush: str = DEFAULT_BRUSH
    """The MyPaint brush to imitate (it must use normal blending), or several separated
    by commas for one brush-conditioned painter (regression with ``arch`` net ``fast``).
    With ``data`` given and this left at the default, the dataset's own brush."""
    discrete: bool = False
    """Train on the discrete variant (lift flag; 13-field actions)."""
    renders: int = 1
    """With ``data`` unset: the standard dataset whose masks average this many renders
    (``neuralpaint painter dataset --renders``)."""
    minutes: float = 10.0
    """Wall-clock budget; the learning-rate schedule spans it."""
    max_steps: int | None = None
    """Optional cap on optimizer steps (tests use a handful)."""
    batch_size: int = 64
    lr: float = 1e-3
    lr_final: float = 3e-5
    warmup_steps: int = 300
    seed: int = 0
    device: str = "auto"
    threads: int = 0
    """torch CPU threads; 0 keeps torch's default."""
    eval_seconds: float = 60.0
    checkpoint_seconds: float = 60.0
    arch: dict = field(default_factory=dict)
    """Architecture arguments for the painter class (e.g. ``{"width": 32}``)."""
    ink_loss: float = 0.0
    """Regression only: weight of a soft ink-IoU term
    (:func:`~neuralpaint.painters.metrics.soft_ink_iou_loss`) added to the MSE."""
    ema: float = 0.0
    """Regression only: decay of an exponential moving average of the weights per step
    (e.g. 0.999; 0 = off). The average is what is evaluated, checkpointed as the painter
    and exported: MyPaint's stochastic targets make late steps noisy, and the average
    smooths that noise out. The raw weights' held-out R² and IoU are logged beside it
    (``raw r2``, ``raw ink_iou``), so its gain is measured in the same run."""
    init_from: str = "regression"
    """GAN only: the regression painter (shipped name or folder) that becomes its base."""
    warm_start: str | None = None
    """Regression only: a regression painter (shipped name or folder) whose weights the
    run starts from, so a longer budget can be spent in sessions rather than at once."""
    vae_stage1_fraction: float = 0.6
    """VAE only: share of the budget spent on the VAE before the action-to-latent net."""
    gan_critic_steps: int = 2
    gan_recon_start: float = 1000.0
    """GAN only: weight of the pooled reconstruction term at the start. Its gradient per
    stroke is about err/32 per unit weight against the critic's norm of 1 (WGAN-GP), so
    1000 keeps the ink weight in charge early on, where 100 let the critic darken faint
    strokes ..."""
    gan_recon_end: float = 100.0
    """... and at the end of the run (exponential in between)."""
    resume: bool = False
    tensorboard: bool = False
    distill_from: str | None = None
    """Regression only: a teacher painter (shipped name or folder) of the same brush (or
    a conditioned one with the same brushes) whose masks are a second target."""
    distill_weight: float = 0.5
    """With ``distill_from``: the loss is this weight times the MSE to the teacher's
    masks plus the rest times the MSE to MyPaint's."""
    select_by: str | None = None
    """Export the weights of the evaluation (every ``eval_seconds``, and the last) with
    the lowest value of this held-out metric, e.g. ``spectral_db`` for a GAN, whose
    texture can peak before the end of the run; ``None`` exports the last weights."""


def lr_at(config: PainterTrainConfig, step: int, progress: float) -> float:
    """Linear warm-up, then exponential decay from ``lr`` to ``lr_final`` by the end."""
    if step < config.warmup_steps:
        return config.lr * (step + 1) / config.warmup_steps
    return config.lr * (config.lr_final / config.lr) ** min(progress, 1.0)


def optimizer_tensors(prefix: str, opt: torch.optim.Optimizer) -> dict[str, torch.Tensor]:
    """Adam's moments and step counts as flat tensors, for safetensors."""
    out = {}
    for i, state in opt.state_dict()["state"].items():
        for key, value in state.items():
            out[f"{prefix}/{i}/{key}"] = torch.as_tensor(value).clone()
    return out


def load_optimizer_tensors(prefix: str, opt: torch.optim.Optimizer, tensors: dict) -> None:
    state = opt.state_dict()
    for name, value in ckpt.split(tensors, prefix).items():
        i, key = name.split("/", 1)
        state["state"].setdefault(int(i), {})[key] = value
    opt.load_state_dict(state)


def single_render_sibling(shards: StrokeShards, shard: str | None = None) -> Path:
    """The folder of the single-render dataset with the same actions as a mean-of-K
    one (held-out fidelity is measured on single renders); a single-render dataset is
    its own.

    Raises:
        FileNotFoundError: when it, or its ``shard`` file, is missing, with the command
            that makes it.
    """
    if shards.spec.renders == 1:
        return shards.folder
    spec = shards.spec.single_render()
    folder = shards.folder.parent / spec.name
    path = folder / (shard or "meta.json")
    if not path.exists():
        flags = f" --brush {spec.brush}" + (" --discrete" if spec.discrete else "")
        flags += f" --seed {spec.seed}" if spec.seed else ""
        flags += f" --shard-size {spec.shard_size}" if spec.shard_size != 10_000 else ""
        raise FileNotFoundError(
            f"{shards.folder} averages {shards.spec.renders} renders; its single renders of"
            f" the same actions, {path}, are missing: make them with `neuralpaint painter"
            f" dataset --strokes {spec.strokes}{flags} --out {folder}`"
        )
    return folder


def held_out_shard(shards: StrokeShards) -> tuple[np.ndarray, np.ndarray]:
    """The last shard, which training skips, with single-render masks: for a
    mean-of-K-renders dataset, the same actions' shard of its single-render sibling,
    so held-out metrics stay comparable with every other painter's."""
    last = shards.paths[-1]
    acts, masks = shards.load_shard(last)
    if shards.spec.renders == 1:
        return acts, masks
    single = single_render_sibling(shards, last.name)
    single_acts, single_masks = shards.load_shard(single / last.name)
    if not np.array_equal(single_acts, acts):
        raise ValueError(
            f"{single / last.name} does not hold the actions of {last}; regenerate {single}"
        )
    return single_acts, single_masks


def training_datasets(config: PainterTrainConfig) -> tuple[list[str], list[Path]]:
    """The brushes a run imitates and each one's dataset folder.

    Raises:
        UserValueError: for an unknown brush or one that is not normal-blending.
        ValueError: when ``data`` and ``brush`` do not pair up, or several brushes are
            asked of a painter without a brush input.
    """
    brushes = [b.strip() for b in config.brush.split(",") if b.strip()] or [DEFAULT_BRUSH]
    data = [d.strip() for d in config.data.split(",") if d.strip()] if config.data else []
    if data and brushes == [DEFAULT_BRUSH]:  # brush left at its default: the datasets' own
        brushes = [StrokeShards(folder).spec.brush for folder in data]
    if data and len(data) != len(brushes):
        raise ValueError(
            f"--data names {len(data)} dataset(s) for {len(brushes)} brush(es); give one"
            " dataset per brush of --brush, in the same order"
        )
    require_twin_brushes(brushes)
    if len(brushes) > 1 and (config.kind != "regression" or config.arch.get("net") != "fast"):
        raise ValueError(
            f"a painter of several brushes ({', '.join(brushes)}) needs --kind regression"
            " --arch fast: only the fast net takes a brush input"
        )
    if not data:
        root = default_data_root()
        for brush in brushes:
            spec = StrokeDatasetSpec(brush=brush, discrete=config.discrete, renders=config.renders)
            data.append(root / spec.name)
            if not (root / spec.name / "meta.json").exists():
                flags = " --discrete" if config.discrete else ""
                flags += f" --renders {config.renders}" if config.renders > 1 else ""
                also = " (it makes the single renders training evaluates on too)"
                raise FileNotFoundError(
                    f"no stroke dataset of {brush!r} in {root / spec.name}: make it with"
                    f" `neuralpaint painter dataset --brush {brush}{flags}`"
                    + (also if config.renders > 1 else "")
                )
    return brushes, [Path(folder) for folder in data]


class Run:
    """Book-keeping shared by the loops: time budget, log, checkpoints, evaluation."""

    def __init__(self, config: PainterTrainConfig):
        if config.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {config.kind!r}")
        for name, value in (
            ("ink_loss", config.ink_loss),
            ("ema", config.ema),
            ("warm_start", config.warm_start),
            ("distill_from", config.distill_from),
        ):
            if value and config.kind != "regression":
                flag = "--" + name.replace("_", "-")
                raise ValueError(
                    f"{name} ({flag}) only applies to --kind regression, not {config.kind!r};"
                    f" drop {flag}"
                )
        if not 0 <= config.ema < 1:
            raise ValueError(
                f"ema (--ema) is a decay per step in [0, 1), e.g. 0.999; got {config.ema}"
            )
        self.config = config
        self.replicas = Replicas.from_env(config.device)  # under torchrun: rank, world size
        self.device = resolve_device(config.device)
        if config.threads:
            torch.set_num_threads(config.threads)
        torch.manual_seed(config.seed + self.replicas.rank)
        self.brushes, folders = training_datasets(config)
        self.shard_sets = [StrokeShards(folder) for folder in folders]
        for brush, shards in zip(self.brushes, self.shard_sets, strict=True):
            if shards.spec.discrete != config.discrete:
                raise ValueError(
                    f"dataset {shards.folder} is"
                    f" {'discrete' if shards.spec.discrete else 'continuous'} but --discrete is"
                    f" {config.discrete}"
                )
            if shards.spec.brush != brush:
                raise ValueError(
                    f"dataset {shards.folder} holds strokes of {shards.spec.brush!r}, not of"
                    f" {brush!r}; give each brush's own dataset in the order of --brush"
                )
        self.shards = self.shard_sets[0]
        sizes = {shards.spec.size for shards in self.shard_sets}
        if len(sizes) > 1:
            raise ValueError(f"the datasets have different canvas sizes {sorted(sizes)}")
        self.size = self.shards.spec.size
        self.eval_sets: list[tuple[torch.Tensor, torch.Tensor]] = []
        self.streams = []
        for shards in self.shard_sets:
            held_out = 1 if len(shards.paths) > 1 else 0
            acts, masks = held_out_shard(shards)
            self.eval_sets.append(
                (
                    torch.as_tensor(acts[:EVAL_STROKES], device=self.device),
                    torch.as_tensor(masks[:EVAL_STROKES, None], device=self.device),
                )
            )
            self.streams.append(
                shards.stream(
                    config.batch_size,
                    seed=config.seed,
                    skip_last=held_out,
                    rank=self.replicas.rank,
                    world=self.replicas.world,
                )
            )
        self.eval_actions, self.eval_masks = self.eval_sets[0]
        self.batches = self.streams[0]
        self.by_brush: dict[str, dict[str, float]] = {}
        """The last evaluation's metrics of each brush (several brushes only)."""
        self.out = Path(config.out)
        if self.replicas.main:  # only rank 0 writes
            self.out.mkdir(parents=True, exist_ok=True)
        if not 0.0 <= config.distill_weight <= 1.0:
            raise ValueError(f"distill_weight must be in [0, 1], got {config.distill_weight}")
        if config.select_by and config.select_by not in SELECTABLE:
            raise ValueError(
                f"select_by must be one of {SELECTABLE} (lower is better), got {config.select_by!r}"
            )
        self.step, self.elapsed = 0, 0.0
        self.start_step, self.start_elapsed = 0, 0.0
        self.best: dict | None = None
        """``select_by``'s best evaluation so far: value, step and metrics."""
        self.best_state: dict[str, torch.Tensor] | None = None
        self.warm_start_from: dict | None = None
        """How the warm start's painter was trained (``config.json``'s ``trained``)."""
        self.resumed_config: dict | None = None
        """The checkpoint's config after :meth:`resume_tensors` found one."""
        self.load_start = os.getloadavg()[0]
        if self.load_start > LOAD_WARNING and self.replicas.main:
            warnings.warn(
                f"load average is {self.load_start:.2f} at the start of painter training: other"
                " jobs share the CPU, so this run gets fewer steps than its budget allows on an"
                " idle machine (run one heavy job at a time)",
                stacklevel=2,
            )
        self.budget = config.minutes * 60.0
        self.log_path = self.out / "log.csv"
        self.writer = None
        if config.tensorboard and self.replicas.main:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(self.out / "tb"))

    @property
    def conditioned(self) -> bool:
        """Whether the run trains one painter on several brushes."""
        return len(self.brushes) > 1

    def painter_config(self, module: torch.nn.Module) -> dict:
        brushes = {"brushes": self.brushes} if self.conditioned else {"brush": self.brushes[0]}
        return {
            "kind": self.config.kind,
            "size": self.size,
            "discrete": self.config.discrete,
            **brushes,
            "arch": {k: v for k, v in module.config().items() if k not in ("size", "discrete")},
        }

    def batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        acts, masks = next(self.batches)
        return (
            torch.as_tensor(acts, device=self.device),
            torch.as_tensor(masks[:, None], device=self.device),
        )

    def mixed_batch(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """A batch with strokes of every brush (as equal shares as the batch size allows,
        the remainder rotating over brushes) and each stroke's brush index."""
        n, size = len(self.brushes), self.config.batch_size
        acts, masks, ids = [], [], []
        for k, stream in enumerate(self.streams):
            share = size // n + int((k - self.step) % n < size % n)
            if share:
                a, m = next(stream)
                acts.append(a[:share])
                masks.append(m[:share])
                ids.append(np.full(share, k))
        return (
            torch.as_tensor(np.concatenate(acts), device=self.device),
            torch.as_tensor(np.concatenate(masks)[:, None], device=self.device),
            torch.as_tensor(np.concatenate(ids), device=self.device),
        )

    @property
    def progress(self) -> float:
        by_time = self.elapsed / self.budget if self.budget > 0 else 0.0
        by_steps = self.step / self.config.max_steps if self.config.max_steps else 0.0
        return max(by_time, by_steps)

    def done(self) -> bool:
        self.elapsed = self.replicas.latest(self.elapsed)
        return self.progress >= 1.0

    @torch.no_grad()
    def evaluate(self, painter: torch.nn.Module, record: bool = True) -> dict[str, float]:
        """Held-out metrics; with several brushes, their mean over brushes (each brush's
        own are logged as ``r2 <slug>``, ``ink_iou <slug>``, and kept in :attr:`by_brush`
        for the export unless ``record`` is false: the raw weights of an EMA run)."""
        if not self.replicas.main:
            return {}
        painter.eval()
        results = []
        for k, (actions, masks) in enumerate(self.eval_sets):
            extra = {"brush": k} if self.conditioned else {}
            preds = torch.cat([painter(a, **extra) for a in actions.split(250)])
            results.append(metrics.all_metrics(preds, masks))
        painter.train()
        if not self.conditioned:
            return results[0]
        by_brush = dict(zip(self.brushes, results, strict=True))
        if record:
            self.by_brush = by_brush
        mean = {key: float(np.mean([r[key] for r in results])) for key in results[0]}
        for brush, result in by_brush.items():
            for key in ("r2", "ink_iou"):
                mean[f"{key} {brush_slug(brush)}"] = result[key]
        return mean

    def log(self, row: dict) -> None:
        if not self.replicas.main:
            return
        row = {"step": self.step, "seconds": round(self.elapsed, 1), **row}
        new = not self.log_path.exists()
        with open(self.log_path, "a", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(row))
            if new:
                writer.writeheader()
            writer.writerow(row)
        if self.writer:
            for k, v in row.items():
                if k != "step":
                    self.writer.add_scalar(k, v, self.step)

    def save(self, painter: torch.nn.Module, train_state: dict[str, torch.Tensor]) -> None:
        """The resumable checkpoint (weights + training state) in ``OUT/checkpoint``."""
        if not self.replicas.main:
            return
        config = {
            **self.painter_config(painter),
            "train": {
                "step": self.step,
                "elapsed": self.elapsed,
                "best": self.best,
                **asdict(self.config),
            },
        }
        tensors = {**ckpt.join("painter", painter.state_dict()), **train_state}
        if self.best_state is not None:
            tensors |= ckpt.join("best", self.best_state)
        ckpt.save(self.out / "checkpoint", tensors, config)

    def consider(self, painter: torch.nn.Module, metrics: dict[str, float]) -> None:
        """Keep the weights of the best evaluation so far, when ``select_by`` is set."""
        key = self.config.select_by
        if not key or not metrics:
            return
        if self.best is None or metrics[key] < self.best["value"]:
            self.best = {"value": metrics[key], "step": self.step, "metrics": metrics}
            if self.conditioned:
                self.best["by_brush"] = dict(self.by_brush)
            self.best_state = {k: v.detach().clone() for k, v in painter.state_dict().items()}

    def use_best(self, painter: torch.nn.Module, final_metrics: dict) -> dict[str, float]:
        """With ``select_by``, load the best evaluation's weights into ``painter`` and
        return its metrics; otherwise return ``final_metrics``."""
        if self.best_state is None:
            return final_metrics
        painter.load_state_dict(self.best_state)
        return self.best["metrics"]

    def export(self, painter: torch.nn.Module, final_metrics: dict) -> Path:
        """The shippable painter: weights only, plus how it was trained. A run on several
        brushes also writes ``painter-<slug>`` per brush: the same weights with that brush
        bound and its own held-out metrics and dataset."""
        if not self.replicas.main:
            return self.out / "painter"
        selected = {}
        if self.best is not None:
            selected = {"selected": {"by": self.config.select_by, "step": self.best["step"]}}
        summary = {k: v for k, v in final_metrics.items() if " " not in k}
        trained = {
            "steps": self.step,
            "seconds": round(self.elapsed, 1),
            **self.contention(),
            "replicas": self.replicas.world,  # data-parallel: batch_size per replica
            "dataset": str(self.shards.folder.name),
            "held_out_metrics": summary,
            **selected,
            "config": asdict(self.config),
            **({"warm_start_from": self.warm_start_from} if self.warm_start_from else {}),
        }
        tensors = ckpt.join("painter", painter.state_dict())
        config = self.painter_config(painter)
        if self.conditioned:
            by_brush = (self.best or {}).get("by_brush") or self.by_brush
            datasets = [str(shards.folder.name) for shards in self.shard_sets]
            trained.update(datasets=datasets, held_out_by_brush=by_brush)
            del trained["dataset"]  # each brush's export names its own
            for brush, dataset in zip(self.brushes, datasets, strict=True):
                own = {**trained, "dataset": dataset, "held_out_metrics": by_brush[brush]}
                ckpt.save(
                    self.out / f"painter-{brush_slug(brush)}",
                    tensors,
                    {**config, "brush": brush, "trained": own},
                )
        return ckpt.save(self.out / "painter", tensors, {**config, "trained": trained})

    def contention(self) -> dict[str, float]:
        """Load average at start and end, and this session's steps per second: a shared
        CPU shows up here rather than as a silently weaker painter."""
        seconds = self.elapsed - self.start_elapsed
        return {
            "load_average_start": round(self.load_start, 2),
            "load_average_end": round(os.getloadavg()[0], 2),
            "steps_per_second": round((self.step - self.start_step) / max(seconds, 1e-9), 2),
        }

    def resume_tensors(self) -> dict[str, torch.Tensor] | None:
        """Training state to continue from, when ``--resume`` and a checkpoint exist
        (read by rank 0 and sent to every replica)."""
        found = self.replicas.from_main(self._read_checkpoint)
        if found is None:
            return None
        self.step, self.elapsed, tensors, self.resumed_config = found
        self.start_step, self.start_elapsed = self.step, self.elapsed
        return tensors

    def _read_checkpoint(self) -> tuple[int, float, dict[str, torch.Tensor], dict] | None:
        folder = self.out / "checkpoint"
        if not (self.config.resume and (folder / ckpt.CONFIG).exists()):
            return None
        config = ckpt.read_config(folder)
        if config["kind"] != self.config.kind or config["discrete"] != self.config.discrete:
            raise ckpt.CheckpointError(
                f"{folder} is a {config['kind']} painter (discrete={config['discrete']}); it "
                f"cannot resume a {self.config.kind} run (discrete={self.config.discrete})"
            )
        tensors = ckpt.load_tensors(folder)
        if config["train"].get("best"):
            self.best = config["train"]["best"]
            self.best_state = ckpt.split(tensors, "best")
        return config["train"]["step"], config["train"]["elapsed"], tensors, config


def train(config: PainterTrainConfig) -> Path:
    """Train one painter; returns the folder of the exported painter."""
    run = Run(config)
    loop = {"regression": _train_regression, "vae": _train_vae, "gan": _train_gan}[config.kind]
    try:
        return loop(run)
    finally:
        run.replicas.close()


def _timed_loop(
    run: Run, step_fn, painter: torch.nn.Module, state_fn, raw: torch.nn.Module | None = None
) -> dict:
    """Drive ``step_fn`` until the budget is spent; evaluate, log and checkpoint. With
    ``raw`` (the weights ``painter`` averages), its held-out R² and IoU are logged too."""

    def evaluate() -> dict[str, float]:
        found = run.evaluate(painter)
        if raw is not None and found:
            own = run.evaluate(raw, record=False)
            found |= {"raw r2": own["r2"], "raw ink_iou": own["ink_iou"]}
        return found

    bar = progress_bar(
        total=100, desc=f"{run.config.kind} painter", unit="%", disable=not run.replicas.main
    )
    last_eval = last_ckpt = time.monotonic()
    t0 = time.monotonic() - run.elapsed
    losses: list[float] = []
    if run.step == 0:  # the starting point, so every log shows what training changed
        run.log({"train_loss": math.nan, **evaluate()})
    while not run.done():
        losses.append(step_fn())
        run.step += 1
        run.elapsed = time.monotonic() - t0
        bar.set_postfix(loss=f"{np.mean(losses[-50:]):.4g}", step=run.step, refresh=False)
        bar.update(min(100, int(100 * run.progress)) - bar.n)
        now = time.monotonic()
        if now - last_eval >= run.config.eval_seconds:
            evaluation = evaluate()
            run.log({"train_loss": float(np.mean(losses[-50:])), **evaluation})
            run.consider(painter, evaluation)
            last_eval = now
        if now - last_ckpt >= run.config.checkpoint_seconds:
            run.save(painter, state_fn())
            last_ckpt = now
    bar.close()
    final = evaluate()
    run.log({"train_loss": float(np.mean(losses[-50:])) if losses else math.nan, **final})
    run.consider(painter, final)
    run.save(painter, state_fn())
    return run.use_best(painter, final)


def _train_regression(run: Run) -> Path:
    cfg = run.config
    if cfg.warm_start:
        painter = load_painter(cfg.warm_start, "cpu", expect_discrete=cfg.discrete)
        found = painter.painter_config
        run.warm_start_from = found.get("trained")  # the lineage, for the painter table
        if found["kind"] != "regression" or found["size"] != run.size:
            raise ValueError(
                f"warm_start {cfg.warm_start!r} is a {found['kind']} painter of {found['size']}"
                f" px; --warm-start needs a {run.size}-px regression painter"
            )
        if run.conditioned and found.get("brushes") != run.brushes:
            raise ValueError(
                f"warm_start {cfg.warm_start!r} paints {found.get('brushes') or found.get('brush')}"
                f"; a painter of the brushes {run.brushes} starts only from one conditioned on"
                " the same brushes, in that order"
            )
        widths = ("width", "head_width", "hidden")
        other = {k: v for k, v in cfg.arch.items() if k not in widths}
        if any(found["arch"].get(k) != v for k, v in other.items()):
            raise ValueError(
                f"--arch {cfg.arch} differs from the warm start's {found['arch']}; a warm start"
                " can only widen the painter (--arch width=N, head_width=N for the broadcast"
                " painter, hidden=N for the fast one's trunk), so drop the other keys"
            )
        # widen() also drops a calibration: it was fitted to the output this run changes
        painter = painter.widen(
            **{k: int(cfg.arch[k]) for k in widths if k in cfg.arch}, seed=cfg.seed
        )
    else:
        arch = {**cfg.arch, **({"brushes": len(run.brushes)} if run.conditioned else {})}
        painter = build_painter(
            {"kind": "regression", "size": run.size, "discrete": cfg.discrete, "arch": arch}
        )
    painter = painter.to(run.device).train()
    opt = torch.optim.Adam(painter.parameters(), lr=cfg.lr)
    averaged = None
    if cfg.ema:
        averaged = AveragedModel(painter, multi_avg_fn=get_ema_multi_avg_fn(cfg.ema))
    exported = averaged.module if averaged else painter  # evaluated and checkpointed too
    if (tensors := run.resume_tensors()) is not None:
        ckpt.load_state(exported, ckpt.split(tensors, "painter"), "resume")
        if averaged:
            ckpt.load_state(painter, ckpt.split(tensors, "train/raw"), "resume")
            averaged.n_averaged.fill_(1)  # an average exists: do not restart it from the raw
        load_optimizer_tensors("train/opt", opt, tensors)
    model = run.replicas.parallel(painter)  # DistributedDataParallel under torchrun
    teacher = _teacher(run) if cfg.distill_from else None

    def step() -> float:
        for group in opt.param_groups:
            group["lr"] = lr_at(cfg, run.step, run.progress)
        if run.conditioned:
            actions, masks, ids = run.mixed_batch()
            pred = model(actions, brush=ids)
        else:
            actions, masks = run.batch()
            ids, pred = None, model(actions)
        loss = torch.nn.functional.mse_loss(pred, masks)
        if teacher is not None:
            with torch.no_grad():
                taught = teacher(actions) if ids is None else teacher(actions, brush=ids)
            w = cfg.distill_weight
            loss = (1 - w) * loss + w * torch.nn.functional.mse_loss(pred, taught)
        if cfg.ink_loss:
            loss = loss + cfg.ink_loss * metrics.soft_ink_iou_loss(pred, masks)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if averaged:
            averaged.update_parameters(painter)
        return loss.item()

    def state() -> dict[str, torch.Tensor]:
        raw = ckpt.join("train/raw", painter.state_dict()) if averaged else {}
        return {**optimizer_tensors("train/opt", opt), **raw}

    final = _timed_loop(run, step, exported, state, raw=painter if averaged else None)
    return run.export(exported.eval(), final)


def _teacher(run: Run) -> torch.nn.Module:
    """The frozen painter a student is distilled from: of the run's brush (a painter of
    several brushes that include it is bound to it), or, for a student of several
    brushes, one conditioned on the same brushes in the same order.

    Raises:
        ValueError: for a teacher of other brushes, sizes or action variant.
    """
    cfg = run.config
    if run.conditioned:
        teacher = load_painter(cfg.distill_from, run.device, expect_discrete=cfg.discrete)
        if teacher.painter_config.get("brushes") != run.brushes:
            raise ValueError(
                f"--distill-from {cfg.distill_from} is not conditioned on {run.brushes}; a"
                " student of several brushes needs a teacher of the same brushes, in that order"
            )
    else:
        try:
            teacher = load_painter(
                cfg.distill_from, run.device, expect_discrete=cfg.discrete, brush=run.brushes[0]
            )
        except ckpt.CheckpointError as exc:
            raise ValueError(f"--distill-from: {exc}") from exc
    if teacher.painter_config["size"] != run.size:
        raise ValueError(
            f"--distill-from {cfg.distill_from} paints {teacher.painter_config['size']} px"
            f" strokes, the dataset {run.size} px"
        )
    return teacher.requires_grad_(False)


def _train_vae(run: Run) -> Path:
    cfg = run.config
    painter = build_painter(
        {"kind": "vae", "size": run.size, "discrete": cfg.discrete, "arch": cfg.arch}
    )
    painter = painter.to(run.device).train()
    vae_params = [p for n, p in painter.named_parameters() if not n.startswith("to_latent")]
    opt_vae = torch.optim.Adam(vae_params, lr=cfg.lr)
    opt_map = torch.optim.Adam(painter.to_latent.parameters(), lr=cfg.lr)
    if (tensors := run.resume_tensors()) is not None:
        ckpt.load_state(painter, ckpt.split(tensors, "painter"), "resume")
        load_optimizer_tensors("train/opt_vae", opt_vae, tensors)
        load_optimizer_tensors("train/opt_map", opt_map, tensors)
    run.replicas.average_gradients(opt_vae, opt_map)  # under torchrun
    free_bits = 0.5 * painter.latent
    stage1 = cfg.vae_stage1_fraction

    def step() -> float:
        actions, masks = run.batch()
        if run.progress < stage1:  # stage one: the VAE over masks
            local = run.progress / stage1
            for group in opt_vae.param_groups:
                group["lr"] = lr_at(cfg, run.step, local)
            mu, logvar = painter.encode(masks)
            z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
            recon = painter.decode(z)
            ink_weight = 1.0 + 9.0 * max(0.0, 1.0 - local / 0.3)  # x10 on ink, early only
            weight = torch.where(masks > 0.05, ink_weight, 1.0)
            rec = (weight * (recon - masks) ** 2).sum(dim=(1, 2, 3)).mean()
            kl = (-0.5 * (1 + logvar - mu**2 - logvar.exp()).sum(1)).mean()
            loss = rec + torch.clamp(kl, min=free_bits)
            opt_vae.zero_grad(set_to_none=True)
            loss.backward()
            opt_vae.step()
            return rec.item() / masks[0].numel()
        local = (run.progress - stage1) / (1 - stage1)  # stage two: action to latent
        for group in opt_map.param_groups:
            group["lr"] = lr_at(cfg, 10**9, local)
        with torch.no_grad():
            target, _ = painter.encode(masks)
        loss = torch.nn.functional.mse_loss(painter.to_latent(_shape(painter, actions)), target)
        opt_map.zero_grad(set_to_none=True)
        loss.backward()
        opt_map.step()
        return loss.item()

    def state() -> dict:
        return {
            **optimizer_tensors("train/opt_vae", opt_vae),
            **optimizer_tensors("train/opt_map", opt_map),
        }

    final = _timed_loop(run, step, painter, state)
    return run.export(painter.eval().without_encoder(), final)


def _shape(painter: torch.nn.Module, actions: torch.Tensor) -> torch.Tensor:
    from neuralpaint.painters.broadcast import shape_inputs

    return shape_inputs(actions, painter.discrete)


def _train_gan(run: Run) -> Path:
    cfg = run.config
    if (tensors := run.resume_tensors()) is not None:
        generator = build_painter(run.resumed_config)  # rank 0 read it for every replica
        ckpt.load_state(generator, ckpt.split(tensors, "painter"), "resume")
    else:
        regression = load_painter(cfg.init_from, "cpu", expect_discrete=cfg.discrete)
        if regression.painter_config["arch"].get("net", "broadcast") != "broadcast":
            raise ValueError(
                f"--init-from {cfg.init_from} is a fast painter; the GAN's texture head builds"
                " on a broadcast regression painter"
            )
        if painter_brush(regression.painter_config) != run.brushes[0]:
            raise ValueError(
                f"--init-from {cfg.init_from} imitates"
                f" {painter_brush(regression.painter_config)!r}, but the dataset holds strokes"
                f" of {run.brushes[0]!r}"
            )
        base = {"width": regression.width, "base_head_width": regression.head_width}
        arch = {**base, **cfg.arch}
        generator = build_painter(
            {"kind": "gan", "size": run.size, "discrete": cfg.discrete, "arch": arch}
        )
        generator.base.load_state_dict(regression.widen().state_dict())  # uncalibrated
    generator = generator.to(run.device).train()
    generator.base.requires_grad_(False)  # the base keeps the regression painter's placement
    critic = Critic(cfg.discrete).to(run.device).train()
    opt_g = torch.optim.Adam(generator.texture.parameters(), lr=cfg.lr, betas=(0.5, 0.9))
    opt_c = torch.optim.Adam(critic.parameters(), lr=cfg.lr, betas=(0.5, 0.9))
    if tensors is not None:
        ckpt.load_state(critic, ckpt.split(tensors, "train/critic"), "resume critic")
        load_optimizer_tensors("train/opt_g", opt_g, tensors)
        load_optimizer_tensors("train/opt_c", opt_c, tensors)
    run.replicas.average_gradients(opt_g, opt_c)  # under torchrun

    def base_batch() -> tuple[torch.Tensor, ...]:
        actions, real = run.batch()
        with torch.no_grad():
            logits, features = generator.base.logits_and_features(actions)
        return actions, real, logits, features, sigmoid_masks(logits)

    def step() -> float:
        lr = lr_at(cfg, run.step, run.progress)
        for group in [*opt_g.param_groups, *opt_c.param_groups]:
            group["lr"] = lr
        for _ in range(cfg.gan_critic_steps):
            actions, real, logits, features, mean = base_batch()
            with torch.no_grad():
                fake = sigmoid_masks(generator.textured_logits(logits, features, None))
            loss_c = critic(actions, fake, mean).mean() - critic(actions, real, mean).mean()
            loss_c = loss_c + 10.0 * gradient_penalty(critic, actions, real, fake, mean)
            opt_c.zero_grad(set_to_none=True)
            loss_c.backward()
            opt_c.step()
        actions, real, logits, features, mean = base_batch()
        fake = sigmoid_masks(generator.textured_logits(logits, features, None))
        recon_weight = (
            cfg.gan_recon_start * (cfg.gan_recon_end / cfg.gan_recon_start) ** run.progress
        )
        recon = pooled_mse(fake, real)
        loss_g = -critic(actions, fake, mean).mean() + recon_weight * recon
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()
        return recon.item()

    def state() -> dict:
        return {
            **ckpt.join("train/critic", critic.state_dict()),
            **optimizer_tensors("train/opt_g", opt_g),
            **optimizer_tensors("train/opt_c", opt_c),
        }

    final = _timed_loop(run, step, generator, state)
    return run.export(generator.eval(), final)


@torch.no_grad()
def _paint_in_batches(module: torch.nn.Module, actions: np.ndarray) -> torch.Tensor:
    """A painter's masks for many actions, 500 at a time to bound memory."""
    return torch.cat([module(a) for a in torch.as_tensor(actions).split(500)])


CALIBRATION_KINDS = ("knots", "temperature")
"""What ``calibrate`` fits: see its ``kind``."""


def calibrate(
    painter: str | Path,
    out: str | Path | None = None,
    data: str | Path | None = None,
    strokes: int = 20_000,
    knots: int = 32,
    threads: int = 0,
    kind: str = "knots",
    fit_threshold: bool = False,
) -> Path:
    """Fit a regression painter's output calibration to its training dataset and write
    the calibrated painter.

    The fit uses the first ``strokes`` strokes of the dataset the painter was trained on
    (mean-of-renders targets when it was trained on them), never its held-out last
    shard, on which the painter is evaluated before and after.

    Args:
        painter: a regression painter (shipped name or folder).
        out: folder for the calibrated painter; default: ``<painter folder>-calibrated``.
        data: stroke dataset folder; default: the one the painter was trained on.
        strokes: training strokes to fit on.
        knots: knots on each side of the ink threshold (``kind="knots"``).
        threads: torch CPU threads; 0 keeps torch's default.
        kind: ``"knots"``, a piecewise-linear :class:`~neuralpaint.painters.calibration.
            Calibration` (the most faithful), or ``"temperature"``, a
            :class:`~neuralpaint.painters.calibration.LogitTemperature` (nearly free at
            paint time, for the fast twins).
        fit_threshold: with ``kind="temperature"``, also move the ink threshold to the
            logit where the painter's ink best matches (IoU) single MyPaint renders of
            the same training strokes (the dataset's single-render sibling), the
            targets held-out fidelity is measured against. The temperatures are then
            fitted around it.

    Raises:
        ValueError: for a painter that is not a regression painter, too few strokes,
            an unknown ``kind``, or ``fit_threshold`` with ``kind="knots"``.
        FileNotFoundError: for ``fit_threshold`` without the single-render dataset,
            saying how to make it.
    """
    if threads:
        torch.set_num_threads(threads)
    source = resolve(painter)
    config = ckpt.read_config(source)
    if config["kind"] != "regression":
        raise ValueError(
            f"{source} is a {config['kind']} painter; only regression painters calibrate"
        )
    if strokes < 100:
        raise ValueError(f"strokes must be at least 100 to fit a calibration, got {strokes}")
    if kind not in CALIBRATION_KINDS:
        raise ValueError(f"kind must be one of {', '.join(CALIBRATION_KINDS)}, got {kind!r}")
    if fit_threshold and kind != "temperature":
        raise ValueError(
            "fit_threshold (--fit-threshold) moves a logit temperature's threshold; a"
            " piecewise-linear calibration is pinned at it: use kind 'temperature'"
        )
    raw = load_painter(source).widen()  # the same weights, without any earlier calibration
    shards = StrokeShards(data or default_data_root() / config["trained"]["dataset"])
    if len(shards.paths) < 2:
        raise ValueError(f"{shards.folder} has one shard; calibrating needs a held-out shard too")
    acts, targets = shards.arrays(limit=strokes, skip_last=1)
    paint = _paint_in_batches
    pred, target = paint(raw, acts), torch.as_tensor(targets[:, None])
    shift = 0.0
    if fit_threshold:
        single = StrokeShards(single_render_sibling(shards))
        single_acts, single_masks = single.arrays(limit=strokes, skip_last=1)
        if not np.array_equal(single_acts, acts):
            raise ValueError(f"{single.folder} does not hold the strokes of {shards.folder}")
        shift = fit_ink_shift(pred, torch.as_tensor(single_masks[:, None]))
    if kind == "knots":
        fitted = fit_calibration(pred, target, knots)
    else:
        fitted = fit_temperature(pred, target, shift=shift)
    calibrated = raw.widen()
    calibrated.calibration = fitted
    held_acts, held_masks = held_out_shard(shards)
    held_masks = torch.as_tensor(held_masks[:EVAL_STROKES, None])
    before, after = (
        metrics.all_metrics(paint(m, held_acts[:EVAL_STROKES]), held_masks)
        for m in (raw, calibrated)
    )
    out = Path(out) if out else source.with_name(source.name + "-calibrated")
    record = {
        "dataset": shards.folder.name,
        "strokes": len(acts),
        "kind": kind,
        **({"knots": knots} if kind == "knots" else {}),
        "held_out_before": before,
        "held_out_after": after,
        "command": f"neuralpaint painter calibrate {painter} --strokes {strokes}"
        + (f" --knots {knots}" if kind == "knots" else " --kind temperature")
        + (" --fit-threshold" if fit_threshold else "")
        + f" --out {out}",
    }
    if fit_threshold:
        record["threshold_shift"] = shift
    arch = {k: v for k, v in calibrated.config().items() if k not in ("size", "discrete")}
    stored = {k: v for k, v in config.items() if k != "neuralpaint_version"}
    stored.update(arch=arch, calibration=record)
    return ckpt.save(out, ckpt.join("painter", calibrated.state_dict()), stored)


def evaluate_shards(
    painter: str | Path,
    shards: list[int] | None = None,
    data: str | Path | None = None,
    strokes: int | None = None,
) -> dict[str, dict[str, float]]:
    """A painter's metrics against single MyPaint renders of shards of its dataset.

    The last shard is the one training holds out; any other shows how the painter does on
    strokes it trained on, so the two together say whether it overfits.

    Args:
        painter: a painter (shipped name or folder).
        shards: shard indices (negative counts from the end); default: the last.
        data: a single-render dataset; default: the one behind the painter's dataset.
        strokes: strokes per shard (default: all of it).

    Returns:
        ``{shard file name: metrics}``.
    """
    module = load_painter(painter)
    if data is None:
        try:
            judged = StrokeShards(default_data_root() / judged_dataset(module.painter_config))
        except ValueError as exc:
            raise ValueError(f"{painter}: {exc}; or give --data") from exc
        data = judged.folder.parent / judged.spec.single_render().name
    dataset = StrokeShards(data)
    results = {}
    for index in shards or [-1]:
        if not -len(dataset.paths) <= index < len(dataset.paths):
            raise ValueError(
                f"shard {index} is out of range: {dataset.folder} has {len(dataset.paths)} shards"
            )
        acts, masks = dataset.load_shard(dataset.paths[index])
        pred = _paint_in_batches(module, acts[:strokes])
        results[dataset.paths[index].name] = metrics.all_metrics(
            pred, torch.as_tensor(masks[:strokes, None])
        )
    return results
