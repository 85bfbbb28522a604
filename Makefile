# Two commands on a fresh machine with Python 3.11+ and make:  `make demo`  and  `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: demo test lint bench validate clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit("eventstudy needs Python 3.11+, found " + sys.version.split()[0]) if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# Reinstall whenever the project metadata changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[test]'
	@touch $@

# The DeepSeek R1 study, offline, on the real sample bundled in the package.
demo: $(VENV)/.installed
	$(BIN)/eventstudy run events.yaml --sample deepseek

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
