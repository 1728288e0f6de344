"""What the content of each task and split is made of: base modules, operators and CWE classes
it can plant, and, over sampled episodes, the share of planted sites spanning several lines and
the share of planted vulnerabilities Bandit reports (on the episode's own code)."""

from __future__ import annotations

from typing import Any, Optional

from app.bandit_runner import run_bandit
from app.env.corpus.operators import OPERATORS_BY_NAME
from app.env.models import IssueType
from app.env.tasks import TaskRegistry


def content_row(registry: TaskRegistry, task_name: str, split: str, seeds: int) -> dict[str, Any]:
    """The content figures of one task on one split, sampled over seeds ``0..seeds-1``."""
    generator = registry.generator
    task = registry.get(task_name)
    mix = dict(task.mix)
    # A pull-request task may plant a category from some operators only.
    restricted = task.pull_request.operators if task.pull_request is not None else {}
    modules = registry.carriers(task_name, split)
    operators: set[str] = set()
    for module in modules:
        for kind in mix:
            operators.update(site.operator for site in generator.sites(module, kind, split, restricted.get(kind)))
    cwes = {OPERATORS_BY_NAME[name].cwe for name in operators if OPERATORS_BY_NAME[name].cwe}
    planted = multi_line = vulnerabilities = seen_by_bandit = 0
    for seed in range(seeds if modules else 0):
        episode = registry.generate(task_name, seed, split)
        flagged: Optional[set[int]] = None
        for issue in episode.issues:
            planted += 1
            multi_line += OPERATORS_BY_NAME[issue.kind].span > 1
            if issue.issue_type is not IssueType.SECURITY_VULNERABILITY:
                continue
            if flagged is None:
                flagged = {result.lineno for result in run_bandit(episode.reviewed_code)}
            vulnerabilities += 1
            seen_by_bandit += bool(flagged.intersection(issue.accepted_lines))
    return {
        "task": task_name, "split": split, "modules": len(modules), "operators": len(operators),
        "cwe_classes": len(cwes),
        "multi_line": round(multi_line / planted, 3) if planted else None,
        "bandit_detects": round(seen_by_bandit / vulnerabilities, 3) if vulnerabilities else None,
        "episodes": seeds if modules else 0,
    }
