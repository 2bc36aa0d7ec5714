# Shopfloor. Quickstart: `make demo` (see it), `make test` (test it).
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test lint check bench serve venv clean

$(STAMP): requirements.txt requirements-dev.txt
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is required ($(PYTHON) not found)"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(PY) manage.py demo

test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .

check: $(STAMP) lint
	$(PY) manage.py check
	$(PY) manage.py makemigrations --check --dry-run

bench: $(STAMP)
	$(PY) manage.py bench

serve: $(STAMP)
	$(VENV)/bin/honcho start -f Procfile

clean:
	rm -rf $(VENV) db.sqlite3 staticfiles
