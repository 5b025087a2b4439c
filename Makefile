# Two commands on a fresh machine: `make run` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test

.PHONY: run test lint demo clean bench fuzz

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(TEST_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@ $(STAMP)

run: $(STAMP)
	$(BIN)/hotline init --demo --if-empty
	$(BIN)/hotline --user $${HOTLINE_USER:-agent1}

lint: $(TEST_STAMP)
	$(BIN)/ruff check hotline_tui tests benchmarks
	$(BIN)/ruff format --check hotline_tui tests benchmarks
	$(BIN)/mypy

# Two workers, one test file each (files share module fixtures: sshd, the deployed venv): 17 min -> 8 min
# on 2 cores. TEST_WORKERS=0 runs in one process.
TEST_WORKERS ?= 2

test: lint
	$(BIN)/pytest -q -p no:cacheprovider -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

fuzz: $(TEST_STAMP)
	HOTLINE_FUZZ=explore $(BIN)/pytest -q -p no:cacheprovider tests/test_fuzz.py tests/test_lifecycle_stateful.py $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python benchmarks/intake_commit.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
