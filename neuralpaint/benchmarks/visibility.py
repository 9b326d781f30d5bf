"""How much of each stroke is still visible when the painting is finished.

The paper (section 3) notes that SPIRAL's first strokes end up completely hidden under
later ones, and that its own adversarially trained agent's do not. This module measures
that on the real program. Each stroke of a painting is rendered alone by MyPaint as an
alpha mask ``a_t`` (its ink, whatever its colour), and compositing
``canvas = canvas * (1 - a) + a * c`` says how much of it the later strokes leave
showing::

    visible_t = sum_pixels a_t * prod_{j > t} (1 - a_j)
    share_t   = visible_t / sum_pixels a_t

A stroke fully covered by a later opaque stroke has share 0; the last stroke always
has share 1. A stroke without ink (a lifted brush) has no share (NaN) and never counts
as visible. A stroke *counts as visible* when at least :data:`VISIBLE_SHARE` of its ink
shows at the end.
"""

from __future__ import annotations

import numpy as np

VISIBLE_SHARE = 0.1
"""A stroke counts as visible when at least this share of its ink shows at the end."""
MIN_INK = 1.0
"""Strokes with less ink than this (in pixels of full coverage) have no share."""
CHUNK = 100
"""Paintings whose masks are rendered and held at once."""


def visible_shares(masks: np.ndarray) -> np.ndarray:
    """The share of each stroke's ink still visible at the end of its painting.

    Args:
        masks: ``(T, H, W)`` alpha masks in [0, 1] of one painting's strokes, in the
            order they were painted, or ``(N, T, H, W)`` for ``N`` paintings.

    Returns:
        ``(T,)`` or ``(N, T)`` shares in [0, 1]; NaN for a stroke without ink.
    """
    a = np.clip(np.asarray(masks, dtype=np.float32), 0.0, 1.0)
    if a.ndim not in (3, 4):
        raise ValueError(f"masks must have shape (T, H, W) or (N, T, H, W), got {a.shape}")
    time_axis = a.ndim - 3
    # what the strokes after t leave showing: the product of (1 - a_j) for j > t
    clear = np.flip(np.cumprod(np.flip(1.0 - a, axis=time_axis), axis=time_axis), axis=time_axis)
    after = np.roll(clear, -1, axis=time_axis)
    last = [slice(None)] * a.ndim
    last[time_axis] = -1
    after[tuple(last)] = 1.0
    ink = a.sum(axis=(-2, -1))
    visible = (a * after).sum(axis=(-2, -1))
    with np.errstate(invalid="ignore", divide="ignore"):
        share = visible / ink
    return np.where(ink >= MIN_INK, share, np.nan)


def visible_strokes(shares: np.ndarray) -> np.ndarray:
    """How many strokes of each painting count as visible (``(N, T)`` shares in,
    ``(N,)`` counts out; a ``(T,)`` painting gives a scalar array)."""
    shares = np.asarray(shares, dtype=np.float64)
    return np.sum(np.nan_to_num(shares, nan=0.0) >= VISIBLE_SHARE, axis=-1)


def mypaint_shares(actions: np.ndarray, size: int, seed: int = 0) -> np.ndarray:
    """:func:`visible_shares` of ``(N, T, D)`` paintings, each stroke's mask rendered
    alone by MyPaint (``D`` is 12, or 13 for the discrete variant, whose lifted strokes
    have no ink)."""
    from neuralpaint.painters.mypaint import MyPaintRenderer

    actions = np.asarray(actions, dtype=np.float64)
    n, t, d = actions.shape
    renderer, out = MyPaintRenderer(size), np.empty((n, t))
    for start in range(0, n, CHUNK):  # bounded memory: masks are t * size**2 floats each
        part = actions[start : start + CHUNK]
        masks = renderer.render_masks(part.reshape(-1, d), seed=seed + start)
        out[start : start + len(part)] = visible_shares(masks.reshape(len(part), t, size, size))
    return out


__all__ = ["MIN_INK", "VISIBLE_SHARE", "mypaint_shares", "visible_shares", "visible_strokes"]
