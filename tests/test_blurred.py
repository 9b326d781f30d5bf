"""``blur-grad:<painter>``: the painter's masks, with the gradient blurred."""

from __future__ import annotations

import pytest
import torch

from neuralpaint.painters import checkpoint as ckpt
from neuralpaint.painters.blurred import SIGMA, blur, gaussian_taps
from neuralpaint.painters.neural import (
    load_painter,
    painter_for_brush,
    read_painter_config,
    weights_digest,
)


def test_the_blur_is_a_normalised_symmetric_gaussian_and_its_own_adjoint():
    taps = gaussian_taps(2.0)
    assert len(taps) == 13 and torch.isclose(taps.sum(), torch.tensor(1.0))
    assert torch.equal(taps, taps.flip(0)) and int(taps.argmax()) == 6
    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(3, 1, 20, 20, generator=g), torch.rand(3, 1, 20, 20, generator=g)
    torch.testing.assert_close((blur(x, taps) * y).sum(), (x * blur(y, taps)).sum())
    with pytest.raises(ValueError, match="sigma must be positive"):
        gaussian_taps(0.0)


@pytest.mark.parametrize("inner", ["dabs:classic/calligraphy", "regression-fast"])
def test_it_paints_as_its_painter_and_differentiates_through_the_blurred_masks(inner):
    """The masks are the painter's, bit for bit; the gradient of (masks * w).sum() is
    the painter's gradient of (masks * blur(w)).sum(), since the blur is its own
    adjoint."""
    painter, blurred = load_painter(inner), load_painter(f"blur-grad:{inner}")
    g = torch.Generator().manual_seed(1)
    actions = torch.rand(6, 12, generator=g) * 0.6 + 0.2
    weight = torch.rand(6, 1, 64, 64, generator=g)
    a = actions.clone().requires_grad_(True)
    masks = blurred(a)
    (masks * weight).sum().backward()
    b = actions.clone().requires_grad_(True)
    plain = painter(b)
    (plain * blur(weight, gaussian_taps(SIGMA))).sum().backward()
    assert torch.equal(masks.detach(), plain.detach())
    torch.testing.assert_close(a.grad, b.grad)
    c = actions.clone().requires_grad_(True)
    (painter(c) * weight).sum().backward()
    assert float((a.grad - c.grad).abs().max()) > 1e-3 * float(c.grad.abs().max())
    with torch.no_grad():
        assert torch.equal(blurred(actions), plain.detach())


def test_blurred_names_resolve_like_their_painters():
    name = "blur-grad:dabs:classic/calligraphy"
    config = read_painter_config(name)
    assert config["brush"] == "classic/calligraphy" and config["inner"] == name[10:]
    assert config["gradient_blur"] == SIGMA and not config["discrete"]
    assert painter_for_brush(name, "classic/pen") == "blur-grad:dabs:classic/pen"
    assert weights_digest(name) != weights_digest("dabs:classic/calligraphy")
    discrete = load_painter("discrete:blur-grad:dabs:classic/pen")
    assert discrete.discrete and discrete.brush == "classic/pen"
    assert load_painter("blur-grad:discrete:regression-fast").discrete
    with pytest.raises(ckpt.CheckpointError, match="names no painter"):
        load_painter("blur-grad:")
    with pytest.raises(ckpt.CheckpointError, match="imitates the brush"):
        load_painter("blur-grad:regression-fast", brush="classic/pen")
