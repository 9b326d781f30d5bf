"""Agents by name: the built-in ones, ``module:Class`` specs, and plug-ins.

Another package adds an agent with one class and one line of packaging::

    # pyproject.toml of mypkg
    [project.entry-points."neuralpaint.agents"]
    my-agent = "mypkg.agents:MyAgent"

after which ``get_agent_class("my-agent")`` and ``neuralpaint agent train my-agent``
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
    for module in (
        "random_agent",
        "stroke_optimizer",
        "amortized",
        "rl",
        "fixed_sequence",
        "ddpg",
        "search",
        "hybrid",
    ):
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


def parse_agent_spec(spec: str) -> tuple[str, str | None]:
    """``NAME[@PAINTER]`` to ``(NAME, PAINTER or None)``.

    ``module:Class@painter`` works too: the painter is what follows the last ``@``.
    """
    name, sep, painter = spec.rpartition("@")
    if not sep:
        name, painter = spec, ""
    if not name:
        raise ValueError(f"agent spec {spec!r} has no name; expected NAME or NAME@PAINTER")
    return name, painter or None


def neural_painter_of(spec: str) -> str:
    """The neural painter an agent ``NAME[@PAINTER]`` trains or is judged through: the
    named one, else :data:`~neuralpaint.painters.DEFAULT_PAINTER` (also for agents that
    train on MyPaint, whose task still has a neural painter)."""
    from neuralpaint.painters import DEFAULT_PAINTER

    painter = parse_agent_spec(spec)[1]
    return painter if painter not in (None, "mypaint") else DEFAULT_PAINTER


def check_arguments(cls: type[Agent], kwargs: dict) -> None:
    """Refuse constructor arguments ``cls`` does not take, listing those it does.

    Raises:
        ValueError: naming the unknown keys and the valid ones.
    """
    valid = cls.arguments()
    unknown = sorted(set(kwargs) - set(valid)) if valid is not None else []
    if unknown:
        takes = f"its arguments are {', '.join(valid)}" if valid else "it takes none"
        raise ValueError(
            f"agent {cls.name!r} has no argument {', '.join(map(repr, unknown))}; {takes}"
        )


def make_agent(
    spec: str,
    env_id: str = "NeuralPaint-MNIST-v0",
    seed: int = 0,
    kwargs: dict | None = None,
    device: str | None = None,
    brush: str | None = None,
) -> Agent:
    """A fresh agent from ``NAME[@PAINTER]``, the one way to say what an agent paints
    through, used alike by ``neuralpaint agent train`` and the benchmarks.

    ``PAINTER`` is a shipped neural painter name, a checkpoint folder or, for agents
    that train on a renderer (RL), ``mypaint``. Without it, gradient agents learn
    through :data:`~neuralpaint.painters.DEFAULT_PAINTER` and RL agents train on
    MyPaint. The agent saves what it really used as ``trains_on`` in ``agent.json``.

    ``brush`` (or the ``brush`` argument of an agent that takes one, such as the search
    agents) is the MyPaint brush the agent paints and is judged with; it must blend
    normally, as every agent composites masks in one colour. The painter is then that
    brush's twin: a named shipped regression painter, or none named, stands for the
    brush's shipped twin (:func:`~neuralpaint.painters.neural.default_twin`), which
    agents that learn through a painter need; agents that paint on MyPaint only (RL on
    ``mypaint``, search) work with any such brush and skip the painter's comparison
    when the brush has no twin. Without a brush, the task takes the named painter's
    brush (the default brush for the shipped painters).

    Raises:
        ValueError: for an unknown name or argument, ``renderer=`` given as an argument,
            ``mypaint`` for an agent that needs gradients, a brush that is unknown or
            does not blend normally, a painter of another brush or a brush without a
            shipped twin for an agent that needs one.
    """
    from neuralpaint.agents.task import Task
    from neuralpaint.painters import DEFAULT_PAINTER

    name, painter = parse_agent_spec(spec)
    cls = get_agent_class(name)
    kwargs = dict(kwargs or {})
    check_arguments(cls, kwargs)
    takes = cls.arguments() or []
    if "renderer" in kwargs:
        raise ValueError(
            f"say the renderer in the agent spec, e.g. '{name}@mypaint' or "
            f"'{name}@regression', not as renderer={kwargs['renderer']!r}"
        )
    if "renderer" in takes:
        kwargs["renderer"] = painter or "mypaint"
    elif painter == "mypaint":
        raise ValueError(
            f"agent {name!r} learns through a differentiable painter; MyPaint has no "
            f"gradient. Name a neural painter, e.g. '{name}@{DEFAULT_PAINTER}'"
        )
    if device is not None and "device" in takes:
        kwargs.setdefault("device", device)
    if brush is None and kwargs.get("brush") is None:
        task = Task.from_env_id(env_id, painter=neural_painter_of(spec))
        if painter not in (None, "mypaint"):
            task.brush = _painter_brush(painter) or task.brush
        return cls(task, seed=seed, **kwargs)
    task = Task.from_env_id(env_id, painter="", brush=brush or kwargs.get("brush"))
    if kwargs.get("brush") not in (None, task.brush):
        raise ValueError(
            f"the brush is given twice, as {brush!r} and as brush={kwargs['brush']!r}; give it once"
        )
    if "brush" in takes:
        kwargs["brush"] = task.brush
    task.painter = _task_painter(painter, task, kwargs, "renderer" in takes)
    return cls(task, seed=seed, **kwargs)


def _painter_brush(painter: str) -> str | None:
    """The brush a named painter imitates, or ``None`` when it cannot be read (loading
    the painter then reports why) or it paints several."""
    from neuralpaint.painters import checkpoint as ckpt
    from neuralpaint.painters.neural import painter_brush, read_painter_config

    try:
        return painter_brush(read_painter_config(painter))
    except ckpt.CheckpointError:
        return None


def _task_painter(painter: str | None, task, kwargs: dict, on_renderer: bool) -> str:
    """The painter of a task whose brush was chosen: the named painter, or the shipped
    twin it stands for, or the brush's shipped twin when none is named. An agent that
    trains on a renderer gets that renderer's twin as ``renderer`` too; on MyPaint, a
    brush without a twin leaves the task without a painter (``""``).

    Raises:
        UserValueError: for a brush that does not blend normally; for one without a
            shipped twin, when the agent needs a painter.
    """
    from neuralpaint.errors import UserValueError
    from neuralpaint.painters.brushes import require_twin_brush
    from neuralpaint.painters.neural import default_twin, painter_for_brush

    require_twin_brush(task.brush)
    if painter not in (None, "mypaint"):
        resolved = painter_for_brush(painter, task.brush)
        if on_renderer:
            kwargs["renderer"] = resolved
        return resolved
    discrete = task.variant == "discrete"
    if not on_renderer:  # it learns through the painter: the twin is needed
        return default_twin(task.brush, discrete)
    try:  # for the painter's side of the evaluation only
        return default_twin(task.brush, discrete)
    except UserValueError:
        return ""
