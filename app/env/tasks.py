"""Task registry: reads task definitions from the data folder ``tasks/``.

A task is a folder holding ``task.toml`` (its rules and answer key) and the snippet file it
names. Adding a task is adding such a folder; no code changes.
"""

from __future__ import annotations

import functools
import os
import threading
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional, Sequence, Union

from app.env.corpus.generator import EVALUATION_SPLITS, Catalogue, Generator
from app.env.corpus.holdout import (HOLDOUT_CATALOGUE_ENV, HOLDOUT_DIR_ENV, HOLDOUT_SPLIT, Holdout, holdout_dirs,
                                    load_holdout)
from app.env.corpus.modules import BaseModule, load_modules
from app.env.corpus.operators import OPERATORS_BY_NAME
from app.env.corpus.pull_requests import PullRequestMix, PullRequests
from app.env.models import CodeSnippet, Decoy, EpisodeSpec, IssueType, PlantedIssue, Severity

# The splits of the shipped corpus (tasks/corpus), then the private hold-out's.
CORPUS_SPLITS: tuple[str, ...] = ("train", "validation", "test")
SPLITS: tuple[str, ...] = (*CORPUS_SPLITS, HOLDOUT_SPLIT)
DEFAULT_SPLIT = "train"
TASKS_DIR_ENV = "CODEREVIEW_TASKS_DIR"
# An episode secret, or what returns it when first needed (a server reads it from its database).
SecretSource = Union[bytes, str, Callable[[], Union[bytes, str]]]


class TaskDefinitionError(ValueError):
    """A task folder whose definition is inconsistent (bad line, unknown type, ...)."""


class HoldoutUnavailable(ValueError):
    """No hold-out episode of a task can be served. The message says why, naming hold-out
    directories, modules and files: it is for the operator; ``public`` is what an agent may be
    told (nothing about hold-out modules)."""

    def __init__(self, message: str, public: str) -> None:
        super().__init__(message)
        self.public = public


@dataclass(frozen=True)
class TaskSpec:
    """Rules of one task and its canonical episode.

    Attributes:
        name: Identifier used on the wire (``syntax_check``).
        title: Human-readable name.
        difficulty: ``easy``, ``medium`` or ``hard``.
        issue_type: The category the task is about.
        description: Instructions shown to the agent.
        max_steps: Step budget; the episode ends when it is used up.
        success_threshold: ``completion_score`` at or above which the review succeeds.
        max_hints: Hints available per episode.
        canonical: The hand-written episode served when no seed is given.
        mix: Planted issues per category in a generated episode.
        order: Position in task listings.
        episode_description: Instructions for a generated episode, naming its own module:
            ``{file_name}`` and ``{title}`` are filled from the module (``description`` when
            unset).
        pull_request: For a pull-request task, the most bugs per category (``mix``) and
            benign hunks a pull request holds; ``None`` for the tasks that review a file.
    """

    name: str
    title: str
    difficulty: str
    issue_type: IssueType
    description: str
    max_steps: int
    success_threshold: float
    max_hints: int
    canonical: Optional[EpisodeSpec]
    mix: tuple[tuple[IssueType, int], ...] = ()
    order: int = 100
    episode_description: Optional[str] = None
    pull_request: Optional[PullRequestMix] = None

    def describe(self, episode: EpisodeSpec) -> str:
        """The instructions shown with ``episode``: those of its own module when generated."""
        if self.episode_description and episode.title:
            return self.episode_description.format(file_name=episode.snippet.file_name, title=episode.title)
        return self.description

    @property
    def expected_issue_count(self) -> Optional[int]:
        """Number of planted issues per episode; ``None`` where it varies and is not shown
        (a pull request may plant anything from none to its maximum)."""
        return None if self.pull_request is not None else sum(count for _, count in self.mix)

    @property
    def issue_types(self) -> tuple[IssueType, ...]:
        """The categories planted in this task's episodes."""
        return tuple(kind for kind, _ in self.mix)

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready summary (no answer key)."""
        return {
            "name": self.name,
            "title": self.title,
            "difficulty": self.difficulty,
            "issue_type": self.issue_type.value,
            "description": self.description,
            "expected_issue_count": self.expected_issue_count,
            "max_steps": self.max_steps,
            "success_threshold": self.success_threshold,
            "max_hints": self.max_hints,
            "issue_types": [kind.value for kind in self.issue_types],
            "splits": list(SPLITS),
        }


def _load_task(folder: Path) -> TaskSpec:
    definition_path = folder / "task.toml"
    try:
        with definition_path.open("rb") as handle:
            raw = tomllib.load(handle)
        name = str(raw["name"])
        canonical: Optional[EpisodeSpec] = None
        if "snippet" in raw:
            canonical = _canonical_episode(folder, name, raw)
        mix_raw = raw.get("generator", {}).get("mix")
        if mix_raw:
            mix = tuple((IssueType(kind), int(count)) for kind, count in sorted(mix_raw.items()))
        elif canonical is not None:
            mix = ((IssueType(raw["issue_type"]), len(canonical.issues)),)
        else:
            raise TaskDefinitionError(f"{definition_path} needs a [snippet] or a [generator] mix")
        spec = TaskSpec(
            name=name,
            title=str(raw.get("title", name)),
            difficulty=str(raw["difficulty"]),
            issue_type=IssueType(raw["issue_type"]),
            description=str(raw["description"]),
            max_steps=int(raw["max_steps"]),
            success_threshold=float(raw["success_threshold"]),
            max_hints=int(raw.get("max_hints", 3)),
            canonical=canonical,
            mix=mix,
            order=int(raw.get("order", 100)),
            episode_description=raw.get("generator", {}).get("description"),
            pull_request=_pull_request_mix(raw.get("generator", {}), mix),
        )
        if spec.episode_description is not None:
            spec.episode_description.format(file_name="module.py", title="Module")  # KeyError: unknown field
    except (KeyError, ValueError, TypeError, OSError, tomllib.TOMLDecodeError) as exc:
        if isinstance(exc, TaskDefinitionError):
            raise
        raise TaskDefinitionError(f"invalid task definition in {folder}: {exc!r}") from exc
    if canonical is not None and spec.pull_request is None and len(canonical.issues) != spec.expected_issue_count:
        raise TaskDefinitionError(f"{definition_path}: the canonical snippet does not plant the task's mix")
    return spec


def _pull_request_mix(generator: dict[str, Any], mix: tuple[tuple[IssueType, int], ...]) -> Optional[PullRequestMix]:
    kind = generator.get("kind", "file")
    if kind == "file":
        return None
    if kind != "pull_request":
        raise TaskDefinitionError(f"unknown generator kind {kind!r} (file, pull_request)")
    return PullRequestMix(bugs=dict(mix), benign=int(generator.get("benign", 3)),
                          operators=_restricted_operators(generator.get("operators", {}), dict(mix)))


def _restricted_operators(raw: Any, mix: dict[IssueType, int]) -> dict[IssueType, frozenset[str]]:
    """``[generator] operators``: per category of the mix, the only operators it is planted from."""
    if not isinstance(raw, dict):
        raise TaskDefinitionError("[generator] operators must be a table of category = [operator, ...]")
    restricted: dict[IssueType, frozenset[str]] = {}
    for category, names in raw.items():
        try:
            kind = IssueType(category)
        except ValueError:
            raise TaskDefinitionError(f"[generator] operators: unknown category {category!r}") from None
        if kind not in mix:
            raise TaskDefinitionError(f"[generator] operators: {category!r} is not planted by the task's mix")
        if not isinstance(names, list) or not names or not all(isinstance(name, str) for name in names):
            raise TaskDefinitionError(f"[generator] operators.{category} must be a non-empty list of operator names")
        for name in names:
            operator = OPERATORS_BY_NAME.get(name)
            if operator is None:
                raise TaskDefinitionError(f"[generator] operators.{category}: unknown operator {name!r}")
            if operator.issue_type is not kind:
                raise TaskDefinitionError(f"[generator] operators.{category}: {name!r} plants "
                                          f"{operator.issue_type.value}")
        restricted[kind] = frozenset(names)
    return restricted


def _canonical_episode(folder: Path, name: str, raw: dict[str, Any]) -> EpisodeSpec:
    snippet_raw = raw["snippet"]
    code = (folder / snippet_raw["file"]).read_text(encoding="utf-8")
    line_count = code.count("\n") + (0 if code.endswith("\n") else 1)
    issues = tuple(_planted_issue(item, line_count) for item in raw.get("issues", []))
    ids = [issue.id for issue in issues]
    if len(set(ids)) != len(ids):
        raise TaskDefinitionError(f"duplicate issue ids in {folder / 'task.toml'}")
    if not issues:
        raise TaskDefinitionError(f"{folder / 'task.toml'} plants no issue")
    decoys = tuple(
        Decoy(id=str(item["id"]), line_number=int(item["line"]), kind=str(item["kind"]),
              description=str(item["description"]))
        for item in raw.get("decoys", [])
    )
    snippet = CodeSnippet(
        code=code,
        language=str(snippet_raw.get("language", "python")),
        file_name=str(snippet_raw.get("file_name", snippet_raw["file"])),
        context=snippet_raw.get("context"),
    )
    return EpisodeSpec(task_name=name, seed=None, split=DEFAULT_SPLIT, snippet=snippet, issues=issues, decoys=decoys)


def _planted_issue(item: dict[str, Any], line_count: int) -> PlantedIssue:
    line = int(item["line"])
    accepted = tuple(int(n) for n in item.get("accepted_lines", [line]))
    if line not in accepted:
        raise TaskDefinitionError(f"issue {item['id']}: line {line} not in accepted_lines")
    if not all(1 <= n <= line_count for n in accepted):
        raise TaskDefinitionError(f"issue {item['id']}: accepted line outside the snippet")
    issue_type = IssueType(item["issue_type"])
    cwe = item.get("cwe") or None
    return PlantedIssue(
        id=str(item["id"]),
        line_number=line,
        accepted_lines=accepted,
        issue_type=issue_type,
        severity=Severity(item["severity"]),
        description=str(item["description"]),
        fix=str(item["fix"]),
        cwe=cwe,
        kind=str(item.get("kind") or cwe or item["id"]),
    )


class TaskRegistry:
    """The registered tasks, keyed by name, in a stable order, and the episode generator.

    Args:
        tasks: The task definitions.
        generator: Makes seeded episodes from the base modules.
        episode_secret: The deployment's episode secret, or a callable returning it (called once,
            when an evaluation-split episode is first generated). With a secret, the episodes
            of the evaluation splits (``test``, ``holdout``) depend on it as well as on the
            seed; without one, every split is reproducible from the seed alone.
    """

    def __init__(self, tasks: list[TaskSpec], generator: Optional[Generator] = None,
                 episode_secret: Optional[SecretSource] = None, holdout: Optional[Holdout] = None) -> None:
        self._tasks = {task.name: task for task in sorted(tasks, key=_task_order)}
        self.generator = generator
        self.holdout = holdout if holdout is not None else Holdout()
        self._secret_source = episode_secret
        self._secret: Optional[bytes] = None
        self._secret_lock = threading.Lock()
        # Generated episodes are pure functions of (task, seed, split) and the secret: cache the
        # recent ones, since the service restores an episode on every step.
        self._generated = functools.lru_cache(maxsize=4096)(self.generate)

    def with_episode_secret(self, secret: Optional[SecretSource]) -> "TaskRegistry":
        """This registry's tasks and generator (its per-module caches shared) with ``secret``."""
        return TaskRegistry(list(self._tasks.values()), self.generator, episode_secret=secret, holdout=self.holdout)

    @property
    def episode_secret_source(self) -> Optional[SecretSource]:
        """What this registry draws evaluation episodes with (None: no secret)."""
        return self._secret_source

    def _episode_secret(self) -> Optional[bytes]:
        if self._secret_source is None:
            return None
        if self._secret is None:
            with self._secret_lock:
                if self._secret is None:
                    source = self._secret_source
                    value = source() if callable(source) else source
                    self._secret = value.encode("utf-8") if isinstance(value, str) else bytes(value)
        return self._secret

    @classmethod
    def from_directory(cls, path: os.PathLike[str] | str, holdout: Sequence[Path] = (),
                       holdout_catalogue_dir: Optional[Path] = None) -> "TaskRegistry":
        """Load every folder of ``path`` that holds a ``task.toml``, and the base modules of
        ``path/corpus`` with their verification catalogue.

        Args:
            path: The task data folder.
            holdout: Hold-out directories (see :mod:`app.env.corpus.holdout`); their modules
                form the split ``holdout``. A bad one is reported, never raised.
            holdout_catalogue_dir: Where their catalogues are kept, when not beside them.

        Raises:
            TaskDefinitionError: when a definition is inconsistent.
        """
        root = Path(path)
        folders = sorted(p for p in root.iterdir() if (p / "task.toml").is_file())
        corpus = root / "corpus"
        public = load_modules(corpus)
        loaded = load_holdout(holdout, holdout_catalogue_dir, taken=(module.name for module in public))
        catalogue = Catalogue.load(corpus / "verified.json")
        generator = Generator(public + list(loaded.modules), Catalogue({**catalogue.modules, **loaded.catalogue}))
        return cls([_load_task(folder) for folder in folders], generator, holdout=loaded)

    def names(self) -> list[str]:
        """Task names, easiest first."""
        return list(self._tasks)

    def tasks(self) -> list[TaskSpec]:
        """Task specs, easiest first."""
        return list(self._tasks.values())

    def get(self, name: str) -> TaskSpec:
        """Return the task called ``name``.

        Raises:
            ValueError: for an unknown name; the message lists the valid ones.
        """
        try:
            return self._tasks[name]
        except (KeyError, TypeError):
            valid = ", ".join(self._tasks)
            raise ValueError(f"unknown task {name!r}; valid tasks: {valid}") from None

    def episode(self, name: str, seed: Optional[int] = None, split: str = DEFAULT_SPLIT) -> EpisodeSpec:
        """Return the episode (code and answer key) for ``(name, seed, split)``.

        Args:
            name: Task name.
            seed: Episode seed; ``None`` selects the task's canonical snippet (in the train
                split; other splits then use seed 0).
            split: ``train``, ``validation``, ``test`` or ``holdout``.

        Raises:
            ValueError: unknown task or split, or no base module can carry the task.
        """
        task = self.get(name)
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; valid splits: {', '.join(SPLITS)}")
        if seed is None and split == DEFAULT_SPLIT and task.canonical is not None:
            return task.canonical
        if split == HOLDOUT_SPLIT:
            if self.generator is None or not self.carriers(name, split):
                reason = self.holdout.unavailable_reason()
                public = reason if not self.holdout.configured else (
                    f"no hold-out episode of {name} can be served on this server; its operator can see why "
                    "with codereview corpus status")
                raise HoldoutUnavailable(reason, public)
            return self._generated(name, 0 if seed is None else seed, split)
        if (self.generator is None or not self.generator.has_corpus) and task.canonical is not None:
            # No verified corpus (a checkout without tasks/corpus): every seed serves the canonical code.
            canonical = task.canonical
            return EpisodeSpec(task_name=canonical.task_name, seed=seed, split=split, snippet=canonical.snippet,
                               issues=canonical.issues, decoys=canonical.decoys)
        return self._generated(name, 0 if seed is None else seed, split)

    def generate(self, name: str, seed: int, split: str) -> EpisodeSpec:
        """Generate the episode ``(name, seed, split)`` afresh (:meth:`episode` caches it); for
        measuring generation.

        Raises:
            ValueError: no generator, or no base module of ``split`` can carry the task.
        """
        if self.generator is None:
            raise ValueError("no episode generator is configured")
        secret = self._episode_secret() if split in EVALUATION_SPLITS else None
        task = self.get(name)
        if task.pull_request is not None:
            return self._pull_requests().generate(name, task.pull_request, seed, split, secret=secret)
        return self.generator.generate(name, dict(task.mix), seed, split, secret=secret)

    def _pull_requests(self) -> PullRequests:
        assert self.generator is not None
        return _pull_requests_of(self.generator)

    def carriers(self, name: str, split: str) -> tuple[BaseModule, ...]:
        """The base modules of ``split`` able to carry the task's episodes."""
        if self.generator is None:
            return ()
        task = self.get(name)
        if task.pull_request is not None:
            return self._pull_requests().eligible(task.pull_request, split)
        return self.generator.eligible(dict(task.mix), split)

    def warm(self) -> None:
        """Compute now what the generator caches per base module and per task (see
        :meth:`Generator.warm`), so that a new process generates its first episodes as fast as
        its later ones. A server calls it once per process before serving; about half a second."""
        if self.generator is None:
            return
        self.generator.warm(SPLITS)
        for name in self._tasks:
            for split in SPLITS:
                self.carriers(name, split)

    def split_sizes(self, name: str) -> dict[str, int]:
        """Base modules able to carry the task, per split."""
        return {split: len(self.carriers(name, split)) for split in SPLITS}


@functools.lru_cache(maxsize=16)
def _pull_requests_of(generator: Generator) -> PullRequests:
    """One pull-request generator per episode generator: registries sharing a generator (with
    other secrets) share its caches."""
    return PullRequests(generator)


_DIFFICULTY_ORDER = {"easy": 0, "medium": 1, "hard": 2}


def _task_order(task: TaskSpec) -> tuple[int, int, str]:
    return (task.order, _DIFFICULTY_ORDER.get(task.difficulty, 3), task.name)


def default_tasks_dir() -> Path:
    """The task data folder: ``$CODEREVIEW_TASKS_DIR`` or ``tasks/`` at the project root."""
    configured = os.environ.get(TASKS_DIR_ENV)
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parents[2] / "tasks"


def load_registry(path: Optional[str] = None, holdout: Optional[str] = None,
                  holdout_catalogue_dir: Optional[str] = None) -> TaskRegistry:
    """Load (once per process and arguments) the registry from ``path`` or the default folder.

    Args:
        path: The task data folder (default ``$CODEREVIEW_TASKS_DIR``, else ``tasks/``).
        holdout: Hold-out directories, ``os.pathsep``-separated (default
            ``$CODEREVIEW_HOLDOUT_DIR``; none when unset).
        holdout_catalogue_dir: Where hold-out catalogues are kept (default
            ``$CODEREVIEW_HOLDOUT_CATALOGUE_DIR``; beside the modules when unset).
    """
    if holdout is None:
        holdout = os.environ.get(HOLDOUT_DIR_ENV, "")
    if holdout_catalogue_dir is None:
        holdout_catalogue_dir = os.environ.get(HOLDOUT_CATALOGUE_ENV, "")
    return _load_registry(str(path or default_tasks_dir()), holdout, holdout_catalogue_dir)


@functools.lru_cache(maxsize=8)
def _load_registry(path: str, holdout: str, holdout_catalogue_dir: str) -> TaskRegistry:
    return TaskRegistry.from_directory(path, holdout_dirs(holdout),
                                       Path(holdout_catalogue_dir) if holdout_catalogue_dir else None)

