"""The network painters' compiled pointwise passes (``pointwise.c``), against torch."""

from __future__ import annotations

import pytest
import torch

from neuralpaint.painters import pointwise_kernel
from neuralpaint.painters.calibration import LOGIT_FLOOR, LogitTemperature, sigmoid_masks
from neuralpaint.painters.neural import load_painter


def test_compiled_exponential_is_within_two_units_in_the_last_place_of_torchs():
    """The polynomial exponential over the whole range the passes use, with its ends
    held at exp(-87) and exp(88) rather than reaching denormals or infinity."""
    x = torch.linspace(-87.0, 88.0, 400_001)
    exact = torch.exp(x.double())
    got = pointwise_kernel.exp(x).double()
    ulp = torch.finfo(torch.float32).eps * torch.exp2(torch.floor(torch.log2(exact)))
    assert float(((got - exact).abs() / ulp).max()) <= 2.0
    ends = pointwise_kernel.exp(torch.tensor([-1000.0, -87.0, 88.0, 1000.0]))
    assert ends[0] == ends[1] > 0 and ends[2] == ends[3] < float("inf")
    assert ends[0] >= torch.finfo(torch.float32).tiny  # normal, not denormal


@pytest.mark.parametrize(
    ("shift", "below", "above"), [(0.0, 1.0, 1.0), (0.0, 0.8, 1.3), (0.4, 1.2, 0.7)]
)
def test_compiled_masks_and_their_gradient_match_torch(shift, below, above):
    """Values on both sides of the shift, at the floor, far below it and far above: the
    masks within 2e-7 of torch's chain, the gradient within 1e-6 of it, exactly zero
    where the floor binds and nonzero across the sigmoid's span."""
    g = torch.Generator().manual_seed(0)
    z = torch.randn(4, 1, 16, 16, generator=g) * 12
    z.view(-1)[:4] = torch.tensor([shift, LOGIT_FLOOR / (below + 1e-3), -500.0, 200.0])
    weight = torch.randn(z.shape, generator=g)
    results = []
    for fused in (True, False):
        x = z.clone().requires_grad_(True)
        if fused:
            out = pointwise_kernel.masks(x, LOGIT_FLOOR, shift, below, above)
        else:
            t = x - shift
            scaled = t * torch.where(t < 0, torch.tensor(below), torch.tensor(above))
            out = torch.sigmoid(scaled.clamp(min=LOGIT_FLOOR))
        (out * weight).sum().backward()
        results.append((out.detach(), x.grad))
    (masks, grad), (expected, expected_grad) = results
    assert float((masks - expected).abs().max()) <= 2e-7
    assert float((grad - expected_grad).abs().max()) <= 1e-6
    scaled = (z - shift) * torch.where(z < shift, below, above)
    floored = scaled < LOGIT_FLOOR
    assert floored.any() and bool((grad[floored] == 0).all())
    assert bool((grad[scaled.abs() < 15] != 0).all())  # where float32 keeps m (1 - m)


def test_compiled_masks_pass_the_gradient_at_the_floor_and_none_for_nan():
    """As torch's clamp: the gradient passes where the scaled logit is exactly the floor
    (-37.5 * 0.8 is -30 in float32) and is 0, not NaN, for a NaN logit, whose mask is
    NaN; infinite logits give masks of 1 and sigmoid(floor) and no gradient."""
    z = torch.tensor([LOGIT_FLOOR / 0.8, float("nan"), float("inf"), -float("inf")])
    x = z.clone().requires_grad_(True)
    masks = pointwise_kernel.masks(x, LOGIT_FLOOR, 0.0, 0.8, 1.0)
    masks.sum().backward()
    floor_mask = torch.sigmoid(torch.tensor(LOGIT_FLOOR))
    assert x.grad[0] > 0 and x.grad[1:].tolist() == [0.0, 0.0, 0.0]
    assert torch.isnan(masks[1]) and masks[2] == 1 and abs(masks[3] - floor_mask) < 1e-20
    with pytest.raises(ValueError, match=r"floor must lie in \[-87"):
        pointwise_kernel.masks(z, -100.0)


def test_compiled_distance_channels_and_their_gradients_match_torch():
    """Distances and their exponentials for two strokes of different scales, with
    squared distances under the 1e-8 floor (no gradient there): both gradients, to the
    squared distances and to each stroke's scale, agree with torch's autograd."""
    g = torch.Generator().manual_seed(1)
    squared = torch.rand(2, 4, 5, 7, generator=g) * 0.05
    squared[0, 0, 0, :3] = torch.tensor([0.0, 1e-9, 1e-8])
    scale = torch.tensor([3.0, 11.0])
    weight = torch.randn(2, 8, 5, 7, generator=g)
    results = []
    for fused in (True, False):
        q, k = squared.clone().requires_grad_(True), scale.clone().requires_grad_(True)
        if fused:
            out = pointwise_kernel.distance_channels(q, k)
        else:
            d = q.clamp_min(1e-8).sqrt() * k[:, None, None, None]
            out = torch.cat([d, torch.exp(-d)], 1)
        (out * weight).sum().backward()
        results.append((out.detach(), q.grad, k.grad))
    (out, grad_q, grad_k), (expected, expected_q, expected_k) = results
    torch.testing.assert_close(out, expected, rtol=3e-7, atol=0)
    # t = gd - ge exp(-d) cancels in part, so the gradients keep fewer digits than d
    torch.testing.assert_close(grad_q, expected_q, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(grad_k, expected_k, rtol=1e-5, atol=0)
    assert grad_q[0, 0, 0, 0] == 0 and grad_q[0, 0, 0, 1] == 0 and grad_q[0, 0, 0, 2] != 0


def test_compiled_passes_refuse_bad_input():
    with pytest.raises(ValueError, match=r"\(B, C, H, W\).*\(B,\) scales"):
        pointwise_kernel.distance_channels(torch.rand(2, 4, 3, 3), torch.rand(3))
    with pytest.raises(ValueError, match="float32 CPU"):
        pointwise_kernel.masks(torch.rand(2, 1, 3, 3, dtype=torch.float64), LOGIT_FLOOR)
    with pytest.raises(ValueError, match="float32 CPU"):
        pointwise_kernel.distance_channels(torch.rand(2, 4, 3, 3).double(), torch.rand(2))


def test_a_painter_without_a_compiler_paints_the_same_through_torch(without_compiler):
    """``regression-fast`` (calibrated by a logit temperature) through the compiled
    passes and through torch's, after the kernel cannot be built: the same masks and
    action gradients but for the last bits of the exponential; ``sigmoid_masks`` and a
    temperature fall back alike."""
    painter = load_painter("regression-fast").requires_grad_(False)
    assert isinstance(painter.calibration, LogitTemperature)
    actions = torch.rand(6, 12, generator=torch.Generator().manual_seed(3))
    logits = torch.randn(3, 1, 8, 8, generator=torch.Generator().manual_seed(4)) * 40

    def paint():
        a = actions.clone().requires_grad_(True)
        masks = painter(a)
        masks.square().sum().backward()
        return masks.detach(), a.grad, sigmoid_masks(logits)

    masks, grad, plain = paint()
    assert pointwise_kernel.usable(actions)
    with without_compiler(pointwise_kernel):
        with pytest.warns(UserWarning, match=r"pointwise\.c.*apt-get install gcc"):
            assert not pointwise_kernel.usable(actions)
        torch_masks, torch_grad, torch_plain = paint()
    assert float((torch_masks - masks).abs().max()) <= 1e-6
    torch.testing.assert_close(grad, torch_grad, rtol=1e-5, atol=1e-6 * float(grad.abs().max()))
    assert float((torch_plain - plain).abs().max()) <= 2e-7


def test_an_empty_batch_paints_nothing_through_the_compiled_passes():
    """No strokes: empty masks and an empty gradient, as through torch."""
    painter = load_painter("regression-fast").requires_grad_(False)
    actions = torch.zeros(0, 12, requires_grad=True)
    masks = painter(actions)
    masks.sum().backward()
    assert masks.shape == (0, 1, 64, 64) and actions.grad.shape == (0, 12)
