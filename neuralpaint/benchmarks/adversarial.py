"""The paper's section 3: the amortised agent trained adversarially through the painter.

The paper trains its agent through the neural painter with an adversarial loss instead
of L2 (a WGAN critic judges (painting, target) pairs), recreating SPIRAL's results
without RL, and runs its preconditioning with that loss. ``neuralpaint bench
adversarial`` measures it on the real program. Every run trains the amortised agent
(:mod:`neuralpaint.agents.amortized`) from scratch through the shipped ``regression``
painter with one of three losses (:data:`LOSSES`), all with the same L2 term:

* ``l2``: ``10 * MSE`` alone (how the shipped ``amortized-mnist`` trained);
* ``adversarial``: WGAN-GP critic (weight 1) plus ``10 * MSE``, the loss of the paper's
  reference implementation. The L2 term is the small one: at the start of training its
  gradient on the canvas is about a fourteenth of the critic's (measured on MNIST,
  batch 16), and the share falls as L2 does;
* ``mixed``: the critic at weight 0.1 plus ``10 * MSE``: the two gradients of about
  equal size at the start.

Then each run's strokes for held-out test targets are painted by MyPaint and judged:

* **L2** per pixel and **SSIM** against the target;
* **recognisability**: the accuracy of a held-out classifier
  (:mod:`neuralpaint.benchmarks.recognition`, trained on the dataset's training images,
  never on a painting) on the MyPaint paintings; its accuracy on the real test images is
  the **ceiling**, reported beside it;
* **stroke use** (:mod:`neuralpaint.benchmarks.visibility`): the share of each stroke's
  ink still visible at the end, by stroke position, and the number of strokes visible;
* on MNIST, **Kendall's τ** between the agent's stroke order and the hand-drawn human
  order (:func:`~neuralpaint.agents.preconditioning.stroke_order_agreement`).

Besides the three losses the suite runs, as cells of the same cache:

* **preconditioning as the paper runs it** (MNIST): forced onto the hand-drawn strokes
  first, then trained with the adversarial loss (the paper's schedule scaled down as
  claim 4's run did: forcing alone for 150 batches, forcing weight 2000 until batch 300,
  then 0.2), over as many seeds as the adversarial runs it is compared with;
* **SPIRAL's discriminator reward** (MNIST): PPO on the real MyPaint environment with
  ``reward="discriminator"``, the shipped adversarial agent's critic scoring the finished
  painting (:mod:`neuralpaint.agents.spiral`), as the convergence ``long`` preset trains
  PPO (600 s, its PPO settings), beside PPO with the L2 reward trained alike;
* the **shipped** agents ``amortized-mnist`` and ``amortized-adversarial-mnist``
  (20 minutes each, alone on the machine), as they are.

Datasets: MNIST (3 training seeds per loss) and Fashion-MNIST (1 seed), both offline;
KMNIST and CelebA (1 seed) when their files are present (docs/adversarial.md says where
they go), else skipped with one line each. So is anything that needs the shipped
adversarial agent while it is not trained yet.

Presets (run one at a time, alone on the machine; cells run two side by side, one
thread each, and finished cells are cached, so a suite can be run in parts and resumed):

* ``tiny``: MNIST, one optimizer step per run, 4 targets: seconds, for tests;
* ``quick``: MNIST, 1 seed, 90 s per run, 200 targets: about 6 minutes;
* ``full``: the committed run, 10 minutes per run, 1,000 targets per dataset. 17 training
  runs (MNIST: 3 losses x 3 seeds, 3 preconditioned, 2 PPO; Fashion-MNIST: 3) of 10
  minutes on 2 workers, their evaluations and the classifiers: about 100 minutes of
  machine time; KMNIST and CelebA, when present, add about 20 minutes each.

Outputs in ``results/adversarial/``: ``adversarial.csv`` (one row per run),
``adversarial.md`` (the tables), ``adversarial_<env>.png`` (targets and each kind's
MyPaint paintings) and ``visibility_<env>.png`` (visible share by stroke position).
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from neuralpaint.benchmarks import provenance
from neuralpaint.benchmarks.aggregate import mean_ci
from neuralpaint.benchmarks.cells import DEFAULT_CACHE, run_cells, source_digest
from neuralpaint.io import write_text

MNIST = "NeuralPaint-MNIST-v0"
FASHION = "NeuralPaint-FashionMNIST-v0"
KMNIST = "NeuralPaint-KMNIST-v0"
CELEBA = "NeuralPaint-CelebA-v0"
DATASETS = {MNIST: "mnist", FASHION: "fashion-mnist", KMNIST: "kmnist", CELEBA: "celeba"}
PAINTER = "regression"
LOSSES = {
    "l2": {"l2_weight": 10.0, "adversarial_weight": 0.0},
    "adversarial": {"l2_weight": 10.0, "adversarial_weight": 1.0},
    "mixed": {"l2_weight": 10.0, "adversarial_weight": 0.1},
}
"""The amortised agent's loss of each kind of run (see the module docstring)."""
AGENT_SETTINGS = (("batch_size", 16), ("lr", 1e-3))
"""As the shipped ``amortized-mnist`` trained."""
PRECONDITIONED = "adversarial+precondition"
SPIRAL = "ppo, discriminator reward"
PPO_L2 = "ppo, L2 reward"
SHIPPED = ("amortized-mnist", "amortized-adversarial-mnist")
"""Shipped agents judged as they are (each trained 20 minutes alone on the machine)."""
SHIPPED_ADVERSARIAL = "amortized-adversarial-mnist"
EVAL_SEED = 303
"""Seeds the MyPaint canvases (and the stroke masks) every painting is judged on."""
TARGET_SEED = 0
"""Seeds the fixed random subset of test targets."""
RECOGNISED_TARGET = 0.9
"""The issue's target: the adversarial agent's paintings recognised at 90% of the
classifier's accuracy on the real test images."""


@dataclass(frozen=True)
class AdversarialConfig:
    """A preset (see the module docstring)."""

    seconds: float | None = 600.0
    """Training wall-clock per amortised run."""
    steps: int | None = None
    """Or a step budget per amortised run (whichever ends first)."""
    seeds: int = 3
    """Training seeds per loss on MNIST."""
    other_seeds: int = 1
    """Training seeds per loss on every other dataset."""
    losses: tuple[str, ...] = tuple(LOSSES)
    agent_args: tuple[tuple[str, object], ...] = AGENT_SETTINGS
    """The amortised agent's settings besides its loss."""
    envs: tuple[str, ...] = (MNIST, FASHION)
    optional_envs: tuple[str, ...] = (KMNIST, CELEBA)
    """Run when their files are present, else skipped with one line each."""
    precondition: bool = True
    forcing_only_steps: int = 150
    decay_step: int = 300
    rl_seconds: float | None = 600.0
    """PPO's training wall-clock: the convergence ``long`` preset's PPO budget."""
    rl_steps: int | None = None
    rl_reference: bool = True
    """Also PPO with the L2 reward, at the same budget."""
    rl_args: tuple[tuple[str, object], ...] = ()
    """PPO arguments other than the defaults (small rollouts for the tiny preset)."""
    shipped: bool = True
    targets: int = 1000
    """Held-out test targets per dataset (a fixed random subset)."""
    train_images: int = 10_000
    """Training targets at most (evenly spaced; CelebA's 160k would not fit in memory)."""
    classifier_steps: int = 1500
    workers: int = 2
    gallery: int = 8


PRESETS = {
    "tiny": AdversarialConfig(
        seconds=None,
        steps=1,
        seeds=1,
        losses=("adversarial",),
        agent_args=(("batch_size", 4), ("lr", 1e-3)),
        envs=(MNIST,),
        forcing_only_steps=1,
        decay_step=2,
        rl_seconds=None,
        rl_steps=16,
        rl_reference=False,
        rl_args=(("n_envs", 2), ("n_steps", 8), ("batch_size", 16), ("n_epochs", 1)),
        shipped=False,
        targets=4,
        train_images=200,
        classifier_steps=10,
        workers=1,
        gallery=4,
    ),
    "quick": AdversarialConfig(
        seconds=90.0,
        seeds=1,
        envs=(MNIST,),
        optional_envs=(),
        forcing_only_steps=20,
        decay_step=40,
        rl_seconds=90.0,
        rl_reference=False,
        targets=200,
    ),
    "full": AdversarialConfig(),
}


# ------------------------------------------------------------------------ the cells


def file_digest(path: str | Path) -> str:
    """SHA-1 of a file (short): weights in a cell's key make retrained ones rerun it."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha1").hexdigest()[:12]


EVALUATION_MODULES = (
    "neuralpaint.benchmarks.adversarial",
    "neuralpaint.benchmarks.recognition",
    "neuralpaint.benchmarks.visibility",
    "neuralpaint.agents.evaluation",
    "neuralpaint.agents.preconditioning",
)
"""Modules whose code decides a cell's numbers besides its agent's: how it trains, paints
and judges. Their hash is in every cell's key, so a fixed metric reruns the cells."""


def evaluation_digest() -> str:
    """:func:`~neuralpaint.benchmarks.cells.source_digest` of :data:`EVALUATION_MODULES`."""
    import importlib

    return source_digest(importlib.import_module(name) for name in EVALUATION_MODULES)


def data_sources(envs: list[str]) -> dict[str, str]:
    """Where each env's images come from (the offline subset or the full files): in the
    cells' keys, so adding the full MNIST files later reruns the cells."""
    from neuralpaint.envs.datasets import load_dataset

    return {env: load_dataset(DATASETS[env], "train").source for env in envs}


def dataset_missing(env: str) -> str | None:
    """Why ``env``'s dataset cannot be loaded (one line), or ``None`` when it can."""
    from neuralpaint.envs.datasets import DatasetError, data_root, load_dataset

    name = DATASETS[env]
    try:
        for split in ("train", "test"):
            load_dataset(name, split)
    except DatasetError:
        return (
            f"skipping {env}: no {name} files in {data_root() / name} "
            "(docs/adversarial.md says where to put them)"
        )
    return None


def shipped_folder(name: str) -> Path | None:
    """A shipped agent's folder, or ``None`` while it is not trained."""
    from neuralpaint.agents.commands import SHIPPED_AGENTS

    folder = SHIPPED_AGENTS / name
    return folder if (folder / "agent.json").is_file() else None


def long_preset_ppo() -> dict:
    """PPO's settings in the convergence ``long`` preset (the sweep's choice), which the
    RL cells train with, so they are the long preset's PPO but for the reward."""
    from neuralpaint.benchmarks.convergence import PRESETS as CONVERGENCE

    return dict(CONVERGENCE["long"].agent_kwargs.get("ppo", {}))


def seeds_for(config: AdversarialConfig, env: str) -> int:
    return config.seeds if env == MNIST else config.other_seeds


def cells_for(
    config: AdversarialConfig,
    envs: list[str],
    critic: tuple[str, str] | None,
    classifier_dir: str,
    device: str = "cpu",
) -> list[dict]:
    """Every cell: ``critic`` is ``(path, digest)`` of the discriminator reward's critic,
    or ``None`` to leave the PPO cells out."""
    common = {
        "targets": config.targets,
        "train_images": config.train_images,
        "classifier_steps": config.classifier_steps,
        "classifier_dir": classifier_dir,
        "gallery": config.gallery,
        "device": device,
        "evaluation_code": evaluation_digest(),
    }
    sources = data_sources(envs)
    budget = {"seconds": config.seconds, "steps": config.steps}
    cells = []
    for env in envs:
        for loss in config.losses:
            for seed in range(seeds_for(config, env)):
                cells.append(
                    {
                        "env": env,
                        "kind": loss,
                        "agent": f"amortized@{PAINTER}",
                        "agent_args": LOSSES[loss] | dict(config.agent_args),
                        "seed": seed,
                        "data": sources[env],
                    }
                    | budget
                    | common
                )
    if MNIST in envs and config.precondition:
        schedule = {"forcing_only_steps": config.forcing_only_steps}
        schedule["decay_step"] = config.decay_step
        for seed in range(config.seeds):
            cells.append(
                {
                    "env": MNIST,
                    "data": sources[MNIST],
                    "kind": PRECONDITIONED,
                    "agent": f"amortized@{PAINTER}",
                    "agent_args": LOSSES["adversarial"] | dict(config.agent_args),
                    "precondition": schedule,
                    "seed": seed,
                }
                | budget
                | common
            )
    if MNIST in envs:
        from neuralpaint.agents.spiral import SPEC

        rl_budget = {"seconds": config.rl_seconds, "steps": config.rl_steps}
        rl_args = long_preset_ppo() | dict(config.rl_args)
        if critic is not None:
            path, digest = critic
            cells.append(
                {
                    "env": MNIST,
                    "data": sources[MNIST],
                    "kind": SPIRAL,
                    "agent": f"{SPEC}@mypaint",
                    "agent_args": rl_args | {"critic": path},
                    "critic_digest": digest,
                    "seed": 0,
                }
                | rl_budget
                | common
            )
        if config.rl_reference:
            cells.append(
                {
                    "env": MNIST,
                    "data": sources[MNIST],
                    "kind": PPO_L2,
                    "agent": "ppo@mypaint",
                    "agent_args": rl_args,
                    "seed": 0,
                }
                | rl_budget
                | common
            )
        for name in SHIPPED if config.shipped else ():
            folder = shipped_folder(name)
            if folder is not None:
                cells.append(
                    {
                        "env": MNIST,
                        "data": sources[MNIST],
                        "kind": f"{name} (shipped)",
                        "agent": f"amortized@{PAINTER}",
                        "shipped": name,
                        "weights_digest": file_digest(folder / "policy.safetensors"),
                        "seed": 0,
                    }
                    | common
                )
    return cells


def held_out(dataset: str, count: int, size: int) -> tuple[np.ndarray, np.ndarray | None]:
    """A fixed random subset of the test split: ``(N, size, size, 3)`` images in [0, 1]
    and their labels (``None`` for unlabelled data)."""
    from neuralpaint.envs.datasets import load_dataset

    test = load_dataset(dataset, "test")
    chosen = np.random.default_rng(TARGET_SEED).permutation(len(test))[: min(count, len(test))]
    images = test.batch(chosen, size).astype(np.float32) / 255.0
    labels = None if test.labels is None else np.asarray(test.labels)[chosen]
    return images, labels


def training_set(dataset: str, count: int, size: int) -> tuple[np.ndarray, np.ndarray | None]:
    """At most ``count`` training images, evenly spaced over the split, and labels."""
    from neuralpaint.envs.datasets import load_dataset

    train = load_dataset(dataset, "train")
    idx = np.linspace(0, len(train) - 1, min(count, len(train))).round().astype(int)
    images = train.batch(idx, size).astype(np.float32) / 255.0
    return images, None if train.labels is None else np.asarray(train.labels)[idx]


def make_cell_agent(cell: dict, train_images: np.ndarray, train_labels: np.ndarray | None):
    """The cell's agent, trained (or loaded, for a shipped one)."""
    from neuralpaint.agents.base import Agent, Budget
    from neuralpaint.agents.registry import make_agent

    if "shipped" in cell:
        return Agent.load(shipped_folder(cell["shipped"]))
    agent = make_agent(
        cell["agent"], cell["env"], cell["seed"], dict(cell["agent_args"]), cell["device"]
    )
    agent.task.train_targets = train_images  # the capped training set
    if cell.get("precondition"):
        from neuralpaint.agents.preconditioning import PreconditioningSchedule, precondition

        precondition(agent, train_labels, PreconditioningSchedule(**cell["precondition"]))
    agent.train(Budget(seconds=cell["seconds"], steps=cell["steps"]))
    return agent


def run_cell(cell: dict) -> list[dict]:
    """Train (or load) the cell's agent, paint the held-out targets, judge on MyPaint."""
    from neuralpaint.agents.evaluation import paint_on_mypaint, paint_on_painter
    from neuralpaint.agents.preconditioning import stroke_order_agreement
    from neuralpaint.agents.task import Task
    from neuralpaint.benchmarks import recognition, visibility
    from neuralpaint.benchmarks.frontier import ssim_per_image

    env, dataset = cell["env"], DATASETS[cell["env"]]
    task = Task.from_env_id(env, painter=PAINTER)
    targets, labels = held_out(dataset, cell["targets"], task.size)
    train_images, train_labels = training_set(dataset, cell["train_images"], task.size)
    agent = make_cell_agent(cell, train_images, train_labels)
    task = agent.task
    start = time.perf_counter()
    actions = task.finalize(agent.paint(targets))
    paint_seconds = (time.perf_counter() - start) / len(targets)
    images = paint_on_mypaint(actions, task.size, EVAL_SEED)
    l2 = ((images - targets) ** 2).mean(axis=(1, 2, 3))
    neural = paint_on_painter(actions, Task.from_env_id(env, painter=PAINTER))
    shares = visibility.mypaint_shares(actions, task.size, EVAL_SEED)
    row = {
        "env": env,
        "kind": cell["kind"],
        "seed": cell["seed"],
        "agent": cell.get("shipped", cell["agent"]),
        "trained_seconds": agent.trained_seconds,
        "trained_steps": agent.trained_steps,
        "targets": len(targets),
        "strokes": task.strokes,
        "mypaint_l2": float(l2.mean()),
        "neural_l2": float(((neural - targets) ** 2).mean()),
        "blank_l2": float(((1.0 - targets) ** 2).mean()),
        "ssim": float(ssim_per_image(images, targets).mean()),
        "recognised": math.nan,
        "ceiling": math.nan,
        "classifier_ceiling": math.nan,
        "visible_share": float(np.nanmean(shares)),
        "first_stroke_share": float(np.nanmean(shares[:, 0])),
        "visible_strokes": float(visibility.visible_strokes(shares).mean()),
        "tau": math.nan,
        "paint_seconds_per_target": paint_seconds,
    }
    if labels is not None:
        config = recognition.ClassifierConfig(steps=cell["classifier_steps"])
        classifier = recognition.load_or_train(dataset, cell["classifier_dir"], config)
        row["recognised"] = float(classifier.correct(images, labels).mean())
        row["ceiling"] = float(classifier.correct(targets, labels).mean())
        row["classifier_ceiling"] = classifier.ceiling
        if dataset == "mnist" and task.strokes == 8:
            row["tau"] = float(stroke_order_agreement(actions, labels).mean())
    for t in range(task.strokes):
        row[f"share_{t + 1}"] = float(np.nanmean(shares[:, t]))
    gallery = np.round(images[: cell["gallery"]] * 255).astype(np.uint8)
    row["gallery"] = gallery.tolist()
    return [row]


# ---------------------------------------------------------------------- the tables

METRICS = {
    "mypaint_l2": "MyPaint L2",
    "ssim": "SSIM",
    "recognised": "recognised",
    "visible_share": "visible share",
    "first_stroke_share": "first stroke's share",
    "visible_strokes": "visible strokes",
    "tau": "Kendall τ",
}
"""Per-run metrics the summary averages over seeds (mean and 95% interval)."""


def summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per env and kind: each metric's mean and 95% interval over seeds, the ceiling,
    recognised over the ceiling, steps trained and the seed count."""
    rows = []
    for (env, kind), group in table.groupby(["env", "kind"], sort=False):
        row = {"env": env, "kind": kind}
        for column, label in METRICS.items():
            mean, half = mean_ci(group[column].dropna())
            row[label], row[f"{label} ±"] = mean, half
        row["ceiling"] = group["ceiling"].mean()
        row["recognised / ceiling"] = row["recognised"] / row["ceiling"]
        row["steps trained"] = group["trained_steps"].mean()
        row["seconds trained"] = group["trained_seconds"].mean()
        row["seeds"] = len(group)
        rows.append(row)
    return pd.DataFrame(rows)


def _pm(mean: float, half: float, digits: int) -> str:
    if isinstance(mean, float) and math.isnan(mean):
        return "–"
    return f"{mean:.{digits}f} ± {half:.{digits}f}" if half else f"{mean:.{digits}f}"


def display_table(rows: pd.DataFrame) -> pd.DataFrame:
    """One env's summary as the Markdown page shows it."""
    out = pd.DataFrame({"run": rows["kind"]})
    for label, digits in (
        ("MyPaint L2", 4),
        ("SSIM", 3),
        ("recognised", 3),
        ("visible share", 2),
        ("first stroke's share", 2),
        ("visible strokes", 1),
        ("Kendall τ", 2),
    ):
        out[label] = [
            _pm(m, h, digits) for m, h in zip(rows[label], rows[f"{label} ±"], strict=True)
        ]
    out["ceiling"] = [f"{c:.3f}" if not math.isnan(c) else "–" for c in rows["ceiling"]]
    out["recognised / ceiling"] = [
        f"{r:.2f}" if not math.isnan(r) else "–" for r in rows["recognised / ceiling"]
    ]
    out["steps"] = [f"{s:.0f}" for s in rows["steps trained"]]
    out["seeds"] = rows["seeds"].to_numpy()
    return out


def mnist_rows(means: pd.DataFrame) -> pd.DataFrame:
    """The summary's MNIST rows, by kind."""
    return means[means["env"] == MNIST].set_index("kind")


def kinds_pair(mnist: pd.DataFrame, first: str, second: str) -> tuple | None:
    """The MNIST rows of two kinds, or ``None`` unless both were measured."""
    if first not in mnist.index or second not in mnist.index:
        return None
    return mnist.loc[first], mnist.loc[second]


def adversarial_agent(means: pd.DataFrame) -> pd.Series | None:
    """The MNIST row the issue's target is judged on: the shipped adversarial agent when
    it was measured, else the suite's adversarial runs."""
    mnist = mnist_rows(means)
    for kind in (f"{SHIPPED_ADVERSARIAL} (shipped)", "adversarial"):
        if kind in mnist.index:
            return mnist.loc[kind]
    return None


def headlines(means: pd.DataFrame) -> list[str]:
    """The sentences the page and the claims row lead with."""
    out = []
    mnist = mnist_rows(means)
    best = adversarial_agent(means)
    if best is not None and not math.isnan(best["recognised"]):
        ratio = best["recognised / ceiling"]
        verdict = "meets" if ratio >= RECOGNISED_TARGET else "misses"
        out.append(
            f"{best.name}: its MyPaint paintings of held-out digits are recognised at "
            f"{best['recognised']:.3f}, {ratio:.2f} of the classifier's accuracy on the real "
            f"digits ({best['ceiling']:.3f}); it {verdict} the target of "
            f"{RECOGNISED_TARGET:.2f}."
        )
        plain = "amortized-mnist (shipped)" if "(shipped)" in best.name else "l2"
        if plain in mnist.index:
            other = mnist.loc[plain]
            higher = "higher" if best["MyPaint L2"] > other["MyPaint L2"] else "not higher"
            out.append(
                f"Its MyPaint L2 is {best['MyPaint L2']:.4f} against {other['MyPaint L2']:.4f} "
                f"for {plain} ({higher}; the adversarial loss does not aim at L2), "
                f"recognised {best['recognised']:.3f} against {other['recognised']:.3f}."
            )
    if pair := kinds_pair(mnist, PRECONDITIONED, "adversarial"):
        p, q = pair
        out.append(
            f"Preconditioning with the adversarial loss: Kendall τ with the human order "
            f"{_pm(p['Kendall τ'], p['Kendall τ ±'], 2)} against "
            f"{_pm(q['Kendall τ'], q['Kendall τ ±'], 2)} without (95% intervals over "
            f"{int(p['seeds'])} and {int(q['seeds'])} training seeds)."
        )
    if pair := kinds_pair(mnist, SPIRAL, "adversarial"):
        s, a = pair
        out.append(
            f"First stroke's visible share: {s[METRICS['first_stroke_share']]:.2f} for PPO "
            f"with the discriminator reward, {a[METRICS['first_stroke_share']]:.2f} for the "
            f"adversarial agent; visible strokes {s['visible strokes']:.1f} and "
            f"{a['visible strokes']:.1f} of 8."
        )
    return out


def precondition_holds(means: pd.DataFrame) -> bool | None:
    """Whether preconditioned adversarial runs keep the human order better (their τ
    interval above the other's mean); ``None`` when not measured."""
    pair = kinds_pair(mnist_rows(means), PRECONDITIONED, "adversarial")
    if pair is None:
        return None
    p, q = pair
    return bool(p["Kendall τ"] - p["Kendall τ ±"] > q["Kendall τ"])


def markdown(
    table: pd.DataFrame, header: str, machine_time: str, notes: list[str], plots: list[str]
) -> str:
    """The page: provenance, machine time, headlines, a table per env, plots, notes."""
    means = summary(table)
    lines = [
        "# Adversarial training through the painter (the paper's section 3)",
        "",
        header,
        machine_time,
        "",
        "Losses (the same `10 * MSE` in each): `l2` alone; `adversarial` adds the WGAN-GP "
        "critic at weight 1 (the paper's reference loss; its gradient dwarfs the L2 "
        "term's); `mixed` adds it at weight 0.1. Every painting is MyPaint's; ± is a 95% "
        "interval over training seeds. *recognised*: a held-out classifier's accuracy on "
        "the paintings; *ceiling*: its accuracy on the same real test images. *visible "
        "share*: the share of a stroke's ink still showing at the end; a stroke counts as "
        "visible from 0.1. *steps*: batches of targets trained on for the amortised "
        "agents, environment steps for PPO.",
        "",
        *[f"- {sentence}" for sentence in headlines(means)],
        "",
    ]
    for env, rows in means.groupby("env", sort=False):
        lines += [f"## {env}", "", display_table(rows).to_markdown(index=False), ""]
        if f"adversarial_{env}.png" in plots:
            order = ", ".join(rows["kind"])
            lines += [
                f"![{env}: MyPaint paintings](adversarial_{env}.png)",
                "",
                f"*Top row: held-out targets. Then MyPaint's paintings, one row per run "
                f"(seed 0): {order}.*",
                "",
            ]
        if f"visibility_{env}.png" in plots:
            lines += [f"![{env}: visible share by stroke](visibility_{env}.png)", ""]
    if notes:
        lines += ["## Not run", "", *[f"- {note}" for note in notes], ""]
    return "\n".join(lines)


# --------------------------------------------------------------------------- figures


def gallery(table: pd.DataFrame, rows: list[dict], env: str, path: Path) -> Path | None:
    """Targets, then one row of MyPaint paintings per kind (seed 0)."""
    from neuralpaint.io import save_png, tile

    first = [r for r in rows if r["env"] == env and r["seed"] == 0 and r.get("gallery")]
    if not first:
        return None
    n = len(first[0]["gallery"])
    task_size = np.asarray(first[0]["gallery"]).shape[1]
    targets, _ = held_out(DATASETS[env], n, task_size)
    images = list(targets)
    for r in first:
        images += list(np.asarray(r["gallery"], dtype=np.float32) / 255.0)
    return save_png(tile(images, n), path, scale=2)


def visibility_plot(table: pd.DataFrame, env: str, path: Path) -> Path:
    """Mean visible share of each stroke position, one line per kind."""
    import matplotlib.pyplot as plt

    from neuralpaint.benchmarks.figures import save_figure

    rows = table[table["env"] == env]
    share_columns = [c for c in rows.columns if c.startswith("share_")]
    share_columns = [c for c in share_columns if rows[c].notna().any()]
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for kind, group in rows.groupby("kind", sort=False):
        means = group[share_columns].mean()
        ax.plot(range(1, len(means) + 1), means.to_numpy(), "o-", label=kind, ms=4)
    ax.set_xlabel("stroke (in painting order)")
    ax.set_ylabel("share of its ink visible at the end")
    ax.set_ylim(0, 1.02)
    ax.set_title(f"{env}: visible share of each stroke")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7)
    return save_figure(fig, path)


# ---------------------------------------------------------------------------- run


def resolve_critic(critic: str | None) -> tuple[tuple[str, str] | None, str | None]:
    """``((path, digest), None)`` for the discriminator reward's critic, or ``(None,
    why)`` when the default critic is not trained yet.

    Raises:
        CriticNotFoundError, CriticError: for a critic the user named that is missing or
            cannot be used.
    """
    from neuralpaint.envs.discriminator import (
        DEFAULT_CRITIC,
        CriticNotFoundError,
        critic_source,
        load_critic,
    )

    try:
        path, size = critic_source(critic)
    except CriticNotFoundError:
        if critic is not None:
            raise
        return None, (
            f"skipping {SPIRAL}: the shipped agent {DEFAULT_CRITIC} whose critic it uses "
            "is not trained yet (neuralpaint/agents/weights/amortized-adversarial-mnist/"
            "README.md has the command); or pass --critic"
        )
    from neuralpaint.agents.task import Task

    load_critic(critic, Task.from_env_id(MNIST).size)  # refuse a bad critic now, not in a cell
    folder = path.parent if size is not None else path
    return (str(folder.resolve()), file_digest(path)), None


def run(
    preset: str = "quick",
    out_dir: str | Path = "results/adversarial",
    device: str = "cpu",
    cache: str | Path = DEFAULT_CACHE,
    fresh: bool = False,
    workers: int | None = None,
    seconds: float | None = None,
    seeds: int | None = None,
    critic: str | None = None,
) -> pd.DataFrame:
    """Run the suite (cached cell by cell) and write its files; returns the per-run
    table. ``seconds`` and ``seeds`` override the preset's training seconds per run (RL
    included) and MNIST seeds; ``critic`` the discriminator reward's critic.

    Raises:
        ValueError: for an unknown preset.
    """
    from neuralpaint.benchmarks import recognition
    from neuralpaint.errors import UserValueError

    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; the presets are {', '.join(PRESETS)}")
    config = PRESETS[preset]
    if workers is not None:
        config = replace(config, workers=workers)
    if seconds is not None:
        config = replace(config, seconds=seconds, rl_seconds=seconds)
    if seeds is not None:
        config = replace(config, seeds=seeds)
    start = time.perf_counter()
    notes = []
    envs = list(config.envs)
    for env in config.optional_envs:
        why = dataset_missing(env)
        if why is None:
            envs.append(env)
        else:
            print(why)
            notes.append(why)
    critic_cell, why = resolve_critic(critic) if MNIST in envs else (None, None)
    if why and preset == "full":  # the committed run must not quietly leave cells out
        raise UserValueError(
            f"--preset full measures SPIRAL's discriminator reward and the shipped "
            f"{SHIPPED_ADVERSARIAL}, which is not trained yet: train it first "
            "(neuralpaint/agents/weights/amortized-adversarial-mnist/README.md has the "
            "command), or pass --critic"
        )
    if why:
        print(why)
        notes.append(why)
    if config.shipped and MNIST in envs:
        for name in SHIPPED:
            if shipped_folder(name) is None:
                line = f"skipping {name} (shipped): not trained yet"
                print(line)
                notes.append(line)
    classifier_dir = str(Path(cache) / "classifiers")
    ceilings = {}
    for env in envs:  # trained here once, so side-by-side cells only load it
        from neuralpaint.envs.datasets import load_dataset

        dataset = DATASETS[env]
        if load_dataset(dataset, "test").labels is None:
            continue
        config_c = recognition.ClassifierConfig(steps=config.classifier_steps)
        ceilings[dataset] = recognition.load_or_train(dataset, classifier_dir, config_c)
    cells = cells_for(config, envs, critic_cell, classifier_dir, device)
    rows = run_cells("adversarial", cells, run_cell, cache, config.workers, fresh)
    minutes = (time.perf_counter() - start) / 60
    table = pd.DataFrame([{k: v for k, v in r.items() if k != "gallery"} for r in rows])
    out = Path(out_dir)
    command = f"neuralpaint bench adversarial --preset {preset}"
    settings = {**asdict(config), "preset": preset, "critic": critic}
    header = provenance.csv_header(command, config=settings)
    write_text(out / "adversarial.csv", header + table.to_csv(index=False))
    plots = []
    for env in envs:
        path = gallery(table, rows, env, out / f"adversarial_{env}.png")
        if path is not None:
            plots.append(path.name)
        plots.append(visibility_plot(table, env, out / f"visibility_{env}.png").name)
    classifiers = "; ".join(
        f"{d}: {c.ceiling:.3f} on {c.info['test_images']} real test images "
        f"({c.info['train_images']} training images, {c.info['source']})"
        for d, c in ceilings.items()
    )
    machine_time = (
        f"Machine time: {minutes:.1f} minutes of wall-clock for {len(cells)} runs (cached "
        f"runs take none) on {config.workers} worker(s), each on 1 thread. Training per "
        f"run: {config.seconds or config.steps} {'s' if config.seconds else 'steps'} "
        f"(PPO {config.rl_seconds or config.rl_steps}). Held-out targets: "
        f"{config.targets} per dataset. Classifier accuracy on real test images: "
        f"{classifiers or 'none'}."
    )
    page = markdown(table, provenance.markdown_header(command), machine_time, notes, plots)
    write_text(out / "adversarial.md", page)
    return table


__all__ = ["LOSSES", "PRESETS", "AdversarialConfig", "headlines", "run", "summary"]
