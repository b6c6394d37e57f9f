# Developer commands. Every target that runs project code first makes sure the virtualenv
# exists and matches pyproject.toml and its lock, so they all work on a fresh clone.

PYTHON3 ?= python3
VENV    := .venv
PYTHON  := $(VENV)/bin/python
# Touched after a successful install: a newer pyproject.toml or lock means dependencies changed.
STAMP   := $(VENV)/.installed
# Every version, with its hashes: runtime.txt is what the image installs, dev.txt adds the
# dev server, the embedded PostgreSQL, the test and lint tools; build.txt is the build
# backend the image builds the project with (`make lock` writes all three).
LOCK_RUNTIME := requirements/runtime.txt
LOCK_DEV     := requirements/dev.txt
PIP     := $(PYTHON) -m pip --disable-pip-version-check
# Passed to `uv pip compile` by `make lock`: e.g. LOCK_ARGS=--upgrade-package=temporalio.
LOCK_ARGS ?=
UV_COMPILE = $(VENV)/bin/uv pip compile --generate-hashes --universal \
	--python-version 3.11 --custom-compile-command "make lock" --quiet $(LOCK_ARGS)
IMAGE   ?= integration-visa:latest

.PHONY: venv run test lint demo bench fuzz chaos clean-data lock image screenshots check-compose \
	schemas client-ts

venv: $(STAMP)

# Installs exactly the lock (no resolution, every file checked against its hash), then the
# project itself, editable, without its dependencies.
$(STAMP): pyproject.toml $(LOCK_DEV)
	test -x $(PYTHON) || $(PYTHON3) -m venv $(VENV)
	$(PIP) install --quiet --require-hashes --no-deps -r $(LOCK_DEV)
	$(PIP) install --quiet --no-deps -e .
	@$(PIP) check || { echo "the lock misses a requirement of pyproject.toml: run make lock" >&2; exit 1; }
	touch $(STAMP)

# uv alone, from the lock, for `make lock` (which must run even when the lock lags behind).
$(VENV)/bin/uv:
	test -x $(PYTHON) || $(PYTHON3) -m venv $(VENV)
	$(PIP) install --quiet --require-hashes --no-deps -r $(LOCK_DEV)

# Regenerates the locks from pyproject.toml. Versions already pinned stay unless pyproject.toml
# excludes them or LOCK_ARGS says --upgrade; dev.txt keeps runtime.txt's versions.
lock: $(VENV)/bin/uv
	$(UV_COMPILE) pyproject.toml -o $(LOCK_RUNTIME)
	$(UV_COMPILE) pyproject.toml --all-extras -c $(LOCK_RUNTIME) -o $(LOCK_DEV)
	$(UV_COMPILE) requirements/build.in -o requirements/build.txt

# The production image (Dockerfile): the runtime lock only, no dev server, no dev tools.
image:
	@if ! command -v docker >/dev/null 2>&1; then \
	  echo "make image: no docker client on this machine; install Docker to build $(IMAGE)" >&2; \
	  exit 1; \
	elif ! docker info >/dev/null 2>&1; then \
	  echo "make image: no Docker engine answers (docker info failed); start it to build $(IMAGE)" >&2; \
	  exit 1; \
	fi
	docker build -t $(IMAGE) .

# Pictures of the Web UI for the docs, with Debian's /usr/bin/chromium.
screenshots: $(STAMP)
	$(PYTHON) -m tools.screenshots

# docker-compose.yml against the compose schema (and `docker compose config` where it exists).
check-compose: $(STAMP)
	$(PYTHON) -m tools.check_compose

# The contract's JSON Schemas (docs/schema/), from the models; a unit test holds them to them.
schemas: $(STAMP)
	$(PYTHON) -m tools.schemas

# The TypeScript client example (examples/client-ts), from its lock: its test runs it.
client-ts:
	cd examples/client-ts && npm ci --no-audit --no-fund && npm run build

run: $(STAMP)
	$(PYTHON) -m scripts.devstack

test: $(STAMP)
	$(PYTHON) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy .

demo: $(STAMP)
	$(PYTHON) -m scripts.demo

# Each measure a ratio against a baseline run in the same session, on a throwaway stack,
# one line per figure of the performance goals (some two hours on 2 cores, most of it
# opening 100,000 dossiers for the memory measure; `python -m tools.bench --quick` is a
# smoke run of a few minutes, `--memory --dossiers 3000` the memory alone).
bench: $(STAMP)
	$(PYTHON) -m tools.bench

# Needs no virtualenv. Refuses while `make run` holds the data dir: deleting a live
# PostgreSQL's files under it corrupts it.
clean-data:
	@if [ -f .data/devstack.json ] && \
	    pid=$$(sed -n 's/^{"devstack": \([0-9]*\).*/\1/p' .data/devstack.json) && \
	    [ -n "$$pid" ] && kill -0 "$$pid" 2>/dev/null; then \
	  echo "make run is still running (pid $$pid): stop it first" >&2; exit 1; \
	fi
	rm -rf .data

# Hypothesis-generated inputs: 10,000 per dossier kind through the core, then 1,000 as
# signals on a live stack; fails on any stuck workflow or unrecorded input.
fuzz: $(STAMP)
	$(PYTHON) -m tools.fuzz

# Dossiers through their lifecycle while the worker is SIGKILLed every few seconds and
# PostgreSQL and Temporal restart once; compared with an undisturbed run.
chaos: $(STAMP)
	$(PYTHON) -m tools.chaos
