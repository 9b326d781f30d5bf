"""Agents that paint: gradient agents through a neural painter, RL baselines, plug-ins.

Every agent implements :class:`Agent` and is found by name through
:func:`get_agent_class`; its paintings are judged on the real MyPaint renderer.
"""

from neuralpaint.agents.base import Agent, Budget, Progress
from neuralpaint.agents.registry import available_agents, get_agent_class, register_agent
from neuralpaint.agents.task import Task

__all__ = [
    "Agent",
    "Budget",
    "Progress",
    "Task",
    "available_agents",
    "get_agent_class",
    "register_agent",
]
