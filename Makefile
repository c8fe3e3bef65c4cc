# Quick start: `make test` runs every check; `make demo` runs the bot on a local simulated cluster.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: test lint typecheck pytest demo sim bench clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

test: $(STAMP) lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/hadolint Dockerfile
	$(BIN)/lint-imports --no-cache

typecheck: $(STAMP)
	$(BIN)/mypy

# The suite mostly waits (child processes, servers, real-time simulators), so workers overlap well even on
# 2 cores; `--maxschedchunk 1` hands out one test at a time, long ones first (tests/fixtures/schedule.py).
# `PYTEST_WORKERS=0 make pytest` runs it serially. A plain `.venv/bin/pytest tests/x` stays serial.
PYTEST_WORKERS ?= 3

pytest: $(STAMP)
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist load --maxschedchunk 1

demo: $(STAMP)
	$(BIN)/conductor-bot demo

sim: $(STAMP)
	$(BIN)/conductor-bot sim --networks 1 --nodes 3 --write-config .state/sim

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
