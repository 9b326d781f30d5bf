"""Brushes with twins: the catalogue against the installed brush files, brush-recording
datasets and painters, the fast twin, brush-conditioned training and the twins and
brushes benchmarks (tiny sizes, real libmypaint)."""

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
import torch

from neuralpaint import actions as A
from neuralpaint.errors import UserValueError
from neuralpaint.painters import DEFAULT_PAINTER
from neuralpaint.painters import brushes as B
from neuralpaint.painters import checkpoint as ckpt
from neuralpaint.painters.dataset import StrokeDatasetSpec, StrokeShards, generate
from neuralpaint.painters.fast import FastPainter, cubic_upsampling
from neuralpaint.painters.mypaint import DEFAULT_BRUSH
from neuralpaint.painters.neural import (
    WEIGHTS_DIR,
    default_twin,
    load_painter,
    shipped_painters,
    shipped_twins,
)
from neuralpaint.painters.training import PainterTrainConfig, train

ROOT = Path(__file__).resolve().parents[1]

PEN = "classic/pen"


def tiny_spec(brush: str) -> StrokeDatasetSpec:
    return StrokeDatasetSpec(strokes=120, shard_size=40, brush=brush)


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    """Tiny dry_brush and pen datasets under their standard names."""
    root = tmp_path_factory.mktemp("strokes")
    for brush in (DEFAULT_BRUSH, PEN):
        generate(tiny_spec(brush), root / tiny_spec(brush).name, workers=1, progress=False)
    return root


def tiny_config(out, **kw) -> PainterTrainConfig:
    return PainterTrainConfig(
        kind="regression",
        out=str(out),
        minutes=60,
        max_steps=6,
        batch_size=8,
        warmup_steps=2,
        device="cpu",
        eval_seconds=1e9,
        checkpoint_seconds=1e9,
        **kw,
    )


@pytest.fixture(scope="module")
def conditioned(data_root, tmp_path_factory):
    """A fast painter trained on both brushes at once, with its per-brush exports."""
    data = ",".join(str(data_root / tiny_spec(b).name) for b in (DEFAULT_BRUSH, PEN))
    out = tmp_path_factory.mktemp("conditioned")
    config = tiny_config(out, data=data, brush=f"{DEFAULT_BRUSH},{PEN}", arch={"net": "fast"})
    return train(config)


# ----------------------------------------------------------------------- catalogue


def test_the_curated_twins_are_installed_and_normal_blending():
    assert len(B.TWIN_BRUSHES) >= 6 and B.TWIN_BRUSHES[0].brush == DEFAULT_BRUSH
    assert len({t.slug for t in B.TWIN_BRUSHES}) == len(B.TWIN_BRUSHES)
    normal = B.normal_brushes()
    for twin in B.TWIN_BRUSHES:
        assert twin.brush in normal, twin.brush
        assert B.inspect_brush(twin.brush).non_normal == ()


@pytest.mark.parametrize(
    "brush, setting",
    [
        ("classic/smudge", "smudge"),
        ("classic/blend+paint", "smudge"),
        ("classic/ink_eraser", "eraser"),
    ],
)
def test_brushes_that_read_the_canvas_are_excluded_with_their_reason(brush, setting):
    info = B.inspect_brush(brush)
    assert not info.normal and setting in info.non_normal
    assert brush in B.excluded_brushes() and brush not in B.normal_brushes()
    with pytest.raises(UserValueError) as raised:
        B.require_twin_brush(brush)
    message = str(raised.value)
    assert repr(brush) in message and B.NON_NORMAL[setting] in message
    assert "classic/{" in message and "pen" in message  # the valid ones are listed


def test_every_installed_brush_is_judged_and_the_catalogue_counts_them():
    catalogue = B.catalogue()
    assert len(catalogue) > 100  # mypaint-brushes ships about 177-196
    excluded = B.excluded_brushes()
    assert len(B.normal_brushes()) + len(excluded) == len(catalogue)
    assert all(reasons for reasons in excluded.values())
    text = B.describe_catalogue()
    assert "`regression-pen`" in text and "smudge" in text
    assert "`dabs:classic/charcoal`" in text  # a random brush the dab twin paints
    assert "| `dabs:classic/charcoal` | `dabs-fast:classic/charcoal` |" in text  # its default


def test_an_unknown_brush_is_named_with_the_valid_ones():
    with pytest.raises(UserValueError, match="unknown brush 'classic/no_such'") as raised:
        B.require_twin_brush("classic/no_such")
    assert "dry_brush" in str(raised.value)


def test_painter_names_of_brushes():
    assert B.twin_name() == "regression" and B.twin_name(discrete=True) == "regression-discrete"
    assert B.twin_name(PEN) == "regression-pen"
    assert B.twin_name(PEN, discrete=True) == "regression-discrete-pen"
    assert B.brush_slug("deevad/2B_pencil") == "deevad-2b-pencil"


# ------------------------------------------------------------------ data, painters


def test_datasets_record_their_brush_and_refuse_non_normal_ones(data_root, tmp_path):
    shards = StrokeShards(data_root / tiny_spec(PEN).name)
    assert shards.spec.brush == PEN and "-pen-" in shards.folder.name
    acts, masks = shards.load_shard(shards.paths[0])
    assert masks.max() > 0.5  # the pen inks
    with pytest.raises(UserValueError, match="classic/smudge"):
        generate(StrokeDatasetSpec(strokes=4, shard_size=4, brush="classic/smudge"), tmp_path)
    assert StrokeDatasetSpec(brush="deevad/pen").name != StrokeDatasetSpec(brush=PEN).name


def test_shipped_painters_record_their_brush_and_the_default_twins():
    for name in shipped_painters():
        assert json.loads((WEIGHTS_DIR / name / ckpt.CONFIG).read_text())["brush"]
    assert "regression" in shipped_twins()[DEFAULT_BRUSH]
    assert default_twin() == "regression-fast" == DEFAULT_PAINTER  # the promoted fast twin
    assert default_twin(discrete=True) == "regression-discrete"
    with pytest.raises(UserValueError, match="smudge"):
        default_twin("classic/smudge")
    assert default_twin(PEN) == "dabs:classic/pen"  # promoted: the engine plans best
    # promoted: its dab twin, differentiated through a blur, plans best
    assert default_twin("classic/calligraphy") == "blur-grad:dabs:classic/calligraphy"
    assert default_twin("classic/textured_ink") == "regression-ink"
    with pytest.raises(UserValueError, match="no shipped twin of brush 'classic/pencil'"):
        default_twin("classic/pencil")
    with pytest.raises(ckpt.CheckpointError, match="imitates the brush 'classic/dry_brush'"):
        load_painter("regression", brush=PEN)


@pytest.mark.parametrize("discrete", [False, True])
def test_the_fast_twins_ship_beside_the_broadcast_painters(discrete):
    """``regression-fast`` keeps the broadcast ``regression``'s fidelity and is the
    default; ``regression-discrete-fast`` does not yet, so agents keep
    ``regression-discrete`` by default. On held-out brush-down strokes each fast twin
    paints nearly the masks of its broadcast one."""
    from neuralpaint.benchmarks.transfer import held_out_actions
    from neuralpaint.painters.metrics import r2

    fast, broadcast, default = {
        False: ("regression-fast", "regression", "regression-fast"),
        True: ("regression-discrete-fast", "regression-discrete", "regression-discrete"),
    }[discrete]
    assert {fast, broadcast} <= set(shipped_twins(discrete)[DEFAULT_BRUSH])
    assert default_twin(discrete=discrete) == default
    assert load_painter(broadcast).painter_config["arch"].get("net", "broadcast") == "broadcast"
    assert load_painter(fast).painter_config["arch"]["net"] == "fast"
    actions = torch.as_tensor(held_out_actions(64, discrete=discrete), dtype=torch.float32)
    if discrete:
        actions[:, 12] = 0.0
    with torch.no_grad():
        assert r2(load_painter(fast)(actions), load_painter(broadcast)(actions)) > 0.9


PLANNING_EVIDENCE = {
    "dabs:classic/pen": (
        "count-gradient/dabs-classic-pen",
        "nib-defaults/neural",
        "count-gradient/twins",
    ),
    "blur-grad:dabs:classic/marker_fat": (
        "blur-grad-defaults",
        "marker-default/regression-marker",
        "blur-grad-defaults/twins",
    ),
    "dabs-fast:classic/charcoal": (
        "count-gradient/dabs-fast-classic-charcoal",
        "random-default/regression-charcoal",
        "count-gradient/twins",
    ),
    "dabs-fast:classic/ink_blot": (
        "count-gradient/dabs-fast-classic-ink_blot",
        "random-default/regression-ink-blot",
        "count-gradient/twins",
    ),
    "blur-grad:dabs:classic/calligraphy": (
        "blur-grad-defaults",
        "logit-floor",
        "blur-grad-defaults/twins",
    ),
}
"""For a promoted twin of another brush than dry_brush: the ``bench brushes --preset full``
runs (under results/) of it and of the twin it replaces, on the same digits, and the
``bench twins`` run that timed it."""


def test_a_promoted_twin_is_backed_by_committed_measurements():
    """A fast twin becomes a brush's default only on committed results. dry_brush's:
    `bench twins` (results/twins) measured it within 0.005 R² and ink IoU of the broadcast
    twin it replaces. Another brush's: `bench brushes` measured it at 0.97 of the brush's
    noise ceiling or more, `bench twins` at 2× MyPaint forward and 1× forward+backward,
    and Adam planned no worse through it, digit by digit, than through the twin it
    replaces (the 95% interval of the difference reaches zero or below)."""
    import pandas as pd

    from neuralpaint.benchmarks.paired import paired_table
    from neuralpaint.painters.neural import PROMOTED_TWINS

    def read(path):
        return pd.read_csv(ROOT / "results" / path, comment="#")

    table = read("twins/twins_fidelity.csv")
    keeps = dict(zip(table["painter"], table["keeps fidelity"].astype(str), strict=True))
    assert PROMOTED_TWINS
    for (brush, discrete), name in PROMOTED_TWINS.items():
        assert default_twin(brush, discrete) == name
        if brush == DEFAULT_BRUSH:
            assert keeps.get(name) == "True", f"{name} is promoted without keeping fidelity"
            continue
        promoted, replaced, timed = PLANNING_EVIDENCE[name]
        fidelity = read(f"{promoted}/brushes/brush_fidelity.csv").set_index("painter").loc[name]
        assert fidelity["r2_of_ceiling"] >= 0.97 and fidelity["iou_of_ceiling"] >= 0.97
        speed = read(f"{timed}/twins.csv").set_index("design").loc[name]
        assert speed["forward ÷ MyPaint"] >= 2
        assert speed["forward+backward ÷ MyPaint"] >= 1
        runs = [ROOT / "results" / run / "brushes" for run in (replaced, promoted)]
        pair = paired_table(runs)[0].set_index("brush").loc[brush]
        assert pair["twin"] == name and pair["base twin"] == B.twin_name(brush, discrete)
        for run in (promoted, replaced):  # every digit of both runs paired
            planned = read(f"{run}/brushes/transfer_digits.csv")
            assert pair["digits"] == (planned["brush"] == brush).sum()
        assert pair["difference"] - pair["± difference"] <= 0, f"Adam plans worse through {name}"


def test_each_shipped_brush_twin_paints_its_own_brush_best():
    """Each brush's twin, on held-out strokes, against the mean of 4 MyPaint renders of
    that brush: it fits far above chance and better than any other brush's twin does."""
    from neuralpaint.benchmarks.transfer import held_out_actions
    from neuralpaint.painters.metrics import r2
    from neuralpaint.painters.mypaint import MyPaintRenderer

    twins = {b: default_twin(b) for b in sorted(shipped_twins())}
    assert {t.brush for t in B.TWIN_BRUSHES} <= set(twins)  # every curated brush ships
    actions = held_out_actions(48, discrete=False)
    painted = {
        b: load_painter(name)(torch.as_tensor(actions, dtype=torch.float32)).detach()
        for b, name in twins.items()
    }
    for brush, name in twins.items():
        renderer = MyPaintRenderer(64, brush)
        real = np.mean([renderer.render_masks(actions, seed=s) for s in range(4)], axis=0)
        real = torch.as_tensor(real, dtype=torch.float32).reshape(painted[brush].shape)
        scores = {b: r2(masks, real) for b, masks in painted.items()}
        assert scores[brush] > 0.6, (name, scores)
        assert scores[brush] == max(scores.values()), (name, scores)


def test_one_brush_training_records_the_brush(data_root, tmp_path, monkeypatch):
    monkeypatch.setenv("NEURALPAINT_DATA", str(data_root))
    folder = train(tiny_config(tmp_path, brush=PEN, arch={"net": "fast"}))  # standard data
    config = json.loads((folder / ckpt.CONFIG).read_text())
    assert config["brush"] == PEN and config["arch"]["net"] == "fast"
    assert config["trained"]["dataset"] == tiny_spec(PEN).name
    painter = load_painter(folder, brush=PEN)
    assert painter.brush == PEN and painter(torch.rand(2, 12)).shape == (2, 1, 64, 64)


def test_training_refuses_a_dataset_of_another_brush(data_root, tmp_path):
    data = str(data_root / tiny_spec(PEN).name)
    with pytest.raises(ValueError, match="holds strokes of 'classic/pen'"):
        train(tiny_config(tmp_path, data=data, brush="classic/charcoal"))
    with pytest.raises(ValueError, match="--arch fast"):
        train(tiny_config(tmp_path, brush=f"{DEFAULT_BRUSH},{PEN}"))


def test_a_conditioned_painter_exports_one_painter_per_brush(conditioned):
    config = json.loads((conditioned / ckpt.CONFIG).read_text())
    assert config["brushes"] == [DEFAULT_BRUSH, PEN] and "brush" not in config
    assert set(config["trained"]["held_out_by_brush"]) == {DEFAULT_BRUSH, PEN}
    unbound = load_painter(conditioned)
    assert unbound.brush is None
    with pytest.raises(ValueError, match="conditioned on 2 brushes"):
        unbound(torch.rand(2, 12))
    both = unbound(torch.rand(2, 12), brush=torch.tensor([0, 1]))
    assert both.shape == (2, 1, 64, 64)
    pen = load_painter(conditioned.parent / "painter-pen")
    assert pen.brush == PEN and pen.brush_index == 1
    assert (
        json.loads((conditioned.parent / "painter-pen" / ckpt.CONFIG).read_text())["brush"] == PEN
    )
    x = torch.rand(3, 12)
    torch.testing.assert_close(pen(x), unbound(x, brush=1))
    with pytest.raises(ckpt.CheckpointError, match="not 'classic/charcoal'"):
        load_painter(conditioned, brush="classic/charcoal")


def test_a_fast_twin_calibrates_and_evaluates_on_its_own_brush(
    data_root, conditioned, tmp_path, monkeypatch
):
    from neuralpaint.painters.training import calibrate, evaluate_shards

    monkeypatch.setenv("NEURALPAINT_DATA", str(data_root))
    pen = conditioned.parent / "painter-pen"
    out = calibrate(pen, tmp_path / "calibrated", strokes=100, knots=4)
    before, after = load_painter(pen), load_painter(out)
    assert after.brush == PEN and after.calibration is not None
    x = torch.rand(6, 12)
    assert torch.equal(before(x) > 0.5, after(x) > 0.5)  # the ink masks are unchanged
    scores = evaluate_shards(out)
    assert list(scores) == ["shard-00002.npz"] and np.isfinite(scores["shard-00002.npz"]["r2"])
    with pytest.raises(ValueError, match="conditioned on several brushes"):
        evaluate_shards(conditioned)


def test_distillation_takes_a_teacher_of_the_same_brush(data_root, conditioned, tmp_path):
    data = str(data_root / tiny_spec(PEN).name)
    teacher = str(conditioned.parent / "painter-pen")
    folder = train(
        tiny_config(tmp_path / "a", data=data, arch={"net": "fast"}, distill_from=teacher)
    )
    assert json.loads((folder / ckpt.CONFIG).read_text())["trained"]["config"]["distill_from"]
    with pytest.raises(ValueError, match="imitates the brush 'classic/dry_brush'"):
        train(
            tiny_config(tmp_path / "b", data=data, arch={"net": "fast"}, distill_from="regression")
        )


# ------------------------------------------------------------------------- fast twin


def test_cubic_upsampling_reproduces_quadratics():
    up = cubic_upsampling(16, 64).double()
    coarse = (torch.arange(16, dtype=torch.float64) + 0.5) / 16
    fine = (torch.arange(64, dtype=torch.float64) + 0.5) / 64
    inner = slice(8, 56)  # edges are replicated, so only the interior is exact
    for poly in (lambda t: 1 + 0 * t, lambda t: t, lambda t: (t - 0.3) ** 2):
        torch.testing.assert_close((up @ poly(coarse))[inner], poly(fine)[inner])


@pytest.mark.parametrize("discrete", [False, True])
def test_the_fast_twin_paints_differentiably(discrete):
    painter = FastPainter(discrete=discrete).requires_grad_(False)
    x = torch.rand(4, 13 if discrete else 12, requires_grad=True)
    masks = painter(x)
    assert masks.shape == (4, 1, 64, 64) and masks.min() >= 0 and masks.max() <= 1
    masks.sum().backward()
    for field in range(len(A.SHAPE_FIELDS)):  # every shape field reaches the mask
        assert x.grad[:, field].abs().sum() > 0, A.SHAPE_FIELDS[field]
    assert x.grad[:, A.COLOR_SLICE].abs().sum() == 0


def test_channels_last_paints_the_same():
    torch.manual_seed(0)
    painter = FastPainter()
    x = torch.rand(5, 12)
    expected = painter(x)
    painter.channels_last = True
    torch.testing.assert_close(painter(x), expected, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("shuffle", [True, False])
def test_shuffle_pack_is_pixel_shuffle_and_cat_in_channels_last_memory(shuffle):
    from torch.nn import functional as F

    from neuralpaint.painters.fast import ShufflePack

    g = torch.Generator().manual_seed(0)
    side = 6
    first = torch.randn(
        2,
        8 if shuffle else 3,
        side // (2 if shuffle else 1),
        side // (2 if shuffle else 1),
        generator=g,
        dtype=torch.float64,
    )
    first = first.contiguous(memory_format=torch.channels_last).requires_grad_(True)
    rest = [
        torch.randn(2, c, side, side, generator=g, dtype=torch.float64, requires_grad=True)
        for c in (1, 3)
    ]
    packed = ShufflePack.apply(shuffle, first, *rest)
    expected = torch.cat([F.pixel_shuffle(first, 2) if shuffle else first, *rest], 1)
    assert torch.equal(packed, expected)
    assert packed.is_contiguous(memory_format=torch.channels_last)
    assert torch.autograd.gradcheck(lambda *t: ShufflePack.apply(shuffle, *t), (first, *rest))


def test_the_fast_trunk_widens_painting_the_same_and_its_new_units_learn():
    torch.manual_seed(0)
    narrow = FastPainter(width=16, head_width=8, hidden=32, channels_last=True)
    wide = narrow.widen(hidden=48, seed=1)
    assert wide.hidden == 48 and wide.trunk[0].out_features == 48
    x = torch.rand(6, 12)
    torch.testing.assert_close(wide(x), narrow(x), atol=1e-6, rtol=0)
    wide(x).sum().backward()
    assert wide.trunk[4].weight.grad[:, 32:].abs().sum() > 0  # the new units grow
    assert wide.trunk[2].weight.grad[:, 32:].abs().sum() > 0
    with pytest.raises(ValueError, match="narrower"):
        wide.widen(hidden=16)
    with pytest.raises(ValueError, match="only the trunk MLP widens"):
        narrow.widen(width=24)


def test_the_full_resolution_layer_starts_as_the_identity_and_learns():
    torch.manual_seed(0)
    plain = FastPainter(refine=0)
    refined = FastPainter(refine=4)
    refined.load_state_dict(plain.state_dict(), strict=False)
    x = torch.rand(6, 12)
    torch.testing.assert_close(refined(x), plain(x))
    refined(x).sum().backward()
    assert refined.refiner[-1].weight.grad.abs().sum() > 0
    assert FastPainter(**{k: v for k, v in refined.config().items() if k != "net"}).refine == 4
    with pytest.raises(ValueError, match="refine"):
        FastPainter(refine=-1)


def test_icnr_starts_each_pixelshuffle_stage_without_its_grid():
    from neuralpaint.painters.fast import icnr_

    torch.manual_seed(0)
    x = torch.randn(2, 6, 8, 8)
    for icnr in (False, True):
        conv = torch.nn.Conv2d(6, 4 * 3, 3, padding=1)
        if icnr:
            icnr_(conv)
        up = torch.nn.functional.pixel_shuffle(conv(x), 2)
        blocks = up.unfold(2, 2, 2).unfold(3, 2, 2)  # (B, C, 8, 8, 2, 2)
        spread = (blocks - blocks[..., :1, :1]).abs().max()
        assert (spread < 1e-6) == icnr
    assert FastPainter(icnr=True).config()["icnr"] is True


def test_arch_presets_build_and_the_fast_one_is_cheaper():
    from neuralpaint.benchmarks.twins import design_module, forward_flops
    from neuralpaint.painters.presets import ARCH_PRESETS, arch_from_text

    x = torch.rand(8, 12)
    for name in ARCH_PRESETS:
        assert design_module(name)(x[:2]).shape == (2, 1, 64, 64)
    flops = {name: forward_flops(design_module(name), x) for name in ("fast", "broadcast-shipped")}
    assert flops["fast"] * 4 < flops["broadcast-shipped"]
    assert arch_from_text('{"preset": "fast", "width": 24}')["width"] == 24
    with pytest.raises(ValueError, match="fast-k1"):
        arch_from_text("nope")


# ----------------------------------------------------------------------- benchmarks


def test_bench_twins_times_designs_against_mypaint_and_checks_fidelity(
    data_root, conditioned, tmp_path, monkeypatch
):
    from neuralpaint.benchmarks import twins

    monkeypatch.setenv("NEURALPAINT_DATA", str(data_root))
    pen = str(conditioned.parent / "painter-pen")
    table = twins.run_twins("tiny", tmp_path, painters=[pen], reference=pen, brushes=[PEN])
    speed = table.dropna(subset=["forward strokes/s"])
    assert {"design: fast", "design: broadcast", pen} <= set(speed["design"])
    assert (speed["forward ÷ MyPaint"] > 0).all() and (speed["MFLOP/stroke"] > 0).all()
    fidelity = table.dropna(subset=["keeps fidelity"])
    assert fidelity["keeps fidelity"].all()  # the same painter keeps its own fidelity
    assert (tmp_path / "twins.md").read_text().count("Held-out fidelity") == 1
    dry = str(conditioned.parent / "painter-dry-brush")  # another brush: no Δ, no verdict
    across = twins.fidelity_table([pen], reference=dry, strokes=20).iloc[0]
    assert across["reference"] == f"none ({PEN})" and across["keeps fidelity"] == "–"
    assert "Δ r2" not in across
    # painters only; none of them of the reference's brush, so no Δ and no verdict
    alone = twins.run_twins(
        "tiny", tmp_path / "alone", painters=[pen], reference=dry, brushes=[PEN], designs=[]
    )
    assert not alone["design"].dropna().str.startswith("design:").any()
    md = (tmp_path / "alone" / "twins.md").read_text()
    assert "--designs none" in md and "Held-out fidelity" in md and "Δ r2" not in md
    # timing alone needs no dataset, and leaves no earlier run's fidelity beside its speed
    monkeypatch.setenv("NEURALPAINT_DATA", str(tmp_path / "no-data"))
    (tmp_path / "timed").mkdir()
    (tmp_path / "timed" / "twins_fidelity.csv").write_text("stale")
    timed = twins.run_twins(
        "tiny", tmp_path / "timed", painters=[pen], reference=pen, brushes=[PEN], speed_only=True
    )
    assert "keeps fidelity" not in timed and pen in set(timed["design"])
    md = (tmp_path / "timed" / "twins.md").read_text()
    assert "--speed-only" in md and "Held-out fidelity" not in md
    assert not (tmp_path / "timed" / "twins_fidelity.csv").exists()


def test_bench_brushes_rows_ceiling_and_transfer_gap(conditioned, tmp_path, monkeypatch):
    from dataclasses import replace

    import pandas as pd

    from neuralpaint.benchmarks import twins

    tiny = replace(twins.BRUSHES_PRESETS["tiny"], strokes=12, targets=2, iterations=1)
    monkeypatch.setitem(twins.BRUSHES_PRESETS, "tiny", tiny)
    pen = str(conditioned.parent / "painter-pen")
    table = twins.run_brushes("tiny", tmp_path, brushes=[PEN], twins={PEN: pen})
    assert list(table["painter"])[-1] == pen
    ceiling = table[table["painter"] == "expected stroke (ceiling)"]
    assert np.isclose(ceiling["r2_of_ceiling"], 1.0).all()
    gaps = (tmp_path / "transfer_gaps.csv").read_text()
    assert "classic/pen" in gaps and (tmp_path / "gap_vs_stochasticity.png").exists()
    digits = pd.read_csv(tmp_path / "transfer_digits.csv", comment="#")
    summary = pd.read_csv(tmp_path / "transfer_gaps.csv", comment="#").iloc[0]
    assert len(digits) == tiny.targets and set(digits["twin"]) == {pen}
    assert np.isclose(digits["MyPaint L2"].mean(), summary["MyPaint L2"])
    from PIL import Image

    with Image.open(tmp_path / "brush_strokes.png") as picture:  # two rows: MyPaint, twin
        assert picture.height > 100 and picture.width > picture.height
    assert "brush_strokes.png" in (tmp_path / "brush_fidelity.md").read_text()


def test_labels_of_nearly_coinciding_brushes_are_stacked():
    """The nibs' points nearly coincide in the gap plot: their labels go on separate
    lines, while a point far from the others keeps the first line."""
    from neuralpaint.benchmarks.twins import LABEL_CHAR, LABEL_LINE, label_rows

    xs = np.array([0.68, 0.946, 0.993, 0.9975, 0.998])
    ys = np.array([0.003, 0.0007, 0.0003, 0.0000, 0.00002])
    names = ["charcoal", "ink_blot", "pen", "calligraphy", "marker_fat"]
    assert label_rows(np.zeros(0), np.zeros(0), []).tolist() == []  # no gap measured
    rows = label_rows(xs, ys, names)
    assert rows[:3].tolist() == [0, 0, 0] and rows[4] > rows[3]  # marker_fat moves up
    fx, fy = (xs - xs.min()) / np.ptp(xs), (ys - ys.min()) / np.ptp(ys) + rows * LABEL_LINE
    for i in range(len(xs)):  # no two labels overlap
        for j in range(i):
            apart_x = abs(fx[i] - fx[j]) >= LABEL_CHAR * len(names[j if fx[j] < fx[i] else i])
            assert apart_x or abs(fy[i] - fy[j]) >= LABEL_LINE - 1e-9, (names[i], names[j])


# ------------------------------------------------------------------------------ CLI


@pytest.mark.parametrize(
    "argv, message",
    [
        (["painter", "dataset", "--brush", "classic/smudge"], "'classic/smudge' has no"),
        (["painter", "dataset", "--brush", "classic/no_such"], "unknown brush 'classic/no_such'"),
        (["painter", "train", "--brush", "classic/smudge"], "'classic/smudge' has no"),
        (["painter", "train", "--arch", "nope"], "fast-small"),
    ],
)
def test_bad_brushes_and_archs_are_one_line_errors(capsys, tmp_path, monkeypatch, argv, message):
    from neuralpaint.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NEURALPAINT_DATA", str(tmp_path))
    assert main([*argv, "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and "Traceback" not in err, err
    assert "classic/{" in err or "--arch" in err  # the valid ones are listed


def test_painter_train_flags_name_the_brush_in_the_run_and_its_command():
    from neuralpaint.cli import build_parser, painter_train_config
    from neuralpaint.painters.catalog import train_command

    argv = ["painter", "train", "--brush", PEN, "--arch", "fast", "--distill-from", "regression"]
    config = painter_train_config(build_parser().parse_args(argv))
    assert config.out == "runs/painter-regression-pen" and config.arch["net"] == "fast"
    command = train_command(asdict(config))
    assert f"--brush {PEN}" in command and "--distill-from regression" in command
    several = build_parser().parse_args(["painter", "train", "--brush", f"{DEFAULT_BRUSH},{PEN}"])
    assert painter_train_config(several).out == "runs/painter-regression-brushes"
