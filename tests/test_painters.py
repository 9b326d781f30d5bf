"""Stroke datasets, neural painters, their training and checkpoints (tiny sizes)."""

import json

import numpy as np
import pandas as pd
import pytest
import torch

from neuralpaint import actions as A
from neuralpaint.painters import checkpoint as ckpt
from neuralpaint.painters.broadcast import BroadcastPainter
from neuralpaint.painters.compositing import composite, paint_sequence
from neuralpaint.painters.dataset import StrokeDatasetSpec, StrokeShards, generate, shard_path
from neuralpaint.painters.gan import TexturePainter
from neuralpaint.painters.neural import NeuralRenderer, load_painter
from neuralpaint.painters.training import PainterTrainConfig, train
from neuralpaint.painters.vae import VAEPainter

TINY = StrokeDatasetSpec(strokes=200, shard_size=50, seed=3)


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    return generate(TINY, tmp_path_factory.mktemp("strokes"), workers=1, progress=False)


@pytest.fixture(scope="module")
def tiny_regression(tiny_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("regression")
    return train(tiny_config("regression", tiny_data, out))


def tiny_config(kind, data, out, **kw):
    return PainterTrainConfig(
        kind=kind,
        data=str(data),
        out=str(out),
        minutes=60,
        max_steps=40,
        batch_size=16,
        warmup_steps=5,
        device="cpu",
        eval_seconds=1e9,
        checkpoint_seconds=1e9,
        **kw,
    )


def test_dataset_shards_are_deterministic_and_resume(tiny_data):
    shards = StrokeShards(tiny_data)
    assert len(shards) == 200 and len(shards.paths) == 4
    first = shards.load_shard(shard_path(tiny_data, 1))
    shard_path(tiny_data, 1).unlink()  # as if interrupted before this shard
    generate(TINY, tiny_data, workers=1, progress=False)
    again = shards.load_shard(shard_path(tiny_data, 1))
    assert np.array_equal(first[0], again[0]) and np.array_equal(first[1], again[1])
    acts, masks = first
    assert acts.shape == (50, 12) and masks.shape == (50, 64, 64)
    assert masks.max() > 0.5 and masks.min() >= 0.0


def test_dataset_refuses_a_different_spec(tiny_data):
    with pytest.raises(ValueError, match="different stroke dataset"):
        generate(StrokeDatasetSpec(strokes=10, shard_size=5), tiny_data, progress=False)


def test_stream_yields_shuffled_batches_within_a_shard_budget(tiny_data):
    stream = StrokeShards(tiny_data).stream(batch_size=8, buffer_shards=1, skip_last=1)
    batches = [next(stream) for _ in range(20)]  # more than one pass over 150 strokes
    assert all(a.shape == (8, 12) and m.shape == (8, 64, 64) for a, m in batches)
    held_out = StrokeShards(tiny_data).load_shard(shard_path(tiny_data, 3))[0]
    seen = np.concatenate([a for a, _ in batches])
    assert not (seen[:, None] == held_out[None]).all(-1).any()  # the held-out shard stays out


def test_discrete_dataset_has_blank_lifted_strokes(tmp_path):
    spec = StrokeDatasetSpec(strokes=40, shard_size=40, discrete=True)
    acts, masks = StrokeShards(generate(spec, tmp_path, workers=1, progress=False)).arrays()
    lifted = acts[:, A.LIFT_INDEX] == 1
    assert acts.shape == (40, 13) and lifted.any() and (~lifted).any()
    assert masks[lifted].max() == 0 and masks[~lifted].sum(axis=(1, 2)).min() > 0
    assert set(np.round(acts[:, A.SIZE_INDEX] * 9, 4)) <= set(range(10))


def test_missing_dataset_says_how_to_make_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="neuralpaint painter dataset"):
        StrokeShards(tmp_path / "nothing")


@pytest.mark.parametrize("kind", ["regression", "vae"])
def test_tiny_training_lowers_the_loss(kind, tiny_data, tmp_path, tiny_regression):
    folder = (
        tiny_regression if kind == "regression" else train(tiny_config(kind, tiny_data, tmp_path))
    )
    log = pd.read_csv(folder.parent / "log.csv")
    assert log["step"].iloc[0] == 0 and log["step"].iloc[-1] == 40
    assert log["mse"].iloc[-1] < log["mse"].iloc[0]
    painter = load_painter(folder)
    assert painter(torch.rand(2, 12)).shape == (2, 1, 64, 64)
    if kind == "vae":  # shipped without its encoder, which only training needs
        assert not any(k.startswith("encoder.") for k in painter.state_dict())
        with pytest.raises(ValueError, match="without its encoder"):
            painter.encode(torch.rand(1, 1, 64, 64))


def test_tiny_gan_trains_from_a_regression_painter(tiny_data, tiny_regression, tmp_path):
    config = tiny_config("gan", tiny_data, tmp_path, init_from=str(tiny_regression), lr=1e-4)
    config.max_steps = 8  # adversarial steps cost several generator passes each
    folder = train(config)
    log = pd.read_csv(tmp_path / "log.csv")
    # starts exactly at the regression painter: noise weights begin at zero
    reg = pd.read_csv(tiny_regression.parent / "log.csv")
    assert log["mse"].iloc[0] == pytest.approx(reg["mse"].iloc[-1], rel=1e-4)
    assert np.isfinite(log["mse"]).all()
    gan = load_painter(folder)
    # only the texture head trains: the base stays the regression painter it started from
    base = load_painter(tiny_regression)
    assert all(torch.equal(v, base.state_dict()[k]) for k, v in gan.base.state_dict().items())
    assert gan.texture[-1].weight.abs().sum() > 0
    a = torch.rand(3, 12)
    g1, g2 = torch.Generator().manual_seed(1), torch.Generator().manual_seed(2)
    assert torch.equal(gan(a, generator=g1), gan(a, generator=torch.Generator().manual_seed(1)))
    assert not torch.equal(gan(a, generator=torch.Generator().manual_seed(1)), gan(a, generator=g2))


def test_resume_continues_where_it_stopped(tiny_data, tmp_path):
    first = tiny_config("regression", tiny_data, tmp_path)
    first.max_steps = 10
    train(first)
    config = json.loads((tmp_path / "checkpoint" / ckpt.CONFIG).read_text())
    assert config["train"]["step"] == 10
    second = tiny_config("regression", tiny_data, tmp_path, resume=True)
    second.max_steps = 15
    train(second)
    log = pd.read_csv(tmp_path / "log.csv")
    assert log["step"].tolist()[-1] == 15 and 0 in log["step"].tolist()
    assert (log["step"] == 0).sum() == 1  # no second start from zero


def test_gan_resumes_with_its_texture_head_and_critic(tiny_data, tiny_regression, tmp_path):
    first = tiny_config("gan", tiny_data, tmp_path, init_from=str(tiny_regression))
    first.max_steps = 2
    train(first)
    head = load_painter(tmp_path / "checkpoint").texture[-1].weight.clone()
    second = tiny_config("gan", tiny_data, tmp_path, init_from="nowhere", resume=True)
    second.max_steps = 4  # init_from is not read on resume: the checkpoint holds the base
    folder = train(second)
    trained = json.loads((folder / ckpt.CONFIG).read_text())["trained"]
    assert trained["steps"] == 4
    assert not torch.equal(load_painter(folder).texture[-1].weight, head)


def test_gan_exports_the_evaluation_selected_by_a_metric(tiny_data, tiny_regression, tmp_path):
    config = tiny_config("gan", tiny_data, tmp_path, init_from=str(tiny_regression), lr=1e-3)
    config.max_steps, config.select_by, config.eval_seconds = 5, "spectral_db", 0.0
    folder = train(config)
    log = pd.read_csv(tmp_path / "log.csv")
    trained = json.loads((folder / ckpt.CONFIG).read_text())["trained"]
    evaluated = log[log["step"] > 0]  # after training began: every step, and the last again
    best = evaluated.loc[evaluated["spectral_db"].idxmin()]
    assert trained["selected"] == {"by": "spectral_db", "step": int(best["step"])}
    assert trained["held_out_metrics"]["spectral_db"] == pytest.approx(best["spectral_db"])
    # the exported weights are the selected ones: they reproduce its held-out metric
    assert trained["steps"] == 5
    with pytest.raises(ValueError, match="select_by must be one of"):
        train(tiny_config("gan", tiny_data, tmp_path / "bad", select_by="r2"))


@pytest.mark.parametrize(
    "module", [BroadcastPainter(), VAEPainter(), TexturePainter()], ids=["regression", "vae", "gan"]
)
def test_gradients_flow_from_canvas_to_actions(module):
    actions = torch.rand(2, 3, 12, requires_grad=True)
    canvas = paint_sequence(module, actions)
    assert canvas.shape == (2, 3, 64, 64)
    target = torch.zeros_like(canvas)
    ((canvas - target) ** 2).mean().backward()
    grad = actions.grad
    assert torch.isfinite(grad).all() and grad[..., :9].abs().sum() > 0
    assert grad[..., 9:].abs().sum() > 0  # colour too, through compositing


def test_composite_is_the_mypaint_formula():
    canvas = torch.rand(1, 3, 4, 4)
    mask = torch.rand(1, 1, 4, 4)
    color = torch.tensor([[0.2, 0.5, 0.9]])
    out = composite(canvas, mask, color)
    assert torch.allclose(out, canvas * (1 - mask) + mask * color[:, :, None, None])


def test_checkpoint_errors_are_clear(tiny_regression, tmp_path):
    with pytest.raises(ckpt.CheckpointError, match="config.json is missing"):
        load_painter(tmp_path)
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / ckpt.CONFIG).write_text((tiny_regression / ckpt.CONFIG).read_text())
    (broken / ckpt.WEIGHTS).write_bytes(b"\x00" * 100)
    with pytest.raises(ckpt.CheckpointError, match="corrupt"):
        load_painter(broken)
    with pytest.raises(ckpt.CheckpointError, match="continuous painter"):
        load_painter(tiny_regression, expect_discrete=True)
    wrong = tmp_path / "wrong"
    config = json.loads((tiny_regression / ckpt.CONFIG).read_text())
    config["arch"]["width"] = 8
    ckpt.save(wrong, ckpt.load_tensors(tiny_regression), config)
    with pytest.raises(ckpt.CheckpointError, match="do not fit the architecture"):
        load_painter(wrong)
    with pytest.raises(ckpt.CheckpointError, match="no painter 'nope'"):
        load_painter("nope")


def test_neural_renderer_respects_lift_and_seed(tiny_regression):
    renderer = NeuralRenderer(tiny_regression)
    action = np.concatenate([np.random.default_rng(0).random(12), [1.0]])
    assert renderer.render_masks(action[None])[0].max() == 0.0  # lifted
    canvas = renderer.new_canvas(seed=0)
    canvas.paint(np.full(12, 0.5))
    assert canvas.image().shape == (64, 64, 3) and canvas.image().min() < 1.0
    with pytest.raises(ValueError, match="'size'"):
        canvas.paint(np.array([0.5] * 8 + [np.nan] + [0.5] * 3))


SHIPPED = ["regression", "vae", "gan", "regression-discrete"]
SHIPPED += ["regression-pen", "regression-charcoal", "regression-calligraphy"]
SHIPPED += ["regression-marker", "regression-ink", "regression-ink-blot"]
SHIPPED += ["regression-fast", "regression-discrete-fast"]


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_painters_load_and_paint_offline(name):
    from neuralpaint.painters.neural import shipped_painters

    assert name in shipped_painters()
    painter = load_painter(name, "cpu")
    discrete = painter.painter_config["discrete"]
    actions = torch.rand(4, 13 if discrete else 12, generator=torch.Generator().manual_seed(0))
    if discrete:
        actions[:, 12] = 0.0  # brush down: a lifted stroke is rightly blank
    masks = painter(actions)
    assert masks.shape == (4, 1, 64, 64) and torch.isfinite(masks).all()
    assert masks.min() >= 0 and masks.max() <= 1 and masks.mean() > 0.01
    trained = painter.painter_config["trained"]
    assert trained["steps"] > 0 and trained["held_out_metrics"]["r2"] > 0.5
    empty = painter(actions[:0])  # e.g. a selection of strokes that holds none
    assert empty.shape == (0, 1, 64, 64)


def test_ink_loss_trains_and_its_command_says_so(tiny_data, tmp_path):
    from neuralpaint.painters.catalog import train_command

    folder = train(tiny_config("regression", tiny_data, tmp_path, ink_loss=0.5))
    stored = json.loads((folder / ckpt.CONFIG).read_text())["trained"]["config"]
    assert stored["ink_loss"] == 0.5
    assert "--ink-loss 0.5" in train_command(stored)
    log = pd.read_csv(folder.parent / "log.csv")
    assert np.isfinite(log["train_loss"].iloc[-1])


def test_painter_table_commands_reproduce_the_shipped_configs():
    import shlex
    from dataclasses import asdict

    from neuralpaint.cli import build_parser, painter_train_config
    from neuralpaint.painters.catalog import painter_table, train_command
    from neuralpaint.painters.neural import WEIGHTS_DIR, shipped_painters

    table = painter_table()
    for name in shipped_painters():
        assert f"| `{name}` |" in table
        stored = json.loads((WEIGHTS_DIR / name / ckpt.CONFIG).read_text())["trained"]["config"]
        argv = shlex.split(train_command(stored))
        assert argv[:3] == ["neuralpaint", "painter", "train"]
        config = asdict(painter_train_config(build_parser().parse_args(argv[1:])))
        keys = ["kind", "discrete", "minutes", "threads", "lr", "batch_size", "arch", "out"]
        keys += ["resume", "warm_start", "renders"]
        keys += ["select_by"] + (["init_from"] if stored["kind"] == "gan" else [])
        default = asdict(PainterTrainConfig())  # for fields newer than a shipped config
        assert {k: config[k] for k in keys} == {k: stored.get(k, default[k]) for k in keys}, name
        assert config["ink_loss"] == stored.get("ink_loss", 0.0), name
        trained = json.loads((WEIGHTS_DIR / name / ckpt.CONFIG).read_text())["trained"]
        if earlier := trained.get("warm_start_from"):  # and which run a warm start continued
            assert (
                f"- `{name}` started from the painter of `{train_command(earlier['config'])}`"
                in table
            )
        if selected := trained.get("selected"):  # the table says which step was exported
            assert f"exported: step {selected['step']:,}, lowest {selected['by']}" in table


def test_warm_start_continues_from_a_painter_and_its_command_says_so(
    tiny_data, tiny_regression, tmp_path
):
    from neuralpaint.painters.catalog import train_command

    start = load_painter(tiny_regression)
    config = tiny_config("regression", tiny_data, tmp_path, warm_start=str(tiny_regression))
    config.max_steps, config.lr = 1, 1e-12  # one step that cannot move the weights
    warm = load_painter(train(config))
    for name, value in start.state_dict().items():
        torch.testing.assert_close(warm.state_dict()[name], value, atol=1e-6, rtol=0)
    trained = json.loads((tmp_path / "painter" / ckpt.CONFIG).read_text())["trained"]
    assert f"--warm-start {tiny_regression}" in train_command(trained["config"])
    earlier = json.loads((tiny_regression / ckpt.CONFIG).read_text())["trained"]
    assert trained["warm_start_from"]["steps"] == earlier["steps"] == 40  # the lineage


def test_ema_exports_the_average_and_logs_the_raw_weights_beside_it(
    tiny_data, tiny_regression, tmp_path
):
    from neuralpaint.painters.catalog import train_command

    start = load_painter(tiny_regression).state_dict()
    config = tiny_config("regression", tiny_data, tmp_path, warm_start=str(tiny_regression))
    config.ema = 0.99999  # so slow an average barely leaves the warm start
    exported = load_painter(train(config)).state_dict()
    tensors = ckpt.load_tensors(tmp_path / "checkpoint")
    raw, saved = ckpt.split(tensors, "train/raw"), ckpt.split(tensors, "painter")

    def moved(weights: dict) -> float:
        return sum(
            float((weights[k] - v).norm()) for k, v in start.items() if v.is_floating_point()
        )

    assert moved(raw) > 0 and moved(exported) < 0.2 * moved(raw)
    for name, value in exported.items():  # the checkpoint's painter is the average too
        torch.testing.assert_close(saved[name], value)
    log = pd.read_csv(tmp_path / "log.csv")
    assert {"raw r2", "raw ink_iou"} <= set(log.columns) and np.isfinite(log["raw r2"]).all()
    assert "--ema 0.99999" in train_command(config.__dict__)
    config.resume, config.max_steps = True, 41  # one more step: the average carries on
    resumed = load_painter(train(config)).state_dict()
    for name, value in saved.items():
        if value.is_floating_point():
            torch.testing.assert_close(resumed[name], value, atol=1e-4, rtol=0)
    assert moved(resumed) < 0.2 * moved(raw)  # not restarted from the raw weights
    with pytest.raises(ValueError, match=r"ema \(--ema\) is a decay per step in \[0, 1\)"):
        train(tiny_config("regression", tiny_data, tmp_path / "bad", ema=1.0))


@pytest.mark.parametrize("kind", ["gan", "vae"])
@pytest.mark.parametrize("flag", [{"ink_loss": 0.1}, {"warm_start": "regression"}, {"ema": 0.9}])
def test_regression_only_flags_are_refused_for_other_kinds(tiny_data, tmp_path, kind, flag):
    with pytest.raises(ValueError, match="only applies to --kind regression"):
        train(tiny_config(kind, tiny_data, tmp_path, **flag))


def test_mean_of_renders_dataset_averages_textures_and_evaluates_on_single_renders(tmp_path):
    from dataclasses import replace

    from neuralpaint.painters.training import held_out_shard

    spec = replace(TINY, strokes=100, renders=3)
    assert spec.name == TINY.name + "-mean3" and spec.single_render().name == TINY.name
    mean = StrokeShards(generate(spec, tmp_path / spec.name, workers=1, progress=False))
    single_folder = generate(spec.single_render(), tmp_path / TINY.name, workers=1, progress=False)
    single = StrokeShards(single_folder)
    acts, masks = mean.load_shard(mean.paths[0])
    single_acts, single_masks = single.load_shard(single.paths[0])
    assert np.array_equal(acts, single_acts)  # the same actions, averaged renders
    assert 0 < np.abs(masks - single_masks).mean() < 0.05
    assert (masks > 0.05).mean() > (single_masks > 0.05).mean()  # textures blur into a mean
    held_acts, held_masks = held_out_shard(mean)
    assert np.array_equal(held_masks, single.load_shard(single.paths[1])[1])  # single renders
    single_folder.rename(tmp_path / "elsewhere")  # no single-render sibling: a clear error
    with pytest.raises(
        FileNotFoundError, match="painter dataset --strokes 100 --brush classic/"
    ) as raised:
        held_out_shard(mean)
    assert "--seed 3 --shard-size 50 --out" in str(raised.value)  # the same actions again


def test_painter_dataset_with_renders_also_makes_the_single_render_sibling(tmp_path, capsys):
    from neuralpaint.cli import main
    from neuralpaint.painters.training import held_out_shard

    out = tmp_path / "mean2"
    args = ["painter", "dataset", "--strokes", "12", "--shard-size", "6", "--renders", "2"]
    assert main([*args, "--seed", "4", "--workers", "1", "--out", str(out)]) == 0
    mean = StrokeShards(out)
    single = StrokeShards(tmp_path / mean.spec.single_render().name)
    assert single.spec.renders == 1 and len(single) == len(mean) == 12
    held_acts, held_masks = held_out_shard(mean)  # what training needs is there
    assert np.array_equal(held_acts, mean.load_shard(mean.paths[-1])[0])
    assert np.array_equal(held_masks, single.load_shard(single.paths[-1])[1])
    assert "single-render sibling" in capsys.readouterr().out


def test_stroke_dataset_spec_refuses_zero_renders():
    with pytest.raises(ValueError, match="renders must be at least 1"):
        StrokeDatasetSpec(renders=0)


def test_widen_paints_the_same_and_a_warm_start_can_widen(tiny_data, tiny_regression, tmp_path):
    from neuralpaint.painters.catalog import train_command

    narrow = load_painter(tiny_regression)
    actions = torch.rand(8, A.ACTION_DIM, generator=torch.Generator().manual_seed(0))
    wide = narrow.widen(head_width=12)
    assert wide.head[0].out_channels == 12 and wide.config()["head_width"] == 12
    torch.testing.assert_close(wide(actions), narrow(actions), atol=1e-6, rtol=0)
    wider = wide.widen(width=narrow.width + 8)
    assert wider.body[0].out_channels == narrow.width + 8 and wider.head_width == 12
    torch.testing.assert_close(wider(actions), narrow(actions), atol=1e-6, rtol=0)
    with pytest.raises(ValueError, match="head_width 4 is narrower"):
        wide.widen(head_width=4)
    with pytest.raises(ValueError, match="width 4 is narrower"):
        wide.widen(width=4)
    config = tiny_config(
        "regression", tiny_data, tmp_path, warm_start=str(tiny_regression), arch={"head_width": 12}
    )
    config.max_steps = 5
    trained = load_painter(train(config))
    assert trained.head[0].out_channels == 12
    assert not torch.equal(
        trained.head[2].weight[:, 8:], torch.zeros_like(wide.head[2].weight[:, 8:])
    )
    stored = trained.painter_config
    assert stored["arch"]["head_width"] == 12
    assert """--arch '{"head_width": 12}'""" in train_command(stored["trained"]["config"])
    config.arch = {"noise": 2}
    with pytest.raises(ValueError, match="can only widen the painter"):
        train(config)
    gan = tiny_config("gan", tiny_data, tmp_path / "gan", init_from=str(tmp_path / "painter"))
    gan.max_steps = 2
    textured = load_painter(train(gan))  # the GAN's frozen base keeps the wide head
    assert textured.base.head_width == 12
    torch.testing.assert_close(textured.base(actions), trained(actions), atol=1e-6, rtol=0)


def test_fit_calibration_restores_values_and_keeps_every_ink_mask():
    from neuralpaint.painters.calibration import Calibration, fit_calibration
    from neuralpaint.painters.metrics import INK_THRESHOLD

    gen = torch.Generator().manual_seed(0)
    truth = torch.rand(20_000, generator=gen)
    pred = torch.where(truth < 0.5, 0.5 * (2 * truth) ** 1.5, 1 - 0.5 * (2 - 2 * truth) ** 1.5)
    identity = Calibration(5)
    torch.testing.assert_close(identity(pred), pred)
    fitted = fit_calibration(pred, truth, knots=16)
    assert float(fitted(torch.tensor([INK_THRESHOLD]))) == pytest.approx(INK_THRESHOLD)
    assert torch.all(fitted.y[1:] > fitted.y[:-1])  # strictly increasing
    assert torch.equal(fitted(pred) > INK_THRESHOLD, pred > INK_THRESHOLD)
    before, after = ((p - truth).pow(2).mean() for p in (pred, fitted(pred)))
    assert after < 0.1 * before
    grid = torch.linspace(0, 1, 1001, requires_grad=True)
    fitted(grid).sum().backward()
    assert grid.grad.min() > 0  # no value range loses its gradient
    with pytest.raises(ValueError, match="differ"):
        fit_calibration(pred, truth[:10])


def test_fit_temperature_undoes_a_sharpened_sigmoid_and_keeps_every_ink_mask():
    from neuralpaint.painters.calibration import LogitTemperature, fit_temperature, make_calibration

    z = torch.randn(50_000, generator=torch.Generator().manual_seed(0)) * 3
    truth = torch.sigmoid(torch.where(z < 0, 0.5 * z, 0.8 * z))
    pred = torch.sigmoid(z)  # too sharp on both sides, by different amounts
    fitted = fit_temperature(pred, truth, pixels=20_000)
    assert float(fitted.below) == pytest.approx(0.5, rel=0.01)
    assert float(fitted.above) == pytest.approx(0.8, rel=0.01)
    logits = z.clone().requires_grad_(True)
    masks = fitted.masks(logits)
    assert torch.equal(masks > 0.5, pred > 0.5)
    masks.sum().backward()
    assert logits.grad.min() > 0  # strictly increasing: every logit keeps its gradient
    torch.testing.assert_close(LogitTemperature().masks(z), pred)  # starts as the identity
    with pytest.raises(ValueError, match="not both"):
        make_calibration(knots=8, temperature=True)


def test_masks_and_their_gradients_hold_no_denormal_numbers():
    """x86 CPUs do arithmetic on denormals in slow microcode: a hard brush's twin,
    whose logits reach -800 off the stroke, ran its convolutions' backward four times
    slower, and its whole forward+backward up to 1.5x slower."""
    from neuralpaint.painters.calibration import LOGIT_FLOOR, LogitTemperature, sigmoid_masks

    tiny = torch.finfo(torch.float32).tiny
    logits = torch.linspace(-800, 40, 100_001, requires_grad=True)
    plain = torch.sigmoid(logits.detach())
    assert ((plain > 0) & (plain < tiny)).any()  # what the floor is for
    for masks in (sigmoid_masks(logits), LogitTemperature().masks(logits)):
        (grad,) = torch.autograd.grad(masks.sum(), logits)
        for values in (masks, grad):
            assert not ((values.abs() > 0) & (values.abs() < tiny)).any()
        # the floor's own change, and two units in the last place of the compiled pass
        bound = torch.sigmoid(torch.tensor(LOGIT_FLOOR)) + 2 * torch.finfo(torch.float32).eps
        assert (masks - plain).abs().max() <= bound
        above = logits.detach() > LOGIT_FLOOR
        torch.testing.assert_close(grad[above], (plain * (1 - plain))[above])
    painter = load_painter("regression-marker")  # a hard brush's shipped twin
    actions = torch.rand(64, A.ACTION_DIM, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert painter.logits(actions).min() < LOGIT_FLOOR
        masks = painter(actions)
    assert not ((masks > 0) & (masks < tiny)).any()


def test_fit_ink_shift_finds_where_single_renders_ink_and_the_temperature_moves_there():
    from neuralpaint.painters.calibration import LogitTemperature, fit_ink_shift, fit_temperature
    from neuralpaint.painters.metrics import ink_iou

    g = torch.Generator().manual_seed(0)
    z = torch.randn(200_000, generator=g) * 2
    # textured renders ink a pixel when its logit beats a noisy threshold around -0.3
    inked = (z + 0.4 * torch.randn(200_000, generator=g) > -0.3).float()
    pred = torch.sigmoid(z)
    shift = fit_ink_shift(pred, inked)
    assert -0.4 <= shift <= -0.2
    others = [ink_iou(torch.sigmoid(z - s), inked) for s in (-1.0, -0.6, 0.0, 0.6)]
    assert ink_iou(torch.sigmoid(z - shift), inked) > max(others)
    fitted = fit_temperature(pred, torch.sigmoid(0.7 * (z - shift)), pixels=20_000, shift=shift)
    assert float(fitted.shift) == pytest.approx(shift)
    assert float(fitted.below) == pytest.approx(0.7, rel=0.01)
    logits = z[:1000].clone().requires_grad_(True)
    masks = fitted.masks(logits)
    assert torch.equal(masks > 0.5, logits.detach() > shift)  # the ink edge moved
    masks.sum().backward()
    assert logits.grad.min() > 0
    old = LogitTemperature()  # a checkpoint from before the shift loads with shift 0
    old.load_state_dict({"below": torch.tensor(0.5), "above": torch.tensor(2.0)})
    assert float(old.shift) == 0 and float(old.below) == 0.5
    with pytest.raises(ValueError, match="differ"):
        fit_ink_shift(pred, inked[:10])


def test_calibrate_writes_a_painter_with_the_same_ink_masks(
    tiny_data, tiny_regression, tmp_path, capsys
):
    from neuralpaint.cli import EXIT_USER_ERROR, main
    from neuralpaint.painters.catalog import calibrate_command
    from neuralpaint.painters.metrics import INK_THRESHOLD

    out = tmp_path / "calibrated"
    args = ["painter", "calibrate", str(tiny_regression), "--data", str(tiny_data)]
    assert main([*args, "--strokes", "150", "--knots", "8", "--out", str(out)]) == 0
    raw, calibrated = load_painter(tiny_regression), load_painter(out)
    assert raw.calibration is None and calibrated.calibration is not None
    actions = torch.rand(32, A.ACTION_DIM, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        a, b = raw(actions), calibrated(actions)
    assert not torch.equal(a, b)
    assert torch.equal(a > INK_THRESHOLD, b > INK_THRESHOLD)
    record = calibrated.painter_config["calibration"]
    assert record["strokes"] == 150 and record["held_out_after"]["ink_iou"] == pytest.approx(
        record["held_out_before"]["ink_iou"]
    )
    assert "neuralpaint painter calibrate" in calibrate_command(calibrated.painter_config)
    warm = tiny_config("regression", tiny_data, tmp_path / "warm", warm_start=str(out))
    warm.max_steps = 2
    assert load_painter(train(warm)).calibration is None  # refitted after training, not kept
    gan = tiny_config("gan", tiny_data, tmp_path / "gan", init_from=str(out))
    gan.max_steps = 2
    torch.testing.assert_close(load_painter(train(gan)).base(actions), a, atol=1e-6, rtol=0)
    assert main([*args, "--strokes", "10", "--out", str(tmp_path / "few")]) == EXIT_USER_ERROR
    assert "strokes must be at least 100" in capsys.readouterr().err
    hot = tmp_path / "temperature"
    assert main([*args, "--strokes", "150", "--kind", "temperature", "--out", str(hot)]) == 0
    tempered = load_painter(hot)
    assert tempered.painter_config["arch"]["calibration_temperature"] is True
    assert "--kind temperature" in calibrate_command(tempered.painter_config)
    with torch.no_grad():
        c = tempered(actions)
    assert not torch.equal(a, c) and torch.equal(a > INK_THRESHOLD, c > INK_THRESHOLD)
    moved = tmp_path / "moved"
    assert main([*args, "--kind", "temperature", "--fit-threshold", "--out", str(moved)]) == 0
    assert "ink threshold moved to logit" in capsys.readouterr().out
    shifted = load_painter(moved)
    record = shifted.painter_config["calibration"]
    assert record["threshold_shift"] == pytest.approx(float(shifted.calibration.shift))
    assert "--fit-threshold" in calibrate_command(shifted.painter_config)
    with torch.no_grad():  # the tiny dataset renders once: its own single renders
        inked = shifted(actions) > INK_THRESHOLD
        assert torch.equal(inked, a > torch.sigmoid(torch.tensor(record["threshold_shift"])))
    assert main([*args, "--fit-threshold", "--out", str(tmp_path / "knots")]) == EXIT_USER_ERROR
    assert "use kind 'temperature'" in capsys.readouterr().err


def test_painter_evaluate_scores_held_out_and_training_shards(tiny_data, tiny_regression, capsys):
    from neuralpaint.cli import EXIT_USER_ERROR, main
    from neuralpaint.painters.training import evaluate_shards

    scores = evaluate_shards(tiny_regression, [0, -1], data=tiny_data, strokes=20)
    assert list(scores) == ["shard-00000.npz", "shard-00003.npz"]
    assert scores["shard-00000.npz"]["r2"] != scores["shard-00003.npz"]["r2"]
    held_out = load_painter(tiny_regression).painter_config["trained"]["held_out_metrics"]
    whole = evaluate_shards(tiny_regression, data=tiny_data)["shard-00003.npz"]
    assert whole["r2"] == pytest.approx(held_out["r2"], abs=1e-4)  # what training measured
    args = ["painter", "evaluate", str(tiny_regression), "--data", str(tiny_data)]
    assert main([*args, "--shards", "0", "--strokes", "10"]) == 0
    assert "shard-00000.npz" in capsys.readouterr().out
    assert main([*args, "--shards", "9"]) == EXIT_USER_ERROR
    assert "shard 9 is out of range" in capsys.readouterr().err
