# Two commands on a fresh clone: `make demo` and `make test` (only python3 and make needed).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: demo test test-matrix install servers lint typecheck docs pytest bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(STAMP)

# the benchmarks also draw plots (matplotlib, the bench extra)
BENCH_STAMP := $(VENV)/.bench-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
$(BENCH_STAMP): $(STAMP)
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	touch $@

demo: install
	$(BIN)/rota demo

## test: Python deps, the servers (PostgreSQL, Redis, FerretDB), lint, types, docs, the suite
test: install servers lint typecheck docs pytest

servers:
	bash scripts/install-servers.sh

lint: install
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: install
	$(BIN)/mypy

## docs: the site in build/site, built offline; --strict: a broken link or reference fails
## (not --quiet: it hides the warnings from the strict check, which then passes)
docs: install
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

pytest: install
	PATH="$(CURDIR)/.servers/bin:$$PATH" $(BIN)/pytest -q $(PYTEST_ARGS)

## test-matrix: the suite on each other supported Python, one venv each (.venv-3.12, .venv-3.13);
## MATRIX="3.12" picks some, PYTEST_ARGS="-m 'not slow'" the unit-level tests only,
## SKIP_MISSING=1 goes on past an interpreter the machine does not have (saying so).
## An interpreter is pyenv's newest 3.x, else python3.x on PATH (a pyenv shim may not run).
MATRIX ?= 3.12 3.13
test-matrix: install servers
	@set -e; for v in $(MATRIX); do \
	  py=$$(ls -d $${PYENV_ROOT:-$$HOME/.pyenv}/versions/$$v.*/bin/python 2>/dev/null | sort -V | tail -1); \
	  test -n "$$py" || py=$$(command -v python$$v || true); \
	  if ! $${py:-false} -c 'import sys' 2>/dev/null; then \
	    echo "no Python $$v (pyenv's $$v.x or python$$v on PATH)"; \
	    if [ -n "$(SKIP_MISSING)" ]; then continue; else exit 1; fi; fi; \
	  stamp=.venv-$$v/.installed-$$(cat pyproject.toml | cksum | cut -d' ' -f1); \
	  if [ ! -f $$stamp ]; then \
	    $$py -m venv .venv-$$v && .venv-$$v/bin/pip install --quiet --upgrade pip && \
	    .venv-$$v/bin/pip install --quiet -e '.[dev]' && touch $$stamp; fi; \
	  echo "== Python $$v: $$(.venv-$$v/bin/python --version)"; \
	  PATH="$(CURDIR)/.servers/bin:$$PATH" .venv-$$v/bin/pytest -q -p no:cacheprovider $(PYTEST_ARGS); \
	done

## bench: rota against its peers (docs/benchmarks.md); BENCH_ARGS="--quick", "--scale", "--plots docs"
bench: $(BENCH_STAMP)
	bash scripts/install-servers.sh
	PATH="$(CURDIR)/.servers/bin:$$PATH" $(BIN)/python benchmarks/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .venv-3.* .servers .pytest_cache .mypy_cache .ruff_cache
