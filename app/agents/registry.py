"""Agents by name: ``make_agent("static")``.

``AGENT_FACTORIES`` maps a name to a factory taking the seed. An agent defined elsewhere (the
LLM baseline, ...) is made available to ``codereview evaluate`` by adding its entry here.
"""

from __future__ import annotations

from typing import Callable, Optional

from app.agents.base import Agent
from app.agents.oracle import OracleAgent
from app.agents.random_agent import RandomAgent
from app.agents.static import StaticAgent

AgentFactory = Callable[[Optional[int]], Agent]

def _llm(_seed: Optional[int]) -> Agent:
    # Imported on use: the OpenAI client is only needed when this agent runs.
    from app.agents.llm import LLMAgent

    return LLMAgent()


AGENT_FACTORIES: dict[str, AgentFactory] = {
    "oracle": OracleAgent,
    "random": RandomAgent,
    "static": StaticAgent,
    "llm": _llm,
}


def agent_names() -> list[str]:
    """Names ``make_agent`` accepts."""
    return sorted(AGENT_FACTORIES)


def make_agent(name: str, seed: Optional[int] = None) -> Agent:
    """Build the agent called ``name``.

    Args:
        name: ``oracle``, ``random``, ``static`` (and any other registered name).
        seed: Seed of the agent's randomness (ignored by deterministic agents).

    Raises:
        ValueError: unknown name; the message lists the valid ones.
    """
    try:
        factory = AGENT_FACTORIES[name]
    except KeyError:
        raise ValueError(f"unknown agent {name!r}; valid agents: {', '.join(agent_names())}") from None
    return factory(seed)


def requires_answer_key(agent: Agent) -> bool:
    """Whether the agent reads ``context.ground_truth`` (and so may run in-process only)."""
    return bool(getattr(agent, "requires_answer_key", False))


def model_label(agent: Agent) -> str:
    """The label stored as the episode's ``model``: the agent's ``model``, else its name."""
    return str(getattr(agent, "model", None) or agent.name)
