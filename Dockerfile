# Code Reviewer Environment: gunicorn serving the Flask app on $PORT (7860).
#
#   docker build -t code-reviewer-env .
#   docker run -p 7860:7860 code-reviewer-env                        # SQLite in the /app/instance volume
#   docker run -p 7860:7860 -e DATABASE_URL=postgresql+psycopg://user:pw@db/codereview code-reviewer-env
#   docker run code-reviewer-env codereview routes                   # any command, after migrating
#   docker run -p 7860:7860 -v codereview-data:/data -e DATABASE_URL=sqlite:////data/codereview.db code-reviewer-env
#                                                                    # SQLite on a named volume (as on Spaces)
#
# The entry point checks the SQLite directory is writable, runs `alembic upgrade head`, then execs
# gunicorn (PID 1, receives SIGTERM). docs/DEPLOYMENT.md covers one host, Spaces and several hosts.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    PORT=7860

WORKDIR /app

# Dependencies first, from the project metadata alone: this layer is rebuilt only when
# pyproject.toml changes, not on every code change. (psycopg[binary] ships libpq: no apt packages.)
COPY pyproject.toml README.md LICENSE ./
RUN python -c "import tomllib; f = open('pyproject.toml', 'rb'); print('\n'.join(tomllib.load(f)['project']['dependencies']))" > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt "setuptools>=68" wheel \
    && rm /tmp/requirements.txt

# Then the project itself, installed in editable mode: the task data (tasks/), the migrations
# (migrations/, alembic.ini), gunicorn.conf.py and wsgi.py live at the project root, outside the
# `app` package, and are found relative to /app. No network needed here (--no-build-isolation
# uses the setuptools installed above).
COPY . .
RUN pip install --no-deps --no-build-isolation -e . \
    && chmod 0755 /app/docker-entrypoint.sh \
    && groupadd --gid 10001 codereview \
    && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin codereview \
    && mkdir -p /app/instance /data \
    && chown codereview:codereview /app/instance /data

# The default SQLite database (instance/codereview.db) lives here; declared after the chown so
# the volume starts out owned by the service user. /data is not declared: it is where a named
# volume (or a Space's persistent storage) is mounted on request, and a fresh named volume
# copies its ownership from the image.
VOLUME ["/app/instance"]

USER 10001:10001

EXPOSE 7860

# python:3.11-slim has no curl: urllib it is. A non-200 answer (503 when the database is
# unreachable) raises, so the check exits 1.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD python -c "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:${PORT}/health', timeout=4).status == 200 else 1)"

# Setting ENTRYPOINT clears the base image's CMD: no arguments means gunicorn with gunicorn.conf.py.
ENTRYPOINT ["/app/docker-entrypoint.sh"]
