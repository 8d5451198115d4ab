# The course's two commands:
#   make book   create .venv, install everything, write _build/html from the stored chapters
#   make test   the same environment, then every test: the book build, rnnlib's unit tests,
#               every chapter re-executed once (nbval) and again at other seeds
# For authors:
#   make execute [CHAPTERS=chapters/07_lstm_vs_gru.ipynb]   re-execute chapters in place
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CHAPTERS ?= $(sort $(wildcard chapters/*.ipynb))

# Run a suite, print how long it took, keep its exit status: $(TIMED) name command...
TIMED = bash -c 'name=$$0; start=$$SECONDS; "$$@"; rc=$$?; \
	printf "\n==> %s: %d s (%s)\n\n" "$$name" $$((SECONDS - start)) $$([ $$rc = 0 ] && echo passed || echo FAILED); \
	exit $$rc'

.PHONY: book test execute venv lab serve clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Python 3.11 is required, found " + sys.version.split()[0]'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

# The site is built from the outputs stored in the chapters (execute_notebooks: off):
# the same outputs that `make test` re-executes and compares.
book: $(STAMP)
	rm -rf _build/html
	$(BIN)/python site/vendor.py
	$(BIN)/jupyter-book build . --all -W -n --keep-going
	@echo "The book is at file://$(CURDIR)/_build/html/index.html (or: make serve)"

# Every suite runs even if an earlier one fails; the command fails if any did.
test: $(STAMP)
	@status=0; \
	$(TIMED) "book build" $(MAKE) --no-print-directory book || status=1; \
	$(TIMED) "unit, grader and browser tests" \
		$(BIN)/python -m pytest -n 2 -m "not seeds" tests rnnlib --doctest-modules || status=1; \
	$(TIMED) "chapters (nbval)" $(BIN)/python -m pytest -n 2 --dist loadfile --nbval chapters \
		--nbval-sanitize-with tests/nbval_sanitize.cfg || status=1; \
	$(TIMED) "chapters at other seeds" \
		$(BIN)/python -m pytest -n 2 -m seeds tests/test_seeds.py || status=1; \
	exit $$status

# Re-execute chapters in a fresh kernel and store their outputs (with a progress bar).
execute: $(STAMP)
	$(BIN)/python tests/seeds.py --inplace $(CHAPTERS)

lab: $(STAMP)
	$(BIN)/jupyter lab chapters $(if $(filter 0,$(shell id -u)),--allow-root)

serve:
	$(BIN)/python -m http.server --directory _build/html 8000

clean:
	rm -rf _build
