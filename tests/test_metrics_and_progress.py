"""Fidelity measures (spectral distance, the noise-ceiling correction) and log-friendly
progress bars."""

import io

import numpy as np
import pytest
import torch

from neuralpaint.benchmarks.transfer import expected_stroke_ceiling
from neuralpaint.painters import metrics
from neuralpaint.progress import progress_bar


def test_spectral_distance_tells_a_sampler_from_a_mean(renderer, rng):
    actions = rng.random((60, 12))
    real = torch.as_tensor(renderer.render_masks(actions, seed=1)[:, None])
    other = torch.as_tensor(renderer.render_masks(actions, seed=2)[:, None])
    renders = [renderer.render_masks(actions, seed=10 + k) for k in range(6)]
    mean = torch.as_tensor(np.mean(renders, axis=0)[:, None])
    assert metrics.spectral_distance_db(real, real) == 0.0
    sampler, smooth = (metrics.spectral_distance_db(x, real) for x in (other, mean))
    # another render of MyPaint has its texture; the mean of renders is smoothed
    assert sampler < 1.0 < smooth
    # white noise on top of the strokes is punished too (too much high frequency)
    noisy = (real + 0.3 * torch.rand_like(real)).clamp(0, 1)
    assert metrics.spectral_distance_db(noisy, real) > 1.0


def test_soft_ink_iou_loss_approaches_one_minus_ink_iou_and_has_a_gradient(rng):
    target = torch.from_numpy(rng.random((4, 1, 16, 16))).float()
    pred = (target + 0.3 * torch.from_numpy(rng.standard_normal((4, 1, 16, 16)))).float()
    pred = pred.clamp(0, 1).requires_grad_()
    sharp = metrics.soft_ink_iou_loss(pred, target, temperature=1e-4)
    assert float(sharp) == pytest.approx(1 - metrics.ink_iou(pred.detach(), target), abs=0.02)
    assert float(metrics.soft_ink_iou_loss(target, target, temperature=1e-4)) < 0.01 < float(sharp)
    metrics.soft_ink_iou_loss(pred, target).backward()
    assert pred.grad is not None and pred.grad.abs().sum() > 0


def test_radial_spectrum_of_a_pure_tone_peaks_at_its_frequency():
    x = torch.arange(64, dtype=torch.float64)
    row = 0.5 + 0.5 * torch.cos(2 * torch.pi * 5 * x / 64)
    tone = row[None, None, None, :].expand(1, 1, 64, 64)
    spectrum = metrics.radial_power_spectrum(tone)
    assert len(spectrum) == 32 and int(spectrum.argmax()) + 1 == 5


def test_grid_peak_finds_a_decoder_checkerboard_and_not_mypaint(renderer, rng):
    strokes = torch.as_tensor(renderer.render_masks(rng.random((64, 12)), seed=0)[:, None])
    yy, xx = torch.meshgrid(torch.arange(64), torch.arange(64), indexing="ij")
    checker = 1 + 0.3 * ((yy // 2 + xx // 2) % 2).float()  # 4-px period, as a PixelShuffle
    assert metrics.grid_peak_db(strokes) < 3
    assert metrics.grid_peak_db(strokes * checker) > metrics.grid_peak_db(strokes) + 3


def test_bootstrap_intervals_shrink_with_more_strokes_and_vanish_for_a_perfect_painter():
    g = torch.Generator().manual_seed(0)
    target = (torch.rand(800, 1, 16, 16, generator=g) > 0.6).float()
    pred = target * 0.4 + 0.6 * torch.rand(800, 1, 16, 16, generator=g)  # some ink misjudged
    few, many = (metrics.bootstrap_r2_iou(pred[:n], target[:n]) for n in (100, 800))
    for name in ("r2", "ink_iou"):
        assert many[name] > 0
        assert 2.0 < few[name] / many[name] < 4.0  # about sqrt(8): 1/sqrt(strokes)
    exact = metrics.bootstrap_r2_iou(target, target)
    assert exact == {"r2": 0.0, "ink_iou": 0.0}


def test_ceiling_correction_for_finitely_many_renders():
    # the mean of K renders carries 1/K of a render's noise: 1 - R2 shrinks by K/(K+1)
    full, half = {"r2": 0.9, "ink_iou": 0.76}, {"r2": 0.89, "ink_iou": 0.74}
    ceiling = expected_stroke_ceiling(full, half, k=31, k_half=15)
    assert ceiling["r2"] == pytest.approx(1 - 0.1 * 31 / 32)
    # IoU extrapolated linearly in 1/K through both points, to 1/K = 0
    slope = (0.74 - 0.76) / (1 / 15 - 1 / 31)
    assert ceiling["ink_iou"] == pytest.approx(0.76 - slope / 31)
    assert ceiling["ink_iou"] > 0.76


def test_progress_bar_writes_whole_lines_off_a_terminal():
    stream = io.StringIO()  # not a tty, like a log file
    bar = progress_bar(total=1000, desc="work", file=stream)
    for i in range(1000):
        bar.set_postfix(step=i, refresh=False)
        bar.update(1)
    bar.close()
    text = stream.getvalue()
    assert "\r" not in text
    lines = text.splitlines()
    assert 1 <= len(lines) <= 3 and "1000/1000" in lines[-1]
