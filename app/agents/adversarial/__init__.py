"""Adversarial policies: ways to earn a score without reviewing, played by ``codereview audit-reward``.

Each sees only what an agent sees (the observation), except ``diff_clean_module``, which has
also read the shipped clean modules, and ``regenerate_from_seed``, which runs the project's
generator on the episode's task, seed and split. ``POLICIES`` maps each name to its class; every
class takes the episode's seed first.
"""

from app.agents.adversarial.base import PlannedPolicy
from app.agents.adversarial.blind import FlagEveryLineOfCategory, LineSweep, RandomLines, SubmitAtOnce
from app.agents.adversarial.compile_locator import CompileLocator, locate_compile_errors
from app.agents.adversarial.memorise import DiffCleanModule, RegenerateFromSeed, differing_lines
from app.agents.adversarial.patterns import (
    DANGEROUS_PATTERNS,
    BanditPolicy,
    RegexPolicy,
    SecurityApiSinks,
    dangerous_pattern,
)

POLICIES: dict[str, type[PlannedPolicy]] = {policy.name: policy for policy in (
    SubmitAtOnce, RandomLines, LineSweep, FlagEveryLineOfCategory, RegexPolicy, SecurityApiSinks,
    BanditPolicy, CompileLocator, DiffCleanModule, RegenerateFromSeed,
)}

__all__ = [
    "BanditPolicy",
    "CompileLocator",
    "DANGEROUS_PATTERNS",
    "DiffCleanModule",
    "FlagEveryLineOfCategory",
    "LineSweep",
    "POLICIES",
    "PlannedPolicy",
    "RandomLines",
    "RegenerateFromSeed",
    "RegexPolicy",
    "SecurityApiSinks",
    "SubmitAtOnce",
    "dangerous_pattern",
    "differing_lines",
    "locate_compile_errors",
]
