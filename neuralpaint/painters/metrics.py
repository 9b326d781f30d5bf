"""How close a painter's masks are to MyPaint's: per-stroke and texture measures.

R² and ink IoU say whether the stroke is in the right place with the right weight.
They reward a deterministic painter for predicting the *average* texture. So a
texture measure, the total variation per unit of ink, says whether the dab texture
survives. MyPaint's own strokes set the reference: a ratio below 1 means smudged.

One measure compares distributions rather than strokes: the spectral distance, the
mean gap in decibels between the radially averaged power spectra of the painter's
masks and MyPaint's. A sampler that draws MyPaint's texture scores near 0 even though
its strokes differ pixel by pixel; a mean predictor lacks the high-frequency power of
the dabs and scores far from 0, however good its R². It needs no training (unlike a
two-sample critic), it is deterministic for given masks, and it also punishes a
painter that adds *too much* high-frequency noise.
"""

from __future__ import annotations

import math

import torch
from pytorch_msssim import ssim as _ssim

INK_THRESHOLD = 0.5


def mse(pred: torch.Tensor, target: torch.Tensor) -> float:
    return float(((pred - target) ** 2).mean())


def r2(pred: torch.Tensor, target: torch.Tensor) -> float:
    """1 - SSE / SST over all pixels of the batch (1 is perfect, 0 predicts the mean)."""
    sse = ((pred - target) ** 2).sum()
    sst = ((target - target.mean()) ** 2).sum()
    return float(1 - sse / sst.clamp_min(1e-12))


def ink_iou(pred: torch.Tensor, target: torch.Tensor, threshold: float = INK_THRESHOLD) -> float:
    """Intersection over union of the inked pixels (mask > threshold), pooled over the batch."""
    p, t = pred > threshold, target > threshold
    union = (p | t).sum()
    return float((p & t).sum() / union.clamp_min(1)) if union > 0 else 1.0


def soft_ink_iou_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    threshold: float = INK_THRESHOLD,
    temperature: float = 0.05,
) -> torch.Tensor:
    """``1 -`` a differentiable :func:`ink_iou`: the masks above ``threshold`` become
    sigmoids of width ``temperature`` and the Jaccard index is pooled over the batch.

    MSE learns the mean stroke, and the IoU judges where that mean crosses the ink
    threshold; this term pulls that crossing toward MyPaint's, where MSE is flat."""
    p = torch.sigmoid((pred - threshold) / temperature)
    t = torch.sigmoid((target - threshold) / temperature)
    intersection = (p * t).sum()
    return 1 - intersection / (p.sum() + t.sum() - intersection).clamp_min(1e-6)


def ssim(pred: torch.Tensor, target: torch.Tensor) -> float:
    """Mean SSIM of ``(B, 1, H, W)`` masks in [0, 1] (pytorch_msssim, 11 px window)."""
    return float(_ssim(pred.float(), target.float(), data_range=1.0, size_average=True))


def total_variation_per_ink(masks: torch.Tensor) -> float:
    """Mean absolute neighbour difference per unit of ink: high for dabby texture,
    low for a smooth (smudged) stroke of the same weight."""
    dx = (masks[..., :, 1:] - masks[..., :, :-1]).abs().sum()
    dy = (masks[..., 1:, :] - masks[..., :-1, :]).abs().sum()
    return float((dx + dy) / masks.sum().clamp_min(1e-6))


def texture_ratio(pred: torch.Tensor, target: torch.Tensor) -> float:
    """A painter's total variation per ink relative to MyPaint's (1 = same texture)."""
    return total_variation_per_ink(pred) / max(total_variation_per_ink(target), 1e-9)


def radial_power_spectrum(masks: torch.Tensor) -> torch.Tensor:
    """Mean power of ``(B, 1, H, W)`` masks per integer spatial frequency 1..H/2
    (cycles per image), pooled over the batch."""
    power = torch.fft.rfft2(masks.double()).abs().pow(2).mean(dim=(0, 1))
    h, w = masks.shape[-2:]
    fy = torch.fft.fftfreq(h, d=1.0 / h, device=masks.device).abs()[:, None]
    fx = torch.fft.rfftfreq(w, d=1.0 / w, device=masks.device)[None, :]
    radius = torch.sqrt(fy**2 + fx**2).round().long()
    bins = torch.bincount(radius.flatten(), weights=power.flatten())
    counts = torch.bincount(radius.flatten())
    return (bins / counts.clamp_min(1))[1 : h // 2 + 1]


def spectral_distance_db(pred: torch.Tensor, target: torch.Tensor) -> float:
    """Mean absolute gap in dB between the painter's and MyPaint's radially averaged
    power spectra (0 = the same texture statistics at every scale)."""
    ratio = radial_power_spectrum(pred) / radial_power_spectrum(target).clamp_min(1e-20)
    return float((10 * torch.log10(ratio.clamp_min(1e-20))).abs().mean())


def grid_peak_db(masks: torch.Tensor, period: int = 4) -> float:
    """How much a decoder's upsampling grid shows, in dB: the power at the harmonics of
    ``period`` px (and its halves; PixelShuffle stages paint cells of 2 and 4 px at 64 px)
    over the mean power of their neighbouring frequencies. Natural strokes have a smooth
    spectrum there (about 0 dB); a checkerboard is a peak."""
    power = torch.fft.fft2(masks[:, 0].double()).abs().pow(2).sum(0)
    h, w = power.shape
    peak, around = 0.0, 0.0
    for fy in range(0, h, h // period):
        for fx in range(0, w, w // period):
            if fy == fx == 0:
                continue
            peak += power[fy, fx].item()
            ring = [((fy + dy) % h, (fx + dx) % w) for dy in (-1, 0, 1) for dx in (-1, 0, 1)]
            around += sum(power[y, x].item() for y, x in ring if (y, x) != (fy, fx)) / 8
    return float(10 * math.log10(max(peak, 1e-30) / max(around, 1e-30)))


def bootstrap_r2_iou(
    pred: torch.Tensor,
    target: torch.Tensor,
    resamples: int = 1000,
    seed: int = 0,
    threshold: float = INK_THRESHOLD,
) -> dict[str, float]:
    """Half-widths of 95% bootstrap intervals (strokes resampled with replacement) for
    the pooled :func:`r2` and :func:`ink_iou` of ``(B, 1, H, W)`` masks.

    Targets sit a few thousandths from these measures' ceilings, so a table must say
    how settled its third decimal is. Pooled measures are ratios of sums, so each
    resample only reweights per-stroke sums: no mask is copied."""
    p, t = pred.flatten(1).double(), target.flatten(1).double()
    pixels = p.shape[1]
    inked_p, inked_t = p > threshold, t > threshold
    per_stroke = torch.stack(
        [
            ((p - t) ** 2).sum(1),
            t.sum(1),
            (t**2).sum(1),
            (inked_p & inked_t).sum(1).double(),
            (inked_p | inked_t).sum(1).double(),
        ],
        dim=1,
    )  # (B, 5)
    rng = torch.Generator().manual_seed(seed)
    n = len(per_stroke)
    picks = torch.randint(n, (resamples, n), generator=rng)
    weights = torch.zeros(resamples, n, dtype=torch.float64).scatter_add_(
        1, picks, torch.ones(resamples, n, dtype=torch.float64)
    )
    sse, s1, s2, inter, union = (weights @ per_stroke).unbind(1)
    sst = s2 - s1**2 / (n * pixels)
    r2s = 1 - sse / sst.clamp_min(1e-12)
    ious = inter / union.clamp_min(1)
    half = {}
    for name, values in (("r2", r2s), ("ink_iou", ious)):
        lo, hi = torch.quantile(values, torch.tensor([0.025, 0.975], dtype=torch.float64))
        half[name] = float(hi - lo) / 2
    return half


def all_metrics(pred: torch.Tensor, target: torch.Tensor) -> dict[str, float]:
    """Every per-stroke measure, for tables and training logs."""
    return {
        "mse": mse(pred, target),
        "r2": r2(pred, target),
        "ink_iou": ink_iou(pred, target),
        "ssim": ssim(pred, target),
        "texture_ratio": texture_ratio(pred, target),
        "spectral_db": spectral_distance_db(pred, target),
    }
