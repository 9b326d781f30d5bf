"""A fast twin: an MLP trunk, pixel-shuffle upsampling and cheap analytic stroke features.

The spatial-broadcast decoder (:mod:`neuralpaint.painters.broadcast`) spends most of its
time in two places: three 3×3 convolutions of 48-64 channels on a 16×16 grid, and the
distance from every full-resolution pixel to 24 points of the curve (``torch.cdist``
over 64×64×24 pairs, slower on its own than MyPaint's brush engine). This painter keeps
its inductive bias (every scale is told where the curve is) and pays far less for it:

* **Trunk.** An MLP maps the action (and a brush embedding, for a brush-conditioned
  painter) to an 8×8 feature map, as Learning to Paint's renderer does: one matrix
  product for the whole batch.
* **Decoder.** Two stages each concatenate the analytic features of their scale,
  apply one 3×3 convolution and a PixelShuffle (8 → 16 → 32), halving the channels.
  The head works at 32×32: each cell reads the last stage, the features there and the
  distances of its four full-resolution pixels, and paints their four logits, which a
  last PixelShuffle puts in place. No activation of several channels exists at 64×64,
  where memory traffic, not arithmetic, costs the time on a CPU, unless ``refine`` asks
  for one small full-resolution layer (measured: slower, and no more faithful on
  dry_brush; ``neuralpaint/painters/TWINS.md``, step 8).
* **Analytic features, computed once at 16×16.** For each cell the nearest of
  ``samples`` points on the curve is found with one batched matrix product
  (``|c|² - 2 c·p + |p|²`` as a product of 4-vectors) under ``no_grad``; the squared
  distance to that point is then recomputed differentiably from a gather, so backward
  costs a scatter instead of a dense ``(B, cells, samples)`` gradient. The squared
  distance is smooth across the stroke (a quadratic in the offset from it), and Keys'
  cubic convolution (a = -0.5) reproduces quadratics exactly, so it is carried to 32×32
  and 64×64 by a fixed cubic upsampling written as two small matrix products per map
  (on random strokes, a mean error of 0.17 px within two radii of the stroke, against
  0.28 px for the 24-point distance the broadcast painter computes at full resolution). The other
  features are the distance in brush radii, its exponential, and the pressure and
  position along the stroke of the nearest point, which give pressure a direct path
  to the stroke's width.

``channels_last`` stores the convolutions' activations as NHWC, which oneDNN often runs
faster on CPUs; ``neuralpaint bench twins`` measures both.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from neuralpaint import actions as A
from neuralpaint.painters import pointwise_kernel, shuffle_kernel
from neuralpaint.painters.broadcast import (
    brush_radius,
    curve_points,
    grid,
    shape_inputs,
    to_masks,
)
from neuralpaint.painters.calibration import (
    CALIBRATION_KEYS,
    calibration_config,
    make_calibration,
)

FEATURES = 4
"""Analytic channels at every scale: distance in radii, its exponential, and the
pressure and curve position of the nearest curve point."""
DISTANCE_GRID = 16
"""Side of the grid where distances to the curve are computed."""
TRUNK_GRID = 8
"""Side of the trunk's feature map; three PixelShuffle stages reach 64."""


def cubic_upsampling(n_in: int, n_out: int, a: float = -0.5) -> torch.Tensor:
    """``(n_out, n_in)`` matrix of Keys' cubic convolution between cell-centred grids
    (edges replicated). With ``a = -0.5`` it reproduces polynomials up to degree 2."""
    matrix = torch.zeros(n_out, n_in, dtype=torch.float64)
    scale = n_in / n_out
    for o in range(n_out):
        source = (o + 0.5) * scale - 0.5
        left = math.floor(source)
        for k in range(-1, 3):
            d = abs(source - (left + k))
            if d <= 1:
                w = (a + 2) * d**3 - (a + 3) * d**2 + 1
            elif d < 2:
                w = a * d**3 - 5 * a * d**2 + 8 * a * d - 4 * a
            else:
                w = 0.0
            matrix[o, min(max(left + k, 0), n_in - 1)] += w
    return matrix.float()


def nearest_curve_points(
    actions: torch.Tensor, n: int, samples: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """For each cell of an ``n``×``n`` grid, the squared distance (canvas fractions) to
    the nearest of ``samples`` points on the curve, differentiable, and that point's
    index. Shapes ``(B, n*n)``."""
    pts = curve_points(actions, samples)  # (B, S, 2)
    cells = grid(n, actions.device, actions.dtype)  # (P, 2)
    with torch.no_grad():  # the argmin has no gradient; one batched product finds it
        left = torch.cat([cells, torch.ones_like(cells[:, :1]), (cells**2).sum(1, True)], 1)
        right = torch.cat([-2 * pts, (pts**2).sum(2, True), torch.ones_like(pts[..., :1])], 2)
        # min's indices equal argmin's (the first minimum) and cost less on a CPU
        index = torch.matmul(left, right.transpose(1, 2)).min(2).indices  # (B, P)
    nearest = torch.gather(pts, 1, index[..., None].expand(-1, -1, 2))
    return ((cells[None] - nearest) ** 2).sum(-1), index


def _shuffled(y: torch.Tensor) -> torch.Tensor:
    """``pixel_shuffle(y, 2)`` of a ``(B, 4C, H, W)`` tensor as a ``(B, H, 2, W, 2, C)``
    view of its NHWC order: no copy when ``y`` is channels-last (a convolution's output)."""
    b, c4, h, w = y.shape
    return y.permute(0, 2, 3, 1).reshape(b, h, w, c4 // 4, 2, 2).permute(0, 1, 4, 2, 5, 3)


class ShufflePack(torch.autograd.Function):
    """``cat([pixel_shuffle(first, 2) if shuffle else first, *rest], 1)`` in channels-last
    memory, each part copied once into its slice.

    It replaces a PixelShuffle, a ``cat`` and a channels-last ``contiguous`` (three
    copies, a third of the forward time in a profile). Its backward hands each part a
    contiguous gradient in the part's own layout (channels-last for the shuffled
    convolution output, NCHW for the rest), one copy each, so the elementwise backward
    steps after it run on dense memory, not on strided slices of the packed gradient.
    The shuffled part goes through the compiled copies of
    :mod:`~neuralpaint.painters.shuffle_kernel` when they can take it (the same bits,
    at memory speed). With ``rest`` empty it is the PixelShuffle alone.
    """

    @staticmethod
    def forward(ctx, shuffle: bool, first: torch.Tensor, *rest: torch.Tensor) -> torch.Tensor:
        b, side = len(first), first.shape[-1] * (2 if shuffle else 1)
        channels = [first.shape[1] // 4 if shuffle else first.shape[1], *(r.shape[1] for r in rest)]
        out = first.new_empty(b, side, side, sum(channels))
        ctx.compiled = shuffle and shuffle_kernel.usable(first)
        start = 0
        for i, (part, c) in enumerate(zip((first, *rest), channels, strict=True)):
            slot = out[..., start : start + c]
            if i == 0 and ctx.compiled:
                shuffle_kernel.pack(part.permute(0, 2, 3, 1).contiguous(), out, start)
            elif i == 0 and shuffle:
                slot.unflatten(1, (side // 2, 2)).unflatten(3, (side // 2, 2)).copy_(
                    _shuffled(part)
                )
            else:
                slot.copy_(part.permute(0, 2, 3, 1))
            start += c
        ctx.shuffle, ctx.channels = shuffle, channels
        return out.permute(0, 3, 1, 2)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        g = grad.permute(0, 2, 3, 1)  # NHWC order (a view when grad is channels-last)
        b, side = g.shape[:2]
        grads, start = [], 0
        for i, c in enumerate(ctx.channels):
            slot = g[..., start : start + c]
            if i == 0 and ctx.compiled:
                grads.append(shuffle_kernel.unpack(g.contiguous(), start, c).permute(0, 3, 1, 2))
            elif i == 0 and ctx.shuffle:  # (B, H, dy, W, dx, C) -> (B, H, W, C, dy, dx)
                half = side // 2
                cells = slot.unflatten(1, (half, 2)).unflatten(3, (half, 2))
                cells = cells.permute(0, 1, 3, 5, 2, 4).reshape(b, half, half, 4 * c)
                grads.append(cells.permute(0, 3, 1, 2))
            else:
                grads.append(slot.permute(0, 3, 1, 2).contiguous())
            start += c
        return None, *grads


@torch.no_grad()
def icnr_(conv: nn.Conv2d, factor: int = 2) -> None:
    """Give the ``factor``² sub-pixels that a PixelShuffle makes of each output channel
    the same weights (``pixel_shuffle`` reads channel ``c * factor² + k`` as sub-pixel
    ``k`` of channel ``c``): the layer starts as its upsampling by nearest neighbour."""
    k = factor * factor
    weight = conv.weight.view(-1, k, *conv.weight.shape[1:])
    weight.copy_(weight[:, :1].expand_as(weight))
    if conv.bias is not None:
        bias = conv.bias.view(-1, k)
        bias.copy_(bias[:, :1].expand_as(bias))


class FastPainter(nn.Module):
    """Action to stroke mask, differentiable, built for speed on a CPU.

    Args:
        size: canvas side in pixels: 64 (three PixelShuffle stages from 8×8).
        discrete: take the 13-field discrete-variant action (with ``lift``).
        width: channels of the trunk's 8×8 map; each stage halves them (at least 4).
        hidden: width of the trunk's MLP.
        head_width: channels of the head, which paints each 32×32 cell's four pixels.
        head_kernel: the head's first kernel size (3 or 1).
        refine: channels of an optional full-resolution layer after the last
            PixelShuffle (0: none). It reads the logits and the pixel's distance to the
            curve through a 3×3 convolution and adds a correction, meant to let
            neighbouring 2×2 cells agree and to place edges the half-resolution head
            cannot. It starts as the identity.
        icnr: start each stage's four sub-pixels equal (ICNR, Aitken et al. 2017), so
            the PixelShuffle grid starts invisible; without it the 16 → 32 stage's grid
            can stay as a faint 4-px checkerboard on faint brushes. Initialisation only;
            it removed the grid but cost fidelity at equal time (TWINS.md, step 9).
        samples: points on the curve for the distance features.
        brushes: brushes the painter is conditioned on (1: a painter of one brush).
            With more, ``forward`` takes each stroke's brush index, or uses the one
            bound to the painter (:attr:`brush_index`).
        embed: size of the brush embedding (brush-conditioned painters only).
        channels_last: run the convolutions on NHWC activations.
        calibration_knots, calibration_temperature: as
            :class:`~neuralpaint.painters.broadcast.BroadcastPainter`.

    Call ``painter(actions)`` with ``(B, 12)`` (or ``(B, 13)``) actions in [0, 1]; it
    returns ``(B, 1, size, size)`` masks in [0, 1]. Colour fields are ignored.
    """

    def __init__(
        self,
        size: int = 64,
        discrete: bool = False,
        width: int = 32,
        hidden: int = 128,
        head_width: int = 16,
        head_kernel: int = 3,
        refine: int = 0,
        icnr: bool = False,
        samples: int = 48,
        brushes: int = 1,
        embed: int = 8,
        channels_last: bool = False,
        calibration_knots: int = 0,
        calibration_temperature: bool = False,
    ):
        super().__init__()
        if size != TRUNK_GRID * 8:
            raise ValueError(f"the fast painter paints {TRUNK_GRID * 8}-px strokes, not {size}")
        if brushes < 1:
            raise ValueError(f"brushes must be at least 1, got {brushes}")
        if refine < 0:
            raise ValueError(f"refine must be 0 (no full-resolution layer) or more, got {refine}")
        self.size, self.discrete, self.width, self.hidden = size, discrete, width, hidden
        self.head_width, self.head_kernel, self.samples = head_width, head_kernel, samples
        self.refine, self.icnr = refine, icnr
        self.brushes, self.embed = brushes, embed
        self.channels_last = channels_last
        self.brush_index: int | None = 0 if brushes == 1 else None
        """The brush painted when ``forward`` is given none (``load_painter(...,
        brush=)`` binds it)."""
        n_in = len(A.SHAPE_FIELDS) + int(discrete)
        self.embedding = nn.Embedding(brushes, embed) if brushes > 1 else None
        code_in = n_in + (embed if brushes > 1 else 0)
        self.trunk = nn.Sequential(
            nn.Linear(code_in, hidden),
            nn.SiLU(),
            nn.Linear(hidden, hidden),
            nn.SiLU(),
            nn.Linear(hidden, width * TRUNK_GRID * TRUNK_GRID),
        )
        channels = [width, max(width // 2, 4), max(width // 4, 4)]
        self.stages = nn.ModuleList(
            nn.Conv2d(c_in + FEATURES, 4 * c_out, 3, padding=1)
            for c_in, c_out in zip(channels[:-1], channels[1:], strict=True)
        )
        if icnr:
            for stage in self.stages:
                icnr_(stage)
        # The head works at half resolution: each 32x32 cell reads the distance (and its
        # exponential) of its four 64x64 pixels and paints their four logits, which a
        # last PixelShuffle puts in place. Full-resolution activations of several
        # channels cost more memory traffic than arithmetic on a CPU.
        self.head = nn.Sequential(
            nn.Conv2d(
                channels[-1] + FEATURES + 8, head_width, head_kernel, padding=head_kernel // 2
            ),
            nn.SiLU(),
            nn.Conv2d(head_width, 4, 1),
        )
        nn.init.constant_(self.head[-1].bias, math.log(0.1 / 0.9))  # start near mean ink
        self.refiner = None
        if refine:  # logit, distance and its exponential at 64 px -> a logit correction
            self.refiner = nn.Sequential(
                nn.Conv2d(3, refine, 3, padding=1), nn.SiLU(), nn.Conv2d(refine, 1, 1)
            )
            nn.init.zeros_(self.refiner[-1].weight)
            nn.init.zeros_(self.refiner[-1].bias)
        self.register_buffer("up32", cubic_upsampling(DISTANCE_GRID, 32), persistent=False)
        self.register_buffer("up64", cubic_upsampling(DISTANCE_GRID, 64), persistent=False)
        self.calibration = make_calibration(calibration_knots, calibration_temperature)

    def brush_ids(self, batch: int, brush: torch.Tensor | int | None, device) -> torch.Tensor:
        """Each stroke's brush index, from ``brush`` or the bound :attr:`brush_index`."""
        if brush is None:
            if self.brush_index is None:
                raise ValueError(
                    f"this painter is conditioned on {self.brushes} brushes and none is bound:"
                    " pass brush= indices, or load it with load_painter(..., brush=NAME)"
                )
            brush = self.brush_index
        ids = torch.as_tensor(brush, device=device, dtype=torch.long)
        return ids.expand(batch) if ids.ndim == 0 else ids

    def features(self, x: torch.Tensor) -> dict[int, torch.Tensor]:
        """The analytic channels at 8, 16 and 32 px, ``{side: (B, FEATURES, side,
        side)}``; under key 64 the full-resolution distance and its exponential, each as
        four 32×32 maps (``(B, 8, 32, 32)``, ``pixel_unshuffle``'s channel order)."""
        b, n = len(x), DISTANCE_GRID
        sq, index = nearest_curve_points(x, n, self.samples)
        t = index.to(x.dtype) / (self.samples - 1)
        p0 = A.PRESSURE_MIN + (A.PRESSURE_MAX - A.PRESSURE_MIN) * x[:, 6:7]
        p1 = A.PRESSURE_MIN + (A.PRESSURE_MAX - A.PRESSURE_MIN) * x[:, 7:8]
        pressure = p0 + (p1 - p0) * t
        scale = (A.REFERENCE_CANVAS_PX / brush_radius(x))[:, None, None, None]
        maps = torch.stack([sq, pressure, t], 1).reshape(b, 3, n, n)

        def channels(m: torch.Tensor) -> torch.Tensor:
            d = m[:, :1].clamp_min(1e-8).sqrt() * scale  # distance in brush radii
            return torch.cat([d, torch.exp(-d), m[:, 1:]], 1)

        out = {n: channels(maps), n // 2: channels(F.avg_pool2d(maps, 2))}
        out[32] = channels(torch.matmul(torch.matmul(self.up32, maps), self.up32.T))
        # Full resolution, the distance alone, as four 32x32 maps, one per pixel of each
        # 2x2 cell (pixel_unshuffle's order): the rows of the 64-px upsampling by parity.
        sq = maps[:, :1]
        rows = [torch.matmul(self.up64[dy::2], sq) for dy in (0, 1)]
        quads = torch.cat([torch.matmul(r, self.up64[dx::2].T) for r in rows for dx in (0, 1)], 1)
        if pointwise_kernel.usable(quads, scale):
            out[64] = pointwise_kernel.distance_channels(quads, scale.flatten())
        else:
            d = quads.clamp_min(pointwise_kernel.DISTANCE_FLOOR).sqrt() * scale
            out[64] = torch.cat([d, torch.exp(-d)], 1)
        return out

    def forward(
        self,
        actions: torch.Tensor,
        generator: torch.Generator | None = None,
        brush: torch.Tensor | int | None = None,
    ) -> torch.Tensor:
        """``(B, 12)`` actions to ``(B, 1, size, size)`` masks. ``brush``: each stroke's
        brush index for a brush-conditioned painter (default: the bound one).
        ``generator`` is accepted for the painter interface; this painter is
        deterministic."""
        return to_masks(self.logits(actions, brush), self.calibration)

    def logits(self, actions: torch.Tensor, brush: torch.Tensor | int | None = None):
        x = shape_inputs(actions, self.discrete)
        b = len(x)
        code = x
        if self.embedding is not None:
            code = torch.cat([x, self.embedding(self.brush_ids(b, brush, x.device))], 1)
        h = self.trunk(code).reshape(b, self.width, TRUNK_GRID, TRUNK_GRID)
        feats = self.features(x)
        fmt = torch.channels_last if self.channels_last else torch.contiguous_format
        side = TRUNK_GRID
        # Each stage's input is packed once, in channels-last memory; the SiLU commutes
        # with the PixelShuffle, which the packing does.
        h = ShufflePack.apply(False, h, feats[side])
        for i, stage in enumerate(self.stages):
            y = F.silu(stage(h.contiguous(memory_format=fmt)))
            side *= 2
            extra = [feats[side]] + ([feats[2 * side]] if i == len(self.stages) - 1 else [])
            h = ShufflePack.apply(True, y, *extra)
        out = ShufflePack.apply(True, self.head(h.contiguous(memory_format=fmt)))
        if self.refiner is not None:
            full = torch.cat([out, F.pixel_shuffle(feats[2 * side], 2)], 1)
            out = out + self.refiner(full.contiguous(memory_format=fmt))
        return out

    @torch.no_grad()
    def widen(
        self,
        width: int | None = None,
        head_width: int | None = None,
        seed: int = 0,
        hidden: int | None = None,
    ):
        """An uncalibrated copy (``calibrate`` and warm starts call this), with a trunk
        MLP of ``hidden`` units if given, painting exactly what this one does.

        New units get small random input weights and are read with zero weights
        (Net2Net-style), so a warm start keeps this painter's fidelity and the new units
        grow only where the loss asks. The convolution channels do not grow: any other
        ``width`` or ``head_width`` is refused.
        """
        hidden = self.hidden if hidden is None else hidden
        for name, new, old in (
            ("width", width, self.width),
            ("head_width", head_width, self.head_width),
        ):
            if new is not None and new != old:
                raise ValueError(
                    f"the fast painter's {name} cannot be widened ({old} → {new}); train a"
                    " wider one from scratch or distil it (--distill-from); only the trunk"
                    " MLP widens (hidden)"
                )
        if hidden < self.hidden:
            raise ValueError(
                f"hidden {hidden} is narrower than this painter's {self.hidden}; widen only"
                " adds units"
            )
        config = {k: v for k, v in self.config().items() if k not in ("net", *CALIBRATION_KEYS)}
        copy = FastPainter(**{**config, "hidden": hidden})
        state = {k: v for k, v in self.state_dict().items() if not k.startswith("calibration")}
        rng = torch.Generator().manual_seed(seed)
        for index in (0, 2, 4):  # the trunk's Linear layers
            for kind in ("weight", "bias"):
                key = f"trunk.{index}.{kind}"
                old, new = state[key], copy.state_dict()[key].clone()
                if kind == "weight" and new.shape[0] > old.shape[0]:  # new units' inputs
                    new.copy_(torch.randn(new.shape, generator=rng) * old.std().item())
                else:
                    new.zero_()
                if kind == "weight":
                    new[:, old.shape[1] :] = 0  # new units are read with zero weight
                new[tuple(slice(0, n) for n in old.shape)] = old
                state[key] = new
        copy.load_state_dict(state)
        copy.brush_index = self.brush_index
        return copy.to(self.head[0].weight.device)

    def config(self) -> dict:
        """Constructor arguments, for checkpoints (``net`` selects this class)."""
        return {
            "net": "fast",
            "size": self.size,
            "discrete": self.discrete,
            "width": self.width,
            "hidden": self.hidden,
            "head_width": self.head_width,
            "head_kernel": self.head_kernel,
            "refine": self.refine,
            "icnr": self.icnr,
            "samples": self.samples,
            "brushes": self.brushes,
            "embed": self.embed,
            "channels_last": self.channels_last,
            **calibration_config(self.calibration),
        }
