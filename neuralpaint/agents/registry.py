"""Agents by name: the built-in ones, ``module:Class`` specs, and plug-ins.

Another package adds an agent with one class and one line of packaging::

    # pyproject.toml of mypkg
    [project.entry-points."neuralpaint.agents"]
    my-agent = "mypkg.agents:MyAgent"

after which ``get_agent_class("my-agent")`` and ``neuralpaint train-agent my-agent``
find it. ``get_agent_class("mypkg.agents:MyAgent")`` works without packaging.
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points

from neuralpaint.agents.base import Agent

ENTRY_POINT_GROUP = "neuralpaint.agents"
_BUILTIN: dict[str, type[Agent]] = {}


def register_agent(cls: type[Agent]) -> type[Agent]:
    """Class decorator that makes an agent available under ``cls.name``."""
    if not (isinstance(cls, type) and issubclass(cls, Agent)) or not cls.name:
        raise TypeError(f"{cls!r} must subclass neuralpaint.agents.Agent and set a name")
    _BUILTIN[cls.name] = cls
    return cls


def _load_builtins() -> None:
    # Importing the modules runs their @register_agent decorators.
    for module in ("random_agent", "stroke_optimizer", "amortized", "rl"):
        importlib.import_module(f"neuralpaint.agents.{module}")


def _plugins() -> dict[str, object]:
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def available_agents() -> list[str]:
    """Names of every agent: built-in and installed plug-ins."""
    _load_builtins()
    return sorted({*_BUILTIN, *_plugins()})


def _check(obj: object, spec: str) -> type[Agent]:
    if not (isinstance(obj, type) and issubclass(obj, Agent)):
        raise TypeError(f"{spec!r} is {obj!r}, not a subclass of neuralpaint.agents.Agent")
    return obj


def get_agent_class(spec: str) -> type[Agent]:
    """The agent class for a registered name, a plug-in name or ``module:Class``.

    Raises:
        ValueError: for an unknown name, listing the available ones.
    """
    if ":" in spec:
        module_name, _, attr = spec.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise ValueError(f"cannot import agent module {module_name!r}: {exc}") from exc
        if not hasattr(module, attr):
            raise ValueError(f"module {module_name!r} has no attribute {attr!r}")
        return _check(getattr(module, attr), spec)
    _load_builtins()
    if spec in _BUILTIN:
        return _BUILTIN[spec]
    plugins = _plugins()
    if spec in plugins:
        return _check(plugins[spec].load(), spec)
    raise ValueError(
        f"unknown agent {spec!r}; available: {', '.join(available_agents())}, or give "
        "'module.path:ClassName'"
    )
