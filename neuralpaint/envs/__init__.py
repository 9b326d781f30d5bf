"""Gymnasium environments and their target datasets.

``neuralpaint/__init__.py`` imports :mod:`neuralpaint.envs.registration` to register the
ids, so this package's import stays light; the environment classes load on first use:
``from neuralpaint.envs import PaintEnv, PaintVectorEnv``.
"""

from __future__ import annotations

from typing import Any

from neuralpaint.envs.registration import DEFAULTS, env_id, env_ids, register_envs

__all__ = ["DEFAULTS", "PaintEnv", "PaintVectorEnv", "env_id", "env_ids", "register_envs"]


def __getattr__(name: str) -> Any:
    if name == "PaintEnv":
        from neuralpaint.envs.paint import PaintEnv

        return PaintEnv
    if name == "PaintVectorEnv":
        from neuralpaint.envs.vector import PaintVectorEnv

        return PaintVectorEnv
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
