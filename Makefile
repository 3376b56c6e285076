# crmviewer: `make demo` serves the dashboard with the sandbox; `make test` runs the tests.
# Both do all set-up first: find Python 3.12+, make .venv, install the pinned packages.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
SANDBOX_PORT ?= 8001
WEB_PORT ?= 8000
PYTEST_ARGS ?=

.PHONY: install demo test bench serve lint format sandbox messages clean

install: $(STAMP)

$(STAMP): pyproject.toml requirements.lock scripts/find-python
	@if [ -x $(PY) ] && ! $(PY) -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then \
		echo "Removing $(VENV): it was made with a Python older than 3.12."; rm -rf $(VENV); fi
	@if [ ! -x $(PY) ]; then \
		python=$$(scripts/find-python) || exit 1; \
		echo "Making $(VENV) with $$python"; \
		"$$python" -m venv $(VENV) || exit 1; fi
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -c requirements.lock -e '.[dev]'
	@touch $@

test: install
	DEBUG=1 $(PY) -m pytest $(PYTEST_ARGS)

# Timings and memory against the sandbox at 300 ms a call, written to docs/benchmarks.md.
# Uses PostgreSQL and Redis when they answer on 127.0.0.1, and wrk for the load test.
bench: install
	@command -v wrk >/dev/null || { echo "make bench needs wrk: apt-get install wrk"; exit 1; }
	$(PY) -m benchmarks.run

demo: install
	@SANDBOX_PORT=$(SANDBOX_PORT) WEB_PORT=$(WEB_PORT) scripts/demo

# Production-like: gunicorn (gunicorn.conf.py) with DEBUG off, so the environment (or .env) must
# hold SECRET_KEY, CREDENTIAL_KEYS, DATABASE_URL, CACHE_URL and ALLOWED_HOSTS (README, "Deploy").
serve: install
	$(PY) manage.py check --deploy
	$(PY) manage.py migrate --noinput
	$(PY) manage.py collectstatic --noinput -v0
	$(VENV)/bin/gunicorn -c gunicorn.conf.py

sandbox: install
	DEBUG=1 $(PY) manage.py vitec_sandbox --port $(SANDBOX_PORT)

# Style (ruff), architecture contracts (lint-imports, [tool.importlinter] in pyproject.toml) and
# types (mypy with django-stubs, [tool.mypy]; DEBUG=1 lets its plugin load the settings). Every
# check runs, even after one has failed, so that one run shows everything; then lint fails if any did.
LINT_CHECKS := "ruff check ." "ruff format --check ." "lint-imports --no-logo" "mypy"

lint: install
	@failed=""; \
	for check in $(LINT_CHECKS); do \
		echo "$(VENV)/bin/$$check"; \
		DEBUG=1 $(VENV)/bin/$$check || failed="$$failed, $$check"; \
	done; \
	if [ -n "$$failed" ]; then echo "make lint: FAILED: $${failed#, }"; exit 1; fi; \
	echo "make lint: all checks passed."

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

messages: install
	DEBUG=1 $(PY) manage.py makemessages -l sv --no-location --ignore=.venv --ignore=staticfiles --ignore=tests --ignore=benchmarks
	msgcat --width=100 -o locale/sv/LC_MESSAGES/django.po locale/sv/LC_MESSAGES/django.po
	DEBUG=1 $(PY) manage.py compilemessages -l sv --ignore=.venv

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .ruff_cache .mypy_cache .import_linter_cache .grimp_cache staticfiles
