# The course's two commands:
#   make book   create .venv, install everything, execute every notebook, write _build/html
#   make test   the same environment, then every test (unit, notebooks, book build)
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: book test venv lab serve clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Python 3.11 is required, found " + sys.version.split()[0]'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

book: $(STAMP)
	rm -rf _build/html
	$(BIN)/python site/vendor.py
	$(BIN)/jupyter-book build . --all -W -n --keep-going
	@echo "The book is at file://$(CURDIR)/_build/html/index.html (or: make serve)"

test: $(STAMP)
	$(MAKE) book
	$(BIN)/python -m pytest -n 2 tests rnnlib --doctest-modules
	$(BIN)/python -m pytest -n 2 --dist loadfile --nbval chapters --nbval-sanitize-with tests/nbval_sanitize.cfg

lab: $(STAMP)
	$(BIN)/jupyter lab chapters

serve:
	$(BIN)/python -m http.server --directory _build/html 8000

clean:
	rm -rf _build
