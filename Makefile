# Every target builds its own virtual environment from the pinned constraints; nothing else is needed.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
CONSTRAINTS := requirements/constraints.txt

.PHONY: install test lint demo bench bench-smoke lock clean

$(STAMP): pyproject.toml $(CONSTRAINTS)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv
	$(BIN)/uv pip install --python $(BIN)/python --quiet -c $(CONSTRAINTS) -e '.[dev,bench]'
	touch $(STAMP)

install: $(STAMP)

## make test: lint, type-check, then the whole test suite (unit, emulator, faults, soak, real Airflow runs).
test: lint
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

## make demo: run example 1 in a real Airflow; the real API when OPENAI_API_KEY is set, else the emulator.
demo: $(STAMP)
	$(BIN)/python scripts/demo.py

## make bench: the performance comparison (see README, Performance); writes bench/results.json.
bench: $(STAMP)
	$(BIN)/python bench/run.py

bench-smoke: $(STAMP)
	$(BIN)/python bench/run.py --smoke --output $(VENV)/bench-smoke.json

lock: $(STAMP)
	$(BIN)/uv pip freeze --python $(BIN)/python --exclude-editable | grep -v -E '^(pip|setuptools|uv)==' \
		| sed '1i # Pinned versions every `make` target installs with (uv pip install -c). Refresh: make lock' \
		> $(CONSTRAINTS)

clean:
	rm -rf $(VENV) .demo .mypy_cache .ruff_cache
