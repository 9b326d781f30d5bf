"""The fast painter's compiled pixel shuffles (``shuffle.c``), against torch's."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from neuralpaint.painters import shuffle_kernel
from neuralpaint.painters.fast import ShufflePack
from neuralpaint.painters.neural import load_painter


@pytest.mark.parametrize("rest_channels", [(), (4,), (4, 8)])
@pytest.mark.parametrize("channels_last", [True, False])
def test_compiled_shuffles_pack_and_differentiate_bit_for_bit_as_torch(
    rest_channels, channels_last
):
    """Float32 on the CPU takes the C copies: the packed tensor and every gradient must
    be torch's own PixelShuffle and cat, to the bit, for a first part in either layout
    and with or without parts after it (the painter's last shuffle has none)."""
    assert shuffle_kernel.usable(torch.zeros(1))
    g = torch.Generator().manual_seed(0)
    first = torch.randn(3, 12, 5, 5, generator=g)
    if channels_last:
        first = first.contiguous(memory_format=torch.channels_last)
    rest = [torch.randn(3, c, 10, 10, generator=g) for c in rest_channels]
    weight = torch.randn(3, 3 + sum(rest_channels), 10, 10, generator=g)
    results = []
    for compiled_path in (True, False):
        parts = [t.clone().requires_grad_(True) for t in (first, *rest)]
        if compiled_path:
            packed = ShufflePack.apply(True, *parts)
        else:
            packed = torch.cat([F.pixel_shuffle(parts[0], 2), *parts[1:]], 1)
        (packed * weight).sum().backward()
        results.append((packed.detach(), [p.grad for p in parts]))
    (packed, grads), (expected, expected_grads) = results
    assert torch.equal(packed, expected)
    assert packed.is_contiguous(memory_format=torch.channels_last)
    for grad, want in zip(grads, expected_grads, strict=True):
        assert torch.equal(grad, want)


def test_pack_writes_only_its_channels_and_unpack_inverts_it():
    src = torch.randn(2, 3, 4, 8)  # (N, H, W, 4C) with C = 2
    packed = torch.full((2, 6, 8, 5), 7.0)
    shuffle_kernel.pack(src, packed, 2)
    nchw = F.pixel_shuffle(src.permute(0, 3, 1, 2), 2)
    assert torch.equal(packed[..., 2:4], nchw.permute(0, 2, 3, 1))
    assert bool((packed[..., :2] == 7.0).all()) and bool((packed[..., 4:] == 7.0).all())
    assert torch.equal(shuffle_kernel.unpack(packed, 2, 2), src)


def test_the_shuffles_refuse_what_they_would_read_wrongly():
    src = torch.zeros(2, 3, 4, 8)
    with pytest.raises(ValueError, match="multiple of 4"):
        shuffle_kernel.pack(torch.zeros(2, 3, 4, 6), torch.zeros(2, 6, 8, 5), 0)
    with pytest.raises(ValueError, match="twice its side"):
        shuffle_kernel.pack(src, torch.zeros(2, 6, 6, 5), 0)
    with pytest.raises(ValueError, match="outside 5"):
        shuffle_kernel.pack(src, torch.zeros(2, 6, 8, 5), 4)
    with pytest.raises(ValueError, match="contiguous"):
        shuffle_kernel.pack(src.transpose(1, 2), torch.zeros(2, 8, 6, 5), 0)


def test_without_a_c_compiler_the_fast_painter_paints_the_same_through_torch(without_compiler):
    """No compiler: one warning naming the source and what to install, and the same
    masks and gradients."""
    painter = load_painter("regression-fast").requires_grad_(False)
    actions = torch.rand(6, 12, generator=torch.Generator().manual_seed(3))

    def paint():
        a = actions.clone().requires_grad_(True)
        masks = painter(a)
        masks.square().sum().backward()
        return masks.detach(), a.grad

    masks, grad = paint()
    with without_compiler(shuffle_kernel):
        with pytest.warns(UserWarning, match=r"shuffle\.c.*apt-get install gcc"):
            assert not shuffle_kernel.usable(actions)
        torch_masks, torch_grad = paint()
    assert torch.equal(torch_masks, masks) and torch.equal(torch_grad, grad)
