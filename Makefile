# Developer commands. `make run` starts the product, `make test` runs the whole suite.
# Both find PostgreSQL and Redis (or start embedded ones): see scripts/devservices.py.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
STAMP := $(VENV)/.installed
WEB_PORT ?= 8000
BASE_URL := http://127.0.0.1:$(WEB_PORT)
PYTEST_ARGS ?=
BENCH_ARGS ?=
# `make run` serves everything on one URL from the ASGI app (`ws`); production puts
# gunicorn (`web`) for REST and pages beside it behind nginx (docs/operations.md).
RUN_PROCESSES := ws worker beat

# The one-shot release step; docker-compose.yml's `migrate` service runs the same command
# (the long-running ones are in the Procfile; scripts/check_compose.py checks both).
MIGRATE_CMD := python manage.py migrate --noinput

# Everything below runs with the venv first on PATH: `python`, `celery`, `uvicorn`, `honcho`.
export PATH := $(abspath $(BIN)):$(PATH)
DEVSERVICES := python scripts/devservices.py run
TEST_DEVSERVICES := python scripts/devservices.py run --test
# A production-like environment for `check --deploy` (a fresh random key each time). The
# sandbox is the only payment provider shipped, so it is allowed here explicitly.
DEPLOY_ENV = DEBUG=0 ALLOWED_HOSTS=example.com PAYMENT_SANDBOX_ALLOWED=1 \
	SECRET_KEY="$$(python -c 'import secrets; print(secrets.token_urlsafe(64))')"

.PHONY: help install run test lint fmt check check-deploy check-migrations check-compose \
	bench-fanout bench-flash-sale bench-auction bench-webhooks services-status services-stop clean

help:
	@echo "make run            start the product (web, worker, beat) with demo data"
	@echo "make test           run the whole test suite (PYTEST_ARGS='-k ...' to narrow)"
	@echo "make lint           ruff format --check, ruff check, mypy, lint-imports"
	@echo "make fmt            ruff format and ruff check --fix"
	@echo "make check          lint + check --deploy + makemigrations --check + compose check"
	@echo "make bench-fanout   live-room fan-out benchmark (BENCH_ARGS=...)"
	@echo "make bench-flash-sale  flash-sale checkout benchmark (BENCH_ARGS=...)"
	@echo "make bench-auction  one auction hammered over HTTP vs the no-op (BENCH_ARGS=...)"
	@echo "make bench-webhooks webhooks benchmark: delivery rate, latency, buy on vs off"
	@echo "make services-stop  stop the embedded PostgreSQL/Redis started for you, if any"

# The virtualenv, rebuilt only when pyproject.toml changes.
install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@mkdir -p .devdata
	@touch $(STAMP)

run: install
	DEBUG=1 $(DEVSERVICES) -- $(MIGRATE_CMD)
	DEBUG=1 $(DEVSERVICES) -- python manage.py seed_demo --base-url $(BASE_URL)
	@echo "Starting ws ($(BASE_URL): REST, pages and WebSockets), worker and beat; Ctrl-C stops them."
	DEBUG=1 UVICORN_HOST=127.0.0.1 UVICORN_PORT=$(WEB_PORT) \
		$(DEVSERVICES) -- honcho -f Procfile start $(RUN_PROCESSES)

test: install
	$(TEST_DEVSERVICES) -- python -m pytest $(PYTEST_ARGS)

lint: install
	ruff format --check .
	ruff check .
	DEBUG=1 mypy .
	lint-imports

fmt: install
	ruff format .
	ruff check --fix .

check: lint check-deploy check-migrations check-compose

check-deploy: install
	$(DEPLOY_ENV) python manage.py check --deploy --fail-level WARNING

check-migrations: install
	DEBUG=1 $(DEVSERVICES) -- python manage.py makemigrations --check --dry-run

check-compose: install
	python scripts/check_compose.py

bench-fanout: install
	$(DEVSERVICES) -- python bench/fanout/run.py $(BENCH_ARGS)

bench-flash-sale: install
	$(DEVSERVICES) -- python bench/flash_sale/run.py $(BENCH_ARGS)

bench-auction: install
	$(DEVSERVICES) -- python bench/auction/run.py $(BENCH_ARGS)

bench-webhooks: install
	$(DEVSERVICES) -- python bench/webhooks/run.py $(BENCH_ARGS)

services-status: install
	python scripts/devservices.py status

services-stop: install
	python scripts/devservices.py stop

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .devdata/staticfiles
