# Two commands do everything on a fresh machine with Python 3.11+:
#   make run    create .venv, install forecast, train configs/etth1.yaml
#   make test   create .venv, install forecast with the test tools, run the tests
#   make lint   ruff: lint and format check (CI runs it before the tests)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
CONFIG ?= configs/etth1.yaml
STAMP  := $(VENV)/.installed

.PHONY: install run test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev,mlflow,export,tune]'
	touch $@

install: $(STAMP)

run: $(STAMP)
	$(BIN)/forecast train $(CONFIG)

test: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) runs *.egg-info
