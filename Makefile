# Two commands on a fresh machine with Python 3.11+ and make:  `make demo`  and  `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
SHARED ?= ../shared/data

.PHONY: demo test lint bench validate clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit("eventstudy needs Python 3.11+, found " + sys.version.split()[0]) if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# Reinstall whenever the project metadata changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[test]'
	@touch $@

# The DeepSeek R1 study. Uses the bundled real sample when ../shared/data exists, Yahoo otherwise.
demo: $(VENV)/.installed
	@if [ -f $(SHARED)/prices.csv ]; then \
	  echo "Using the offline sample in $(SHARED)"; \
	  $(BIN)/eventstudy run events.yaml --prices $(SHARED)/prices.csv --shares $(SHARED)/shares.csv \
	    --factors $(SHARED)/ff_factors_daily.csv --offline; \
	else \
	  $(BIN)/eventstudy run events.yaml; \
	fi

test: $(VENV)/.installed
	$(BIN)/python -m pytest -q

lint: $(VENV)/.installed
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy

bench: $(VENV)/.installed
	$(BIN)/python -m benchmarks.bench --dask --repeat 3

validate: $(VENV)/.installed
	$(BIN)/python -m benchmarks.simulation

clean:
	rm -rf $(VENV) results .pytest_cache
