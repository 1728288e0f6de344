#!/bin/sh
# Container entry point: migrate the database, then serve.
#
#   docker-entrypoint.sh                    alembic upgrade head, then gunicorn -c gunicorn.conf.py
#   docker-entrypoint.sh --workers 4 ...    the same; the options are passed on to gunicorn
#   docker-entrypoint.sh codereview routes  alembic upgrade head, then that command instead
#
# The database URL comes from DATABASE_URL (default: SQLite in instance/, see app/config.py).
# gunicorn, or the command given, replaces this shell (exec): it runs as PID 1 in a container
# and receives the signals (SIGTERM from `docker stop`) itself.
# If the migration fails, nothing is started and the script exits non-zero.
set -eu

# The project directory is the one holding this script (alembic.ini, gunicorn.conf.py, wsgi.py).
APP_DIR=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)
cd "$APP_DIR"

log() {
    printf 'docker-entrypoint: %s\n' "$*" >&2
}

if [ -n "${DATABASE_URL:-}" ]; then
    # Only the scheme: the URL may hold a password.
    log "migrating the database (${DATABASE_URL%%:*}): alembic upgrade head"
else
    log "migrating the default SQLite database in $APP_DIR/instance: alembic upgrade head"
fi

# PGCONNECT_TIMEOUT bounds the Postgres connection attempt of the migration only (libpq's
# default is to wait for the operating system's TCP timeout).
status=0
PGCONNECT_TIMEOUT="${PGCONNECT_TIMEOUT:-10}" alembic -c "$APP_DIR/alembic.ini" upgrade head || status=$?
if [ "$status" -ne 0 ]; then
    log "ERROR: database migration failed (alembic upgrade head exited with status $status); not starting."
    exit 1
fi

case "${1:-}" in
    -*|'')
        # No arguments, or options: they are gunicorn's.
        exec gunicorn -c "$APP_DIR/gunicorn.conf.py" "$@"
        ;;
    *)
        exec "$@"
        ;;
esac
