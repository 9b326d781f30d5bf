"""The GAN painter: a regression painter plus a learned, noise-driven texture head.

A painter has two jobs: put the stroke where the action says, with the right weight,
and draw the brush's random dab texture. The regression painter already does the
first at the noise ceiling, but by construction it draws the *average* texture. The
GAN painter keeps a regression painter as its base and adds a small convolutional head
that reads the base's full-resolution features, its mask logits and Gaussian noise (at
full and at quarter resolution), and adds a residual to the logits. The head's last
layer starts at zero, so training starts from the regression painter exactly.

Only the head is trained, adversarially, against a conditional WGAN-GP critic that
sees the mask next to the base's mean mask (where the stroke should be), so its job is
the texture. A reconstruction term on 4x4-pooled masks keeps the ink where and as heavy
as MyPaint puts it without penalising texture below that scale (a full-resolution MSE,
as in the paper's recipe, rewards the smooth mean and fights the texture). This splits
the problem so that the adversarial part fits a CPU budget: paper-scale GAN training
(500k steps) needs a GPU.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from neuralpaint import actions as A
from neuralpaint.painters.broadcast import FEATURES, BroadcastPainter, shape_inputs
from neuralpaint.painters.calibration import sigmoid_masks

RECON_POOL = 4
"""Pixels pooled per side before the reconstruction term: coarser than a dab."""


class TexturePainter(nn.Module):
    """Action to a *sampled* stroke mask: a regression base plus a stochastic head.

    Args:
        size: canvas side in pixels; a multiple of 4.
        discrete: take the 13-field discrete-variant action (with ``lift``).
        width: channels of the base regression painter.
        head_width: channels of the texture head's convolutions.
        base_head_width: channels of the base regression painter's own output head.
        noise: Gaussian noise channels at full resolution (the dabs).
        coarse_noise: Gaussian noise channels at a quarter of the resolution, upsampled
            (slower variation of dab density along the stroke).

    ``painter(actions, generator=g)`` returns ``(B, 1, size, size)`` masks in [0, 1];
    ``generator`` seeds the noise, so a seed fixes the texture. Gradients flow to the
    actions through the base and the head.
    """

    def __init__(
        self,
        size: int = 64,
        discrete: bool = False,
        width: int = 48,
        head_width: int = 16,
        noise: int = 4,
        coarse_noise: int = 2,
        base_head_width: int = 8,
    ):
        super().__init__()
        self.size, self.discrete = size, discrete
        self.head_width, self.noise, self.coarse_noise = head_width, noise, coarse_noise
        self.base = BroadcastPainter(size, discrete, width=width, head_width=base_head_width)
        self.texture = nn.Sequential(
            nn.Conv2d(FEATURES + 1 + noise + coarse_noise, head_width, 3, padding=1),
            nn.SiLU(),
            nn.Conv2d(head_width, head_width, 3, padding=1),
            nn.SiLU(),
            nn.Conv2d(head_width, 1, 3, padding=1),
        )
        nn.init.zeros_(self.texture[-1].weight)
        nn.init.zeros_(self.texture[-1].bias)

    def forward(
        self, actions: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        logits, features = self.base.logits_and_features(actions)
        return sigmoid_masks(self.textured_logits(logits, features, generator))

    def textured_logits(
        self, logits: torch.Tensor, features: torch.Tensor, generator: torch.Generator | None
    ) -> torch.Tensor:
        """The base's logits plus the head's noise-driven residual."""
        b, _, h, w = logits.shape
        fine = torch.randn(
            (b, self.noise, h, w), generator=generator, device=logits.device, dtype=logits.dtype
        )
        coarse = torch.randn(
            (b, self.coarse_noise, h // 4, w // 4),
            generator=generator,
            device=logits.device,
            dtype=logits.dtype,
        )
        coarse = F.interpolate(coarse, size=(h, w), mode="bilinear", align_corners=False)
        inputs = torch.cat([features, logits, fine, coarse], dim=1)
        return logits + self.texture(inputs)

    def config(self) -> dict:
        """Constructor arguments, for checkpoints."""
        return {
            "size": self.size,
            "discrete": self.discrete,
            "width": self.base.width,
            "head_width": self.head_width,
            "noise": self.noise,
            "coarse_noise": self.coarse_noise,
            "base_head_width": self.base.head_width,
        }


class Critic(nn.Module):
    """Scores (action, mask) pairs, patch by patch.

    It sees the mask beside the regression base's mean mask, so it knows where the
    stroke belongs and can judge the texture around it; the action enters after the
    first convolution. The score is the mean over 8x8 patches (at 64 px): texture is
    local, so a patch critic fits it better than one global score.
    """

    def __init__(self, discrete: bool = False, width: int = 16):
        super().__init__()
        self.discrete = discrete
        self.first = nn.Conv2d(2, width, 4, stride=2, padding=1)
        self.action = nn.Linear(len(A.SHAPE_FIELDS) + int(discrete), width)
        self.body = nn.Sequential(
            nn.LeakyReLU(0.2),
            nn.Conv2d(width, 2 * width, 4, stride=2, padding=1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(2 * width, 4 * width, 4, stride=2, padding=1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(4 * width, 1, 3, padding=1),
        )

    def forward(
        self, actions: torch.Tensor, masks: torch.Tensor, mean_masks: torch.Tensor
    ) -> torch.Tensor:
        h = self.first(torch.cat([masks, mean_masks], dim=1))
        h = h + self.action(shape_inputs(actions, self.discrete))[:, :, None, None]
        return self.body(h).mean(dim=(1, 2, 3))


def gradient_penalty(
    critic: Critic,
    actions: torch.Tensor,
    real: torch.Tensor,
    fake: torch.Tensor,
    mean_masks: torch.Tensor,
) -> torch.Tensor:
    """WGAN-GP's penalty on the critic's gradient norm between real and fake masks."""
    eps = torch.rand(len(real), 1, 1, 1, device=real.device)
    mixed = (eps * real + (1 - eps) * fake).requires_grad_(True)
    score = critic(actions, mixed, mean_masks).sum()
    (grad,) = torch.autograd.grad(score, mixed, create_graph=True)
    return ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()


def pooled_mse(fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """MSE between 4x4-pooled masks: ink placement and weight, not texture."""
    return F.mse_loss(F.avg_pool2d(fake, RECON_POOL), F.avg_pool2d(real, RECON_POOL))
