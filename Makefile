# manifestdb: `make run` serves on 127.0.0.1:8777 with data under ./data; `make test` runs every check.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
MODELS_STAMP := $(VENV)/.installed-models
HOST   ?= 127.0.0.1
PORT   ?= 8777
DATA   ?= ./data
PYTEST_ARGS ?=

.PHONY: install install-models run test lint typecheck pytest bench bench-quick clean fuzz load

install: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "manifestdb needs Python 3.11 or newer (set PYTHON=...)")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The models extra (torch, ~900 MB): the tests and the type check need it, `make run` does not.
install-models: $(MODELS_STAMP)

$(MODELS_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,models,models-dev]'
	touch $(MODELS_STAMP)

BENCH_STAMP := $(VENV)/.installed-bench

$(BENCH_STAMP): $(MODELS_STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,models,models-dev,models-bench]'
	touch $(BENCH_STAMP)

run: install
	$(BIN)/manifestdb serve --host $(HOST) --port $(PORT) --data-dir $(DATA)

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: install-models
	$(BIN)/mypy

pytest: install-models
	$(BIN)/pytest $(PYTEST_ARGS)

test: lint typecheck pytest

bench: $(BENCH_STAMP)
	$(BIN)/python bench/run.py $(BENCH_ARGS)
	$(BIN)/python bench/bench_models.py

# Models alone (docs/models.md): training, F1 and DetectCustomLabels latency through the API.
.PHONY: bench-models
bench-models: $(BENCH_STAMP)
	$(BIN)/python bench/bench_models.py $(BENCH_ARGS)

bench-quick: install
	$(BIN)/python bench/run.py --quick $(BENCH_ARGS)

# The same suite against PostgreSQL (docs/benchmarks.md): fresh databases on the server of
# postgresql://root@127.0.0.1:5432/postgres, dropped at the end (BENCH_ARGS="--database-url URL").
.PHONY: bench-pg bench-pg-quick

bench-pg: install
	$(BIN)/python bench/run.py --backend postgresql $(BENCH_ARGS)

bench-pg-quick: install
	$(BIN)/python bench/run.py --backend postgresql --quick $(BENCH_ARGS)

# A/B of a 5 MiB change between BASE (a git revision) and this checkout, both served at once
# (bench/ab.py; BENCH_ARGS="--backend postgresql --pairs 20 ...").
.PHONY: bench-ab
bench-ab: install
	$(BIN)/python bench/ab.py --base $(BASE) $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

# Reliability (docs/reliability.md): `make test` runs short versions; these are the long runs.
FUZZ_EXAMPLES ?= 5000
LOAD_SECONDS ?= 60

fuzz: install
	MANIFESTDB_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/pytest -s tests/reliability/test_hostile_input.py $(PYTEST_ARGS)

load: install
	MANIFESTDB_LOAD_SECONDS=$(LOAD_SECONDS) $(BIN)/pytest -s tests/reliability/test_load.py $(PYTEST_ARGS)
