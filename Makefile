# make setup | demo | test | lint | ui | bench | bench-mixing | bench-agent   (each creates .venv if missing)
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
export HF_HUB_OFFLINE := 1
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home
ARGS ?=

.PHONY: setup demo demo-shared test lint ui bench bench-mixing bench-mixing-bound bench-agent bench-selection validate clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	@mkdir -p $(DAGSTER_HOME) && touch $(DAGSTER_HOME)/dagster.yaml
	@touch $(STAMP)

setup: $(STAMP)

## the whole platform end to end on the embedded default (local storage, SQLite instance, offline planner)
demo: setup
	$(PY) -m platform_assets.cli demo $(ARGS)

## the same pipeline on the real corpora in ../shared/data
demo-shared: setup
	$(PY) -m platform_assets.cli demo --data shared $(ARGS)

test: setup
	$(PY) -m pytest $(ARGS)

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

validate: setup
	$(VENV)/bin/dagster definitions validate -w workspace.yaml

## Dagster webserver + daemon on the local instance (`dg dev`; what to click first: docs/ui.md)
UI_HOST ?= 127.0.0.1
UI_PORT ?= 3000
ui: setup
	@echo "Dagster UI: http://$(UI_HOST):$(UI_PORT)  (DAGSTER_HOME=$(DAGSTER_HOME); sensors start stopped, see docs/ui.md)"
	$(VENV)/bin/dg dev -w workspace.yaml -h $(UI_HOST) -p $(UI_PORT)

bench: setup
	$(PY) -m benchmarks.run $(ARGS)

bench-mixing: setup
	$(PY) -m benchmarks.bench_mixing $(ARGS)

bench-mixing-bound: setup
	$(PY) -m benchmarks.mixing_bound $(ARGS)

bench-agent: setup
	$(PY) benchmarks/bench_agent.py $(ARGS)

## selection inside a domain (classifier, model loss, soft dedup, decontamination) -> benchmarks/results/selection.json
bench-selection: setup
	$(PY) benchmarks/bench_selection.py $(ARGS)

clean:
	rm -rf data/demo data/demo_sources $(DAGSTER_HOME)
