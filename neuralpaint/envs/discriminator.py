"""SPIRAL's reward: a trained critic's score of the finished painting.

SPIRAL (Ganin et al., 2018) gives its agent no reward until the episode ends; then a
Wasserstein discriminator scores the final canvas. ``PaintEnv(reward="discriminator")``
does the same with a trained WGAN critic on (painting, target) pairs: the critic of an
adversarially trained amortised agent (``adversarial_weight`` > 0), by default the
shipped ``amortized-adversarial-mnist``. Unlike SPIRAL's, this critic is frozen: it was
trained against the amortised agent's paintings through the neural painter, and does
not keep learning against the RL agent.

``critic=`` names where the critic comes from:

- a saved amortised agent folder, or a shipped agent's name, whose
  ``policy.safetensors`` holds its critic (``critic/...`` tensors); its ``agent.json``
  says the canvas size it was trained at;
- a critic file written by :func:`save_critic` (its metadata says the canvas size).

A missing or corrupt critic, a file without a critic and a critic trained at another
canvas size are refused with a message that says what to do.
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path

import numpy as np

from neuralpaint.errors import UserError

DEFAULT_CRITIC = "amortized-adversarial-mnist"
"""The shipped agent whose critic ``reward="discriminator"`` uses by default."""
TRAIN_DEFAULT_CRITIC = (
    "neuralpaint agent train amortized@regression --env NeuralPaint-MNIST-v0 --budget 20m "
    "--seed 0 --device cpu --threads 2 --out runs/agent-amortized-adversarial-mnist "
    "--overwrite --agent-arg batch_size=16 --agent-arg lr=0.001 "
    "--agent-arg adversarial_weight=1 --agent-arg l2_weight=10"
)
"""How the default critic's agent is trained (then copied into the package's weights)."""
PREFIX = "critic/"
"""The critic's tensors in an amortised agent's weights file."""


class CriticNotFoundError(UserError, FileNotFoundError):
    """No critic where one was named."""


class CriticError(UserError, ValueError):
    """A critic that cannot be used: corrupt, absent from its file, or of another size."""


def shipped_agents_dir() -> Path:
    return Path(__file__).resolve().parents[1] / "agents" / "weights"


def critic_source(critic: str | os.PathLike | None) -> tuple[Path, int | None]:
    """The weights file a ``critic=`` names, and the canvas size it was trained at
    (``None`` when the file must say it).

    Raises:
        CriticNotFoundError: when nothing is there; for the default critic while it is
            not trained yet, with the command that trains it.
    """
    spec = DEFAULT_CRITIC if critic is None else critic
    path = Path(spec).expanduser()
    shipped = shipped_agents_dir() / str(spec)
    for folder in (path, shipped):
        if (folder / "agent.json").is_file():
            meta = folder / "agent.json"
            try:
                size = int(json.loads(meta.read_text())["task"]["size"])
            except (ValueError, KeyError, TypeError) as exc:
                raise CriticError(f"{meta} is corrupt ({exc}); retrain or restore it") from exc
            return folder / "policy.safetensors", size
    if path.is_file():
        return path, None
    if str(spec) == DEFAULT_CRITIC:
        raise CriticNotFoundError(
            f"reward='discriminator' uses the critic of the shipped agent {DEFAULT_CRITIC}, "
            f"which is not trained yet (no agent.json in {shipped}). Train it with `"
            f"{TRAIN_DEFAULT_CRITIC}` and copy agent.json and policy.safetensors from its "
            "--out folder there, or pass critic= a saved adversarial agent folder"
        )
    raise CriticNotFoundError(
        f"no critic at {str(spec)!r}: give critic= a folder saved by `neuralpaint agent "
        "train amortized --agent-arg adversarial_weight=1`, a shipped agent's name, or a "
        "critic file written by neuralpaint.envs.discriminator.save_critic"
    )


def load_critic(critic: str | os.PathLike | None, size: int):
    """The frozen critic ``critic=`` names, checked against a ``size`` px canvas.

    Raises:
        CriticNotFoundError: nothing there (see :func:`critic_source`).
        CriticError: a corrupt file, one without a critic, or a critic trained on
            canvases of another size.
    """
    path, trained_size = critic_source(critic)
    if not path.is_file():
        raise CriticNotFoundError(f"{path} is missing: the saved agent has no weights file")
    stat = path.stat()
    module, file_size = _load(str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    trained_size = trained_size if trained_size is not None else file_size
    if trained_size is None:
        raise CriticError(f"critic file {path} does not say the canvas size it was trained at")
    if int(trained_size) != int(size):
        raise CriticError(
            f"the critic in {path} was trained on {trained_size} px canvases, but this "
            f"environment paints {size} px ones: train a critic at {size} px, or make the "
            f"environment with size={trained_size}"
        )
    return module


@functools.lru_cache(maxsize=8)
def _load(path: str, mtime_ns: int, length: int):
    """Read a critic once per file version (vector envs share it)."""
    from safetensors import safe_open

    from neuralpaint.agents.amortized import Critic

    try:
        with safe_open(path, "pt") as f:
            metadata = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 - not a dict
    except Exception as exc:
        raise CriticError(f"critic file {path} is corrupt ({exc})") from exc
    if any(k.startswith(PREFIX) for k in tensors):
        tensors = {k[len(PREFIX) :]: v for k, v in tensors.items() if k.startswith(PREFIX)}
    elif any(k.startswith("policy/") for k in tensors):
        raise CriticError(
            f"{path} holds an amortised agent trained without a critic "
            "(adversarial_weight = 0); train one with --agent-arg adversarial_weight=1"
        )
    try:
        critic = Critic(width=int(tensors["net.0.weight"].shape[0]))
        critic.load_state_dict(tensors)
    except Exception as exc:
        raise CriticError(f"critic file {path} is corrupt or not a critic ({exc})") from exc
    critic.eval()
    for p in critic.parameters():
        p.requires_grad_(False)
    size = metadata.get("size")
    return critic, int(size) if size is not None else None


def save_critic(critic, path: str | os.PathLike, size: int) -> Path:
    """Write a critic module alone, with the canvas size it was trained at, atomically."""
    from safetensors.torch import save_file

    from neuralpaint.io import atomic_path

    tensors = {k: v.detach().cpu().contiguous() for k, v in critic.state_dict().items()}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata={"size": str(int(size))})
    return Path(path)


class DiscriminatorReward:
    """``score(canvas, target) -> float``: the critic's score of a finished painting.

    Args:
        critic: as ``PaintEnv``'s ``critic=`` (see the module docstring).
        size: the canvas side the environment paints.
    """

    def __init__(self, critic: str | os.PathLike | None, size: int):
        self.critic = load_critic(critic, size)
        self.source = str(critic_source(critic)[0])

    def __call__(self, canvas: np.ndarray, target: np.ndarray) -> float:
        import torch

        with torch.no_grad():
            c = torch.as_tensor(canvas, dtype=torch.float32).permute(2, 0, 1)[None]
            t = torch.as_tensor(target, dtype=torch.float32).permute(2, 0, 1)[None]
            return float(self.critic(c, t)[0])


__all__ = [
    "DEFAULT_CRITIC",
    "CriticError",
    "CriticNotFoundError",
    "DiscriminatorReward",
    "load_critic",
    "save_critic",
]
