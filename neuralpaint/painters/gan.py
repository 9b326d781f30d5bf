"""The GAN painter: a conditional WGAN-GP whose generator is a noisy broadcast decoder.

The generator is :class:`BroadcastPainter` with noise channels, so it can draw the
brush's random dab texture rather than its average. It starts from the regression
painter's weights (noise weights at zero, so it first paints exactly the regression
mask) and is fine-tuned adversarially with a reconstruction term, which keeps the
stroke where the action says while the critic pushes for real texture. Paper-scale
GAN training (500k steps) needs a GPU; this short fine-tune fits a CPU.
"""

from __future__ import annotations

import torch
from torch import nn

from neuralpaint import actions as A
from neuralpaint.painters.broadcast import BroadcastPainter, shape_inputs

GAN_NOISE_CHANNELS = 2


def gan_generator(size: int = 64, discrete: bool = False, width: int = 48) -> BroadcastPainter:
    """The GAN painter's generator: a broadcast decoder with noise inputs."""
    return BroadcastPainter(size, discrete, width=width, noise=GAN_NOISE_CHANNELS)


def init_from_regression(generator: BroadcastPainter, regression: BroadcastPainter) -> None:
    """Copy a regression painter's weights; noise inputs get zero weights."""
    own = generator.state_dict()
    for name, value in regression.state_dict().items():
        target = own[name]
        if target.shape == value.shape:
            target.copy_(value)
        else:  # a conv that also reads noise channels: copy the shared input channels
            target.zero_()
            target[:, : value.shape[1]].copy_(value)
    generator.load_state_dict(own)


class Critic(nn.Module):
    """Scores (action, mask) pairs; the action enters after the first convolution."""

    def __init__(self, size: int = 64, discrete: bool = False, width: int = 16):
        super().__init__()
        self.discrete = discrete
        n_in = len(A.SHAPE_FIELDS) + int(discrete)
        self.first = nn.Conv2d(1, width, 4, stride=2, padding=1)
        self.action = nn.Linear(n_in, width)
        layers, c = [], width
        for _ in range(3):
            layers += [nn.LeakyReLU(0.2), nn.Conv2d(c, 2 * c, 4, stride=2, padding=1)]
            c *= 2
        self.body = nn.Sequential(*layers, nn.LeakyReLU(0.2), nn.Flatten())
        self.out = nn.Linear(c * (size // 16) ** 2, 1)

    def forward(self, actions: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
        h = self.first(masks) + self.action(shape_inputs(actions, self.discrete))[:, :, None, None]
        return self.out(self.body(h)).squeeze(1)


def gradient_penalty(
    critic: Critic, actions: torch.Tensor, real: torch.Tensor, fake: torch.Tensor
) -> torch.Tensor:
    """WGAN-GP's penalty on the critic's gradient norm between real and fake masks."""
    eps = torch.rand(len(real), 1, 1, 1, device=real.device)
    mixed = (eps * real + (1 - eps) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(actions, mixed).sum(), mixed, create_graph=True)
    return ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()
