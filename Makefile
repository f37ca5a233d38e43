# twolayer — the two set-up commands of the README, plus helpers.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo demo-all test lint docs bench clean-venv

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/twolayer demo --out runs/demo

demo-all: $(STAMP)
	$(VENV)/bin/twolayer demo --all --out runs/demo-all

test: $(STAMP)
	$(PY) -m pytest -q

# ruff over the package and the tests, mypy over the core (pyproject.toml says which files)
lint: $(STAMP)
	$(PY) -m pip install --quiet -e '.[lint]'
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/mypy

# sdist + wheel into $(DISTDIR) (CI passes a temporary one), `twine check --strict` on both, and their
# contents (.ci/check_dist.py: package files, LICENSE, README, CHANGELOG, CITATION.cff, tests; no runs/ or .venv)
.PHONY: dist
DISTDIR ?= dist
dist: $(STAMP)
	$(PY) -m pip install --quiet -e '.[release]'
	rm -f $(DISTDIR)/twolayer-*.tar.gz $(DISTDIR)/twolayer-*.whl
	$(PY) -m build --outdir $(DISTDIR) .
	$(PY) -m twine check --strict $(DISTDIR)/twolayer-*
	$(PY) .ci/check_dist.py $(DISTDIR)

# the documentation site -> docs/_build/html (warnings are errors; the tutorials are executed).
# Its gallery shows the run folder DEMO (default: runs/demo-all, else runs/demo; a DEMO that does
# not exist is created by the demo, every experiment unless DEMO_ALL=0: see docs/_ext/gallery.py)
DEMO     ?=
DEMO_ALL ?= 1
docs: $(STAMP)
	$(PY) -m pip install --quiet -e '.[docs]'
	TWOLAYER_DOCS_DEMO='$(DEMO)' TWOLAYER_DOCS_DEMO_ALL='$(DEMO_ALL)' \
		$(PY) -m sphinx -W --keep-going -b html docs docs/_build/html
	@echo "docs: $(CURDIR)/docs/_build/html/index.html"

bench: $(STAMP)
	$(PY) benchmarks/run_all.py

clean-venv:
	rm -rf $(VENV)
