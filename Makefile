# Shopfloor. Quickstart: `make demo` (see it), `make test` (test it).
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck check bench serve venv clean

$(STAMP): requirements.txt requirements-dev.txt
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is required ($(PYTHON) not found)"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	SHOPFLOOR_DEMO=1 $(PY) manage.py demo

# Everything but the browser tests and the tests that start processes (servers, workers,
# PgBouncer, PostgreSQL clusters) on every core (pytest-xdist); then those, one at a time in
# one process: the browser tests share one demo plant, and the others' processes share the
# test database and Redis, which they must not move under a test running beside them.
test: $(STAMP)
	$(PY) -m pytest -m "not browser and not processes" $(PYTEST_ARGS)
	$(PY) -m pytest -n 0 -m "processes or browser" $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(STAMP)
	$(VENV)/bin/mypy config tracker inventory wip devices

# What .ci/run and the pre-commit hooks (.pre-commit-config.yaml) check.
check: $(STAMP) lint typecheck
	$(PY) manage.py check
	$(PY) manage.py makemigrations --check --dry-run

bench: $(STAMP)
	$(PY) -m bench $(BENCH_ARGS)

# The production shape on this machine: release step (migrate, collectstatic),
# then web, Celery worker and beat under honcho; Ctrl-C stops them all. Needs
# DATABASE_URL and REDIS_URL. The web process is `python -m config.web`: HTTP through
# granian's WSGI interface on PORT, websockets through Channels on PORT + 1 (WEB_SERVER
# picks another shape; README "Production shape" has each one's measured figures).
# PROCFILE=Procfile.scaled runs one worker per queue instead of one for all.
PORT ?= 8000
PROCFILE ?= Procfile
serve: $(STAMP)
	@test -n "$$DATABASE_URL" || { echo "make serve: set DATABASE_URL (PostgreSQL), e.g. postgres://postgres@127.0.0.1:5432/shopfloor"; exit 2; }
	@test -n "$$REDIS_URL" || { echo "make serve: set REDIS_URL (Celery broker, channel layer, cache), e.g. redis://127.0.0.1:6379/0"; exit 2; }
	@case "$$DATABASE_URL" in postgres*) ;; *) echo "make serve: DATABASE_URL must be PostgreSQL (the embedded SQLite is for make demo)"; exit 2;; esac
	@test -n "$$SECRET_KEY" || echo "make serve: SECRET_KEY unset; using a random key for this run (sessions end on restart; set it for more than one machine)"
	export SECRET_KEY="$${SECRET_KEY:-$$($(PY) -c 'import secrets; print(secrets.token_urlsafe(50))')}" \
	  DEBUG=0 SECURE_SSL_REDIRECT="$${SECURE_SSL_REDIRECT:-0}" PATH="$(CURDIR)/$(VENV)/bin:$$PATH" && \
	$(PY) manage.py migrate --noinput && \
	$(PY) manage.py collectstatic --noinput -v 0 && \
	exec honcho start -f $(PROCFILE) -p $(PORT)

clean:
	rm -rf $(VENV) db.sqlite3 staticfiles
