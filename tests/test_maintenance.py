"""Idle episodes: the service, the ``codereview abandon-idle`` command and what an agent sees."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.commands.abandon_idle import command as abandon_idle
from app.models import Episode, Step, utcnow
from app.services.maintenance import abandon_idle_episodes

SUBMIT = {"action_type": "submit_review"}
REPORT = {"action_type": "identify_issue", "issue": {"line_number": 3, "issue_type": "syntax_error",
                                                     "severity": "low", "description": "maybe"}}


def start(client, session_id: str) -> str:  # type: ignore[no-untyped-def]
    response = client.post("/reset", json={"task": "syntax_check", "session_id": session_id})
    assert response.status_code == 200
    return response.get_json()["episode_id"]


def step(client, session_id: str, action: dict):  # type: ignore[no-untyped-def]
    return client.post("/step", json={"session_id": session_id, "action": action})


def age(app, episode_id: str, seconds: float) -> None:  # type: ignore[no-untyped-def]
    """Pretend the episode's last change happened ``seconds`` ago."""
    with app.extensions["database"].transaction() as db:
        db.execute(sa.update(Episode).where(Episode.id == episode_id)
                   .values(updated_at=utcnow() - timedelta(seconds=seconds)))


def statuses(app) -> dict[str, str]:  # type: ignore[no-untyped-def]
    with app.extensions["database"].session() as db:
        return dict(db.execute(sa.select(Episode.id, Episode.status)).all())


def test_idle_running_episodes_are_abandoned_and_kept(app, client) -> None:  # type: ignore[no-untyped-def]
    idle, fresh, finished = start(client, "idle"), start(client, "fresh"), start(client, "finished")
    assert step(client, "idle", REPORT).status_code == 200
    assert step(client, "finished", SUBMIT).status_code == 200
    age(app, idle, 7200)
    age(app, finished, 7200)

    with app.extensions["database"].transaction() as db:
        assert abandon_idle_episodes(db, timedelta(hours=1)) == 1
    assert statuses(app) == {idle: "abandoned", fresh: "running", finished: "finished"}
    # Nothing is deleted: the abandoned episode keeps its recorded step.
    history = client.get(f"/api/episodes/{idle}").get_json()
    assert history["status"] == "abandoned" and [s["index"] for s in history["steps"]] == [1]
    with app.extensions["database"].transaction() as db:
        assert abandon_idle_episodes(db, timedelta(hours=1)) == 0  # idempotent


def test_stepping_an_abandoned_episode_is_a_conflict(app, client) -> None:  # type: ignore[no-untyped-def]
    episode_id = start(client, "late")
    age(app, episode_id, 7200)
    with app.extensions["database"].transaction() as db:
        abandon_idle_episodes(db, timedelta(hours=1))
    response = step(client, "late", REPORT)
    assert response.status_code == 409
    error = response.get_json()["error"]
    assert error["code"] == "CONFLICT"
    assert "abandoned" in error["message"] and "/reset" in error["message"]
    with app.extensions["database"].session() as db:
        assert db.scalar(sa.select(sa.func.count()).select_from(Step)) == 0
    # A new reset in the same session starts over.
    start(client, "late")
    assert step(client, "late", REPORT).status_code == 200


def test_idle_time_counts_from_the_last_step_not_the_start(app, client) -> None:  # type: ignore[no-untyped-def]
    episode_id = start(client, "slow")
    with app.extensions["database"].transaction() as db:
        db.execute(sa.update(Episode).where(Episode.id == episode_id)
                   .values(created_at=utcnow() - timedelta(hours=5)))
    age(app, episode_id, 7200)
    assert step(client, "slow", REPORT).status_code == 200  # the agent comes back
    with app.extensions["database"].transaction() as db:
        assert abandon_idle_episodes(db, timedelta(hours=1)) == 0
    assert statuses(app) == {episode_id: "running"}


def test_the_idle_time_must_be_positive(app) -> None:  # type: ignore[no-untyped-def]
    with app.extensions["database"].session() as db, pytest.raises(ValueError, match="positive"):
        abandon_idle_episodes(db, timedelta(0))


def test_command_uses_the_configured_age_unless_given_one(app, client, runner) -> None:  # type: ignore[no-untyped-def]
    old, recent = start(client, "old"), start(client, "recent")
    age(app, old, 1000)
    age(app, recent, 300)
    app.config["IDLE_EPISODE_SECONDS"] = 600

    result = runner.invoke(abandon_idle, [])
    assert result.exit_code == 0, result.output
    assert "1 episodes idle for more than 600 s marked abandoned" in result.output
    assert statuses(app) == {old: "abandoned", recent: "running"}

    result = runner.invoke(abandon_idle, ["--older-than", "120"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("1 episodes idle for more than 120 s")
    assert statuses(app) == {old: "abandoned", recent: "abandoned"}


def test_command_rejects_a_non_positive_age(runner) -> None:  # type: ignore[no-untyped-def]
    result = runner.invoke(abandon_idle, ["--older-than", "0"])
    assert result.exit_code == 2 and "--older-than" in result.output


def test_command_is_part_of_the_codereview_group() -> None:
    from app.cli import cli

    assert cli.commands["abandon-idle"] is abandon_idle
