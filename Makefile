# The two commands a new user needs: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lab lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Install with the tested constraints so a fresh clone gets versions that pass.
$(STAMP): $(BIN)/python pyproject.toml constraints.txt
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/funnel demo

# On every core (pytest-xdist): a file is one group, see tests/conftest.py.
test: $(STAMP)
	$(BIN)/python -m pytest -n auto --dist loadgroup

lab: $(STAMP)
	$(BIN)/jupyter lab notebooks/

lint: $(STAMP)
	$(BIN)/ruff check toolkit tests benchmarks

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_kpis.py --records 1000000 --out benchmarks/out

clean:
	rm -rf $(VENV) .pytest_cache reports benchmarks/out
