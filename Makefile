# Run modes (each creates or updates the virtual environment .venv first):
#   make book                  build the book from the committed results (seconds) and check the HTML
#   make lab                   open the notebooks in JupyterLab with the project's environment
#   make test                  the test suite (a few minutes; includes the whole pipeline on the smoke profile)
#   make repro                 bring results up to date: rerun what DVC sees changed (nothing on a fresh clone
#                              whose code matches dvc.lock, except stages whose DVC-cached traces are missing)
#   make reproduce             regenerate everything from scratch: every stage forced (hours on 2 cores: see README)
#   make verify                compare regenerated results with the committed ones (git HEAD), within tolerances
# Options: TASK=t1|t2|t3 limits repro/reproduce to one task's stages; PROFILE=smoke runs on the smoke profile
# in the scratch copy .profiles/smoke (params.yaml, results/ and book/ of this checkout stay untouched).

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PROFILE ?= paper
TASK ?=
DVC := PATH=$(CURDIR)/$(BIN):$$PATH $(CURDIR)/$(BIN)/dvc
TARGETS := $(if $(TASK),--glob '$(TASK)_*',)
WORKSPACE := .profiles/$(PROFILE)

.PHONY: test repro reproduce verify book lab venv clean-venv

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "$(PYTHON) not found: install Python 3.11 or run make PYTHON=/path/to/python3.11"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 tests

ifeq ($(PROFILE),paper)
repro: $(STAMP)
	$(DVC) repro $(TARGETS)

reproduce: $(STAMP)
	$(DVC) repro --force $(TARGETS)
else
repro reproduce: $(STAMP)
	$(BIN)/python -m ilola_lib.verify.workspace $(PROFILE) $(WORKSPACE)
	cd $(WORKSPACE) && PYTHONPATH=$(CURDIR)/$(WORKSPACE) $(DVC) repro $(TARGETS)
	@echo "results in $(WORKSPACE)/results, book in $(WORKSPACE)/book/_build/html"
endif

verify: $(STAMP)
	$(BIN)/python -m ilola_lib.verify

book: $(STAMP)
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/jupyter-book build book/ --warningiserror --quiet
	$(BIN)/python -m ilola_lib.pipeline.book_check book/_build/html
	@echo "open book/_build/html/index.html"

lab: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,lab]'
	@# kernels start in the notebook's folder; the notebooks read params.yaml and results/ from the repository root
	mkdir -p $(VENV)/ipython/profile_default/startup
	echo 'import os; os.chdir(os.environ["ILOLA_ROOT"])' > $(VENV)/ipython/profile_default/startup/00-repository-root.py
	@# kernels get the pipeline's SIMD pin (ilola_lib/core/cpu_dispatch.py), so they compute the same bits as dvc repro
	env $$($(BIN)/python -m ilola_lib.core.cpu_dispatch) ILOLA_ROOT=$(CURDIR) IPYTHONDIR=$(CURDIR)/$(VENV)/ipython \
		PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/jupyter lab notebooks/

clean-venv:
	rm -rf $(VENV)
