# Two commands for a fresh Linux machine with Python 3.11 and git:
#   make repro   — reproduce every result and build the book (book/_build/html/index.html)
#   make test    — run the test suite
# Both create or update the local virtual environment .venv themselves.

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: test repro book venv clean-venv

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "$(PYTHON) not found: install Python 3.11 or run make PYTHON=/path/to/python3.11"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest tests

repro: $(STAMP)
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/dvc repro

book: $(STAMP)
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/jupyter-book build book/

clean-venv:
	rm -rf $(VENV)
