"""The step path's shortcuts: statements run on the driver's cursor, and HTTP steps that reuse
the episode a process last wrote. Both must behave exactly as the plain path: same rows, same
errors, no step lost or applied twice when another process moved the episode meanwhile."""

from __future__ import annotations

import os
from pathlib import Path

import orjson
import pytest
import sqlalchemy as sa

from app import create_app
from app.db import Database, DriverStatement
from app.env import load_registry
from app.errors import Conflict, NotFound
from app.jsonio import dumps_text
from app.models import Episode, EpisodeIssue, EpisodeStatus, Session, Step
from app.services import episodes, stepping
from app.services.stepping import LiveEpisode, LiveEpisodes, prepare_reset, prepare_step, read_live

REPORT = {"action_type": "identify_issue", "confidence": 0.5,
          "issue": {"line_number": 3, "issue_type": "syntax_error", "severity": "high",
                    "description": "missing colon", "suggested_fix": "add it"}}


def _live(session_id: str, status: str = EpisodeStatus.RUNNING) -> LiveEpisode:
    env = prepare_reset(load_registry(), task="syntax_check", seed=1).env
    return LiveEpisode(episode_id=f"e-{session_id}", session_id=session_id, status=status, step_count=0, env=env)


def test_kept_episodes_are_taken_out_owner_checked_and_bounded() -> None:
    kept = LiveEpisodes(capacity=2)
    first = _live("s1")
    kept.put(first, "alice")
    assert kept.take("s1", "bob") is None  # another key's request never gets it
    kept.put(first, "alice")
    assert kept.take("s1", "alice") is first
    assert kept.take("s1", "alice") is None  # taken out: a concurrent request reads afresh
    kept.put(_live("s2", EpisodeStatus.FINISHED), None)
    assert len(kept) == 0  # a finished episode is not kept
    for name in ("a", "b", "c"):
        kept.put(_live(name), None)
    assert len(kept) == 2 and kept.take("a", None) is None  # least recently used went first
    LiveEpisodes(capacity=0).put(_live("z"), None)


def test_driver_statement_applies_column_types_and_raises_sqlalchemy_errors(database_url: str) -> None:
    database = Database(database_url)
    table = sa.Table("driver_probe", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True),
                     sa.Column("doc", sa.JSON), sa.Column("at", sa.DateTime(timezone=True)),
                     sa.Column("flag", sa.Boolean, default=False))
    try:
        table.drop(database.engine, checkfirst=True)
        table.create(database.engine)
        insert = DriverStatement(sa.insert(table).values(
            id=sa.bindparam("id"), doc=sa.bindparam("doc", type_=table.c.doc.type)))
        database.write(lambda connection: insert.execute(connection, {"id": 1, "doc": {"a": [1, "é"]}}))
        with database.read() as connection:
            assert connection.execute(sa.select(table.c.doc)).scalar_one() == {"a": [1, "é"]}
        with pytest.raises(sa.exc.IntegrityError):
            database.write(lambda connection: insert.execute(connection, {"id": 1, "doc": {}}))
        with database.read() as connection:  # the failed write left nothing behind
            assert connection.execute(sa.select(sa.func.count()).select_from(table)).scalar_one() == 1
    finally:
        table.drop(database.engine, checkfirst=True)
        database.dispose()


def test_no_index_holds_a_column_that_every_step_writes() -> None:
    indexed = {column.name for index in Episode.__table__.indexes for column in index.columns}
    assert indexed & set(stepping._PROGRESS) == set()


def test_a_step_updates_its_episode_in_place_on_postgres(make_app, database_url: str) -> None:  # type: ignore[no-untyped-def]
    """On Postgres a step's update changes no indexed column, so it is a HOT update: the new row
    version stays on its page and no index gets an entry for it."""
    if not database_url.startswith("postgresql"):
        pytest.skip("HOT updates are Postgres's")
    app = make_app()
    session = app.test_client().post("/reset", json={"task": "syntax_check", "seed": 3}).get_json()["session_id"]
    database, registry = app.extensions["database"], app.extensions["registry"]
    with database.engine.connect() as connection, connection.begin() as transaction:
        for _ in range(3):
            live = read_live(connection, registry, session, None)
            stepping.write_step(connection, prepare_step(live, REPORT))
        hot, updated = connection.exec_driver_sql(
            "SELECT pg_stat_get_xact_tuples_hot_updated('episodes'::regclass),"
            " pg_stat_get_xact_tuples_updated('episodes'::regclass)").one()
        transaction.rollback()
    assert (hot, updated) == (3, 3)


def test_a_step_finds_its_episode_by_primary_key_alone_on_postgres(make_app, database_url: str) -> None:  # type: ignore[no-untyped-def]
    """The guarded update looks its episode up by primary key and by nothing else, even on a
    new, small table beside other running episodes: an index that leads with ``status`` would
    make each step read every running episode's entry."""
    if not database_url.startswith("postgresql"):
        pytest.skip("Postgres' planner")
    app = make_app()
    client = app.test_client()
    sessions = [client.post("/reset", json={"task": "syntax_check", "seed": seed}).get_json()["session_id"]
                for seed in range(20)]
    database, registry = app.extensions["database"], app.extensions["registry"]
    with database.engine.connect() as connection, connection.begin() as transaction:
        live = read_live(connection, registry, sessions[0], None)
        for _ in range(8):  # past psycopg's prepare threshold (5): custom plans, then the generic one
            prepared = prepare_step(live, REPORT)
            stepping.write_step(connection, prepared)
            stepping.advance(live, prepared)
        scans = dict(connection.exec_driver_sql(
            "SELECT indexrelid::regclass::text, pg_stat_get_xact_numscans(indexrelid) FROM pg_index"
            " WHERE indrelid = 'episodes'::regclass").all())
        transaction.rollback()
    assert scans.pop("pk_episodes") >= 8
    assert scans and set(scans.values()) == {0}, scans


def test_documents_are_stored_on_postgres_as_the_text_written(make_app, database_url: str) -> None:  # type: ignore[no-untyped-def]
    """Postgres keeps the JSON documents as ``json``: the text the service wrote, not parsed
    into ``jsonb`` on the way in (which reorders keys and respaces the text) nor printed back
    on the way out. Every JSON column of a step and of a finished episode is checked."""
    if not database_url.startswith("postgresql"):
        pytest.skip("Postgres' JSON types")
    app = make_app()
    client = app.test_client()
    session = client.post("/reset", json={"task": "syntax_check", "seed": 5}).get_json()["session_id"]
    assert client.post("/step", json={"session_id": session, "action": REPORT}).status_code == 200
    assert client.post("/step", json={"session_id": session, "action": {"action_type": "submit_review"}}).status_code == 200
    database = app.extensions["database"]
    with database.read() as connection:
        rows = connection.exec_driver_sql(
            "SELECT pg_typeof(e.state)::text, e.state::text, pg_typeof(e.result)::text, e.result::text,"
            " pg_typeof(s.action)::text, s.action::text, pg_typeof(s.breakdown)::text, s.breakdown::text,"
            " pg_typeof(s.changes)::text, s.changes::text"
            " FROM sessions JOIN episodes e ON e.id = sessions.current_episode_id JOIN steps s ON s.episode_id = e.id"
            " WHERE sessions.id = %(id)s ORDER BY s.index", {"id": session}).all()
    assert len(rows) == 2
    for row in rows:
        for kind, text in zip(row[::2], row[1::2]):
            assert kind == "json"
            assert text == dumps_text(orjson.loads(text))  # compact, keys in the order written
    assert orjson.loads(rows[0][5]) == REPORT


def test_steps_of_several_episodes_share_one_statement_on_postgres(make_app, database_url: str) -> None:  # type: ignore[no-untyped-def]
    """Postgres writes a batch's steps of different episodes with one statement: each part is
    written exactly when its own guard matches, as the one-step statement would write it."""
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite writes each step with its own statements")
    app = make_app()
    client = app.test_client()
    sessions = [client.post("/reset", json={"task": "syntax_check", "seed": 40 + n}).get_json()["session_id"]
                for n in range(4)]
    database, registry = app.extensions["database"], app.extensions["registry"]
    with database.read() as connection:
        lives = [read_live(connection, registry, session, None) for session in sessions]
    # Another writer moves the second episode on: the copy read above is now stale.
    assert client.post("/step", json={"session_id": sessions[1], "action": REPORT}).status_code == 200
    prepared = [prepare_step(live, REPORT) for live in lives[:3]]
    parts = [stepping.combinable_step(step) for step in prepared]
    with database.engine.connect() as connection, connection.begin():
        counts = parts[0].run(connection, [part.params for part in parts])  # type: ignore[union-attr]
        stepping.write_step(connection, prepare_step(lives[3], REPORT))  # the one-step statement
    assert counts == [1, 0, 1]
    assert parts[0].finish(1) is prepared[0].outcome  # type: ignore[union-attr]
    with pytest.raises(Conflict):
        parts[1].finish(0)  # type: ignore[union-attr]
    with database.read() as connection:
        stored = connection.exec_driver_sql(
            "SELECT e.session_id, e.step_count, e.state::text, s.index, s.action::text, s.reward, s.changes::text"
            " FROM episodes e JOIN steps s ON s.episode_id = e.id WHERE e.session_id = ANY(%(ids)s)",
            {"ids": sessions}).all()
    by_session = {row[0]: row[1:] for row in stored}
    assert len(stored) == 4  # one step each: the second episode's is the other writer's
    for index in (0, 2):
        step_count, state, step_index, action, reward, changes = by_session[sessions[index]]
        assert (step_count, step_index) == (1, 1)
        assert orjson.loads(state) == prepared[index].values["state"]
        assert orjson.loads(action) == REPORT and reward == prepared[index].step_row["reward"]
        assert orjson.loads(changes) == prepared[index].step_row["changes"]
    # Written alike, whether by the shared statement or by the one-step statement.
    assert by_session[sessions[0]][3:] == by_session[sessions[3]][3:]
    assert stepping.combinable_step(prepare_step(lives[0], {"action_type": "submit_review"})) is None


def test_http_steps_through_two_processes_stay_in_order(make_app) -> None:  # type: ignore[no-untyped-def]
    """Two apps over one database stand for two workers: each keeps the episode it last wrote,
    so each sees a stale copy after the other stepped. No step may be refused or lost."""
    first, second = make_app().test_client(), make_app().test_client()
    session = first.post("/reset", json={"task": "syntax_check", "seed": 7}).get_json()["session_id"]
    for turn in range(6):
        client = (first, second)[turn % 2]
        reply = client.post("/step", json={"session_id": session, "action": REPORT})
        assert reply.status_code == 200, reply.get_json()
    state = first.get("/state", query_string={"session_id": session}).get_json()
    assert state["step_count"] == 6
    database = first.application.extensions["database"]
    with database.read() as connection:
        episode_id = connection.execute(sa.select(Episode.id).where(Episode.session_id == session)).scalar_one()
        indices = connection.execute(sa.select(Step.index).where(Step.episode_id == episode_id)
                                     .order_by(Step.index)).scalars().all()
    assert indices == [1, 2, 3, 4, 5, 6]


def test_a_kept_episode_abandoned_elsewhere_is_not_stepped(make_app) -> None:  # type: ignore[no-untyped-def]
    first, second = make_app().test_client(), make_app().test_client()
    session = first.post("/reset", json={"task": "syntax_check", "seed": 8}).get_json()["session_id"]
    assert first.post("/step", json={"session_id": session, "action": REPORT}).status_code == 200
    # The other process starts a new episode in the session: the kept one is abandoned.
    second.post("/reset", json={"task": "syntax_check", "seed": 9, "session_id": session})
    reply = first.post("/step", json={"session_id": session, "action": REPORT})
    assert reply.status_code == 200
    assert reply.get_json()["metadata"]["cumulative_reward"] == pytest.approx(
        second.get("/state", query_string={"session_id": session}).get_json()["cumulative_reward"])
    state = second.get("/state", query_string={"session_id": session}).get_json()
    assert state["step_count"] == 1 and state["episode_id"] == reply.get_json()["episode_id"]


def _add_under_gate(lock_path: str, counter_path: str, times: int) -> None:
    from pathlib import Path
    import time

    from app.db import WriteGate

    gate = WriteGate(Path(lock_path))
    counter = Path(counter_path)
    for _ in range(times):
        with gate, gate:  # reentrant within a thread
            value = int(counter.read_text())
            time.sleep(0.0005)  # widen the read-modify-write window
            counter.write_text(str(value + 1))
    gate.close()


def test_write_gate_excludes_other_processes(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import multiprocessing

    counter = tmp_path / "counter"
    counter.write_text("0")
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_add_under_gate, args=(str(tmp_path / "db-writer.lock"), str(counter), 100))
               for _ in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    assert int(counter.read_text()) == 300  # no increment lost to an interleaved writer


def test_a_finished_episode_writes_one_row_per_planted_issue(app) -> None:  # type: ignore[no-untyped-def]
    """The issue rows of a finished episode go in as one statement: every planted issue once,
    found or missed, with the step that found it."""
    client = app.test_client()
    reset = client.post("/reset", json={"task": "full_review", "seed": 11}).get_json()
    planted = app.extensions["registry"].episode("full_review", seed=11).issues
    assert len(planted) >= 2
    first = planted[0]
    report = {"action_type": "identify_issue", "confidence": 0.9,
              "issue": {"line_number": first.line_number, "issue_type": first.issue_type.value,
                        "severity": first.severity.value, "description": "found", "suggested_fix": "fix"}}
    session = reset["session_id"]
    assert client.post("/step", json={"session_id": session, "action": report}).status_code == 200
    final = client.post("/step", json={"session_id": session, "action": {"action_type": "submit_review"}})
    assert final.get_json()["done"] is True
    issues = EpisodeIssue.__table__
    with app.extensions["database"].read() as connection:
        rows = connection.execute(sa.select(issues.c.issue_id, issues.c.kind, issues.c.found, issues.c.found_at_step)
                                  .where(issues.c.episode_id == reset["episode_id"])).all()
    assert sorted(rows) == sorted((issue.id, issue.kind, issue.id == first.id, 1 if issue.id == first.id else None)
                                  for issue in planted)


def _episodes(database: Database) -> dict[str, tuple[str, str]]:
    with database.read() as connection:
        return {row.id: (row.session_id, row.status)
                for row in connection.execute(sa.select(Episode.id, Episode.session_id, Episode.status))}


def _current(database: Database, session_id: str) -> object:
    with database.read() as connection:
        return connection.execute(sa.select(Session.current_episode_id).where(Session.id == session_id)).scalar()


def test_every_reset_case_writes_what_the_per_table_path_writes(database_url: str) -> None:
    """On Postgres a reset is one statement: each case gives the rows, and the errors with
    nothing written, that the statement per table gives (SQLite's path)."""
    database, registry = Database(database_url), load_registry()

    def reset(**args: object) -> stepping.StepOutcome:
        return stepping.reset_session(database, registry, task="syntax_check", seed=1, **args)[0]

    try:
        first = reset(owner="alice")  # a new session
        assert _episodes(database) == {first.episode_id: (first.session_id, EpisodeStatus.RUNNING)}
        assert _current(database, first.session_id) == first.episode_id

        second = reset(owner="alice", session_id=first.session_id)  # the running episode is abandoned
        assert second.session_id == first.session_id
        assert _episodes(database) == {first.episode_id: (first.session_id, EpisodeStatus.ABANDONED),
                                       second.episode_id: (first.session_id, EpisodeStatus.RUNNING)}
        assert _current(database, first.session_id) == second.episode_id

        before = _episodes(database)
        with pytest.raises(NotFound):  # another owner's session looks unknown
            reset(owner="bob", session_id=first.session_id)
        with pytest.raises(Conflict, match="already exists"):
            reset(owner="alice", session_id=first.session_id, episode_id=second.episode_id)
        assert _episodes(database) == before and _current(database, first.session_id) == second.episode_id

        named = reset(session_id="chosen-by-client", episode_id="chosen-episode")  # a given id, not yet a session
        assert (named.session_id, named.episode_id) == ("chosen-by-client", "chosen-episode")
        unowned = reset(session_id="chosen-too")
        assert _current(database, "chosen-too") == unowned.episode_id
        assert _episodes(database)[unowned.episode_id] == ("chosen-too", EpisodeStatus.RUNNING)

        with database.transaction() as session:
            episodes.close_session(session, first.session_id, "alice")
        before = _episodes(database)
        with pytest.raises(Conflict, match="is closed"):
            reset(owner="alice", session_id=first.session_id)
        assert _episodes(database) == before and _current(database, first.session_id) == second.episode_id
    finally:
        database.dispose()


def test_postgres_through_its_unix_socket_serves_whole_episodes(postgres_url: str) -> None:
    """The one-host deployment's URL form (``docs/DEPLOYMENT.md``): the socket's directory as the
    ``host`` query parameter. Steps alone in their batch run in autocommit there too, after the
    kept connection's readability check, and land in the database."""
    tcp = sa.engine.make_url(postgres_url)
    directory = os.environ.get("TEST_POSTGRES_SOCKET_DIR", "/var/run/postgresql")
    if not (Path(directory) / f".s.PGSQL.{tcp.port or 5432}").exists():
        pytest.skip(f"no Postgres socket in {directory} (TEST_POSTGRES_SOCKET_DIR)")
    socket_url = tcp.set(host=None, port=None, query={"host": directory})
    app = create_app({"TESTING": True, "DATABASE_URL": socket_url.render_as_string(hide_password=False)})
    try:
        database = app.extensions["database"]
        with database.read() as connection:
            assert connection.exec_driver_sql("SELECT inet_client_addr()").scalar() is None  # not TCP
        client = app.test_client()
        for seed in (5, 6):
            reset = client.post("/reset", json={"task": "syntax_check", "seed": seed}).get_json()
            for _ in range(3):
                assert client.post("/step", json={"session_id": reset["session_id"], "action": REPORT}).status_code == 200
            final = client.post("/step", json={"session_id": reset["session_id"],
                                               "action": {"action_type": "submit_review"}}).get_json()
            assert final["done"] is True
            with database.read() as connection:
                indexes = connection.execute(sa.select(Step.index).where(Step.episode_id == reset["episode_id"])
                                             .order_by(Step.index)).scalars().all()
            assert indexes == [1, 2, 3, 4]
    finally:
        app.extensions["database"].dispose()


def test_a_step_that_lost_its_race_to_a_reset_is_not_applied_to_the_new_episode(app, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A slow step whose episode was replaced (a reset) while it waited is refused, not applied
    to the session's new episode."""
    database, registry = app.extensions["database"], app.extensions["registry"]
    first, _ = stepping.reset_session(database, registry, task="syntax_check", session_id="raced")
    real_step_once = stepping._step_once
    replaced: list[str] = []

    def reset_meanwhile(db, live, action, request_id=None):  # type: ignore[no-untyped-def]
        if not replaced:  # the session's reset commits first; this step then loses its race
            outcome, _ = stepping.reset_session(database, registry, task="syntax_check", session_id="raced")
            replaced.append(outcome.episode_id)
        return real_step_once(db, live, action, request_id)

    monkeypatch.setattr(stepping, "_step_once", reset_meanwhile)
    with pytest.raises(Conflict, match="no longer the session's current episode"):
        stepping.step_session(database, registry, "raced", {"action_type": "submit_review"})
    with database.read() as connection:
        steps = connection.execute(sa.select(Step.episode_id)).scalars().all()
        status = dict(connection.execute(sa.select(Episode.id, Episode.status)).all())
    assert steps == [] and status == {first.episode_id: EpisodeStatus.ABANDONED, replaced[0]: EpisodeStatus.RUNNING}
