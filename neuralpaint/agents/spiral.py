"""A SPIRAL-style RL baseline: PPO rewarded by a trained critic at the episode's end.

SPIRAL trains its agent with RL on the real painting program and a Wasserstein
discriminator's score of the finished canvas as the only reward. This agent is the
project's PPO (:class:`~neuralpaint.agents.rl.PPOAgent`, set up the same way) on
environments made with ``reward="discriminator"``: no reward until the last stroke, then
the score of a frozen critic trained beside an adversarial amortised agent (by default
the shipped ``amortized-adversarial-mnist``'s; see :mod:`neuralpaint.envs.discriminator`).
Reward normalisation (``VecNormalize``) puts the critic's score on PPO's scale.

Like every agent, it is judged on MyPaint's painting of its strokes. Give it as
``neuralpaint.agents.spiral:DiscriminatorPPO@mypaint`` (the ``module:Class`` form, which
needs no registration).
"""

from __future__ import annotations

import os

from neuralpaint.agents.registry import register_agent
from neuralpaint.agents.rl import PPOAgent
from neuralpaint.agents.task import Task

SPEC = "neuralpaint.agents.spiral:DiscriminatorPPO"
"""How benchmarks and ``agent train`` name this agent."""


@register_agent
class DiscriminatorPPO(PPOAgent):
    """PPO with SPIRAL's reward: a trained critic's score at the episode's end.

    Args:
        task, seed, renderer, subprocess, device: as :class:`PPOAgent`'s.
        critic: the critic (a saved adversarial amortised agent folder, a shipped agent
            name or a critic file); ``None`` uses the shipped
            ``amortized-adversarial-mnist``'s.
        **config: :class:`~neuralpaint.agents.rl.PPOConfig` fields and other PPO
            arguments.

    Raises:
        CriticNotFoundError, CriticError: for a missing or corrupt critic, or one
            trained at another canvas size (when the environments are made).
    """

    name = SPEC
    """The ``module:Class`` form, so ``Agent.load`` finds the class of a saved one
    without a registry entry."""

    def __init__(
        self,
        task: Task,
        seed: int = 0,
        renderer: str = "mypaint",
        subprocess: bool = False,
        device: str = "auto",
        critic: str | os.PathLike | None = None,
        **config,
    ):
        self.critic = None if critic is None else str(critic)
        super().__init__(task, seed, renderer, subprocess, device, **config)
        self.kwargs["critic"] = self.critic  # saved in agent.json with the rest

    @classmethod
    def arguments(cls) -> list[str]:
        return [*super().arguments(), "critic"]

    def reward_options(self) -> dict:
        return {"reward": "discriminator", "critic": self.critic}


__all__ = ["SPEC", "DiscriminatorPPO"]
