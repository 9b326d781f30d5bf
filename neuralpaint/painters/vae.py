"""The VAE painter, the paper's two-stage approach.

Stage one learns a VAE over stroke masks. Stage two fits a small network from the
action to the VAE's latent code. Painting is then ``decoder(to_latent(action))``. The
paper reports that its strokes come out smudged: the decoder averages over the
textures the latent cannot tell apart. The benchmarks measure exactly that.
"""

from __future__ import annotations

import torch
from torch import nn

from neuralpaint import actions as A
from neuralpaint.painters.broadcast import shape_inputs
from neuralpaint.painters.calibration import sigmoid_masks


def _down(c_in: int, c_out: int) -> nn.Module:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 4, stride=2, padding=1), nn.LeakyReLU(0.2))


def _up(c_in: int, c_out: int) -> nn.Module:
    return nn.Sequential(nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1), nn.SiLU())


class VAEPainter(nn.Module):
    """Action to mask through a VAE's latent space.

    Args:
        size: canvas side; 64 (four stride-2 stages from 4x4).
        discrete: take the 13-field discrete-variant action.
        latent: size of the VAE's latent code (the paper uses 64).
        width: channels of the first encoder stage (doubling per stage).
        encoder: build the encoder. Only training needs it; the shipped painter leaves
            it out (see :meth:`without_encoder`), since painting is
            ``decoder(to_latent(action))``.
    """

    def __init__(
        self,
        size: int = 64,
        discrete: bool = False,
        latent: int = 64,
        width: int = 16,
        encoder: bool = True,
    ):
        super().__init__()
        if size != 64:
            raise ValueError(f"the VAE painter is built for 64 px canvases, got {size}")
        self.size, self.discrete, self.latent, self.width = size, discrete, latent, width
        w = width
        self.has_encoder = encoder
        if encoder:
            self.encoder = nn.Sequential(
                _down(1, w), _down(w, 2 * w), _down(2 * w, 4 * w), _down(4 * w, 8 * w), nn.Flatten()
            )
            self.to_stats = nn.Linear(8 * w * 16, 2 * latent)
        self.from_latent = nn.Linear(latent, 8 * w * 16)
        self.decoder = nn.Sequential(
            _up(8 * w, 4 * w),
            _up(4 * w, 2 * w),
            _up(2 * w, w),
            nn.ConvTranspose2d(w, 1, 4, stride=2, padding=1),
        )
        n_in = len(A.SHAPE_FIELDS) + int(discrete)
        self.to_latent = nn.Sequential(
            nn.Linear(n_in, 256), nn.SiLU(), nn.Linear(256, 256), nn.SiLU(), nn.Linear(256, latent)
        )

    def encode(self, masks: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(B, 1, 64, 64)`` masks to the latent's mean and log-variance."""
        if not self.has_encoder:
            raise ValueError("this VAE painter was saved without its encoder; it only paints")
        mu, logvar = self.to_stats(self.encoder(masks)).chunk(2, dim=1)
        return mu, logvar.clamp(-10, 10)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Latent codes to ``(B, 1, 64, 64)`` masks."""
        h = self.from_latent(z).reshape(len(z), 8 * self.width, 4, 4)
        return sigmoid_masks(self.decoder(h))

    def forward(
        self, actions: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """``(B, 12)`` actions to ``(B, 1, 64, 64)`` masks (deterministic)."""
        return self.decode(self.to_latent(shape_inputs(actions, self.discrete)))

    def without_encoder(self) -> VAEPainter:
        """A copy that only paints: the encoder is a training aid, and leaving it out
        makes the shipped painter smaller."""
        slim = VAEPainter(self.size, self.discrete, self.latent, self.width, encoder=False)
        keep = {
            k: v
            for k, v in self.state_dict().items()
            if not k.startswith(("encoder.", "to_stats."))
        }
        slim.load_state_dict(keep)
        return slim.to(next(self.parameters()).device)

    def config(self) -> dict:
        return {
            "size": self.size,
            "discrete": self.discrete,
            "latent": self.latent,
            "width": self.width,
            "encoder": self.has_encoder,
        }
