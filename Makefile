# The two commands a new user needs: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test test-min lab lint bench docs clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Install with the tested constraints so a fresh clone gets versions that pass.
$(STAMP): $(BIN)/python pyproject.toml constraints.txt
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/funnel demo

# On every core (pytest-xdist). --dist loadscope keeps a file on one worker: a notebook's cells
# share one kernel and run in order (nbval's advice), and a module's fixtures are computed once.
test: $(STAMP)
	$(BIN)/python -m pytest -n auto --dist loadscope

# The same suite on the declared minimum versions (constraints-min.txt: every direct dependency at
# the lower bound pyproject.toml declares), in a venv of its own so .venv keeps the tested ones.
VENV_MIN  := .venv-min
BIN_MIN   := $(VENV_MIN)/bin
STAMP_MIN := $(VENV_MIN)/.installed

$(BIN_MIN)/python:
	$(PYTHON) -m venv $(VENV_MIN)
	$(BIN_MIN)/python -m pip install --quiet --upgrade pip

$(STAMP_MIN): $(BIN_MIN)/python pyproject.toml constraints-min.txt
	$(BIN_MIN)/python -m pip install --quiet -c constraints-min.txt -e ".[dev]"
	touch $(STAMP_MIN)

test-min: $(STAMP_MIN)
	$(BIN_MIN)/python -m pytest -n auto --dist loadscope

lab: $(STAMP)
	$(BIN)/jupyter lab notebooks/

lint: $(STAMP)
	$(BIN)/ruff check toolkit tests benchmarks

# The API reference (pdoc, numpy docstrings, every module) in docs/api/; any warning fails it.
docs: $(STAMP)
	$(BIN)/python docs/build_api.py docs/api

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_kpis.py --records 1000000 --out benchmarks/out

clean:
	rm -rf $(VENV) $(VENV_MIN) .pytest_cache reports benchmarks/out docs/api
