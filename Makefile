# The two commands of README.md:  `make serve`  and  `make test`.
# Everything is installed inside the checkout (.venv) from pyproject.toml; system packages
# (Chromium for page tests, PostGIS for store tests) by scripts/install-system-deps.sh.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: serve test system-deps lint bench

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,postgis]'
	touch $(STAMP)

serve: $(STAMP)
	$(VENV)/bin/locator serve $(ARGS)

system-deps:
	bash scripts/install-system-deps.sh

test: $(STAMP) system-deps
	$(VENV)/bin/ruff check locator tests bench scripts wsgi.py
	$(VENV)/bin/lint-imports
	$(PY) -m pytest $(ARGS)

bench: $(STAMP)
	for script in bench/*.py; do $(PY) $$script || exit 1; done
