# Landcycle — the two commands are `make run` and `make test` (README.md).
#
# Without DATABASE_URL both use a project-owned PostgreSQL + PostGIS cluster under .local/
# (scripts/localdb.sh); with DATABASE_URL they use that database (tests use TEST_DATABASE_URL,
# or the same server's "<name>_test" database).

SHELL := /bin/bash
.DEFAULT_GOAL := help
.PHONY: help setup venv web db migrate demo run serve test test-fast lint stop bench fuzz load clean

VENV    ?= .venv
PY      := $(VENV)/bin/python
PORT    ?= 8000
STAMP   := $(VENV)/.installed

# Settings the app reads; the local cluster's URL unless the operator set DATABASE_URL.
ifeq ($(strip $(DATABASE_URL)),)
export DATABASE_URL := $(shell scripts/localdb.sh env)
LOCALDB := 1
endif
export LANDCYCLE_SECRET_KEY_FILE ?= $(CURDIR)/.local/secret_key

help:
	@echo "make run    set everything up (virtualenv, PostGIS, migrations, demo data) and serve on :$(PORT)"
	@echo "make test   set everything up and run the whole test suite"
	@echo "make stop   stop the project's local PostgreSQL cluster"
	@echo "make bench  benchmarks against raw PostGIS, tipg, pygeoapi (README.md, Benchmarks)"
	@echo "make lint   ruff + mypy + import contracts"

$(STAMP): pyproject.toml constraints.txt scripts/venv.sh
	@scripts/venv.sh $(VENV)
	@touch $(STAMP)

venv: $(STAMP)

# The web page's front-end libraries (MapLibre), fetched from the npm registry once, checked by integrity.
web/vendor/.pins: web/vendor.json scripts/webvendor.py | $(STAMP)
	@$(PY) scripts/webvendor.py

web: web/vendor/.pins

db:
ifdef LOCALDB
	@scripts/localdb.sh ensure
else
	@echo "[db] using DATABASE_URL (the local cluster is not used)"
endif
	@mkdir -p .local
	@test -s .local/secret_key || (umask 077 && $(PY) -c "import secrets; print(secrets.token_urlsafe(48))" > .local/secret_key)

setup: venv web db

migrate: setup
	@echo "[migrate] alembic upgrade head"
	@$(VENV)/bin/landcycle db upgrade

demo: migrate
	@$(VENV)/bin/landcycle demo load --if-empty

run: demo
	@echo "[run] serving http://127.0.0.1:$(PORT)  (API docs: http://127.0.0.1:$(PORT)/docs)"
	@$(VENV)/bin/landcycle serve --port $(PORT)

serve: setup
	@$(VENV)/bin/landcycle serve --port $(PORT)

test: setup
	@echo "[test] pytest (real PostGIS; see tests/conftest.py for the test database)"
	@$(VENV)/bin/pytest $(PYTEST_ARGS)

test-fast: setup
	@$(VENV)/bin/pytest tests/unit $(PYTEST_ARGS)

lint: venv
	@$(VENV)/bin/ruff check app models gis tests migrations bench
	@$(VENV)/bin/mypy app models gis
	@$(VENV)/bin/lint-imports --no-cache --no-logo

stop:
	@scripts/localdb.sh stop

# Bench-only tools (aiohttp, psutil, matplotlib, py-spy) go into the venv; the peers get venvs of their own.
BENCH_STAMP := $(VENV)/.bench-installed
$(BENCH_STAMP): bench/requirements.txt $(STAMP)
	@echo "[bench] installing bench/requirements.txt"
	@$(PY) -m pip install --disable-pip-version-check -q -c constraints.txt -r bench/requirements.txt
	@touch $(BENCH_STAMP)

# The test suite runs the harness in its quick mode (tests/bench/test_harness.py): it needs them too.
test: $(BENCH_STAMP)

# Selected by BENCH_CASES, BENCH_SERVERS, BENCH_SCALE, BENCH_WORKERS, BENCH_QUICK=1, BENCH_DATABASE_URL,
# BENCH_DIR (bench/README.md), from the environment or this command line: `make bench BENCH_QUICK=1`.
bench: setup $(BENCH_STAMP)
	@$(PY) -m bench $(BENCH_ARGS)

fuzz: setup
	@echo "[fuzz] schemathesis, $${FUZZ_EXAMPLES:-300} examples per operation and generation mode"
	@FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-300} $(VENV)/bin/pytest tests/fuzz $(PYTEST_ARGS)

load: setup
	@$(PY) -m bench load $(LOAD_ARGS)

clean: stop
	rm -rf $(VENV) .local .pytest_cache .mypy_cache .ruff_cache
