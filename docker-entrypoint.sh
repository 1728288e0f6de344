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
# If the database cannot be reached or migrated, nothing is started and the script exits 1.
set -eu

# The project directory is the one holding this script (alembic.ini, gunicorn.conf.py, wsgi.py).
APP_DIR=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)
cd "$APP_DIR"

log() {
    printf 'docker-entrypoint: %s\n' "$*" >&2
}

# A Postgres connection attempt gives up after this many seconds, in the migration and in the
# service alike (libpq's default waits for the operating system's TCP timeout, minutes when the
# database host is gone): a request then fails fast with 503 instead of hanging a worker thread.
# A connect_timeout in DATABASE_URL takes precedence.
export PGCONNECT_TIMEOUT="${PGCONNECT_TIMEOUT:-10}"

# A SQLite file's directory must exist and be writable by this user (uid $(id -u)): the
# database, its -wal and -shm files live there. Say so plainly rather than with a traceback.
case "${DATABASE_URL:-}" in
    sqlite:///*)
        sqlite_path=${DATABASE_URL#sqlite:///}
        sqlite_path=${sqlite_path%%\?*}
        if [ -n "$sqlite_path" ] && [ "$sqlite_path" != ":memory:" ]; then
            sqlite_dir=$(dirname -- "$sqlite_path")
            if ! mkdir -p -- "$sqlite_dir" 2>/dev/null || ! [ -w "$sqlite_dir" ]; then
                log "ERROR: the SQLite directory $sqlite_dir cannot be written by uid $(id -u);" \
                    "mount a writable volume there or point DATABASE_URL elsewhere; not starting."
                exit 1
            fi
        fi
        ;;
esac

if [ -n "${DATABASE_URL:-}" ]; then
    # Only the scheme: the URL may hold a password.
    log "migrating the database (${DATABASE_URL%%:*}): alembic upgrade head"
else
    log "migrating the default SQLite database in $APP_DIR/instance: alembic upgrade head"
fi

status=0
alembic -c "$APP_DIR/alembic.ini" upgrade head || status=$?
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
