"""Named painter architectures: ``painter train --arch NAME`` and ``bench twins``.

Each is the ``arch`` dictionary a regression painter's ``config.json`` stores (``net``
picks the class: the spatial-broadcast decoder, or the fast twin of
:mod:`neuralpaint.painters.fast`). Free of torch, so the command line can list them
without importing it.
"""

from __future__ import annotations

FAST_SMALL_H32 = {
    "net": "fast",
    "width": 16,
    "head_width": 32,
    "head_kernel": 1,
    "channels_last": True,
}
"""The small trunk with a 1×1 head of 32, and the base of the variants tried on it."""

FAST_SMALL = {"net": "fast", "width": 16, "head_width": 8, "channels_last": True}
"""The design of the shipped fast twins: a trunk of 16 channels, a 3×3 head of 8."""

ARCH_PRESETS: dict[str, dict] = {
    "broadcast": {},
    "broadcast-shipped": {"width": 64, "head_width": 16},
    "fast": {"net": "fast", "channels_last": True},
    "fast-k1": {"net": "fast", "head_kernel": 1, "channels_last": True},
    "fast-small": FAST_SMALL,
    "fast-small-t256": {**FAST_SMALL, "hidden": 256},
    "fast-small-w24": {**FAST_SMALL, "width": 24},
    "fast-small-h12": {**FAST_SMALL, "head_width": 12},
    "fast-k1-h24": {"net": "fast", "head_kernel": 1, "head_width": 24, "channels_last": True},
    "fast-k1-h32": {"net": "fast", "head_kernel": 1, "head_width": 32, "channels_last": True},
    "fast-small-h32": FAST_SMALL_H32,
    "fast-small-h32-icnr": {**FAST_SMALL_H32, "icnr": True},
    "fast-small-h32-r4": {**FAST_SMALL_H32, "refine": 4},
    "fast-small-h32-r8": {**FAST_SMALL_H32, "refine": 8},
    "fast-wide": {
        "net": "fast",
        "width": 48,
        "hidden": 192,
        "head_width": 24,
        "channels_last": True,
    },
}
"""``broadcast``: the spatial-broadcast decoder at its default widths (48, head 8);
``broadcast-shipped``: at the widths of the shipped ``regression`` painter (64, head 16);
``fast``: the fast twin (trunk 32 channels, a 3×3 head of 16 at half resolution);
``fast-k1``: its head 1×1 (cheaper, less context at full resolution); ``fast-small``:
half its channels; ``fast-small-t256``, ``-w24``, ``-h12``: ``fast-small`` with more
capacity in one place each (a trunk MLP of 256, 24 trunk channels, a head of 12), untrained
candidates whose speed says what the fast twins can afford; ``fast-k1-h24``,
``fast-k1-h32``: ``fast-k1`` with a wider head (the head paints every 2×2 cell of the
canvas, so its width buys sharp edges); ``fast-small-h32``:
the small trunk with that head; ``fast-small-h32-icnr``: the same, its PixelShuffle stages
initialised by ICNR (against a checkerboard); ``fast-small-h32-r4``, ``-r8``: that design with a
full-resolution 3×3 layer of 4 or 8 channels after the last PixelShuffle; ``fast-wide``:
1.5 times its channels. The fast ones run with channels-last activations."""


def arch_from_text(text: str) -> dict:
    """``--arch``'s value: a preset name, or a JSON object (``{"net": "fast",
    "width": 24}``); a JSON object may name a preset as ``"preset"`` and override it.

    Raises:
        ValueError: for neither, naming the presets.
    """
    import json

    if text in ARCH_PRESETS:
        return dict(ARCH_PRESETS[text])
    try:
        arch = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(
            f"--arch must be a preset ({', '.join(ARCH_PRESETS)}) or JSON such as"
            f" '{{\"width\": 32}}': {exc}"
        ) from exc
    if not isinstance(arch, dict):
        raise ValueError(f"--arch JSON must be an object, got {text!r}")
    if (preset := arch.pop("preset", None)) is not None:
        if preset not in ARCH_PRESETS:
            raise ValueError(f"unknown --arch preset {preset!r}; one of {', '.join(ARCH_PRESETS)}")
        arch = {**ARCH_PRESETS[preset], **arch}
    return arch
