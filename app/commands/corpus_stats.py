"""``codereview corpus-stats``: the corpus figures.

Distinct episodes per task and split (unique code hashes over N seeds), median generation time
per episode (verification excluded), what each task and split is made of (base modules,
operators, CWE classes, the share of multi-line sites and of vulnerabilities Bandit reports, over
sampled episodes), and the verification pass rate per operator from the catalogue.
"""

from __future__ import annotations

import hashlib
import statistics
import time
from collections import Counter

import click
from flask import current_app
from flask.cli import with_appcontext
from rich.progress import track

from app.commands._output import emit
from app.corpus.stats import content_row
from app.env.corpus.operators import OPERATORS
from app.env.tasks import SPLITS


@click.command("corpus-stats")
@click.option("--seeds", type=click.IntRange(min=1), default=10_000, show_default=True)
@click.option("--content-seeds", type=click.IntRange(min=1), default=40, show_default=True,
              help="episodes per task and split sampled for the content table (Bandit runs on each)")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@with_appcontext
def command(seeds: int, content_seeds: int, fmt: str) -> None:
    """Print distinct episodes, generation speed, content and verification pass rates."""
    registry = current_app.extensions["registry"]
    generator = registry.generator
    rows = []
    for name in registry.names():
        for split in SPLITS:
            if not registry.split_sizes(name)[split]:
                rows.append({"task": name, "split": split, "modules": 0, "seeds": 0, "distinct": 0,
                             "median_ms": None, "p99_ms": None})
                continue
            digests, timings = set(), []
            for seed in track(range(seeds), description=f"{name}/{split}", transient=True):
                began = time.perf_counter()
                episode = registry.generate(name, seed, split)  # uncached: measures generation
                timings.append((time.perf_counter() - began) * 1000)
                digests.add(hashlib.sha256(episode.snippet.code.encode()).hexdigest())
            timings.sort()
            rows.append({"task": name, "split": split, "modules": registry.split_sizes(name)[split],
                         "seeds": seeds, "distinct": len(digests),
                         "median_ms": round(statistics.median(timings), 2),
                         "p99_ms": round(timings[int(0.99 * (len(timings) - 1))], 2)})
    emit(rows, fmt, title=f"generated episodes over {seeds} seeds")
    content = [content_row(registry, name, split, content_seeds)
               for name in track(registry.names(), description="content", transient=True) for split in SPLITS]
    emit(content, fmt, title=f"content per task and split ({content_seeds} episodes sampled for the shares)")
    verified, discarded = Counter(), Counter()
    for entry in generator.catalogue.modules.values():
        for key in entry.get("verified", []):
            verified[key.split(".", 1)[0]] += 1
        for key in entry.get("discarded", []):
            discarded[key.split(".", 1)[0]] += 1
    emit([{"operator": op.name, "category": op.issue_type.value, "verified": verified[op.name],
           "discarded": discarded[op.name],
           "pass_rate": round(verified[op.name] / (verified[op.name] + discarded[op.name]), 3)
           if verified[op.name] + discarded[op.name] else None}
          for op in OPERATORS], fmt, title="verification pass rate per operator (catalogue)")
