# Two entry points for a fresh machine: `make run` and `make test`.
# Each creates its own virtual environment in .venv and installs what it needs.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lint typecheck check clean

# The first run installs for a while: each step says what it does, and pip shows its progress.
$(STAMP): pyproject.toml
	@echo "[1/3] creating the virtual environment $(VENV)"
	$(PYTHON) -m venv $(VENV)
	@echo "[2/3] upgrading pip"
	$(BIN)/python -m pip install --upgrade --progress-bar on pip
	@echo "[3/3] installing modelmesh-healthd and its test tools into $(VENV) (once; about 20 s)"
	$(BIN)/python -m pip install --progress-bar on -e '.[dev]'
	touch $(STAMP)

## run: the daemon on config/demo.yaml against simulated providers, state in ./state/state.db
run: $(STAMP)
	$(BIN)/modelmesh-healthd demo --duration 45

## test: the whole test suite, on TEST_WORKERS processes (pytest-xdist)
# More workers than cores: many tests wait on the clock (leases, process start-ups, outages).
# `--dist loadgroup` keeps the tests of one xdist_group on one worker. The replica fleets (`fleet`
# mark, see tests/conftest.py) assert probe rates and run afterwards, alone; both runs always run.
# Bytecode is written even where the environment says not to (PYTHONDONTWRITEBYTECODE): every
# test process and every daemon or command it starts imports the package, and without the cache
# each one compiles it again, and pytest rewrites every test module's asserts again per worker.
TEST_WORKERS ?= 4
test: $(STAMP)
	unset PYTHONDONTWRITEBYTECODE; \
	status=0; \
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadgroup -m "not fleet" || status=$$?; \
	$(BIN)/python -m pytest -m fleet || status=$$?; \
	exit $$status

lint: $(STAMP)
	$(BIN)/ruff check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy src

check: lint typecheck test

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
