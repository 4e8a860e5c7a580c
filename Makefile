# controlroom: the README's two commands are `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1
export CDK_DISABLE_VERSION_CHECK := 1
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20

.PHONY: setup demo test lint typecheck schemas schemas-check synth synth-all lock bench clean

$(STAMP): pyproject.toml
	@echo "setting up the Python environment in $(VENV) (first run takes a few minutes) ..."
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@

$(NODE_STAMP): package.json package-lock.json
	@echo "installing the pinned CDK CLI (npm ci) ..."
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

setup: $(STAMP) $(NODE_STAMP)

## A full incident on the embedded engine (asks you to approve; DEMO_ARGS="--decision approve" to skip asking).
demo: setup
	$(BIN)/controlroom demo $(DEMO_ARGS)

## Lint, types, schema drift, then every test (unit, integration, e2e on the real ASL, infra, cdk synth, browser),
## one worker per core (pytest-xdist; every test gets its own ports, tables, state and temp dirs; the CDK CLI
## synthesizes each context once per run for all workers), then the 15 slowest tests.
PYTEST_WORKERS ?= auto
test: setup lint typecheck schemas-check
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist worksteal --durations=15 $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

schemas: $(STAMP)
	$(BIN)/python -m controlroom.contracts.export schemas

schemas-check: $(STAMP)
	$(BIN)/python -m controlroom.contracts.export --check schemas

## Synthesize one environment through the pinned CDK CLI: make synth ENV=prod
ENV ?= dev
synth: setup
	PATH="$(CURDIR)/$(BIN):$$PATH" npx cdk synth -q -c env=$(ENV) -o build/cdk.out.$(ENV)

synth-all: setup
	for env in local dev staging prod; do $(MAKE) --no-print-directory synth ENV=$$env || exit 1; done

## Re-resolve layers/requirements.txt for the Lambda runtime into layers/requirements.lock (wheels + sha256).
## Run it after changing a pin in layers/requirements.txt (or boto3's in pyproject.toml), and commit the lock.
lock: $(STAMP)
	$(BIN)/python -m infra_cdk.layer_lock

bench: setup
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf build cdk.out .controlroom .pytest_cache .mypy_cache .ruff_cache
