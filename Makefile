# The two commands a new user needs: `make demo` and `make test`. Both create .venv first.
PYTHON ?= python3.11
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
STAMP  := $(VENV)/.installed-train

.PHONY: venv install demo test lint format type arm-check clean

venv: $(VENV)/bin/python
$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

# Full install (train + plot + dev extras), redone only when pyproject.toml changes.
$(STAMP): pyproject.toml | venv
	$(PIP) install --quiet -e ".[train,plot,dev]"
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(VENV)/bin/reelrank demo

test: install
	$(PY) -m pytest -q -n 2 --dist loadfile

lint:
	$(VENV)/bin/ruff check .

format:
	$(VENV)/bin/ruff format .

type:
	$(VENV)/bin/mypy device_runtime

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache
