"""Values the whole deployment shares, kept in the database: the episode secret.

Episodes of the evaluation splits are drawn from their seed *and* this secret (see
``app.env.corpus.generator.episode_stream``), so that knowing a seed and the project's code
reveals nothing about them, while the operator, who holds the secret, regenerates any of them.
Every worker and host reads the same secret: ``CODEREVIEW_EPISODE_SECRET`` when it is set, else
the one migration 0006 generated and stored.
"""

from __future__ import annotations

import secrets
from typing import Callable, Optional

import sqlalchemy as sa
import sqlalchemy.exc

from app.db import Database
from app.errors import Unavailable
from app.models import DeploymentSetting

EPISODE_SECRET = "episode_secret"
_SETTINGS = DeploymentSetting.__table__


def stored_episode_secret(database: Database) -> bytes:
    """The deployment's stored episode secret, stored first if missing (a database whose row
    was deleted): concurrent first callers agree on one value.

    Reads run on an autocommit connection of their own, so this never waits for a writer, even
    when the caller is inside a write transaction.

    Raises:
        Unavailable: the database is not migrated.
    """
    select = sa.select(_SETTINGS.c.value).where(_SETTINGS.c.name == EPISODE_SECRET)
    try:
        with database.read() as connection:
            value = connection.execute(select).scalar_one_or_none()
    except (sqlalchemy.exc.OperationalError, sqlalchemy.exc.ProgrammingError):
        with database.read() as connection:
            migrated = sa.inspect(connection).has_table(_SETTINGS.name)
        if migrated:
            raise  # the database itself failed: reported as unavailable, as everywhere
        raise Unavailable("the database is not migrated (it has no table deployment_settings): "
                          "run `alembic upgrade head`") from None
    if value is None:
        try:
            with database.transaction() as session:
                session.execute(sa.insert(_SETTINGS).values(name=EPISODE_SECRET, value=secrets.token_hex(32)))
        except sqlalchemy.exc.IntegrityError:
            pass  # another process stored one first: use it
        with database.read() as connection:
            value = connection.execute(select).scalar_one()
    return value.encode("utf-8")


def episode_secret_source(database: Database, configured: Optional[str]) -> Callable[[], bytes]:
    """What the task registry calls, once, when it first generates an evaluation episode."""
    if configured:
        secret = configured.encode("utf-8")
        return lambda: secret
    return lambda: stored_episode_secret(database)
