"""``blur-grad:<painter>``: the painter's masks, with the gradient blurred."""

from __future__ import annotations

import pytest
import torch

from neuralpaint.painters import checkpoint as ckpt
from neuralpaint.painters.blurred import SIGMA, blur, blur_matrix
from neuralpaint.painters.neural import (
    load_painter,
    painter_for_brush,
    read_painter_config,
    weights_digest,
)


def test_the_blur_is_a_normalised_symmetric_gaussian_and_its_own_adjoint():
    """Inside the canvas each row sums to one and reaches three deviations; the matrix
    is symmetric, so the blur is its own adjoint; a lone pixel spreads as a Gaussian."""
    matrix = blur_matrix(40, 2.0)
    assert torch.equal(matrix, matrix.T)
    torch.testing.assert_close(matrix[10:30].sum(1), torch.ones(20))
    assert int((matrix[20] > 0).sum()) == 13 and int(matrix[20].argmax()) == 20
    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(3, 1, 40, 40, generator=g), torch.rand(3, 1, 40, 40, generator=g)
    torch.testing.assert_close((blur(x, matrix) * y).sum(), (x * blur(y, matrix)).sum())
    dot = torch.zeros(1, 1, 40, 40)
    dot[0, 0, 20, 20] = 1.0
    spread = blur(dot, matrix)[0, 0]
    torch.testing.assert_close(
        spread[20, 22] / spread[20, 20], torch.tensor(0.6065), rtol=1e-3, atol=0
    )
    with pytest.raises(ValueError, match="sigma must be positive"):
        blur_matrix(40, 0.0)


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
    (plain * blur(weight, blur_matrix(64, SIGMA))).sum().backward()
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
