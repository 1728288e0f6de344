# The two commands of README.md: `make run` and `make test`.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# Serve on :7860 (PORT) with gunicorn over the default SQLite database (DATABASE_URL to change).
run: $(STAMP)
	$(BIN)/alembic upgrade head
	$(BIN)/gunicorn -c gunicorn.conf.py

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python scripts/bench_engine.py

clean:
	rm -rf $(VENV) instance .pytest_cache
