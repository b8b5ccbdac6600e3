# The README's commands. Both work on a fresh machine with only Python 3.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test bench docs lint format setup clean graphviz

setup: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[all,dev]"
	@command -v dot >/dev/null 2>&1 || $(MAKE) --no-print-directory graphviz
	@touch $(STAMP)

# the `dot` program draws SVGs; installed when missing and we are root, otherwise explained
graphviz:
	@if [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then \
		apt-get update -qq && apt-get install -y -qq graphviz >/dev/null; \
	else \
		echo "note: Graphviz 'dot' not found; SVG drawing needs it:"; \
		echo "  Debian/Ubuntu: sudo apt-get install graphviz | macOS: brew install graphviz | conda: conda install -c conda-forge graphviz"; \
	fi

demo: setup
	$(BIN)/tinygrad-nn digits

test: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest

bench: setup
	$(BIN)/python -m benchmarks

# the API reference, generated from the docstrings into docs/api/ (open docs/api/index.html)
docs: setup
	$(BIN)/python -m tinygrad_nn._apidocs docs/api

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache .hypothesis docs/api
