# Two commands do everything: `make run` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lint typecheck unit conformance schemas bench bench-api bench-contact bench-console clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -c constraints.txt uv
	$(BIN)/uv pip install --quiet --python $(BIN)/python -c constraints.txt -e '.[dev]'
	touch $@

## Run the API on 127.0.0.1:8000 with the embedded store and the demo customers.
run: $(STAMP)
	$(BIN)/c360 serve --demo

## Lint, check the import contracts, type-check and run the whole test suite on a worker per
## core and one more, each with a fresh embedded store (the 15 slowest tests are listed at the
## end).
test: lint typecheck unit

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

# With bytecode caches written even where the environment turns them off: the suite starts some
# seventy Python processes, and without them each compiles c360 (and each worker its tests) anew.
# One worker more than cores: many tests wait on a process they started (a served API, a store,
# pip), and the extra worker runs meanwhile. Cores as nproc counts them (what this process may
# use: a container's limit), else getconf (macOS).
unit: $(STAMP)
	PYTHONDONTWRITEBYTECODE= $(BIN)/pytest -n $$(( $$(nproc 2>/dev/null || getconf _NPROCESSORS_ONLN) + 1 )) --durations=15

## The public conformance tools against a served demo: graphql-http's audit, schemathesis.
conformance: $(STAMP)
	$(BIN)/python tools/conformance.py

## Regenerate schemas/json/*.json and schemas/schema.graphql after changing a contract.
schemas: $(STAMP)
	$(BIN)/c360 schemas export

bench: $(STAMP)
	$(BIN)/python -m bench.ingest

bench-api: $(STAMP)
	$(BIN)/python -m bench.api

bench-contact: $(STAMP)
	$(BIN)/python -m bench.contact

## The agent console's first render in headless Chromium (Debian's chromium), beside the raw driver.
bench-console: $(STAMP)
	$(BIN)/python -m bench.console

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
