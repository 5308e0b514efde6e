# Every target builds its own virtual environment from the pinned constraints; nothing else is needed.
# The Pythons: pyenv's where it has them, else python3. The primary environment (Airflow 3.3) runs on 3.12,
# the default of Airflow's own images; the oldest Airflow on the oldest Python supported (3.10); the
# other versions on 3.11, and the built wheel on 3.13 (make wheel-check).
pyenv_python = $(firstword $(wildcard $(HOME)/.pyenv/versions/$(1).*/bin/python$(1)) python3)
# The Airflow versions, their Pythons, lock dates and extras: one file, read here, by .ci/run and the tests.
VERSIONS := requirements/airflow-versions.txt
version_field = $(shell awk '!/^\#/ && $$1 == "$(1)" {print $$$(2)}' $(VERSIONS))
PRIMARY := $(shell awk '!/^\#/ && NF {print $$1; exit}' $(VERSIONS))
PYTHON ?= $(call pyenv_python,$(call version_field,$(PRIMARY),2))
PYTHON_WHEEL := $(call pyenv_python,3.13)
# Every Airflow process must find its modules' bytecode written (PYTHONDONTWRITEBYTECODE, set on some
# machines, made each one compile Airflow again). The primary environment is compiled whole at install:
# make test's two workers and first Airflow processes would otherwise compile the same modules at once.
# The other environments, each run by one process in CI, write each module's bytecode the first time it
# is imported (cheaper: the tests import about half).
unexport PYTHONDONTWRITEBYTECODE
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
CONSTRAINTS := requirements/constraints.txt

## make help: this list.
help:
	@sed -n 's/^## make \([a-z-]*\): */  make \1\t/p' $(MAKEFILE_LIST) | expand -t 24

# matrix-VERSION (below) is not declared phony: make looks up no pattern rule for a phony target.
.PHONY: help install environments test test-suite test-distributed test-matrix wheel-check lint demo bench bench-smoke lock lock-matrix clean

# The other Airflow versions CI tests on (the primary is in $(CONSTRAINTS)). Each has a lock file
# requirements/airflow-VERSION.txt, resolved as of a few weeks after its release (its lock date in
# $(VERSIONS)), and a virtual environment .venv-VERSION with the provider and its extras installed.
MATRIX := $(shell awk '!/^\#/ && NF {print $$1}' $(VERSIONS) | tail -n +2)
# What pytest runs on them: what can differ between Airflow versions (the tests marked
# version_independent ran on the primary version already). MATRIX_TESTS=tests/test_airflow.py: one file.
MATRIX_TESTS ?= tests -m "not version_independent"

$(STAMP): pyproject.toml $(CONSTRAINTS)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv
	$(BIN)/uv pip install --python $(BIN)/python --quiet --compile-bytecode -c $(CONSTRAINTS) -e '.[dev,bench]'
	touch $(STAMP)

## make install: the primary environment, .venv (Airflow 3.3, Python 3.12), with the provider editable.
install: $(STAMP)

## make environments: every environment CI uses, two installs at a time.
environments:
	@$(MAKE) --no-print-directory -j 2 $(STAMP) $(foreach version,$(MATRIX),.venv-$(version)/.installed-stamp)

.venv-%/.installed-stamp: requirements/airflow-%.txt pyproject.toml $(STAMP)
	$(call pyenv_python,$(call version_field,$*,2)) -m venv --without-pip .venv-$*  # uv installs into it
	$(BIN)/uv pip install --python .venv-$*/bin/python --quiet -c requirements/airflow-$*.txt \
		-e '.[$(call version_field,$*,4)]'
	touch $@

# Both cores, each test file on one worker (a file's session fixtures, such as its Airflow runs, are made
# once): PYTEST_WORKERS=0 runs in this process.
PYTEST_WORKERS ?= 2
PYTEST_PARALLEL := -n $(PYTEST_WORKERS) --dist loadfile

## make test: lint, type-check and the test suite on Airflow 3.3 (all but the distributed deployment).
# Unit, emulator, faults, soak, real Airflow runs, the browser; the distributed deployment is make
# test-distributed (CI runs both). Lint (mostly mypy) runs beside pytest, which leaves part of a core
# idle while Airflow processes start.
test: $(STAMP)
	@start=$$(date +%s); \
	$(MAKE) --no-print-directory -j 2 --output-sync=line lint test-suite && \
	echo "=== make test: passed in $$(( $$(date +%s) - start )) s"  # whole lines: mypy's never lands amid pytest's dots

test-suite: $(STAMP)
	@$(BIN)/python -c 'import sys, airflow; print(f"=== Python {sys.version.split()[0]}, Airflow {airflow.__version__}")'
	$(BIN)/python -m pytest $(PYTEST_PARALLEL) -m "not distributed" --durations=12

## make test-distributed: PostgreSQL, Redis, a scheduler and two Celery workers on loopback (Airflow 3.3).
# tests/test_distributed.py: a minute or more of one core, most of it starting servers.
test-distributed: $(STAMP)
	$(BIN)/python -m pytest -m distributed

## make test-matrix: the Airflow-facing tests on every other supported Airflow version, one after another.
# MATRIX_WORKERS: pytest workers per version (default PYTEST_WORKERS; CI gives 0, one process each).
# One version at a time: each pytest already keeps both cores busy.
MATRIX_JOBS ?= 1
test-matrix: $(foreach version,$(MATRIX),.venv-$(version)/.installed-stamp)
	@$(MAKE) --no-print-directory -j $(MATRIX_JOBS) --output-sync=target $(foreach version,$(MATRIX),matrix-$(version))

matrix-%: .venv-%/.installed-stamp
	@echo "=== Airflow $* on Python $$(.venv-$*/bin/python -c 'import sys; print(sys.version.split()[0])'): pytest $(MATRIX_TESTS)"
	@start=$$(date +%s); \
	.venv-$*/bin/python -m pytest -n $(or $(MATRIX_WORKERS),$(PYTEST_WORKERS)) --dist loadfile --durations=8 $(MATRIX_TESTS) && \
	echo "=== Airflow $*: passed in $$(( $$(date +%s) - start )) s"

## make wheel-check: build the sdist and wheel, install the wheel into a fresh environment, run the examples.
wheel-check: $(STAMP)
	$(BIN)/python scripts/check_wheel.py --python $(PYTHON_WHEEL)

## make lint: ruff, ruff format --check, mypy and radon (no function above complexity C, tests included).
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	@# every function at most complexity C (radon: 20): a D or worse is printed, and fails the target
	@! $(BIN)/radon cc -n D -s airflow_provider_realtime tests bench scripts | grep .

## make demo: run example 1 in a real Airflow; the real API when OPENAI_API_KEY is set, else the emulator.
demo: $(STAMP)
	$(BIN)/python scripts/demo.py

## make bench: the performance comparison (see CONTRIBUTING.md, Performance); writes bench/results.json.
bench: $(STAMP)
	$(BIN)/python bench/run.py

bench-smoke: $(STAMP)
	$(BIN)/python bench/run.py --smoke --output $(VENV)/bench-smoke.json

lock: $(STAMP)
	$(BIN)/uv pip freeze --python $(BIN)/python --exclude-editable | grep -v -E '^(pip|setuptools|uv)==' \
		| sed '1i # Pinned versions every `make` target installs with (uv pip install -c). Refresh: make lock' \
		> $(CONSTRAINTS)

## make lock-matrix: re-resolve each matrix version as of its LOCK_DATE and freeze it.
lock-matrix: $(STAMP)
	@for version in $(MATRIX); do \
		rm -rf .venv-lock && $$(make -s python-$$version) -m venv .venv-lock && \
		$(BIN)/uv pip install --python .venv-lock/bin/python --quiet --exclude-newer "$$(make -s lock-date-$$version)" \
			"apache-airflow==$$version" pytest pytest-xdist hypothesis jsonschema websockets apache-airflow-providers-redis $$(make -s lock-extras-$$version) && \
		{ echo "# Apache Airflow $$version with the dependencies of its own time (resolved as of $$(make -s lock-date-$$version)) and the test tools. Refresh: make lock-matrix"; \
		  $(BIN)/uv pip freeze --python .venv-lock/bin/python | grep -v -E '^(pip|setuptools|uv)=='; } \
			> requirements/airflow-$$version.txt || exit 1; \
	done; rm -rf .venv-lock

lock-date-%:
	@echo $(call version_field,$*,3)

python-%:
	@echo $(call pyenv_python,$(call version_field,$*,2))

lock-extras-%:
	@echo $(if $(findstring browser,$(call version_field,$*,4)),selenium) \
		$(if $(findstring distributed,$(call version_field,$*,4)),apache-airflow-providers-celery psycopg2-binary asyncpg)

# The matrix versions, longest first (.ci/run reads them).
matrix-versions:
	@echo $(MATRIX)

## make clean: remove every environment, the demo's Airflow home and the caches.
clean:
	rm -rf $(VENV) .venv-* .demo .mypy_cache .ruff_cache
