"""Offline code checks of the static reviewer: syntax, security, logic. None reads an answer key."""

from app.agents.checks.logic import find_logic_bugs
from app.agents.checks.security import find_vulnerabilities
from app.agents.checks.syntax import find_syntax_errors

__all__ = ["find_logic_bugs", "find_syntax_errors", "find_vulnerabilities"]
