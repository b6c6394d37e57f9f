# Developer commands. Every target that runs project code first makes sure the virtualenv
# exists and matches pyproject.toml, so they all work on a fresh clone.

PYTHON3 ?= python3
VENV    := .venv
PYTHON  := $(VENV)/bin/python
# Touched after a successful install: a newer pyproject.toml means dependencies changed.
STAMP   := $(VENV)/.installed

.PHONY: venv run test lint demo bench fuzz chaos clean-data

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PYTHON) || $(PYTHON3) -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

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

# Each measure a ratio against a baseline run in the same session, on a throwaway stack
# (about a quarter of an hour on 2 cores, most of it opening 10,000 dossiers for the memory
# measure; `python -m scripts.bench --quick` is a smoke run of two or three minutes).
bench: $(STAMP)
	$(PYTHON) -m scripts.bench

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
	$(PYTHON) -m scripts.fuzz

# Dossiers through their lifecycle while the worker is SIGKILLed every few seconds and
# PostgreSQL and Temporal restart once; compared with an undisturbed run.
chaos: $(STAMP)
	$(PYTHON) -m scripts.chaos
