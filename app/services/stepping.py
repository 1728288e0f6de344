"""The reset and step paths, each in parts so that writes can share commits.

``read_live`` loads what a step needs (one query, no ORM), ``prepare_step`` runs the engine and
computes every row to write (no I/O), and ``write_step`` writes them on a connection inside a
transaction it does not commit: the caller runs it through ``Database.write`` (group commit).
The write succeeds only if the episode is still at the step count it was read at (``UPDATE ...
WHERE step_count = :seen``), so two overlapping steps never both apply: the loser gets
:class:`~app.errors.Conflict` and nothing of it is written.

A reset works the same way: ``prepare_reset`` runs the engine, ``write_reset`` writes the
session and episode rows.

On Postgres every step, and every reset but one with a requested ``episode_id``, is a single
statement (its rows written by data-modifying ``WITH`` clauses), so that alone in its batch it
takes one round trip in autocommit (see :class:`~app.db.GroupCommitter`), and in a shared
batch one round trip of the batch's. The steps of a batch that do not end their episodes share
one statement (:func:`combinable_step`): a batch of them is one round trip and one commit in
all. SQLite writes a statement per table: it has no round trips.

A WebSocket keeps its :class:`LiveEpisode` between messages (a socket is one session), so its
steps skip the read; if another writer moved the episode meanwhile, the write conflicts and the
socket reads afresh.
"""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Optional

import sqlalchemy as sa
import sqlalchemy.exc

from app.auth import ensure_visible, is_operator, is_visible, may_see_answer_key
from app.db import Combinable, Database, DriverStatement
from app.env import (CodeReviewerAction, CodeReviewerEnv, CodeReviewerObservation, EpisodeSpec, HoldoutUnavailable,
                     PlantedIssue, TaskRegistry)
from app.env.models import CodeReviewerReward
from app.errors import Conflict, NotFound, ValidationFailed
from app.models import Episode, EpisodeIssue, EpisodeStatus, Session, Step, utcnow

EPISODES = Episode.__table__
STEPS = Step.__table__
ISSUES = EpisodeIssue.__table__
SESSIONS = Session.__table__

_READ_CURRENT = (
    sa.select(SESSIONS.c.owner.label("session_owner"), EPISODES.c.id, EPISODES.c.session_id,
              EPISODES.c.status, EPISODES.c.step_count, EPISODES.c.state)
    .select_from(SESSIONS.outerjoin(EPISODES, SESSIONS.c.current_episode_id == EPISODES.c.id))
    .where(SESSIONS.c.id == sa.bindparam("session_id"))
)


_PROGRESS = ("step_count", "state", "cumulative_reward", "updated_at", "reports", "issues_found",
             "false_positives", "duplicates", "decoys_flagged", "hints_used")
_FINISH = ("status", "result", "completion_score", "success", "finished_at")


_STEP_COLUMNS = ("episode_id", "index", "action_type", "action", "outcome", "confidence", "reward", "breakdown",
                 "changes", "done", "created_at", "request_id")
_ISSUE_COLUMNS = ("episode_id", "issue_id", "kind", "cwe", "issue_type", "severity", "found", "found_at_step")
_SESSION_COLUMNS = ("id", "transport", "owner", "created_at", "updated_at")
_EPISODE_COLUMNS = ("id", "session_id", "task", "seed", "split", "owner", "play_key", "code", "file_name", "status",
                    "agent", "model", "step_count", "max_steps", "issues_expected", "cumulative_reward", "state",
                    "created_at", "updated_at")


def _running() -> sa.ColumnElement[bool]:
    """``(episodes.status = 'running') IS TRUE``: true exactly where ``status = 'running'`` is,
    but no index can serve it. Every statement that uses it finds its episode by primary key,
    and on Postgres the indexes that lead with ``status`` (the analytics' and the idle sweep's)
    would otherwise tie with the primary key while the table is small or its statistics are
    stale: a step then scanned every running episode's index entry and heap row (16 of them per
    step at 16 clients on a new database) to find its own."""
    return (EPISODES.c.status == EpisodeStatus.RUNNING).is_(sa.true())


def _guarded_update(columns: tuple[str, ...], suffix: str = "") -> sa.Update:
    """``UPDATE episodes SET <columns> WHERE id = :b_id AND step_count = :b_seen AND running``,
    each parameter's name followed by ``suffix``."""
    return (
        sa.update(EPISODES)
        .where(EPISODES.c.id == sa.bindparam(f"b_id{suffix}"), EPISODES.c.step_count == sa.bindparam(f"b_seen{suffix}"),
               _running())
        .values({column: sa.bindparam(f"{column}{suffix}", type_=EPISODES.c[column].type) for column in columns})
    )


def _row_values(table: sa.Table, columns: tuple[str, ...], suffix: str = "") -> dict[str, Any]:
    """One row's values: ``columns`` bound as ``:<column><suffix>``, plus the model's constant
    defaults, which SQLAlchemy would otherwise add (a computed default must be passed)."""
    values: dict[str, Any] = {column: sa.bindparam(f"{column}{suffix}", type_=table.c[column].type)
                              for column in columns}
    for column in table.c:
        if column.name not in values and column.default is not None:
            if not column.default.is_scalar:
                raise ValueError(f"{table.name}.{column.name} has a computed default: pass it")
            values[column.name] = column.default.arg
    return values


def _insert(table: sa.Table, columns: tuple[str, ...]) -> sa.Insert:
    """``INSERT INTO <table> (<columns>, <columns with a constant default>) VALUES (:<column>, ...)``."""
    return sa.insert(table).values(_row_values(table, columns))


def _insert_rows(table: sa.Table, columns: tuple[str, ...], count: int) -> sa.Insert:
    """``INSERT INTO <table> (<columns>) VALUES (...), (...)``: ``count`` rows in one statement, row
    ``i``'s values bound as ``<column>_<i>`` (one round trip, where the driver's ``executemany``
    takes Postgres' pipeline mode and costs several times the statement)."""
    return sa.insert(table).values([_row_values(table, columns, f"_{index}") for index in range(count)])


class _ByCount:
    """Statements that depend on a row count, built by ``build(count)`` and compiled once per count."""

    def __init__(self, build: Callable[[int], sa.Executable]) -> None:
        self._build = build
        self._statements: dict[int, DriverStatement] = {}

    def __getitem__(self, count: int) -> DriverStatement:
        statement = self._statements.get(count)
        if statement is None:
            statement = self._statements[count] = DriverStatement(self._build(count))
        return statement


def _numbered(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> dict[str, Any]:
    """The parameters of ``rows`` for a statement that binds row ``i``'s values as ``<column>_<i>``."""
    return {f"{column}_{index}": row[column] for index, row in enumerate(rows) for column in columns}


def _row_select(table: sa.Table, columns: tuple[str, ...], source: sa.FromClause, suffix: str = "",
                **given: sa.ColumnElement[Any]) -> tuple[list[str], sa.Select[Any]]:
    """The row of :func:`_row_values` as ``SELECT ... FROM <source>`` (for ``INSERT ... SELECT``),
    and its column names. Each value is cast to its column's type (a parameter in a select
    list has no type of its own on Postgres); the ``given`` columns are selected as given."""
    values: dict[str, Any] = {**_row_values(table, columns, suffix), **given}
    selected = [value if name in given else sa.cast(value, table.c[name].type) for name, value in values.items()]
    return list(values), sa.select(*selected).select_from(source)


def _step_insert(moved: sa.CTE, suffix: str = "") -> sa.Insert:
    """``INSERT INTO steps (...) SELECT moved.id, :index, ... FROM moved``: the step row, written
    exactly when the guarded update ``moved`` matched."""
    return sa.insert(STEPS).from_select(*_row_select(STEPS, _STEP_COLUMNS[1:], moved, suffix, episode_id=moved.c.id))


def _guarded_update_and_insert(columns: tuple[str, ...]) -> sa.Insert:
    """Postgres: the guarded update and the step's insert in one statement (one round trip)::

        WITH moved AS (UPDATE episodes ... RETURNING id) INSERT INTO steps (...) SELECT moved.id, ... FROM moved

    The insert happens exactly when the update matched, so its row count is the guard's answer.
    """
    return _step_insert(_guarded_update(columns).returning(EPISODES.c.id).cte("moved"))


def _progress_steps(count: int) -> sa.Select:
    """Postgres: ``count`` steps that do not end their episodes, of different episodes, in one
    statement (one round trip, one commit)::

        WITH moved_0 AS (UPDATE episodes ... RETURNING id), step_0 AS (INSERT INTO steps (...) SELECT ... FROM moved_0),
             moved_1 AS (...), step_1 AS (...), ...
        SELECT (SELECT count(*) FROM moved_0), (SELECT count(*) FROM moved_1), ...

    Step ``i``'s parameters are those of :data:`_STEP_PROGRESS` followed by ``_<i>``. Each part
    is the single statement's, so each step is written exactly when its own guard matched, and
    its count is that guard's answer. All parts see the database as it was before the
    statement: two steps of one episode must never share it (see :class:`~app.db.Combinable`).
    """
    moved = [_guarded_update(_PROGRESS, f"_{index}").returning(EPISODES.c.id).cte(f"moved_{index}")
             for index in range(count)]
    steps = [_step_insert(cte, f"_{index}").cte(f"step_{index}") for index, cte in enumerate(moved)]
    counts = [sa.select(sa.func.count()).select_from(cte).scalar_subquery() for cte in moved]
    return sa.select(*counts).add_cte(*(part for pair in zip(moved, steps) for part in pair))


def _finishing_step(issue_count: int) -> sa.Select:
    """Postgres: a step that ends its episode, with the episode's ``issue_count`` issue rows, in
    one statement::

        WITH moved AS (UPDATE episodes ... RETURNING id),
             step AS (INSERT INTO steps (...) SELECT moved.id, ... FROM moved),
             issues AS (INSERT INTO episode_issues (...) SELECT moved.id, ... FROM moved UNION ALL ...)
        SELECT count(*) FROM moved

    Every row is written exactly when the guarded update matched; the count is the guard's answer.
    """
    moved = _guarded_update(_PROGRESS + _FINISH).returning(EPISODES.c.id).cte("moved")
    rows = [_row_select(ISSUES, _ISSUE_COLUMNS[1:], moved, f"_{index}", episode_id=moved.c.id)
            for index in range(issue_count)]
    selects = [select for _, select in rows]
    issues = sa.insert(ISSUES).from_select(rows[0][0], selects[0] if len(selects) == 1 else sa.union_all(*selects))
    return sa.select(sa.func.count()).select_from(moved).add_cte(_step_insert(moved).cte("step"), issues.cte("issues"))


def _reset_new_session() -> sa.Insert:
    """Postgres: a new session and its first episode in one statement::

        WITH new_session AS (INSERT INTO sessions (..., current_episode_id) VALUES (...)) INSERT INTO episodes ...

    The session's values are bound as ``:<column>_session``. Each row refers to the other; the
    foreign keys are checked at the end of the statement, when both exist.
    """
    session = sa.insert(SESSIONS).values(_row_values(SESSIONS, _SESSION_COLUMNS + ("current_episode_id",), "_session"))
    return _insert(EPISODES, _EPISODE_COLUMNS).add_cte(session.cte("new_session"))


def _reset_in_session() -> sa.Select:
    """Postgres: a new episode in the session ``:session_id``, in one statement::

        WITH found AS (SELECT ... FROM sessions WHERE id = :session_id),
             usable AS (SELECT ... FROM found WHERE closed_at IS NULL AND <visible to :owner>),
             abandoned AS (UPDATE episodes SET status = 'abandoned' ... FROM usable WHERE <its running episode>),
             inserted AS (INSERT INTO episodes (...) SELECT ... FROM usable),
             made_current AS (UPDATE sessions SET current_episode_id = :id ... FROM usable WHERE ...)
        SELECT found.owner, found.closed_at FROM found

    Nothing is written unless the session exists, is open and is visible to ``:owner`` (the new
    episode's owner, as in :func:`~app.auth.is_visible`); the row returned (none for an unknown
    session) tells which.
    """
    found = (sa.select(SESSIONS.c.id, SESSIONS.c.owner, SESSIONS.c.closed_at, SESSIONS.c.current_episode_id)
             .where(SESSIONS.c.id == sa.bindparam("session_id")).cte("found"))
    owner = sa.cast(sa.bindparam("owner", type_=EPISODES.c.owner.type), EPISODES.c.owner.type)
    usable = (sa.select(found.c.id, found.c.current_episode_id)
              .where(found.c.closed_at.is_(None), sa.or_(owner.is_(None), found.c.owner == owner)).cte("usable"))
    updated_at = sa.bindparam("updated_at", type_=EPISODES.c.updated_at.type)
    abandoned = (sa.update(EPISODES)
                 .where(EPISODES.c.id == usable.c.current_episode_id, _running())
                 .values(status=EpisodeStatus.ABANDONED, updated_at=updated_at))
    inserted = sa.insert(EPISODES).from_select(*_row_select(EPISODES, _EPISODE_COLUMNS, usable))
    current = (sa.update(SESSIONS).where(SESSIONS.c.id == usable.c.id)
               .values(current_episode_id=sa.bindparam("id", type_=SESSIONS.c.current_episode_id.type),
                       updated_at=updated_at))
    return (sa.select(found.c.owner, found.c.closed_at)
            .add_cte(abandoned.cte("abandoned"), inserted.cte("inserted"), current.cte("made_current")))


# The statements of the reset and step paths, compiled once and run on the driver's cursor.
_UPDATE_PROGRESS = DriverStatement(_guarded_update(_PROGRESS))
_UPDATE_FINISHED = DriverStatement(_guarded_update(_PROGRESS + _FINISH))
_INSERT_STEP = DriverStatement(_insert(STEPS, _STEP_COLUMNS))
_STEP_PROGRESS = DriverStatement(_guarded_update_and_insert(_PROGRESS))
_STEP_FINISHED = DriverStatement(_guarded_update_and_insert(_PROGRESS + _FINISH))
_PROGRESS_STEPS = _ByCount(_progress_steps)
_INSERT_ISSUES = _ByCount(lambda count: _insert_rows(ISSUES, _ISSUE_COLUMNS, count))
_FINISHING_STEP = _ByCount(_finishing_step)
_READ_SESSION = DriverStatement(
    sa.select(SESSIONS.c.owner, SESSIONS.c.closed_at, SESSIONS.c.current_episode_id)
    .where(SESSIONS.c.id == sa.bindparam("session_id")))
_EPISODE_EXISTS = DriverStatement(sa.select(EPISODES.c.id).where(EPISODES.c.id == sa.bindparam("episode_id")))
_INSERT_SESSION = DriverStatement(_insert(SESSIONS, _SESSION_COLUMNS))
_ABANDON_RUNNING = DriverStatement(
    sa.update(EPISODES)
    .where(EPISODES.c.id == sa.bindparam("b_id"), _running())
    .values(status=EpisodeStatus.ABANDONED, updated_at=sa.bindparam("updated_at", type_=EPISODES.c.updated_at.type)))
_INSERT_EPISODE = DriverStatement(_insert(EPISODES, _EPISODE_COLUMNS))
_RESET_NEW_SESSION = DriverStatement(_reset_new_session())
_RESET_IN_SESSION = DriverStatement(_reset_in_session())
_MAKE_CURRENT = DriverStatement(
    sa.update(SESSIONS).where(SESSIONS.c.id == sa.bindparam("b_id"))
    .values(current_episode_id=sa.bindparam("episode_id", type_=SESSIONS.c.current_episode_id.type),
            updated_at=sa.bindparam("updated_at", type_=SESSIONS.c.updated_at.type)))


@dataclass(frozen=True)
class StepOutcome:
    """What a reset or step produced, ready to be put on the wire."""

    session_id: str
    episode_id: str
    observation: CodeReviewerObservation
    reward: Optional[CodeReviewerReward]
    done: bool
    metadata: dict[str, Any]

    def to_wire(self) -> dict[str, Any]:
        """The ``/reset`` and ``/step`` reply."""
        body: dict[str, Any] = {
            "observation": self.observation.to_dict(),
            "reward": self.reward.step_reward if self.reward is not None else None,
            "done": self.done,
            "session_id": self.session_id,
            "episode_id": self.episode_id,
        }
        if self.metadata:
            body["metadata"] = self.metadata
        return body


def summary_counters(snapshot: dict[str, Any]) -> dict[str, int]:
    """The episode row's summary counters, read from an engine snapshot."""
    return {
        "reports": len(snapshot["reports"]),
        "issues_found": len(snapshot["found"]),
        "false_positives": snapshot["false_positives"],
        "duplicates": snapshot["duplicates"],
        "decoys_flagged": snapshot["decoys_flagged"],
        "hints_used": snapshot["hints_used"],
    }


def issue_rows(episode_id: str, planted: list[PlantedIssue], found: dict[str, int]) -> list[dict[str, Any]]:
    """One ``episode_issues`` row per planted issue of a finished episode: found or missed, and when."""
    return [
        {"episode_id": episode_id, "issue_id": issue.id, "kind": issue.kind or issue.id, "cwe": issue.cwe,
         "issue_type": issue.issue_type.value, "severity": issue.severity.value,
         "found": issue.id in found, "found_at_step": found.get(issue.id)}
        for issue in planted
    ]


@dataclass
class LiveEpisode:
    """What a step needs of an episode: its identity, lock value and engine."""

    episode_id: str
    session_id: str
    status: str
    step_count: int
    env: CodeReviewerEnv


class LiveEpisodes:
    """The episodes this process last wrote, by session, so that an HTTP step usually skips
    the read (a WebSocket keeps its own).

    A step takes its session's entry out and puts it back once the step is written: two
    concurrent requests for one session never share an engine (the second reads afresh, and
    the guarded write gives the loser 409), and a step that fails leaves nothing behind. An
    entry made stale by another process (a step on another worker, an abandon) fails the guarded
    write and is replaced by a fresh read. At most ``capacity`` entries; the least recently used
    go first. Each entry remembers its owner: another key's request never gets it.
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._entries: OrderedDict[str, tuple[Optional[str], LiveEpisode]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, session_id: str, owner: Optional[str]) -> Optional[LiveEpisode]:
        """Remove and return the session's episode, if kept and visible to ``owner``."""
        with self._lock:
            entry = self._entries.pop(session_id, None)
        if entry is None or entry[0] != owner:
            return None
        return entry[1]

    def put(self, live: LiveEpisode, owner: Optional[str]) -> None:
        """Keep a running episode that was just written (a finished one is not stepped again)."""
        if self.capacity <= 0 or live.status != EpisodeStatus.RUNNING:
            return
        with self._lock:
            self._entries[live.session_id] = (owner, live)
            self._entries.move_to_end(live.session_id)
            while len(self._entries) > self.capacity:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)


@dataclass
class PreparedStep:
    """A step computed by the engine, waiting to be written."""

    live: LiveEpisode
    outcome: StepOutcome
    values: dict[str, Any]
    step_row: dict[str, Any]
    issue_rows: list[dict[str, Any]]

    @property
    def ends_episode(self) -> bool:
        """Whether the step finishes its episode (its values then set ``status``)."""
        return "status" in self.values


def read_live(connection: sa.Connection, registry: TaskRegistry, session_id: str,
              owner: Optional[str] = None) -> LiveEpisode:
    """The session's current episode, ready to step.

    Raises:
        NotFound: unknown session (or another owner's), or a session with no episode yet.
    """
    row = connection.execute(_READ_CURRENT, {"session_id": session_id}).first()
    if row is None or not is_visible(row.session_owner, owner):
        raise NotFound(f"unknown session {session_id!r}; call /reset first")
    if row.id is None:
        raise NotFound(f"session {session_id!r} has no episode; call /reset first")
    return _live(row, registry)


def _live(row: Any, registry: TaskRegistry) -> LiveEpisode:
    """A row of the episode's ``id``, ``session_id``, ``status``, ``step_count`` and ``state``, ready to step."""
    return LiveEpisode(episode_id=row.id, session_id=row.session_id, status=row.status,
                       step_count=row.step_count, env=CodeReviewerEnv.restore(row.state, registry))


def prepare_step(live: LiveEpisode, action: dict[str, Any], request_id: Optional[str] = None) -> PreparedStep:
    """Apply ``action`` (already schema-validated) to the engine and compute the rows to write
    (``request_id``: the client's id for the step, stored with it).

    The engine in ``live`` advances; if the write then fails, drop ``live``.

    Raises:
        Conflict: the episode is finished or abandoned.
        ValidationFailed: the engine rejects the action.
    """
    if live.status != EpisodeStatus.RUNNING:
        raise Conflict(f"episode {live.episode_id!r} is {live.status}; call /reset to start a new one")
    env = live.env
    parsed = CodeReviewerAction.from_dict(action)
    observation, reward, done, info = env.step(parsed)
    snapshot = env.snapshot()
    now = utcnow()
    values: dict[str, Any] = {
        "step_count": live.step_count + 1, "state": snapshot, "cumulative_reward": reward.cumulative_reward,
        "updated_at": now, **summary_counters(snapshot),
    }
    outcomes: list[dict[str, Any]] = []
    if done:
        result = env.get_review_result()
        values.update(status=EpisodeStatus.FINISHED, result=result.to_dict(),
                      completion_score=result.completion_score, success=result.success, finished_at=now)
        outcomes = issue_rows(live.episode_id, env.ground_truth(), snapshot["found"])
    step_row = {
        "episode_id": live.episode_id, "index": live.step_count + 1, "action_type": parsed.action_type.value,
        "action": action, "outcome": info["last_outcome"], "confidence": parsed.confidence,
        "reward": reward.step_reward, "breakdown": reward.breakdown,
        "changes": {"feedback": observation.feedback, "hint_text": observation.hint_text,
                    "issues_found": info["issues_found"], "hints_remaining": info["hints_remaining"]},
        "done": done, "created_at": now, "request_id": request_id,
    }
    outcome = StepOutcome(
        session_id=live.session_id, episode_id=live.episode_id, observation=observation, reward=reward,
        done=done, metadata={"reward_breakdown": reward.breakdown, "cumulative_reward": reward.cumulative_reward},
    )
    return PreparedStep(live=live, outcome=outcome, values=values, step_row=step_row, issue_rows=outcomes)


def write_step(connection: sa.Connection, prepared: PreparedStep) -> StepOutcome:
    """Write a prepared step (no commit). Writes nothing and raises on a lost race.

    Raises:
        Conflict: another step was applied since the episode was read, or it ended.
    """
    live = prepared.live
    finished = prepared.ends_episode
    guard = _guard(prepared)
    issues = prepared.issue_rows
    if connection.dialect.name == "postgresql":  # one statement
        if issues:
            params = {**guard, **prepared.step_row, **_numbered(issues, _ISSUE_COLUMNS[1:])}
            written = _FINISHING_STEP[len(issues)].execute(connection, params).fetchone()[0] == 1
        else:
            statement = _STEP_FINISHED if finished else _STEP_PROGRESS
            written = statement.execute(connection, {**guard, **prepared.step_row}).rowcount == 1
    else:  # SQLite has no UPDATE or INSERT in a WITH clause: a statement per table
        statement = _UPDATE_FINISHED if finished else _UPDATE_PROGRESS
        written = statement.execute(connection, guard).rowcount == 1
        if written:
            _INSERT_STEP.execute(connection, prepared.step_row)
            if issues:
                _INSERT_ISSUES[len(issues)].execute(connection, _numbered(issues, _ISSUE_COLUMNS))
    return _written(prepared, 1 if written else 0)


def _guard(prepared: PreparedStep) -> dict[str, Any]:
    """The guarded update's parameters: the episode, the step count it was read at, the values."""
    return {"b_id": prepared.live.episode_id, "b_seen": prepared.live.step_count, **prepared.values}


def _written(prepared: PreparedStep, count: int) -> StepOutcome:
    """The step's outcome once its guarded update matched ``count`` rows (1, or 0 for a lost race).

    Raises:
        Conflict: another step was applied since the episode was read, or it ended.
    """
    if count != 1:
        raise LostRace(f"another step was applied to episode {prepared.live.episode_id!r} concurrently; retry")
    return prepared.outcome


def _write_progress_steps(connection: sa.Connection, params: list[Mapping[str, Any]]) -> list[int]:
    """Postgres: several steps of :func:`combinable_step` in one statement; each one's row count."""
    numbered = {f"{name}_{index}": value for index, part in enumerate(params) for name, value in part.items()}
    return list(_PROGRESS_STEPS[len(params)].execute(connection, numbered).fetchone())


def combinable_step(prepared: PreparedStep) -> Optional[Combinable[StepOutcome]]:
    """The step as a write that shares its statement with other episodes' steps on Postgres
    (see :class:`~app.db.Combinable`): a step that does not end its episode; None for one that does."""
    if prepared.ends_episode:
        return None
    return Combinable(run=_write_progress_steps, key=prepared.live.episode_id,
                      params={**_guard(prepared), **prepared.step_row},
                      finish=lambda count: _written(prepared, count))


def advance(live: LiveEpisode, prepared: PreparedStep) -> None:
    """Bring ``live`` in line with a step that was written."""
    live.step_count = prepared.values["step_count"]
    live.status = prepared.values.get("status", live.status)


class LostRace(Conflict):
    """The episode moved between the read and the guarded write: nothing of the step was written."""


# How many times a step without ``expected_step`` is read and applied again after losing a race.
MAX_RACE_RETRIES = 8


def step_session(database: Database, registry: TaskRegistry, session_id: str, action: dict[str, Any],
                 owner: Optional[str] = None, live: Optional[LiveEpisode] = None,
                 expected_step: Optional[int] = None,
                 request_id: Optional[str] = None) -> tuple[StepOutcome, LiveEpisode]:
    """Apply one action to a session's current episode and return once it is committed.

    ``live`` is the episode as the caller last left it (a WebSocket's, or this process's kept
    copy); without it, or when it turns out stale, the episode is read first. Returns the outcome
    and the episode as it now is, for the next step.

    The concurrency contract, the same on every path:

    - Without ``expected_step``, a step applies to the episode as it is when the step is
      written: steps sent at once are all applied, one after the other, each once (a step that
      loses the race to another is read and applied again, up to ``MAX_RACE_RETRIES`` times).
    - With ``expected_step`` (the index the step expects to get: the episode's step count plus
      one), the step applies only there. If that step exists already with this same action (a
      retry of a step whose reply was lost), its stored reply comes back, marked ``replayed``,
      and nothing is applied; otherwise 409.
    - With ``request_id``, a step whose id is already that of one of the episode's steps gets
      that step's reply back, marked ``replayed``, instead of being applied again.

    Raises:
        NotFound: unknown session, or no episode.
        Conflict: the episode ended, ``expected_step`` is not the next step, or the races were lost.
        ValidationFailed: the engine rejects the action.
    """
    races = 0
    raced: Optional[str] = None  # the episode a lost race was on: a retry goes to it or nowhere
    while True:
        fresh = live is None
        if fresh:
            with database.read() as connection:
                live = read_live(connection, registry, session_id, owner)
            if raced is not None and live.episode_id != raced:
                # The session moved on (a reset) while this step waited: it was meant for the
                # episode it raced on, which is no longer the session's.
                raise Conflict(f"episode {raced!r} is no longer the session's current episode; "
                               "the step was not applied")
        try:
            if expected_step is not None and expected_step != live.step_count + 1:
                raise Conflict(f"episode {live.episode_id!r} is at step {live.step_count}: expected_step "
                               f"{expected_step} is not its next step ({live.step_count + 1})")
            return _step_once(database, live, action, request_id)
        except Conflict as conflict:
            episode_id, live = live.episode_id, None
            if not fresh:
                continue  # the copy was stale (another writer moved the episode): read it afresh
            if isinstance(conflict, LostRace) and expected_step is None and races < MAX_RACE_RETRIES:
                races, raced = races + 1, episode_id
                continue
            if expected_step is not None or request_id is not None:
                replayed = _applied_before(database, registry, episode_id, action, expected_step, request_id)
                if replayed is not None:
                    return replayed
            raise
        except sqlalchemy.exc.IntegrityError:
            # The unique (episode, request id): a step with this id is already applied.
            episode_id, live = live.episode_id, None
            if request_id is None:
                raise
            replayed = _applied_before(database, registry, episode_id, action, expected_step, request_id)
            if replayed is None:
                raise
            return replayed


def _step_once(database: Database, live: LiveEpisode, action: dict[str, Any],
               request_id: Optional[str] = None) -> tuple[StepOutcome, LiveEpisode]:
    prepared = prepare_step(live, action, request_id)
    postgres = not database.is_sqlite
    outcome = database.write(lambda connection: write_step(connection, prepared), single_statement=postgres,
                             combinable=combinable_step(prepared) if postgres else None)
    advance(live, prepared)
    return outcome, live


_STEP_BY_INDEX = sa.select(STEPS).where(STEPS.c.episode_id == sa.bindparam("episode_id"),
                                        STEPS.c.index == sa.bindparam("index"))
_STEP_BY_REQUEST = sa.select(STEPS).where(STEPS.c.episode_id == sa.bindparam("episode_id"),
                                          STEPS.c.request_id == sa.bindparam("request_id"))
_STEPS_UP_TO = (sa.select(STEPS.c.action).where(STEPS.c.episode_id == sa.bindparam("episode_id"),
                                                STEPS.c.index <= sa.bindparam("index"))
                .order_by(STEPS.c.index))
_EPISODE_ORIGIN = (sa.select(EPISODES.c.session_id, EPISODES.c.task, EPISODES.c.seed, EPISODES.c.split)
                   .where(EPISODES.c.id == sa.bindparam("episode_id")))
_READ_EPISODE = (sa.select(EPISODES.c.id, EPISODES.c.session_id, EPISODES.c.status, EPISODES.c.step_count,
                           EPISODES.c.state).where(EPISODES.c.id == sa.bindparam("episode_id")))


def _applied_before(database: Database, registry: TaskRegistry, episode_id: str, action: dict[str, Any],
                    expected_step: Optional[int], request_id: Optional[str]) -> Optional[tuple[StepOutcome, LiveEpisode]]:
    """The stored reply of the step of ``episode_id`` that this one repeats (the one with its
    ``request_id``, else the one at ``expected_step``), rebuilt by replaying the episode up to it;
    None when there is none.

    Raises:
        Conflict: that step exists but is not this one (another action, or another index).
    """
    with database.read() as connection:
        if request_id is not None:
            stored = connection.execute(_STEP_BY_REQUEST, {"episode_id": episode_id, "request_id": request_id}).first()
        else:
            stored = connection.execute(_STEP_BY_INDEX, {"episode_id": episode_id, "index": expected_step}).first()
        if stored is None:
            return None
        if expected_step is not None and stored.index != expected_step:
            raise Conflict(f"request_id {request_id!r} was applied as step {stored.index} of episode "
                           f"{episode_id!r}, not step {expected_step}")
        if stored.action != action:
            raise Conflict(f"step {stored.index} of episode {episode_id!r} was applied with another action")
        origin = connection.execute(_EPISODE_ORIGIN, {"episode_id": episode_id}).one()
        actions = list(connection.execute(_STEPS_UP_TO, {"episode_id": episode_id, "index": stored.index}).scalars())
    env = CodeReviewerEnv(task_name=origin.task, registry=registry)
    env.reset(seed=origin.seed, episode_id=episode_id, split=origin.split)
    for recorded in actions:  # the engine is deterministic: this is the reply the step had
        observation, reward, done, _ = env.step(CodeReviewerAction.from_dict(recorded))
    outcome = StepOutcome(session_id=origin.session_id, episode_id=episode_id, observation=observation,
                          reward=reward, done=done,
                          metadata={"reward_breakdown": reward.breakdown, "cumulative_reward": reward.cumulative_reward,
                                    "replayed": True, "step_index": stored.index})
    # The episode as it is now (maybe further on), for the caller's next step.
    with database.read() as connection:
        return outcome, _live(connection.execute(_READ_EPISODE, {"episode_id": episode_id}).one(), registry)


@dataclass
class PreparedReset:
    """A new episode made by the engine, waiting to be written."""

    env: CodeReviewerEnv
    observation: CodeReviewerObservation
    episode_id: str
    episode_id_requested: bool
    session_id: Optional[str]
    task: str
    seed: Optional[int]
    split: str
    agent: Optional[str]
    model: Optional[str]
    transport: str
    owner: Optional[str]
    play_key: Optional[str] = None


def play_key(owner: Optional[str], admin: bool, spec: EpisodeSpec) -> Optional[str]:
    """What makes an evaluation episode playable once per key: ``owner|task|split|seed`` for an
    episode whose answer key the starting key may not see, else None.

    A key that could start the same evaluation episode again would learn its answer key by
    sweeping it a little each time; those who may see the answer key (operators) may.
    """
    if may_see_answer_key(spec.split, owner, admin):
        return None
    return f"{owner}|{spec.task_name}|{spec.split}|{spec.seed}"


def prepare_reset(registry: TaskRegistry, *, task: Optional[str] = None, session_id: Optional[str] = None,
                  seed: Optional[int] = None, split: str = "train", episode_id: Optional[str] = None,
                  agent: Optional[str] = None, model: Optional[str] = None, transport: str = "http",
                  owner: Optional[str] = None, admin: bool = False) -> PreparedReset:
    """Start the engine on a new episode (no I/O).

    Raises:
        ValidationFailed: unknown task or split (the message names the valid ones).
    """
    task_name = task or registry.names()[0]
    try:
        env = CodeReviewerEnv(task_name=task_name, registry=registry)
    except ValueError as exc:
        raise ValidationFailed(str(exc), fields={"task": [str(exc)]}) from None
    key = episode_id or str(uuid.uuid4())
    try:
        observation = env.reset(seed=seed, episode_id=key, split=split)
    except HoldoutUnavailable as exc:
        message = str(exc) if is_operator(owner, admin) else exc.public
        raise ValidationFailed(message, fields={"split": [message]}) from None
    except ValueError as exc:  # unknown split, or no base module of that split for this task
        raise ValidationFailed(str(exc), fields={"split": [str(exc)]}) from None
    return PreparedReset(env=env, observation=observation, episode_id=key, episode_id_requested=episode_id is not None,
                         session_id=session_id, task=task_name, seed=seed, split=split, agent=agent, model=model,
                         transport=transport, owner=owner, play_key=play_key(owner, admin, env.episode))


def write_reset(connection: sa.Connection, prepared: PreparedReset) -> StepOutcome:
    """Write the new episode and make it its session's current one (the session is created
    when absent; its previous episode, if still running, becomes abandoned). No commit.

    On Postgres this is one statement, unless ``episode_id`` was requested (it is checked first)
    or ``session_id`` names no session (a second statement creates it; the first wrote nothing).

    Raises:
        NotFound: ``session_id`` is another owner's.
        Conflict: the session is closed, or ``episode_id`` already exists. Nothing is written.
    """
    now = utcnow()
    env = prepared.env
    spec = env.episode
    episode = {
        "id": prepared.episode_id, "session_id": prepared.session_id or str(uuid.uuid4()), "task": prepared.task,
        "seed": prepared.seed, "split": prepared.split, "owner": prepared.owner, "play_key": prepared.play_key,
        "code": spec.snippet.code,
        "file_name": spec.snippet.file_name, "status": EpisodeStatus.RUNNING, "agent": prepared.agent,
        "model": prepared.model, "step_count": 0, "max_steps": env.task.max_steps,
        "issues_expected": len(spec.issues), "cumulative_reward": 0.0, "state": env.snapshot(),
        "created_at": now, "updated_at": now,
    }
    if _resets_at_once(prepared, postgres=connection.dialect.name == "postgresql"):
        _write_reset_at_once(connection, prepared, episode)
    else:
        _write_reset_by_table(connection, prepared, episode)
    return StepOutcome(session_id=episode["session_id"], episode_id=prepared.episode_id,
                       observation=prepared.observation, reward=None, done=False,
                       metadata={"task": prepared.task, "seed": prepared.seed, "split": prepared.split})


def _resets_at_once(prepared: PreparedReset, postgres: bool) -> bool:
    """Whether :func:`write_reset` writes with one statement (see there), so that alone in its
    batch it may run in autocommit."""
    return postgres and not prepared.episode_id_requested


def _check_session(prepared: PreparedReset, owner: Optional[str], closed_at: Optional[Any]) -> None:
    """Raise unless the existing session may get a new episode (see :func:`write_reset`)."""
    ensure_visible(owner, prepared.owner, f"unknown session {prepared.session_id!r}")
    if closed_at is not None:
        raise Conflict(f"session {prepared.session_id!r} is closed")


def _write_reset_at_once(connection: sa.Connection, prepared: PreparedReset, episode: dict[str, Any]) -> None:
    """Postgres: :func:`write_reset` with the statements :func:`_reset_in_session` and
    :func:`_reset_new_session`."""
    if prepared.session_id is not None:
        found = _RESET_IN_SESSION.execute(connection, episode).fetchone()
        if found is not None:
            _check_session(prepared, *found)  # when it raises, the statement wrote nothing
            return
    now = episode["created_at"]
    _RESET_NEW_SESSION.execute(connection, {
        **episode, "id_session": episode["session_id"], "transport_session": prepared.transport,
        "owner_session": prepared.owner, "current_episode_id_session": prepared.episode_id,
        "created_at_session": now, "updated_at_session": now,
    })


def _write_reset_by_table(connection: sa.Connection, prepared: PreparedReset, episode: dict[str, Any]) -> None:
    """:func:`write_reset` with a statement per row (SQLite, or a requested ``episode_id``)."""
    session_id, now = episode["session_id"], episode["created_at"]
    existing = None
    if prepared.session_id is not None:
        existing = _READ_SESSION.execute(connection, {"session_id": session_id}).fetchone()
    if existing is not None:
        owner, closed_at, current_episode_id = existing
        _check_session(prepared, owner, closed_at)
    if prepared.episode_id_requested and _EPISODE_EXISTS.execute(
            connection, {"episode_id": prepared.episode_id}).fetchone() is not None:
        raise Conflict(f"episode {prepared.episode_id!r} already exists")
    if existing is None:
        _INSERT_SESSION.execute(connection, {"id": session_id, "transport": prepared.transport,
                                             "owner": prepared.owner, "created_at": now, "updated_at": now})
    elif current_episode_id is not None:
        _ABANDON_RUNNING.execute(connection, {"b_id": current_episode_id, "updated_at": now})
    _INSERT_EPISODE.execute(connection, episode)
    _MAKE_CURRENT.execute(connection, {"b_id": session_id, "episode_id": prepared.episode_id, "updated_at": now})


_PLAYED = sa.select(EPISODES.c.id).where(EPISODES.c.play_key == sa.bindparam("play_key"))


def reset_conflict(connection: sa.Connection, prepared: PreparedReset) -> Conflict:
    """The error for a reset whose episode row could not be inserted: the key already started
    this evaluation episode, or the episode or its session was created concurrently."""
    if prepared.play_key is not None:
        played = connection.execute(_PLAYED, {"play_key": prepared.play_key}).scalar_one_or_none()
        if played is not None:
            return Conflict(
                f"this key already started episode {played!r} ({prepared.task}, split {prepared.split}, seed "
                f"{prepared.env.episode.seed}); an evaluation episode is played once per key")
    return Conflict(f"episode {prepared.episode_id!r} or its session was created concurrently")


def reset_session(database: Database, registry: TaskRegistry, **args: Any) -> tuple[StepOutcome, LiveEpisode]:
    """Start an episode (arguments of :func:`prepare_reset`) and return once it is committed,
    with the episode ready for its first step.

    Raises:
        ValidationFailed, NotFound, Conflict: as :func:`prepare_reset` and :func:`write_reset`.
    """
    prepared = prepare_reset(registry, **args)
    try:
        outcome = database.write(lambda connection: write_reset(connection, prepared),
                                 single_statement=_resets_at_once(prepared, postgres=not database.is_sqlite))
    except sqlalchemy.exc.IntegrityError:
        with database.read() as connection:
            raise reset_conflict(connection, prepared) from None
    return outcome, LiveEpisode(episode_id=outcome.episode_id, session_id=outcome.session_id,
                                status=EpisodeStatus.RUNNING, step_count=0, env=prepared.env)
