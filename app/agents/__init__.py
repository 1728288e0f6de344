"""Agents: policies that map an observation to an action.

Each agent implements :class:`~app.agents.base.Agent`; :func:`~app.agents.registry.make_agent`
builds one by name.
"""

from app.agents.base import Agent, EpisodeContext

__all__ = ["Agent", "EpisodeContext"]
