# Two commands do everything on a fresh machine with Python 3.11+:
#   make run    create .venv, install forecast, train configs/etth1.yaml
#   make test   create .venv, install forecast with the test tools, run the tests
#   make test-fast  the fast tier: every test not marked slow (under a minute; docs/development.md)
#   make lint   ruff: lint and format check (CI runs it before the tests)
#   make test-stats  the AutoETS and MSTL baselines' tests against statsforecast (metrics.baselines)
#   make docs   build the documentation site into site/ (mkdocs --strict: a broken link fails it)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
CONFIG ?= configs/etth1.yaml
STAMP  := $(VENV)/.installed
# statsforecast (the `stats` extra) pins pandas<3: it goes into a folder of its own, put first on
# PYTHONPATH for its tests only, so the project's own tests run on the pandas the core installs
STATS  := .stats

.PHONY: install run test test-fast test-stats lint docs clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev,mlflow,export,tune,docs]'
	touch $@

install: $(STAMP)

run: $(STAMP)
	$(BIN)/forecast train $(CONFIG)

test: $(STAMP)
	$(BIN)/python -m pytest -q

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

$(STATS)/.installed: pyproject.toml $(STAMP)
	rm -rf $(STATS)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --target $(STATS) 'statsforecast>=2'
	touch $@

test-stats: $(STATS)/.installed
	PYTHONPATH=$(STATS) $(BIN)/python -c "import statsforecast"  # never a silent skip
	PYTHONPATH=$(STATS) $(BIN)/python -m pytest -q tests/test_baselines.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# NO_MKDOCS_2_WARNING: Material's banner about MkDocs 2.0, printed on every build
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

clean:
	rm -rf $(VENV) $(STATS) runs site *.egg-info
